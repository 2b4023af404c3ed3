"""The Python client without a server: requests as built, answers as tables, composites and
galleries, batches in order, and a docstring on everything public.

    PYTHONPATH=client/python python3 -m unittest discover -s client/python/tests

(PythonClientCliTest runs it against the installed package too, and the notebook against a server.)
"""

import asyncio
import base64
import inspect
import io
import math
import re
import unittest

import grpc
import numpy as np

import galaxy_search
from galaxy_search import AsyncClient, Client, GalaxySearchError, galaxy_pb2
from galaxy_search import client as client_module


def record(i, specz=None, extra=None, embedding=()):
    r = galaxy_pb2.GalaxyRecord(id=i, ra=10.0 + i, dec=-5.0 + i, e_bv=0.02, anomaly_score=0.1 * i,
                                anomaly_percentile=50.0 + i, embedding=list(embedding))
    if specz is not None:
        r.specz = specz
    for key, value in (extra or {}).items():
        r.extra[key] = value
    return r


def similar_answer():
    response = galaxy_pb2.SimilarGalaxiesResponse(snapshot_version="v7", query_id=100)
    response.neighbors.add(id=1, score=0.9, rank=1).galaxy.CopyFrom(
        record(1, specz=0.1, extra={"mag_r": 17.5}, embedding=[1, 0, 0]))
    response.neighbors.add(id=2, score=0.8, rank=2).galaxy.CopyFrom(
        record(2, extra={"type": 3.0}, embedding=[0, 1, 0]))
    return response


class Offline(client_module._Api):
    """The API with a driver that answers from `answer(rpc)` instead of a server."""

    def __init__(self, answer):
        self.answer, self.calls = answer, []

    def _run(self, steps):
        try:
            step = next(steps)
            while True:
                if isinstance(step, client_module._Many):
                    step = steps.send([self._run(run) for run in step.runs])
                else:
                    self.calls.append(step)
                    step = steps.send(self.answer(step))
        except StopIteration as done:
            return done.value

    def _image_fetcher(self):
        def fetch(ids, progress):
            return [galaxy_search.Galaxy(galaxy_pb2.GalaxyRecord(id=i, image=galaxy_search.to_image(cube(i))), self)
                    for i in ids]
        return fetch


def cube(seed, bands=5, size=16):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (bands, size, size)).astype(np.float32)


class Tables(unittest.TestCase):
    def test_neighbors_table_has_units_nan_for_unset_and_one_embedding_column(self):
        answer = galaxy_search.Neighbors(similar_answer(), similar_answer().neighbors)
        table = answer.to_table()
        self.assertEqual(table.colnames[:3], ["rank", "id", "score"])
        self.assertEqual(str(table["ra"].unit), "deg")
        self.assertEqual(str(table["dec"].unit), "deg")
        self.assertEqual(str(table["e_bv"].unit), "mag")
        self.assertEqual(str(table["anomaly_percentile"].unit), "%")
        self.assertAlmostEqual(table["ra"][1].value, 12.0)
        self.assertAlmostEqual(table["specz"][0], 0.1, places=6)
        self.assertTrue(math.isnan(table["specz"][1]))
        self.assertEqual(table["embedding"].shape, (2, 3))
        # Extra columns: the union of the records' keys, NaN where a record has none.
        self.assertEqual(table["mag_r"][0], 17.5)
        self.assertTrue(math.isnan(table["mag_r"][1]))
        self.assertEqual(table["type"][1], 3.0)
        self.assertEqual(table.meta["snapshot_version"], "v7")
        self.assertEqual(list(answer.ids()), [1, 2])
        self.assertEqual(answer.neighbors[0].id, 1)  # the message's fields stay readable

    def test_pandas_and_skycoord(self):
        answer = galaxy_search.Neighbors(similar_answer(), similar_answer().neighbors)
        frame = answer.to_pandas()
        self.assertEqual(list(frame["id"]), [1, 2])
        self.assertEqual(frame.attrs["units"]["ra"], "deg")
        self.assertEqual(list(frame["embedding"][1]), [0, 1, 0])
        coords = answer.to_skycoord()
        self.assertAlmostEqual(coords[0].ra.deg, 11.0)
        self.assertAlmostEqual(coords[1].dec.deg, -3.0)

    def test_without_metadata_only_rank_id_score(self):
        response = galaxy_pb2.SimilarGalaxiesResponse()
        response.neighbors.add(id=5, score=0.5, rank=1)
        answer = galaxy_search.Neighbors(response, response.neighbors)
        self.assertEqual(list(answer.columns()), ["rank", "id", "score"])
        with self.assertRaisesRegex(ValueError, "no positions"):
            answer.to_skycoord()

    def test_redshifts_labels_and_anomaly_listing(self):
        response = galaxy_pb2.PredictRedshiftResponse()
        response.binning.z_min, response.binning.z_max, response.binning.bins = 0.0, 0.4, 4
        response.predictions.add(id=1, z_phot=0.1, z_phot_err=0.01, pdf=[0.1, 0.7, 0.1, 0.1])
        bad = response.predictions.add(id=2, pdf=[0, 0, 0, 0])
        bad.status.code, bad.status.message = 5, "galaxy 2 is not in snapshot v1"
        answer = galaxy_search.Redshifts(response, response.predictions)
        table = answer.to_table()
        self.assertEqual(list(table["status_code"]), [0, 5])
        self.assertEqual(table["pdf"].shape, (2, 4))
        np.testing.assert_allclose(answer.z_grid(), [0.05, 0.15, 0.25, 0.35])
        labels = galaxy_search.Labels(None, [galaxy_pb2.Label(galaxy_id=9, class_name="ring",
                                                              interest=galaxy_pb2.INTEREST_INTERESTING,
                                                              created_ms=86_400_000)])
        frame = labels.to_pandas()
        self.assertEqual(frame["interest"][0], "INTEREST_INTERESTING")
        self.assertEqual(str(frame["created"][0]), "1970-01-02 00:00:00")
        listing = galaxy_search.Galaxies(None, [record(3), record(4)], adjusted_scores=[0.5, 0.2])
        self.assertEqual(list(listing.to_table()["rank"]), [1, 2])
        self.assertEqual(list(listing.to_table()["adjusted_score"]), [np.float32(0.5), np.float32(0.2)])
        self.assertEqual(listing[1].id, 4)


class Pictures(unittest.TestCase):
    def test_composite_is_lupton_asinh_with_north_up(self):
        image = np.zeros((5, 4, 3), np.float32)
        image[3, 0, 0] = 10.0  # i band, bottom-left pixel (row 0): red, and in the last row of the picture
        image[1, 3, 2] = 0.05  # g band, faint: blue, not clipped, asinh-brightened
        rgb = galaxy_search.composite(image)
        self.assertEqual(rgb.shape, (4, 3, 3))
        self.assertEqual(rgb.dtype, np.uint8)
        self.assertEqual(tuple(rgb[3, 0]), (255, 0, 0))
        r, g, b = (int(v) for v in rgb[0, 2])
        self.assertEqual((r, g), (0, 0))
        intensity = 0.05 * 2.0 / 3
        self.assertEqual(b, round(255 * 0.1 * math.asinh(8 * intensity / 0.4) / (8 * intensity)))
        self.assertEqual(int(rgb[1:3].max()), 0)
        nan = np.full((1, 2, 2), np.nan, np.float32)
        self.assertEqual(int(galaxy_search.composite(nan).max()), 0)
        with self.assertRaisesRegex(ValueError, "band 7 is outside the image's 5 bands"):
            galaxy_search.composite(image, bands=(7, 2, 1))

    def test_gallery_shows_the_query_then_the_rows_as_pngs(self):
        from PIL import Image
        client = Offline(None)
        answer = galaxy_search.Neighbors(similar_answer(), similar_answer().neighbors, client, query=100)
        page = answer._repr_html_()
        uris = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
        self.assertEqual(len(uris), 3)
        self.assertIn("query", page)
        self.assertIn("score 0.900 z 0.100", page)
        png = Image.open(io.BytesIO(base64.b64decode(uris[0])))
        self.assertEqual(png.size, (16, 16))
        self.assertEqual(answer.gallery(n=1).count, 2)
        self.assertIn("the first 1 of 2", answer.gallery(n=1).html)
        # Without a client there is nothing to fetch images with: a table.
        self.assertIn("<table", galaxy_search.Neighbors(similar_answer(), similar_answer().neighbors)._repr_html_())


class Requests(unittest.TestCase):
    def test_positions_as_skycoord_in_any_frame_and_cones_with_quantities(self):
        import astropy.units as u
        from astropy.coordinates import SkyCoord
        client = Offline(lambda rpc: similar_answer())
        where = SkyCoord(ra=150.0 * u.deg, dec=2.0 * u.deg).galactic
        answer = client.similar(position=where, k=3, cone=(SkyCoord(150 * u.deg, 2 * u.deg), 6 * u.arcmin))
        request = client.calls[-1].request
        self.assertAlmostEqual(request.position.ra, 150.0, places=6)
        self.assertAlmostEqual(request.position.dec, 2.0, places=6)
        self.assertAlmostEqual(request.filter.cone.radius, 0.1, places=6)
        self.assertEqual(answer.query, 100)
        client.similar(ra=1.5, dec=-2.5)
        self.assertEqual((client.calls[-1].request.position.ra, client.calls[-1].request.position.dec), (1.5, -2.5))
        client.recommend(positives=[where, {"position": (1.0, 2.0), "weight": 2}])
        examples = client.calls[-1].request.positives
        self.assertAlmostEqual(examples[0].position.ra, 150.0, places=6)
        self.assertEqual(examples[1].weight, 2.0)
        with self.assertRaisesRegex(ValueError, "one position at a time"):
            client.similar(position=SkyCoord([1, 2] * u.deg, [3, 4] * u.deg))
        with self.assertRaisesRegex(ValueError, "exactly one of id, image, vector or position"):
            client.similar(id=1, position=where)
        with self.assertRaisesRegex(ValueError, "a query is an id"):
            client.similar_batch(["not a query"])

    def test_images_name_their_bands_when_they_are_not_the_models(self):
        cube = np.zeros((3, 64, 64), dtype=np.float32)
        self.assertEqual(list(galaxy_search.to_image(cube).band_names), [])
        self.assertEqual(list(galaxy_search.to_image(cube, bands="grz").band_names), ["g", "r", "z"])
        self.assertEqual(list(galaxy_search.to_image(cube, bands="HSC-G, HSC-R,HSC-I").band_names),
                         ["HSC-G", "HSC-R", "HSC-I"])
        self.assertEqual(list(galaxy_search.to_image(cube, bands=("g", "r", "z")).band_names), ["g", "r", "z"])
        self.assertEqual(list(galaxy_search.to_image(cube, bands=" g r  z ").band_names), ["g", "r", "z"])
        with self.assertRaisesRegex(ValueError, "bands 'g,,z': a name is empty"):
            galaxy_search.to_image(cube, bands="g,,z")
        with self.assertRaisesRegex(ValueError, "bands names 5 bands .u, g, r, i, z. for an image of 3"):
            galaxy_search.to_image(cube, bands="ugriz")
        client = Offline(lambda rpc: similar_answer())
        client.similar(image=galaxy_search.to_image(cube, e_bv=0.1, bands="grz"), k=3)
        sent = client.calls[-1].request.image
        self.assertEqual((list(sent.band_names), sent.bands), (["g", "r", "z"], 3))
        self.assertAlmostEqual(sent.e_bv, 0.1, places=6)
        # bands= on every call that takes images: a numpy image, an unnamed Image, and examples.
        client.similar(image=cube, bands="g,r,z", e_bv=0.2)
        sent = client.calls[-1].request.image
        self.assertEqual(list(sent.band_names), ["g", "r", "z"])
        self.assertAlmostEqual(sent.e_bv, 0.2, places=6)
        client.anomaly(image=galaxy_search.to_image(cube), bands="grz")
        self.assertEqual(list(client.calls[-1].request.image.band_names), ["g", "r", "z"])
        client.recommend(positives=[cube, {"image": cube, "weight": 2}, 7], negatives=[cube], bands="grz")
        request = client.calls[-1].request
        self.assertEqual([list(e.image.band_names) for e in request.positives], [["g", "r", "z"]] * 2 + [[]])
        self.assertEqual(request.positives[2].id, 7)
        self.assertEqual(list(request.negatives[0].image.band_names), ["g", "r", "z"])
        with self.assertRaisesRegex(ValueError, r"bands='ugriz' for an Image that names its planes already \(g, r, z\)"):
            client.recommend(positives=[galaxy_search.to_image(cube, bands="grz")], bands="ugriz")
        with self.assertRaisesRegex(ValueError, "bands names 5 bands .u, g, r, i, z. for an image of 3"):
            client.anomaly(image=galaxy_search.to_image(cube), bands="ugriz")
        ranked = Offline(lambda rpc: [galaxy_pb2.RankByExamplesResponse()])
        ranked.rank(positives=[cube], bands=["g", "r", "z"])
        self.assertEqual(list(ranked.calls[-1].request.positives[0].image.band_names), ["g", "r", "z"])
        redshifts = Offline(lambda rpc: galaxy_pb2.PredictRedshiftResponse())
        redshifts.predict_redshift(images=np.stack([cube, cube]), bands="grz", progress=False)
        self.assertEqual([list(q.image.band_names) for q in redshifts.calls[-1].request.queries], [["g", "r", "z"]] * 2)

    def test_more_than_256_redshift_queries_go_in_several_calls_in_order(self):
        def answer(rpc):
            response = galaxy_pb2.PredictRedshiftResponse(snapshot_version="v1")
            for q in rpc.request.queries:
                response.predictions.add(id=q.id, z_phot=q.id / 1000.0)
            return response
        client = Offline(answer)
        redshifts = client.predict_redshift(ids=np.arange(600), progress=False)
        self.assertEqual([len(c.request.queries) for c in client.calls], [256, 256, 88])
        self.assertEqual(list(redshifts.ids()), list(range(600)))
        self.assertAlmostEqual(float(redshifts.to_pandas()["z_phot"][599]), 0.599, places=6)


def blocking_client(answer):
    """A Client whose calls are answered by `answer(rpc)` (raising as a failed call would)."""
    client = Client.__new__(Client)
    client._call = answer
    return client


class Batches(unittest.TestCase):
    def answer(self, rpc):
        if rpc.request.id == 13:
            raise GalaxySearchError(grpc.StatusCode.NOT_FOUND, "galaxy 13 is not in snapshot v1")
        response = galaxy_pb2.SimilarGalaxiesResponse(query_id=rpc.request.id)
        response.neighbors.add(id=rpc.request.id + 1, score=1.0, rank=1)
        return response

    def test_blocking_batch_answers_in_order_and_raises_the_first_failure(self):
        client = blocking_client(self.answer)
        answers = client.similar_batch(list(range(20, 40)) * 2 + [100], k=1, progress=False, concurrency=4)
        self.assertEqual([a.query for a in answers[:41]], list(range(20, 40)) * 2 + [100])
        self.assertTrue(all(a[0].id == a.query + 1 for a in answers))
        with self.assertRaisesRegex(GalaxySearchError, "NOT_FOUND: galaxy 13"):
            client.similar_batch([1, 13, 2], progress=False)

    def test_async_batch_the_same(self):
        client = AsyncClient.__new__(AsyncClient)
        answer = self.answer

        async def call(rpc):
            await asyncio.sleep(0.001 * (rpc.request.id % 3))  # out of order completions
            return answer(rpc)
        client._call = call

        async def run():
            answers = await client.similar_batch(list(range(20, 50)), progress=False, concurrency=5)
            self.assertEqual([a.query for a in answers], list(range(20, 50)))
            with self.assertRaisesRegex(GalaxySearchError, "galaxy 13"):
                await client.similar_batch([12, 13, 14], progress=False)
            one = await client.similar(id=7)
            self.assertEqual(one[0].id, 8)
        asyncio.run(run())


class Documentation(unittest.TestCase):
    def test_every_public_function_class_and_method_has_a_docstring(self):
        missing = []
        for name in galaxy_search.__all__:
            value = getattr(galaxy_search, name)
            if inspect.ismodule(value):
                continue
            if not inspect.getdoc(value):
                missing.append(name)
            if inspect.isclass(value):
                for attribute, member in inspect.getmembers(value):
                    public = not attribute.startswith("_")
                    if public and (callable(member) or isinstance(member, property)) and not inspect.getdoc(member):
                        missing.append(f"{name}.{attribute}")
        self.assertEqual(missing, [])
        self.assertTrue(callable(Client.similar) and inspect.signature(Client.similar).parameters["position"])


if __name__ == "__main__":
    unittest.main()

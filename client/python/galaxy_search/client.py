"""The clients: Client (blocking calls) and AsyncClient (asyncio, grpc.aio) share one API.

Each method of the API is written once, as a generator of the calls it makes (`_Rpc`, or `_Many`
for a batch run concurrently); Client's driver makes them one after another, AsyncClient's
awaits them. Answers are the wrappers of results.py: the protobuf message with tables, images and
a notebook gallery.
"""

import asyncio
import concurrent.futures
import functools
import sys
import warnings

import grpc
import numpy as np

from ._proto import galaxy_pb2, galaxy_pb2_grpc
from .results import Galaxies, Galaxy, Labels, Neighbors, Ranking, Redshifts

# PredictRedshift's largest batch (docs/API.md); predict_redshift() sends more in several calls.
MAX_REDSHIFT_QUERIES = 256


class GalaxySearchError(RuntimeError):
    """A failed call: `code` is the grpc.StatusCode, the message says what was wrong."""

    def __init__(self, code, message):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


def to_image(cube, e_bv=None, bands=None):
    """A numpy array bands x height x width (fluxes in nanomaggies) as an Image.

    The planes are the model's bands in its order, unless `bands` names each plane ("grz", or a
    list such as ["g", "r", "z"] or ["HSC-G", "HSC-R", "HSC-I"]): the server then picks the model's
    bands from them by name, and ignores the others."""
    a = np.asarray(cube)
    if a.ndim != 3:
        raise ValueError(f"an image is bands x height x width; got shape {a.shape}")
    names = _band_names(bands, a.shape[0])
    if a.dtype == np.float64:
        dtype, data = galaxy_pb2.DTYPE_FLOAT64, np.ascontiguousarray(a, dtype="<f8").tobytes()
    else:
        dtype, data = galaxy_pb2.DTYPE_FLOAT32, np.ascontiguousarray(a, dtype="<f4").tobytes()
    image = galaxy_pb2.Image(bands=a.shape[0], height=a.shape[1], width=a.shape[2], dtype=dtype, data=data)
    if e_bv is not None:
        image.e_bv = float(e_bv)
    if names is not None:
        image.band_names.extend(names)
    return image


def _band_names(bands, planes):
    """Band names from "g,r,z", "g r z", "grz" or a sequence of names, one for each of an image's
    `planes`; None for None (as galaxy-client's --bands reads them)."""
    if bands is None:
        return None
    if isinstance(bands, str):
        text = bands.strip()
        if "," in text:
            names = [b.strip() for b in text.split(",")]
        else:
            names = text.split() if any(c.isspace() for c in text) else list(text)
        if not names or "" in names:
            raise ValueError(f"bands {bands!r}: a name is empty (write \"grz\" or \"g,r,z\")")
    else:
        names = [str(b) for b in bands]
    if len(names) != planes:
        raise ValueError(f"bands names {len(names)} bands ({', '.join(names)}) for an image of {planes}")
    return names


def to_array(image):
    """An Image message as a numpy array bands x height x width (a numpy array is returned as is)."""
    if not isinstance(image, galaxy_pb2.Image):
        return np.asarray(image)
    dtype = "<f8" if image.dtype == galaxy_pb2.DTYPE_FLOAT64 else "<f4"
    return np.frombuffer(image.data, dtype=dtype).reshape(image.bands, image.height, image.width)


def _image(value, e_bv=None, bands=None):
    """An image argument as an Image: a numpy array through to_image, or an Image as it is.
    `bands` names the planes of either; an Image that names its own is refused it."""
    if not isinstance(value, galaxy_pb2.Image):
        return to_image(value, e_bv, bands)
    if bands is None:
        return value
    if value.band_names:
        raise ValueError(f"bands={bands!r} for an Image that names its planes already "
                         f"({', '.join(value.band_names)}); leave bands out")
    names = _band_names(bands, value.bands)
    named = galaxy_pb2.Image()
    named.CopyFrom(value)
    named.band_names.extend(names)
    return named


def _degrees(value):
    """Degrees of an angle: a number (degrees) or an astropy Quantity / Angle."""
    return float(value.to_value("deg")) if hasattr(value, "to_value") else float(value)


def _radec(position):
    """(ra, dec) in degrees of a position: an astropy SkyCoord (converted to ICRS) or a pair
    (ra, dec) of degrees or Quantities."""
    if hasattr(position, "icrs"):
        if not position.isscalar:
            raise ValueError(f"one position at a time; got a SkyCoord of shape {position.shape}")
        icrs = position.icrs
        return float(icrs.ra.deg), float(icrs.dec.deg)
    try:
        ra, dec = position
    except (TypeError, ValueError):
        raise ValueError(f"a position is a SkyCoord or (ra, dec) in degrees; got {position!r}") from None
    return _degrees(ra), _degrees(dec)


def _warn_if_partial(response):
    """Warns when a router over shards answered without some of them (allow_partial)."""
    if response.missing_shards:
        warnings.warn("partial answer: no reply from shard " + ", shard ".join(response.missing_shards),
                      stacklevel=5)  # the caller of the API method (wrapper, driver, steps)
    return response


def _fill_search(request, z_min, z_max, cone, exclude_ids, min_score, mmr_lambda=None, sky_duplicate_arcsec=None):
    """The filter, score threshold and diversity of a SimilarGalaxies, Recommend or RankByExamples
    request. cone: (position, radius) or (ra, dec, radius); radius in degrees or a Quantity."""
    if mmr_lambda is not None:
        request.diversity.mmr_lambda = mmr_lambda
    if sky_duplicate_arcsec is not None:
        request.diversity.sky_duplicate_arcsec = sky_duplicate_arcsec
    if z_min is not None:
        request.filter.z_min = z_min
    if z_max is not None:
        request.filter.z_max = z_max
    if cone is not None:
        if len(cone) == 2:
            (ra, dec), radius = _radec(cone[0]), cone[1]
        elif len(cone) == 3:
            ra, dec, radius = _degrees(cone[0]), _degrees(cone[1]), cone[2]
        else:
            raise ValueError(f"cone is (position, radius) or (ra, dec, radius); got {cone!r}")
        request.filter.cone.ra, request.filter.cone.dec, request.filter.cone.radius = ra, dec, _degrees(radius)
    request.filter.exclude_ids.extend(int(i) for i in exclude_ids)
    if min_score is not None:
        request.min_score = min_score


def _fill_example(message, example, bands=None):
    """One example of Recommend or RankByExamples: an id (int), an image (numpy bands x H x W, or
    an Image; `bands` names its planes), a vector (1-d numpy array), a SkyCoord, or a dict with one
    of "id", "image", "vector", "position" (a SkyCoord or (ra, dec) in degrees) and optionally
    "weight"."""
    if isinstance(example, dict):
        unknown = set(example) - {"id", "image", "vector", "position", "weight"}
        given = [key for key in ("id", "image", "vector", "position") if key in example]
        if unknown or len(given) != 1:
            raise ValueError(f"an example dict has one of id, image, vector, position, and a weight; got {example!r}")
        if "weight" in example:
            message.weight = float(example["weight"])
        key, value = given[0], example[given[0]]
        if key == "id":
            message.id = int(value)
        elif key == "position":
            message.position.ra, message.position.dec = _radec(value)
        elif key == "vector":
            message.vector.values.extend(float(v) for v in np.asarray(value).ravel())
        else:
            message.image.CopyFrom(_image(value, bands=bands))
    elif isinstance(example, (int, np.integer)) and not isinstance(example, bool):
        message.id = int(example)
    elif isinstance(example, galaxy_pb2.Image):
        message.image.CopyFrom(_image(example, bands=bands))
    elif hasattr(example, "icrs"):
        message.position.ra, message.position.dec = _radec(example)
    else:
        a = np.asarray(example)
        if a.ndim == 1 and a.dtype.kind == "f":
            message.vector.values.extend(float(v) for v in a)
        elif a.ndim == 3:
            message.image.CopyFrom(to_image(a, bands=bands))
        else:
            raise ValueError("an example is an id, an image (bands x H x W), a float vector, a SkyCoord or a dict; "
                             f"got {example!r}")


def _query(query):
    """similar()'s keyword for one query of similar_batch(): an id, an image, a vector, a
    SkyCoord or an (ra, dec) pair."""
    if isinstance(query, (int, np.integer)) and not isinstance(query, bool):
        return {"id": int(query)}
    if isinstance(query, galaxy_pb2.Image):
        return {"image": query}
    if hasattr(query, "icrs") or (isinstance(query, tuple) and len(query) == 2):
        return {"position": query}
    a = np.asarray(query)
    if a.ndim == 3:
        return {"image": a}
    if a.ndim == 1 and a.dtype.kind == "f":
        return {"vector": a}
    raise ValueError(f"a query is an id, an image (bands x H x W), a float vector or a position; got {query!r}")


def _flag_names(enum):
    """An API enum's values by the names galaxy-client's flags use: the value's name in lower case,
    without the prefix of the enum's zero value <PREFIX>UNSPECIFIED, '_' as '-' ({"torch-flat":
    INDEX_KIND_TORCH_FLAT, ...}); the zero value has none. New values in galaxy.proto need no edit."""
    prefix = enum.Name(0)[:-len("UNSPECIFIED")]
    return {name[len(prefix):].lower().replace("_", "-"): number for name, number in enum.items() if number != 0}


_INTERESTS = _flag_names(galaxy_pb2.Interest)
_INDEX_KINDS = _flag_names(galaxy_pb2.IndexKind)
_FEATURES = _flag_names(galaxy_pb2.EmbeddingFeatures)


def _interest(name):
    if name is None or name == "":
        return galaxy_pb2.INTEREST_UNSPECIFIED
    if name not in _INTERESTS:
        raise ValueError(f"interest: {name!r} is not one of {sorted(_INTERESTS)}")
    return _INTERESTS[name]


def _label_filter(galaxy_id, class_name, interest, author):
    f = galaxy_pb2.LabelFilter(interest=_interest(interest))
    if galaxy_id is not None:
        f.galaxy_id = int(galaxy_id)
    if class_name is not None:
        f.class_name = class_name
    if author is not None:
        f.author = author
    return f


def _rank_request(positives=(), negatives=(), top=None, page_size=1000, random_negatives=None, seed=0,
                  regularization=None, min_probability=None, z_min=None, z_max=None, cone=None, exclude_ids=(),
                  include_metadata=True, include_embeddings=False, positive_labels=(), negative_labels=(), bands=None):
    request = galaxy_pb2.RankByExamplesRequest(seed=seed, page_size=page_size, limit=top or 0,
                                               include_metadata=include_metadata,
                                               include_embeddings=include_embeddings)
    for examples, out in ((positives, request.positives), (negatives, request.negatives)):
        for example in examples:
            _fill_example(out.add(), example, bands)
    for names, out in ((positive_labels, request.positive_labels), (negative_labels, request.negative_labels)):
        for name in names:
            if name in _INTERESTS:
                out.add(interest=_INTERESTS[name])
            else:
                out.add(class_name=name)
    if random_negatives is not None:
        request.random_negatives = random_negatives
    if regularization is not None:
        request.regularization = regularization
    if min_probability is not None:
        request.min_probability = min_probability
    _fill_search(request, z_min, z_max, cone, exclude_ids, None)
    return request


class _Rpc:
    """A call an API method asks its driver to make; `stream`: a server stream, gathered into a list."""

    __slots__ = ("service", "method", "request", "stream")

    def __init__(self, service, method, request, stream=False):
        self.service, self.method, self.request, self.stream = service, method, request, stream


class _Many:
    """Several runs of API methods (their generators) that the driver makes concurrently, at most
    `concurrency` at a time, with a progress bar; their answers come back in order."""

    __slots__ = ("runs", "what", "progress", "concurrency")

    def __init__(self, runs, what, progress, concurrency):
        self.runs, self.what, self.progress, self.concurrency = list(runs), what, progress, max(1, int(concurrency))


def _one(rpc):
    """A run of one call."""
    return (yield rpc)


def _progress_bar(total, what, enabled):
    """A tqdm progress bar over `total` calls (the notebook widget inside a Jupyter kernel with
    ipywidgets, text on stderr otherwise), or None when not enabled, for a single call, or without
    tqdm (Debian: python3-tqdm)."""
    if not enabled or total < 2:
        return None
    try:
        from tqdm.std import tqdm
    except ImportError:
        return None
    if "ipykernel" in sys.modules:
        try:
            import ipywidgets  # noqa: F401  (tqdm.notebook's widgets)
            from tqdm.notebook import tqdm
        except ImportError:
            pass
    return tqdm(total=total, desc=what, unit="call")


def _api(steps):
    """A method of the API from the generator of its calls: Client runs it, AsyncClient awaits it."""
    @functools.wraps(steps)
    def method(self, *args, **kwargs):
        return self._run(steps(self, *args, **kwargs))
    method.steps = steps
    return method


class _Api:
    """The API, written once for Client and AsyncClient (see the module's documentation)."""

    def _connect(self, address, token, token_file, tls_ca, tls_cert, tls_key, timeout, max_message_bytes, grpc_module):
        if token_file:
            with open(token_file) as f:
                lines = [line.split()[-1] for line in f if line.strip() and not line.lstrip().startswith("#")]
            token = lines[0] if lines else None
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        options = [("grpc.max_receive_message_length", max_message_bytes),
                   ("grpc.max_send_message_length", max_message_bytes)]
        if tls_ca:
            def read(path):
                if not path:
                    return None
                with open(path, "rb") as f:
                    return f.read()
            credentials = grpc.ssl_channel_credentials(read(tls_ca), read(tls_key), read(tls_cert))
            self._channel = grpc_module.secure_channel(address, credentials, options)
        else:
            self._channel = grpc_module.insecure_channel(address, options)
        self._stubs = {"search": galaxy_pb2_grpc.GalaxySearchStub(self._channel),
                       "admin": galaxy_pb2_grpc.GalaxyAdminStub(self._channel)}
        self.timeout = timeout

    def _invoke(self, rpc):
        """The stub call of `rpc` (its answer, or a stream of them)."""
        return getattr(self._stubs[rpc.service], rpc.method)(rpc.request, timeout=self.timeout,
                                                              metadata=self._metadata)

    @_api
    def info(self):
        """The live snapshot: version, size, dimension, index kind, the model (IndexInfo)."""
        return (yield _Rpc("search", "GetIndexInfo", galaxy_pb2.GetIndexInfoRequest()))

    @_api
    def galaxy(self, id, include_embedding=False, include_image=False):
        """One galaxy's record by catalog ID: a Galaxy (its fields as attributes; `image` a numpy
        array bands x height x width when include_image)."""
        record = yield _Rpc("search", "GetGalaxy", galaxy_pb2.GetGalaxyRequest(
            id=int(id), include_embedding=include_embedding, include_image=include_image))
        return Galaxy(record, self)

    @_api
    def galaxies(self, ids, include_embedding=False, include_image=False, progress=True, concurrency=8):
        """Many galaxies' records (Galaxies: a table, and Galaxy rows with their images), fetched
        `concurrency` at a time with a progress bar. An unknown ID raises GalaxySearchError."""
        runs = [_Api.galaxy.steps(self, i, include_embedding, include_image) for i in ids]
        return Galaxies(None, (yield _Many(runs, "galaxies", progress, concurrency)), self)

    @_api
    def similar(self, id=None, image=None, vector=None, position=None, ra=None, dec=None, k=10, e_bv=None,
                z_min=None, z_max=None, cone=None, exclude_ids=(), min_score=None, include_metadata=True,
                include_embeddings=False, mmr_lambda=None, sky_duplicate_arcsec=None, allow_partial=False,
                bands=None):
        """Neighbours of one query: a catalog id, an image (numpy bands x H x W or an Image, with
        its e_bv, and `bands` naming its planes as to_image's does), an embedding vector, or a sky position (an astropy SkyCoord, or (ra, dec) in
        degrees; ra=, dec= also work). Returns Neighbors: rank, id, score and the records, as a
        table, a DataFrame or (in a notebook) a gallery.

        cone: (SkyCoord, radius) or (ra, dec, radius), degrees or Quantities. z_min/z_max filter on
        the redshift; min_score drops weaker neighbours; mmr_lambda (0..1) diversifies the answer;
        sky_duplicate_arcsec drops the same object seen twice. allow_partial: through a router over
        shards, answer from the shards that answered (a warning names the others, as does the
        answer's missing_shards)."""
        if ra is not None or dec is not None:
            if ra is None or dec is None or position is not None:
                raise ValueError("give a position as position=SkyCoord or (ra, dec), or as both ra= and dec=")
            position = (ra, dec)
        request = galaxy_pb2.SimilarGalaxiesRequest(k=k, include_metadata=include_metadata,
                                                    include_embeddings=include_embeddings, allow_partial=allow_partial)
        if sum(x is not None for x in (id, image, vector, position)) != 1:
            raise ValueError("give exactly one of id, image, vector or position")
        if id is not None:
            request.id = int(id)
        elif image is not None:
            request.image.CopyFrom(_image(image, e_bv, bands))
        elif vector is not None:
            request.vector.values.extend(float(v) for v in np.asarray(vector).ravel())
        else:
            request.position.ra, request.position.dec = _radec(position)
        _fill_search(request, z_min, z_max, cone, exclude_ids, min_score, mmr_lambda, sky_duplicate_arcsec)
        response = _warn_if_partial((yield _Rpc("search", "SimilarGalaxies", request)))
        return Neighbors(response, response.neighbors, self, query=response.query_id or None)

    @_api
    def similar_batch(self, queries, k=10, progress=True, concurrency=8, **options):
        """similar() for each of `queries` (ids, images, vectors, SkyCoords or (ra, dec) pairs; a
        SkyCoord array is a list of positions), `concurrency` calls at a time with a progress bar;
        a list of Neighbors in the queries' order. options: as for similar()."""
        runs = [_Api.similar.steps(self, k=k, **_query(q), **options) for q in queries]
        return (yield _Many(runs, "similar", progress, concurrency))

    @_api
    def recommend(self, positives, negatives=(), strategy="average", k=10, z_min=None, z_max=None, cone=None,
                  exclude_ids=(), min_score=None, include_metadata=True, include_embeddings=False, mmr_lambda=None,
                  sky_duplicate_arcsec=None, allow_partial=False, bands=None):
        """Galaxies like the positive examples and unlike the negative ones (Neighbors).

        Each example is a catalog id (int), an image (numpy bands x H x W, or an Image), an
        embedding vector (1-d float numpy array), a SkyCoord, or a dict such as {"id": 5,
        "weight": 2.0} or {"position": (ra, dec)} (one of id, image, vector, position; weight
        optional). `bands` names the planes of every image example (as to_image's does). strategy:
        "average" (one blended query vector) or "best-score" (like any one positive, unlike every
        negative). The examples themselves are never returned. The other options are similar()'s.
        """
        strategies = {"average": galaxy_pb2.RECOMMEND_STRATEGY_AVERAGE_VECTOR,
                      "best-score": galaxy_pb2.RECOMMEND_STRATEGY_BEST_SCORE}
        if strategy not in strategies:
            raise ValueError(f"strategy: {strategy!r} is not one of {sorted(strategies)}")
        request = galaxy_pb2.RecommendRequest(strategy=strategies[strategy], k=k, include_metadata=include_metadata,
                                              include_embeddings=include_embeddings, allow_partial=allow_partial)
        for examples, out in ((positives, request.positives), (negatives, request.negatives)):
            for example in examples:
                _fill_example(out.add(), example, bands)
        _fill_search(request, z_min, z_max, cone, exclude_ids, min_score, mmr_lambda, sky_duplicate_arcsec)
        response = _warn_if_partial((yield _Rpc("search", "Recommend", request)))
        return Neighbors(response, response.neighbors, self)

    @_api
    def rank(self, positives=(), negatives=(), top=50, **options):
        """Few-shot search: a logistic regression trained on the examples' embeddings ranks every
        galaxy of the snapshot; the `top` best (None: all) as a Ranking (rank, id, probability and
        the records; `classifier` and `total_count` as the server gave them).

        Examples are given as for recommend(), without weights (`bands` too). With no negatives,
        `random_negatives` galaxies of the catalog (default 1000, drawn by `seed`) stand in for
        them. regularization is the C of the regression, fitted in the catalog's whitened
        coordinates (default 0.01; docs/API.md); min_probability drops the unlikely.
        positive_labels / negative_labels add every galaxy carrying a label (add_labels): class
        names, or "interesting" / "not-interesting". The examples' catalog galaxies are never
        ranked. Other options: page_size, z_min, z_max, cone, exclude_ids, include_metadata,
        include_embeddings. iter_rank() gives the ranking page by page as the server streams it.
        """
        pages = yield _Rpc("search", "StreamRankByExamples", _rank_request(positives, negatives, top, **options),
                           stream=True)
        merged = galaxy_pb2.RankByExamplesResponse()
        for i, page in enumerate(pages):
            if i == 0:
                merged.CopyFrom(page)
            else:
                merged.galaxies.extend(page.galaxies)
        merged.next_page_token = ""
        return Ranking(merged, merged.galaxies, self)

    @_api
    def add_labels(self, ids, class_name="", interest=None, comment="", author=""):
        """Labels the galaxies `ids` (catalog IDs) with a class name and/or an interest
        ("interesting" or "not-interesting"), kept by the server across rebuilds and restarts.
        The author is the token's holder (or `author`, or "anonymous", without tokens). Returns the
        labels as stored (Labels)."""
        request = galaxy_pb2.AddLabelsRequest(author=author)
        for i in ids:
            request.labels.add(galaxy_id=int(i), class_name=class_name, interest=_interest(interest), comment=comment)
        response = yield _Rpc("search", "AddLabels", request)
        return Labels(response, response.labels, self)

    @_api
    def labels(self, galaxy_id=None, class_name=None, interest=None, author=None):
        """Every label matching the conditions given (all of them with none), following pages
        (Labels: a table with the labels' authors and times)."""
        request = galaxy_pb2.ListLabelsRequest(filter=_label_filter(galaxy_id, class_name, interest, author),
                                               page_size=1000)
        out = []
        while True:
            page = yield _Rpc("search", "ListLabels", request)
            out.extend(page.labels)
            if not page.next_page_token:
                return Labels(page, out, self)
            request.page_token = page.next_page_token

    @_api
    def delete_labels(self, ids, class_name="", author=""):
        """Deletes the labels of `ids` with this class name ("": the interest-only label) by
        `author` (default: the caller); returns how many existed."""
        request = galaxy_pb2.DeleteLabelsRequest()
        for i in ids:
            request.labels.add(galaxy_id=int(i), class_name=class_name, author=author)
        return (yield _Rpc("search", "DeleteLabels", request)).deleted

    @_api
    def export_labels(self, galaxy_id=None, class_name=None, interest=None, author=None):
        """The matching labels as CSV text (galaxy_id,class_name,interest,author,created_utc,comment),
        ready for pandas.read_csv(io.StringIO(...))."""
        request = galaxy_pb2.ExportLabelsRequest(filter=_label_filter(galaxy_id, class_name, interest, author))
        chunks = yield _Rpc("search", "ExportLabels", request, stream=True)
        return b"".join(chunk.csv for chunk in chunks).decode("utf-8")

    @_api
    def predict_redshift(self, ids=(), images=(), include_pdf=False, progress=True, concurrency=4, bands=None):
        """Photometric redshifts of catalog IDs and/or images (numpy bands x H x W, or an n x bands
        x H x W array; `bands` names the planes of every image, as to_image's does): Redshifts, one row per query in order (id, z_phot, z_phot_err, the item's
        status, the pdf when include_pdf; z_grid() gives the pdf's bins). More than 256 queries go
        in several calls, `concurrency` at a time, with a progress bar."""
        queries = [galaxy_pb2.RedshiftQuery(id=int(i)) for i in ids]
        queries += [galaxy_pb2.RedshiftQuery(image=_image(im, bands=bands)) for im in images]
        requests = [galaxy_pb2.PredictRedshiftRequest(include_pdf=include_pdf,
                                                      queries=queries[i:i + MAX_REDSHIFT_QUERIES])
                    for i in range(0, max(len(queries), 1), MAX_REDSHIFT_QUERIES)]
        if len(requests) == 1:
            responses = [(yield _Rpc("search", "PredictRedshift", requests[0]))]
        else:
            runs = [_one(_Rpc("search", "PredictRedshift", r)) for r in requests]
            responses = yield _Many(runs, "redshifts", progress, concurrency)
        merged = galaxy_pb2.PredictRedshiftResponse()
        merged.CopyFrom(responses[0])
        for response in responses[1:]:
            merged.predictions.extend(response.predictions)
        return Redshifts(merged, merged.predictions, self)

    @_api
    def anomaly(self, id=None, image=None, include_neighbors=False, bands=None):
        """The anomaly score and percentile of a catalog galaxy or an image (`bands` naming its
        planes, as to_image's does): `score`, `percentile`; `info().anomaly_score` names the score
        the snapshot uses ("mahalanobis" by default, "mahalanobis-turns" or "knn"); its rows
        (table, gallery) are the galaxy's k nearest neighbours, when include_neighbors."""
        request = galaxy_pb2.ScoreAnomalyRequest(include_neighbors=include_neighbors)
        if (id is None) == (image is None):
            raise ValueError("give exactly one of id or image")
        if id is not None:
            request.id = int(id)
        else:
            request.image.CopyFrom(_image(image, bands=bands))
        response = yield _Rpc("search", "ScoreAnomaly", request)
        return Neighbors(response, response.neighbors, self, query=None if id is None else int(id))

    @_api
    def list_anomalies(self, top=50, min_percentile=None, rerank_by_labels=False, allow_partial=False):
        """The `top` most anomalous galaxies (Galaxies: rank, id, score, percentile, the records),
        following page tokens. rerank_by_labels: galaxies near ones labelled interesting rise, near
        not-interesting ones sink (docs/API.md), and the table gains adjusted_score. allow_partial:
        as in similar()."""
        galaxies, adjusted, token = [], [], ""
        page = galaxy_pb2.ListAnomaliesResponse()
        while len(galaxies) < top:
            request = galaxy_pb2.ListAnomaliesRequest(page_size=min(top - len(galaxies), 1000), page_token=token,
                                                      rerank_by_labels=rerank_by_labels, allow_partial=allow_partial)
            if min_percentile is not None:
                request.min_percentile = min_percentile
            page = _warn_if_partial((yield _Rpc("search", "ListAnomalies", request)))
            galaxies.extend(page.galaxies)
            adjusted.extend(page.adjusted_scores)
            token = page.next_page_token
            if not token:
                break
        # One answer of every page's galaxies, with the last page's other fields.
        merged = galaxy_pb2.ListAnomaliesResponse()
        merged.CopyFrom(page)
        del merged.galaxies[:]
        del merged.adjusted_scores[:]
        merged.galaxies.extend(galaxies[:top])
        merged.adjusted_scores.extend(adjusted[:top])
        merged.next_page_token = ""
        return Galaxies(merged, merged.galaxies, self, merged.adjusted_scores)

    @_api
    def reload(self):
        """Loads the newest snapshot of the server's directory now (admin)."""
        return (yield _Rpc("admin", "ReloadSnapshot", galaxy_pb2.ReloadSnapshotRequest()))

    @_api
    def rebuild(self, data_path, model_path="", index_kind=None, swap=True, features=None):
        """Rebuilds the index from data_path (admin); index_kind: "flat", "hnsw", "ivfpq",
        "torch-flat" (or a galaxy_pb2.IndexKind value); None keeps the live snapshot's kind.
        features: "backbone", "stages" (every stage's features) or "projection", which of the
        model's outputs to index; None keeps the
        live snapshot's when model_path is empty, else the backbone's. Follow it with
        rebuild_status()."""
        request = galaxy_pb2.RebuildIndexRequest(data_path=data_path, model_path=model_path, swap=swap)
        if features is not None:
            if features not in _FEATURES:
                raise ValueError(f"features {features!r}: expected one of {', '.join(_FEATURES)}")
            request.features = _FEATURES[features]
        if isinstance(index_kind, str):
            if index_kind not in _INDEX_KINDS:
                raise ValueError(f"index_kind {index_kind!r}: expected one of {', '.join(_INDEX_KINDS)}")
            index_kind = _INDEX_KINDS[index_kind]
        if index_kind is not None:
            request.index_kind = index_kind
        return (yield _Rpc("admin", "RebuildIndex", request))

    @_api
    def rebuild_status(self, rebuild_id=""):
        """The state and progress of a rebuild (the latest with no rebuild_id)."""
        return (yield _Rpc("admin", "GetRebuildStatus", galaxy_pb2.GetRebuildStatusRequest(rebuild_id=rebuild_id)))


class Client(_Api):
    """A connection to a galaxy-server, with blocking calls.

    address: "host:port". token: the bearer token (or token_file, whose first token is used).
    tls_ca (PEM path) turns TLS on; tls_cert/tls_key add a client certificate. timeout: seconds
    per call. Use it as a context manager, or close() it.
    """

    def __init__(self, address="127.0.0.1:50051", token=None, token_file=None, tls_ca=None, tls_cert=None,
                 tls_key=None, timeout=30.0, max_message_bytes=64 << 20):
        self._connect(address, token, token_file, tls_ca, tls_cert, tls_key, timeout, max_message_bytes, grpc)

    def close(self):
        """Closes the channel."""
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _image_fetcher(self):
        return lambda ids, progress: self.galaxies(ids, include_image=True, progress=progress)

    def _call(self, rpc):
        try:
            answer = self._invoke(rpc)
            return list(answer) if rpc.stream else answer
        except grpc.RpcError as e:
            raise GalaxySearchError(e.code(), e.details()) from None

    def _run(self, steps):
        """Runs an API method's generator: each call it yields is made, its answer sent back."""
        try:
            step = next(steps)
            while True:
                step = steps.send(self._many(step) if isinstance(step, _Many) else self._call(step))
        except StopIteration as done:
            return done.value

    def _many(self, many):
        bar = _progress_bar(len(many.runs), many.what, many.progress)
        try:
            with concurrent.futures.ThreadPoolExecutor(max_workers=many.concurrency) as pool:
                futures = [pool.submit(self._run, run) for run in many.runs]
                for done in concurrent.futures.as_completed(futures):
                    if done.exception() is not None:
                        for f in futures:
                            f.cancel()
                        raise done.exception()
                    if bar is not None:
                        bar.update(1)
                return [f.result() for f in futures]
        finally:
            if bar is not None:
                bar.close()

    def iter_rank(self, positives=(), negatives=(), top=None, page_size=1000, **options):
        """rank(), page by page as the server streams it: yields Ranking pages of `page_size`
        galaxies (each with the classifier), up to `top` galaxies (None: the whole ranking).
        options: as for rank()."""
        request = _rank_request(positives, negatives, top, page_size, **options)
        try:
            for page in self._invoke(_Rpc("search", "StreamRankByExamples", request, stream=True)):
                yield Ranking(page, page.galaxies, self)
        except grpc.RpcError as e:
            raise GalaxySearchError(e.code(), e.details()) from None


class AsyncClient(_Api):
    """A connection to a galaxy-server for asyncio (grpc.aio): the methods of Client, awaited
    (`await client.similar(id=...)`; iter_rank is an async iterator). For bulk work, the batch
    methods (similar_batch, galaxies, predict_redshift) run `concurrency` calls at a time with a
    progress bar. The answers' galleries and images() fetch through a blocking Client to the same
    server. Use it as an async context manager, or await close().
    """

    def __init__(self, address="127.0.0.1:50051", token=None, token_file=None, tls_ca=None, tls_cert=None,
                 tls_key=None, timeout=30.0, max_message_bytes=64 << 20):
        self._settings = dict(address=address, token=token, token_file=token_file, tls_ca=tls_ca, tls_cert=tls_cert,
                              tls_key=tls_key, timeout=timeout, max_message_bytes=max_message_bytes)
        self._display_client = None
        self._connect(address, token, token_file, tls_ca, tls_cert, tls_key, timeout, max_message_bytes, grpc.aio)

    async def close(self):
        """Closes the channel (and the blocking one that fetched images, if any)."""
        await self._channel.close()
        if self._display_client is not None:
            self._display_client.close()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    def _image_fetcher(self):
        if self._display_client is None:
            self._display_client = Client(**self._settings)
        return self._display_client._image_fetcher()

    async def _call(self, rpc):
        try:
            answer = self._invoke(rpc)
            return [m async for m in answer] if rpc.stream else await answer
        except grpc.RpcError as e:
            raise GalaxySearchError(e.code(), e.details()) from None

    async def _run(self, steps):
        """Runs an API method's generator: each call it yields is awaited, its answer sent back."""
        try:
            step = next(steps)
            while True:
                step = steps.send(await (self._many(step) if isinstance(step, _Many) else self._call(step)))
        except StopIteration as done:
            return done.value

    async def _many(self, many):
        bar = _progress_bar(len(many.runs), many.what, many.progress)
        slots = asyncio.Semaphore(many.concurrency)

        async def one(run):
            async with slots:
                answer = await self._run(run)
            if bar is not None:
                bar.update(1)
            return answer

        tasks = [asyncio.ensure_future(one(run)) for run in many.runs]
        try:
            return await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:
                task.cancel()
            raise
        finally:
            if bar is not None:
                bar.close()

    async def iter_rank(self, positives=(), negatives=(), top=None, page_size=1000, **options):
        """rank(), page by page as the server streams it: an async iterator of Ranking pages (as
        Client.iter_rank)."""
        request = _rank_request(positives, negatives, top, page_size, **options)
        try:
            async for page in self._invoke(_Rpc("search", "StreamRankByExamples", request, stream=True)):
                yield Ranking(page, page.galaxies, self)
        except grpc.RpcError as e:
            raise GalaxySearchError(e.code(), e.details()) from None

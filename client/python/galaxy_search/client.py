"""A thin, typed layer over the generated stubs: numpy images in, protobuf answers out."""

import warnings

import grpc
import numpy as np

from ._proto import galaxy_pb2, galaxy_pb2_grpc


class GalaxySearchError(RuntimeError):
    """A failed call: `code` is the grpc.StatusCode, the message says what was wrong."""

    def __init__(self, code, message):
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message


def to_image(cube, e_bv=None):
    """A numpy array bands x height x width (fluxes in nanomaggies, model band order) as an Image."""
    a = np.asarray(cube)
    if a.ndim != 3:
        raise ValueError(f"an image is bands x height x width; got shape {a.shape}")
    if a.dtype == np.float64:
        dtype, data = galaxy_pb2.DTYPE_FLOAT64, np.ascontiguousarray(a, dtype="<f8").tobytes()
    else:
        dtype, data = galaxy_pb2.DTYPE_FLOAT32, np.ascontiguousarray(a, dtype="<f4").tobytes()
    image = galaxy_pb2.Image(bands=a.shape[0], height=a.shape[1], width=a.shape[2], dtype=dtype, data=data)
    if e_bv is not None:
        image.e_bv = float(e_bv)
    return image


def to_array(image):
    """An Image message as a numpy array bands x height x width."""
    dtype = "<f8" if image.dtype == galaxy_pb2.DTYPE_FLOAT64 else "<f4"
    return np.frombuffer(image.data, dtype=dtype).reshape(image.bands, image.height, image.width)


def _warn_if_partial(response):
    """Warns when a router over shards answered without some of them (allow_partial)."""
    if response.missing_shards:
        warnings.warn("partial answer: no reply from shard " + ", shard ".join(response.missing_shards),
                      stacklevel=3)
    return response


def _fill_search(request, z_min, z_max, cone, exclude_ids, min_score, mmr_lambda=None, sky_duplicate_arcsec=None):
    """The filter, score threshold and diversity of a SimilarGalaxies or Recommend request."""
    if mmr_lambda is not None:
        request.diversity.mmr_lambda = mmr_lambda
    if sky_duplicate_arcsec is not None:
        request.diversity.sky_duplicate_arcsec = sky_duplicate_arcsec
    if z_min is not None:
        request.filter.z_min = z_min
    if z_max is not None:
        request.filter.z_max = z_max
    if cone is not None:
        request.filter.cone.ra, request.filter.cone.dec, request.filter.cone.radius = cone
    request.filter.exclude_ids.extend(exclude_ids)
    if min_score is not None:
        request.min_score = min_score


def _fill_example(message, example):
    """One Recommend example: an id (int), an image (numpy bands x H x W, or an Image), a vector
    (1-d numpy array), or a dict with one of "id", "image", "vector", "position" ((ra, dec),
    degrees) and optionally "weight"."""
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
            message.position.ra, message.position.dec = (float(v) for v in value)
        elif key == "vector":
            message.vector.values.extend(float(v) for v in np.asarray(value).ravel())
        else:
            message.image.CopyFrom(value if isinstance(value, galaxy_pb2.Image) else to_image(value))
    elif isinstance(example, (int, np.integer)) and not isinstance(example, bool):
        message.id = int(example)
    elif isinstance(example, galaxy_pb2.Image):
        message.image.CopyFrom(example)
    else:
        a = np.asarray(example)
        if a.ndim == 1 and a.dtype.kind == "f":
            message.vector.values.extend(float(v) for v in a)
        elif a.ndim == 3:
            message.image.CopyFrom(to_image(a))
        else:
            raise ValueError("an example is an id, an image (bands x H x W), a float vector or a dict; "
                             f"got {example!r}")


_INTERESTS = {"interesting": galaxy_pb2.INTEREST_INTERESTING,
              "not-interesting": galaxy_pb2.INTEREST_NOT_INTERESTING}


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


class Client:
    """A connection to a galaxy-server.

    address: "host:port". token: the bearer token (or token_file). tls_ca (PEM path) turns TLS on;
    tls_cert/tls_key add a client certificate. timeout: seconds per call.
    """

    def __init__(self, address="127.0.0.1:50051", token=None, token_file=None, tls_ca=None, tls_cert=None,
                 tls_key=None, timeout=30.0, max_message_bytes=64 << 20):
        if token_file:
            with open(token_file) as f:
                lines = [l.split()[-1] for l in f if l.strip() and not l.lstrip().startswith("#")]
            token = lines[0] if lines else None
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        options = [("grpc.max_receive_message_length", max_message_bytes),
                   ("grpc.max_send_message_length", max_message_bytes)]
        if tls_ca:
            read = lambda p: open(p, "rb").read() if p else None  # noqa: E731
            creds = grpc.ssl_channel_credentials(read(tls_ca), read(tls_key), read(tls_cert))
            self._channel = grpc.secure_channel(address, creds, options)
        else:
            self._channel = grpc.insecure_channel(address, options)
        self._search = galaxy_pb2_grpc.GalaxySearchStub(self._channel)
        self._admin = galaxy_pb2_grpc.GalaxyAdminStub(self._channel)
        self.timeout = timeout

    def close(self):
        self._channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, method, request):
        try:
            return method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise GalaxySearchError(e.code(), e.details()) from None

    def info(self):
        return self._call(self._search.GetIndexInfo, galaxy_pb2.GetIndexInfoRequest())

    def galaxy(self, id, include_embedding=False, include_image=False):
        return self._call(self._search.GetGalaxy, galaxy_pb2.GetGalaxyRequest(
            id=id, include_embedding=include_embedding, include_image=include_image))

    def similar(self, id=None, image=None, vector=None, ra=None, dec=None, k=10, e_bv=None, z_min=None, z_max=None,
                cone=None, exclude_ids=(), min_score=None, include_metadata=True, include_embeddings=False,
                mmr_lambda=None, sky_duplicate_arcsec=None, allow_partial=False):
        """Neighbours of one query: a catalog id, an image (numpy bands x H x W or an Image), an
        embedding vector, or a sky position (ra, dec). cone: (ra, dec, radius) in degrees.
        mmr_lambda (0..1) diversifies the answer; sky_duplicate_arcsec drops the same object seen twice.
        allow_partial: through a router over shards, answer from the shards that answered (a
        warning names the others, as does the answer's missing_shards)."""
        request = galaxy_pb2.SimilarGalaxiesRequest(k=k, include_metadata=include_metadata,
                                                    include_embeddings=include_embeddings, allow_partial=allow_partial)
        given = sum(x is not None for x in (id, image, vector, ra))
        if given != 1:
            raise ValueError("give exactly one of id, image, vector or ra/dec")
        if id is not None:
            request.id = id
        elif image is not None:
            request.image.CopyFrom(image if isinstance(image, galaxy_pb2.Image) else to_image(image, e_bv))
        elif vector is not None:
            request.vector.values.extend(float(v) for v in np.asarray(vector).ravel())
        else:
            request.position.ra, request.position.dec = float(ra), float(dec)
        _fill_search(request, z_min, z_max, cone, exclude_ids, min_score, mmr_lambda, sky_duplicate_arcsec)
        return _warn_if_partial(self._call(self._search.SimilarGalaxies, request))

    def recommend(self, positives, negatives=(), strategy="average", k=10, z_min=None, z_max=None, cone=None,
                  exclude_ids=(), min_score=None, include_metadata=True, include_embeddings=False, mmr_lambda=None,
                  sky_duplicate_arcsec=None, allow_partial=False):
        """Galaxies like the positive examples and unlike the negative ones.

        Each example is a catalog id (int), an image (numpy bands x H x W, or an Image), an
        embedding vector (1-d float numpy array), or a dict such as {"id": 5, "weight": 2.0} or
        {"position": (ra, dec)} (one of id, image, vector, position; weight optional).
        strategy: "average" (one blended query vector) or "best-score" (like any one positive,
        unlike every negative). The examples themselves are never returned. allow_partial: as in
        similar().
        """
        strategies = {"average": galaxy_pb2.RECOMMEND_STRATEGY_AVERAGE_VECTOR,
                      "best-score": galaxy_pb2.RECOMMEND_STRATEGY_BEST_SCORE}
        if strategy not in strategies:
            raise ValueError(f"strategy: {strategy!r} is not one of {sorted(strategies)}")
        request = galaxy_pb2.RecommendRequest(strategy=strategies[strategy], k=k, include_metadata=include_metadata,
                                              include_embeddings=include_embeddings, allow_partial=allow_partial)
        for examples, out in ((positives, request.positives), (negatives, request.negatives)):
            for example in examples:
                _fill_example(out.add(), example)
        _fill_search(request, z_min, z_max, cone, exclude_ids, min_score, mmr_lambda, sky_duplicate_arcsec)
        return _warn_if_partial(self._call(self._search.Recommend, request))

    def iter_rank(self, positives=(), negatives=(), top=None, page_size=1000, random_negatives=None, seed=0,
                  regularization=None, min_probability=None, z_min=None, z_max=None, cone=None, exclude_ids=(),
                  include_metadata=True, include_embeddings=False, positive_labels=(), negative_labels=()):
        """Few-shot search, page by page: a logistic regression trained on the examples' embeddings
        ranks every galaxy of the snapshot; yields RankByExamplesResponse pages (galaxies with
        their probability and rank; each page also carries the classifier) as the server streams
        them, up to `top` galaxies (None: the whole ranking).

        Examples are given as for recommend(), without weights. With no negatives, `random_negatives`
        galaxies of the catalog (default 1000, drawn by `seed`) stand in for them. regularization
        is the C of the regression (default 1). The examples' catalog galaxies are never ranked.
        positive_labels / negative_labels add every galaxy carrying a label (add_labels): class
        names, or "interesting" / "not-interesting" for the interest labels.
        """
        request = galaxy_pb2.RankByExamplesRequest(seed=seed, page_size=page_size, limit=top or 0,
                                                   include_metadata=include_metadata,
                                                   include_embeddings=include_embeddings)
        for examples, out in ((positives, request.positives), (negatives, request.negatives)):
            for example in examples:
                _fill_example(out.add(), example)
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
        try:
            yield from self._search.StreamRankByExamples(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as e:
            raise GalaxySearchError(e.code(), e.details()) from None

    def rank(self, positives=(), negatives=(), top=50, **options):
        """iter_rank() gathered into one RankByExamplesResponse: the `top` best galaxies (None: all),
        the classifier and the ranking's total_count."""
        out = None
        for page in self.iter_rank(positives, negatives, top=top, **options):
            if out is None:
                out = page
            else:
                out.galaxies.extend(page.galaxies)
        out.next_page_token = ""
        return out

    def add_labels(self, ids, class_name="", interest=None, comment="", author=""):
        """Labels the galaxies `ids` (catalog IDs) with a class name and/or an interest
        ("interesting" or "not-interesting"), kept by the server across rebuilds and restarts.
        The author is the token's holder (or `author`, or "anonymous", without tokens). Returns the
        labels as stored."""
        request = galaxy_pb2.AddLabelsRequest(author=author)
        for i in ids:
            request.labels.add(galaxy_id=int(i), class_name=class_name, interest=_interest(interest), comment=comment)
        return list(self._call(self._search.AddLabels, request).labels)

    def labels(self, galaxy_id=None, class_name=None, interest=None, author=None):
        """Every label matching the conditions given (all of them with none), following pages."""
        request = galaxy_pb2.ListLabelsRequest(filter=_label_filter(galaxy_id, class_name, interest, author),
                                               page_size=1000)
        out = []
        while True:
            page = self._call(self._search.ListLabels, request)
            out.extend(page.labels)
            if not page.next_page_token:
                return out
            request.page_token = page.next_page_token

    def delete_labels(self, ids, class_name="", author=""):
        """Deletes the labels of `ids` with this class name ("": the interest-only label) by
        `author` (default: the caller); returns how many existed."""
        request = galaxy_pb2.DeleteLabelsRequest()
        for i in ids:
            request.labels.add(galaxy_id=int(i), class_name=class_name, author=author)
        return self._call(self._search.DeleteLabels, request).deleted

    def export_labels(self, galaxy_id=None, class_name=None, interest=None, author=None):
        """The matching labels as CSV text (galaxy_id,class_name,interest,author,created_utc,comment),
        ready for pandas.read_csv(io.StringIO(...))."""
        request = galaxy_pb2.ExportLabelsRequest(filter=_label_filter(galaxy_id, class_name, interest, author))
        try:
            return b"".join(chunk.csv for chunk in self._search.ExportLabels(
                request, timeout=self.timeout, metadata=self._metadata)).decode("utf-8")
        except grpc.RpcError as e:
            raise GalaxySearchError(e.code(), e.details()) from None

    def predict_redshift(self, ids=(), images=(), include_pdf=False):
        request = galaxy_pb2.PredictRedshiftRequest(include_pdf=include_pdf)
        for i in ids:
            request.queries.add(id=i)
        for im in images:
            request.queries.add().image.CopyFrom(im if isinstance(im, galaxy_pb2.Image) else to_image(im))
        return self._call(self._search.PredictRedshift, request)

    def anomaly(self, id=None, image=None, include_neighbors=False):
        request = galaxy_pb2.ScoreAnomalyRequest(include_neighbors=include_neighbors)
        if (id is None) == (image is None):
            raise ValueError("give exactly one of id or image")
        if id is not None:
            request.id = id
        else:
            request.image.CopyFrom(image if isinstance(image, galaxy_pb2.Image) else to_image(image))
        return self._call(self._search.ScoreAnomaly, request)

    def list_anomalies(self, top=50, min_percentile=None, rerank_by_labels=False, allow_partial=False):
        """The `top` most anomalous galaxies (records), following page tokens. rerank_by_labels:
        galaxies near ones labelled interesting rise, near not-interesting ones sink (docs/API.md).
        allow_partial: as in similar()."""
        out, token = [], ""
        while len(out) < top:
            request = galaxy_pb2.ListAnomaliesRequest(page_size=min(top - len(out), 1000), page_token=token,
                                                      rerank_by_labels=rerank_by_labels, allow_partial=allow_partial)
            if min_percentile is not None:
                request.min_percentile = min_percentile
            page = _warn_if_partial(self._call(self._search.ListAnomalies, request))
            out.extend(page.galaxies)
            token = page.next_page_token
            if not token:
                break
        return out[:top]

    def reload(self):
        return self._call(self._admin.ReloadSnapshot, galaxy_pb2.ReloadSnapshotRequest())

    _INDEX_KINDS = {"flat": "INDEX_KIND_FLAT", "hnsw": "INDEX_KIND_HNSW", "ivfpq": "INDEX_KIND_IVFPQ",
                    "torch-flat": "INDEX_KIND_TORCH_FLAT"}

    _FEATURES = {"backbone": "EMBEDDING_FEATURES_BACKBONE", "projection": "EMBEDDING_FEATURES_PROJECTION"}

    def rebuild(self, data_path, model_path="", index_kind=None, swap=True, features=None):
        """Rebuilds the index from data_path; index_kind: "flat", "hnsw", "ivfpq", "torch-flat"
        (or a galaxy_pb2.IndexKind value); None keeps the live snapshot's kind. features:
        "backbone" or "projection", which of the model's outputs to index; None keeps the live
        snapshot's when model_path is empty, else the backbone's."""
        request = galaxy_pb2.RebuildIndexRequest(data_path=data_path, model_path=model_path, swap=swap)
        if features is not None:
            if features not in self._FEATURES:
                raise ValueError(f"features {features!r}: expected one of {', '.join(self._FEATURES)}")
            request.features = galaxy_pb2.EmbeddingFeatures.Value(self._FEATURES[features])
        if isinstance(index_kind, str):
            if index_kind not in self._INDEX_KINDS:
                raise ValueError(f"index_kind {index_kind!r}: expected one of {', '.join(self._INDEX_KINDS)}")
            index_kind = galaxy_pb2.IndexKind.Value(self._INDEX_KINDS[index_kind])
        if index_kind is not None:
            request.index_kind = index_kind
        return self._call(self._admin.RebuildIndex, request)

    def rebuild_status(self, rebuild_id=""):
        return self._call(self._admin.GetRebuildStatus, galaxy_pb2.GetRebuildStatusRequest(rebuild_id=rebuild_id))

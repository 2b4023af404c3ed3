"""Python client of galaxy-search (gRPC API galaxy.v1), for scripts and notebooks.

    from galaxy_search import Client
    from astropy.coordinates import SkyCoord
    with Client("127.0.0.1:50051") as c:
        like = c.similar(id=1237648720693755918, k=8)    # in a notebook: a gallery of cutouts
        table = like.to_table()                          # astropy QTable: rank, id, score, ra [deg], ...
        frame = like.to_pandas()
        cube = c.galaxy(1237648720693755918, include_image=True).image   # numpy, bands x H x W
        near = c.similar(position=SkyCoord("12h01m02s +01d02m03s"), k=5)
        zs = c.predict_redshift(ids=table["id"]).to_pandas()

AsyncClient has the same methods for asyncio (`await c.similar(...)`); the batch methods
(similar_batch, galaxies, predict_redshift) run calls concurrently with a progress bar.
Answers (results.py) keep the protobuf message (`answer.message`, fields as attributes)
generated from proto/galaxy/v1/galaxy.proto, documented field by field there.

Needs python3-grpcio, python3-protobuf and python3-numpy; astropy (tables, SkyCoord), pandas,
Pillow (the gallery) and tqdm (progress bars) when those are used. An installed package
carries its generated API modules; from the source tree they are generated on first import with
protoc and gRPC's Python plugin (Debian: protobuf-compiler, protobuf-compiler-grpc).
"""

from importlib import metadata as _metadata

from ._proto import galaxy_pb2, galaxy_pb2_grpc  # noqa: F401  (re-exported)
from .client import AsyncClient, Client, GalaxySearchError, to_array, to_image  # noqa: F401
from .results import (Answer, Galaxies, Galaxy, Gallery, Labels, Neighbors, Ranking, Redshifts,  # noqa: F401
                      composite, composite_png)

try:
    __version__ = _metadata.version("galaxy-search")   # x.y.z+proto.<12 hex digits>, when installed
except _metadata.PackageNotFoundError:
    __version__ = "source"                            # used from the repository's tree

__all__ = ["Answer", "AsyncClient", "Client", "Galaxies", "Galaxy", "GalaxySearchError", "Gallery", "Labels",
           "Neighbors", "Ranking", "Redshifts", "composite", "composite_png", "galaxy_pb2", "galaxy_pb2_grpc",
           "to_array", "to_image"]

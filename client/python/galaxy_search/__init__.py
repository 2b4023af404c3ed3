"""Python client of galaxy-search (gRPC API galaxy.v1).

    from galaxy_search import Client
    with Client("127.0.0.1:50051") as c:
        print(c.info().snapshot_version)
        for n in c.similar(id=1237648720693755918, k=5).neighbors:
            print(n.id, n.score)
        image = c.galaxy(1237648720693755918, include_image=True).image   # a galaxy_pb2.Image
        cube = to_array(image)                                           # numpy, bands x H x W
        print(c.similar(image=cube, k=5))

The messages are the ones generated from proto/galaxy/v1/galaxy.proto (documented field by
field there); they are generated on first import with protoc and gRPC's Python plugin (Debian:
protobuf-compiler, protobuf-compiler-grpc) into a cache directory, unless `galaxy.v1.galaxy_pb2`
is importable already. Needs python3-grpcio, python3-protobuf and python3-numpy.
"""

from ._proto import galaxy_pb2, galaxy_pb2_grpc  # noqa: F401  (re-exported)
from .client import Client, GalaxySearchError, to_array, to_image  # noqa: F401

__all__ = ["Client", "GalaxySearchError", "galaxy_pb2", "galaxy_pb2_grpc", "to_array", "to_image"]

"""Imports the generated galaxy.v1 modules, generating them from the repository's proto first
when they are not importable (protoc with gRPC's Python plugin, into a per-user cache
directory keyed by the proto's SHA-256)."""

import hashlib
import os
import shutil
import subprocess
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
_PROTO_ROOT = os.environ.get("GALAXY_PROTO_DIR", os.path.normpath(os.path.join(_HERE, "..", "..", "..", "proto")))
_PROTO = os.path.join("galaxy", "v1", "galaxy.proto")


def _generate():
    source = os.path.join(_PROTO_ROOT, _PROTO)
    if not os.path.exists(source):
        raise ImportError(
            f"galaxy_search: {source} not found; set GALAXY_PROTO_DIR to the repository's proto/ directory")
    with open(source, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "galaxy-search",
                         f"proto-{digest}")
    if not os.path.exists(os.path.join(cache, "galaxy", "v1", "galaxy_pb2_grpc.py")):
        os.makedirs(cache, exist_ok=True)
        # The system protoc (Debian: protobuf-compiler, 3.21) with gRPC's Python plugin (Debian:
        # protobuf-compiler-grpc). The protoc inside Debian's grpc_tools (3.5) predates proto3
        # `optional` fields, which the API uses.
        protoc = shutil.which("protoc")
        plugin = shutil.which("grpc_python_plugin")
        if not protoc or not plugin:
            raise ImportError("galaxy_search: needs protoc and grpc_python_plugin to generate the API modules "
                              "(Debian: apt-get install protobuf-compiler protobuf-compiler-grpc)")
        result = subprocess.run([protoc, f"-I{_PROTO_ROOT}", f"--python_out={cache}", f"--grpc_python_out={cache}",
                                 f"--plugin=protoc-gen-grpc_python={plugin}", _PROTO],
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise ImportError(f"galaxy_search: protoc failed on {source}: {result.stderr.strip()}")
        for d in (os.path.join(cache, "galaxy"), os.path.join(cache, "galaxy", "v1")):
            open(os.path.join(d, "__init__.py"), "a").close()
    if cache not in sys.path:
        sys.path.insert(0, cache)


try:
    from galaxy.v1 import galaxy_pb2, galaxy_pb2_grpc  # noqa: F401
except ImportError:
    _generate()
    from galaxy.v1 import galaxy_pb2, galaxy_pb2_grpc  # noqa: F401

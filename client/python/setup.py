"""Builds and installs the galaxy_search Python client, offline, with the API modules generated at
build time from the repository's proto (so that `import galaxy_search` needs no protoc):

    python3 -m venv --system-site-packages venv        # Debian's grpcio, protobuf, numpy
    venv/bin/pip install --no-build-isolation ./client/python

--no-build-isolation lets pip use Debian's setuptools and wheel (python3-setuptools,
python3-wheel) instead of downloading them. The build needs protoc and gRPC's Python plugin
(Debian: protobuf-compiler, protobuf-compiler-grpc) and the proto, found at ../../proto or
GALAXY_PROTO_DIR. The version is the project's with the proto's digest:
0.1.0+proto.<first 12 hex digits of its SHA-256>.
"""

import hashlib
import os
import re
import shutil
import subprocess
import tempfile

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_ROOT = os.environ.get("GALAXY_PROTO_DIR", os.path.normpath(os.path.join(HERE, "..", "..", "proto")))
PROTO = os.path.join("galaxy", "v1", "galaxy.proto")


def proto_digest():
    path = os.path.join(PROTO_ROOT, PROTO)
    if not os.path.exists(path):
        raise SystemExit(f"galaxy_search: {path} not found; set GALAXY_PROTO_DIR to the repository's proto/")
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def project_version():
    """The version in the repository's CMakeLists.txt (project(... VERSION x.y.z)), else 0.0.0."""
    try:
        with open(os.path.join(HERE, "..", "..", "CMakeLists.txt")) as f:
            found = re.search(r"project\(galaxy_search VERSION ([0-9.]+)", f.read())
        return found.group(1) if found else "0.0.0"
    except OSError:
        return "0.0.0"


def generate_api(out_dir):
    """galaxy_pb2.py and galaxy_pb2_grpc.py into out_dir (the package galaxy_search._api), the
    second importing the first relatively."""
    protoc, plugin = shutil.which("protoc"), shutil.which("grpc_python_plugin")
    if not protoc or not plugin:
        raise SystemExit("galaxy_search: building needs protoc and grpc_python_plugin "
                         "(Debian: apt-get install protobuf-compiler protobuf-compiler-grpc)")
    os.makedirs(out_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([protoc, f"-I{PROTO_ROOT}", f"--python_out={tmp}", f"--grpc_python_out={tmp}",
                        f"--plugin=protoc-gen-grpc_python={plugin}", PROTO], check=True)
        generated = os.path.join(tmp, "galaxy", "v1")
        shutil.copy(os.path.join(generated, "galaxy_pb2.py"), out_dir)
        with open(os.path.join(generated, "galaxy_pb2_grpc.py")) as f:
            grpc_module = f.read().replace("from galaxy.v1 import galaxy_pb2", "from . import galaxy_pb2")
        with open(os.path.join(out_dir, "galaxy_pb2_grpc.py"), "w") as f:
            f.write(grpc_module)
    with open(os.path.join(out_dir, "__init__.py"), "w") as f:
        f.write('"""The gRPC API modules of galaxy.v1, generated when the package was built."""\n'
                f'PROTO_SHA256 = "{proto_digest()}"\n')


class BuildWithApi(build_py):
    def run(self):
        super().run()
        generate_api(os.path.join(self.build_lib, "galaxy_search", "_api"))


setup(
    name="galaxy-search",
    version=f"{project_version()}+proto.{proto_digest()[:12]}",
    description="Python client of galaxy-search: similar galaxies, anomalies and redshifts over gRPC",
    packages=["galaxy_search"],
    python_requires=">=3.9",
    install_requires=["grpcio", "protobuf", "numpy"],
    # Tables, sky positions, the notebook gallery and progress bars; Debian: python3-astropy,
    # python3-pandas, python3-pil, python3-tqdm.
    extras_require={"torch": ["torch"], "notebook": ["astropy", "pandas", "pillow", "tqdm"]},
    cmdclass={"build_py": BuildWithApi},
)

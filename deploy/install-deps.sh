#!/usr/bin/env bash
# Installs every package galaxy-search needs to build, test and run, from Debian bookworm's own
# archive. Idempotent: when everything is already installed it changes nothing and touches no
# network. Run as root (or with sudo available).
#
#   deploy/install-deps.sh            # build + test dependencies
#   deploy/install-deps.sh --bench    # the same (the benchmarks' PyTorch is always installed)
#   deploy/install-deps.sh --runtime  # only the shared libraries the built binaries need (the
#                                     # runtime stage of deploy/Dockerfile)
#   GALAXY_DEPS_QUIET=1 deploy/...    # less apt output
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkgconf ccache git ca-certificates
  # numerics and learning
  libtorch-dev libfaiss-dev libopenblas-dev liblinear-dev
  # data-parallel training: the headers LibTorch's c10d Gloo process group includes
  libgloo-dev
  # service
  libgrpc++-dev libgrpc-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  # storage and data formats
  librocksdb-dev libhdf5-dev libcfitsio-dev wcslib-dev libzip-dev libbz2-dev zlib1g-dev
  # support libraries: logging, CLI, JSON, HTTP (metrics), images
  libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev libcpp-httplib-dev libstb-dev libssl-dev
  # plots (PLplot with its cairo PNG driver)
  libplplot-dev plplot-driver-cairo
  # tests and benchmarks; clang + its runtime for the libFuzzer targets; openssl makes test
  # certificates
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev openssl
  # headless browser for the gallery rendering test and the web explorer's browser test
  chromium
  # python client and its tests; PyTorch for the model round trips (model import and export)
  python3 python3-grpcio python3-protobuf python3-grpc-tools python3-numpy python3-h5py
  python3-torch python3-torchvision
  # the client as a package: pip install --no-build-isolation ./client/python in a venv; astropy
  # and pandas read the exported tables (galaxy-index export --out) and the client's answers;
  # Pillow draws its galleries, tqdm its progress bars; the example notebook runs in nbconvert
  python3-venv python3-pip python3-setuptools python3-wheel python3-astropy python3-pandas
  python3-pil python3-tqdm python3-nbconvert python3-nbformat python3-nbclient python3-ipykernel
  # the Kubernetes manifests' check (tests/check_k8s.py)
  python3-yaml
)

# --bench is accepted as before: the benchmarks' reference stack (PyTorch eager) is always installed.
# --runtime: the libraries build/bin/* link against (from ldd; apt brings their dependencies).
if [ "${1:-}" = "--runtime" ]; then
  packages=(
    ca-certificates libtorch1.13 libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 librocksdb7.8
    libhdf5-103-1 libcfitsio10 libwcs7 libzip4 libspdlog1.10 libfmt9 libcpp-httplib0.11 libstb0
    libopenblas0-pthread liblinear4 libgomp1 libssl3 libbz2-1.0 zlib1g libc-ares2 libre2-9 libgflags2.2
    libgoogle-glog0v6 libplplot17 plplot-driver-cairo libgloo0
  )
fi

# The browser tests' npm packages (tests/browser/package-lock.json; playwright-core drives Debian's
# chromium and downloads no browser of its own). Skipped when the locked version is in place.
# kubectl renders deploy/k8s in the tests: Debian's kubernetes-client, unless a kubectl is there.
install_kubectl() {
  [ "${1:-}" = "--runtime" ] && return 0
  command -v kubectl >/dev/null && return 0
  echo "install-deps: installing kubernetes-client (kubectl)"
  [ -n "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ] || $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends kubernetes-client
}

install_npm_packages() {
  [ "${1:-}" = "--runtime" ] && return 0
  local dir; dir="$(cd "$(dirname "$0")/.." && pwd)/tests/browser"
  local want; want="$(sed -n 's/.*"playwright-core": "\(.*\)".*/\1/p' "$dir/package.json" | head -1)"
  if grep -qs "\"version\": \"$want\"" "$dir/node_modules/playwright-core/package.json"; then
    echo "install-deps: npm packages of tests/browser already installed"
    return 0
  fi
  if ! command -v npm >/dev/null; then
    [ -n "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v lock)" ] || $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends nodejs npm
  fi
  echo "install-deps: npm ci in tests/browser"
  (cd "$dir" && npm ci --no-audit --no-fund)
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages already installed"
  install_npm_packages "${1:-}"
  install_kubectl "${1:-}"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} package(s): ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
install_npm_packages "${1:-}"
install_kubectl "${1:-}"
echo "install-deps: done"

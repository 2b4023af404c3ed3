#!/usr/bin/env bash
# Configures and builds galaxy-search into build/ (binaries in build/bin/). Incremental: a second
# run rebuilds only what changed (and ccache keeps compiled objects across clean builds).
#   deploy/build.sh                 # Release
#   BUILD_DIR=build-asan CMAKE_ARGS="-DCMAKE_BUILD_TYPE=Debug" deploy/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
# ccache keys on absolute paths unless told the tree's root: with it, a clean clone in another
# directory (CI) reuses the objects an earlier build compiled.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
jobs=${JOBS:-$(nproc)}
generator=()
if command -v ninja >/dev/null && [ ! -f "$build_dir/Makefile" ]; then generator=(-G Ninja); fi
# shellcheck disable=SC2086
cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
cmake --build "$build_dir" -j "$jobs"

#!/usr/bin/env bash
# The whole test suite from a fresh Debian bookworm machine: installs the dependencies, builds,
# and runs every test (unit and integration) with ctest. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
deploy/install-deps.sh
deploy/build.sh
build_dir=${BUILD_DIR:-build}
ctest --test-dir "$build_dir" -j "$(nproc)" --output-on-failure --timeout 600
# Request validation under libFuzzer + ASan/UBSan, bounded (deploy/fuzz.sh).
deploy/fuzz.sh
echo "test.sh: all tests passed in $(( $(date +%s) - start )) s"

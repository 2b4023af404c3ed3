#!/usr/bin/env bash
# The whole test suite under AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer.
# Builds every target of ours with -fsanitize=address,undefined into its own tree (build-asan/;
# RelWithDebInfo, so reports carry file:line) and runs ctest there with any report fatal. The
# binaries the integration tests start (galaxy-server, galaxy-index, ...) are the instrumented
# ones, so a report from a server process fails the test that drove it.
#   deploy/sanitize.sh                       # build + whole suite (about an hour on 2 cores)
#   deploy/sanitize.sh -R Serving            # extra arguments go to ctest
# Leak reports from uninstrumented third-party libraries that are not ours to fix are listed,
# with the reason for each, in deploy/lsan.supp.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${SANITIZE_BUILD_DIR:-build-asan}
BUILD_DIR="$build_dir" CMAKE_ARGS="-DCMAKE_BUILD_TYPE=RelWithDebInfo -DGALAXY_SANITIZE=address,undefined" \
  deploy/build.sh
# detect_odr_violation=0: Debian's static libfaiss.a and the protobuf/gRPC shared libraries carry
# the same inline globals, which ASan's ODR check reports although nothing is defined twice in our code.
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:detect_odr_violation=0:detect_stack_use_after_return=0:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:${UBSAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$PWD/deploy/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"
start=$(date +%s)
ctest --test-dir "$build_dir" -j "${JOBS:-$(nproc)}" --output-on-failure --timeout 1800 "$@"
echo "sanitize.sh: all tests passed under ASan/LSan/UBSan in $(( $(date +%s) - start )) s"

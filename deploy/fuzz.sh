#!/usr/bin/env bash
# Fuzzes request validation (server/request_fuzzer.cc) with libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer, for a bounded number of runs. Builds only what the target needs, in
# its own clang build tree (build-fuzz/). Exits non-zero when the fuzzer finds a crash; the input
# that crashed is left in build-fuzz/crashes/ (turn it into a regression test).
#   deploy/fuzz.sh                     # 300000 runs (CI, about half a minute)
#   FUZZ_RUNS=-1 FUZZ_SECONDS=600 deploy/fuzz.sh   # ten minutes
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
runs=${FUZZ_RUNS:-300000}
seconds=${FUZZ_SECONDS:-0}
generator=()
if command -v ninja >/dev/null && [ ! -f "$build_dir/Makefile" ]; then generator=(-G Ninja); fi
mkdir -p "$build_dir"
CC=clang CXX=clang++ cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGALAXY_BUILD_TESTS=OFF -DGALAXY_FUZZ=ON > "$build_dir/configure.log" 2>&1 || { cat "$build_dir/configure.log"; exit 1; }
cmake --build "$build_dir" --target request_fuzzer -j "${JOBS:-$(nproc)}"

corpus="$build_dir/corpus"
mkdir -p "$corpus" "$build_dir/crashes"
# Seeds: text-format requests encoded with protoc.
protoc --proto_path=proto --encode=galaxy.v1.BatchSimilarGalaxiesRequest galaxy/v1/galaxy.proto \
  < server/fuzz_seeds/batch.txtpb > "$corpus/seed-batch"
protoc --proto_path=proto --encode=galaxy.v1.ListAnomaliesRequest galaxy/v1/galaxy.proto \
  < server/fuzz_seeds/list.txtpb > "$corpus/seed-list"
args=(-runs="$runs" -max_len=65536 -artifact_prefix="$build_dir/crashes/" -print_final_stats=1)
if [ "$seconds" != 0 ]; then args+=(-max_total_time="$seconds"); fi
"$build_dir/bin/request_fuzzer" "${args[@]}" "$corpus"
echo "fuzz.sh: request validation survived the fuzzer (${runs} runs)"

#!/usr/bin/env bash
# Fuzzes request validation (server/request_fuzzer.cc) and the .npy reader (core/npy_fuzzer.cc)
# with libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer, for a bounded number of runs. Builds only what the target needs, in
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
cmake --build "$build_dir" --target request_fuzzer npy_fuzzer -j "${JOBS:-$(nproc)}"

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

# .npy reader. Seeds: small arrays as numpy writes them (float32, float64, int64, a record array).
npy_corpus="$build_dir/npy-corpus"
mkdir -p "$npy_corpus"
/usr/bin/python3 - "$npy_corpus" <<'PY'
import sys, numpy as np
d = sys.argv[1]
np.save(f"{d}/f4.npy", np.arange(60, dtype="<f4").reshape(3, 4, 5))
np.save(f"{d}/f8.npy", np.arange(8, dtype="<f8"))
np.save(f"{d}/i8.npy", np.array([1237648720693755918, -1], dtype="<i8"))
np.save(f"{d}/rec.npy", np.zeros(2, dtype=[("objid", "<i8"), ("z", "<f4"), ("mag", "<f4", (5,))]))
PY
"$build_dir/bin/npy_fuzzer" "${args[@]}" "$npy_corpus"
echo "fuzz.sh: the .npy reader survived the fuzzer (${runs} runs)"

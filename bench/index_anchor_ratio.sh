#!/usr/bin/env bash
# In-process search of our index wrapper against raw FAISS (../shared/anchors/faiss_cpu_anchor.cpp)
# on the same data, in the same run:  bench/index_anchor_ratio.sh [N]   (default 1000000)
# Writes bench/results/index_bench_N.json and the anchor's output beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
out=bench/results
mkdir -p "$out"
anchor_src=${GALAXY_ANCHORS:-../shared/anchors}/faiss_cpu_anchor.cpp
anchor_bin=build/faiss_cpu_anchor
if [ ! -x "$anchor_bin" ]; then
  [ -f "$anchor_src" ] || { echo "no anchor source at $anchor_src (set GALAXY_ANCHORS)" >&2; exit 1; }
  g++ -O3 -std=c++17 -fopenmp "$anchor_src" -o "$anchor_bin" -lfaiss -lopenblas
fi
echo "== FAISS anchor, N=$n"
"$anchor_bin" "$n" | tee "$out/faiss_anchor_$n.txt"
echo "== galaxy-bench index, N=$n"
build/bin/galaxy-bench index --count "$n" --scratch /tmp/galaxy-index-bench --json | tee "$out/index_bench_$n.json"

#!/usr/bin/env bash
# Ingest throughput of `galaxy-data ingest`'s paths against the same conversion written as a Python
# script (astropy + h5py, bench/ingest_baseline.py) on the same inputs, in the same run:
#   bench/ingest_ratio.sh [N]   (default 10000 galaxies of 5 x 64 x 64)
# Writes bench/results/ingest_N.json and ingest_baseline_N.json, and prints the ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
out=bench/results
dir=${GALAXY_INGEST_DIR:-/tmp/galaxy-bench/ingest}
mkdir -p "$out"
echo "== galaxy-bench ingest, N=$n"
build/bin/galaxy-bench ingest --count "$n" --dir "$dir" --json | tee "$out/ingest_$n.json"
echo "== Python (astropy + h5py), N=$n"
/usr/bin/python3 bench/ingest_baseline.py "$dir" | tee "$out/ingest_baseline_$n.json"
/usr/bin/python3 - "$out/ingest_$n.json" "$out/ingest_baseline_$n.json" <<'PY'
import json, sys
ours, script = (json.load(open(p)) for p in sys.argv[1:])
for key, what in (("copy_per_s", "copy of the native file"), ("cutouts_per_s", "FITS cutouts + catalog CSV"),
                  ("stack_per_s", "FITS stack + table"), ("hdf5_per_s", "HDF5 N x H x W x C + columns")):
    print(f"{what:28s} {ours[key]:9.0f} vs {script[key]:9.0f} galaxies/s: {ours[key] / script[key]:.2f}x")
PY
rm -rf "$dir"

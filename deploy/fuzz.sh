#!/usr/bin/env bash
# Fuzzes, with libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer, for a bounded time:
#   request_fuzzer  request validation (server/request_fuzzer.cc)
#   npy_fuzzer      the .npy reader (data/npy_fuzzer.cc)
#   hdf5_fuzzer     the native HDF5 dataset reader and HDF5 ingest, structure-aware (data/hdf5_fuzzer.cc)
#   fits_fuzzer     the FITS ingests: cutout stacks and single cutouts with their WCS (data/fits_fuzzer.cc)
#   torch_pickle_fuzzer  the torch.save unpickler of model import (model/torch_pickle_fuzzer.cc)
# Builds only what the targets need, in its own clang build tree (build-fuzz/). Exits non-zero
# when a fuzzer finds a crash; the input that crashed is left in build-fuzz/crashes/ (turn it into
# a regression test). The file readers write each input to a temporary file, so they run far
# fewer inputs per second; each target stops at FUZZ_RUNS inputs or FUZZ_SECONDS, first reached.
#   deploy/fuzz.sh                                    # 300000 inputs or 60 s per target (CI)
#   FUZZ_RUNS=-1 FUZZ_SECONDS=600 deploy/fuzz.sh      # ten minutes per target
#   FUZZ_TARGETS="fits_fuzzer" deploy/fuzz.sh         # one target
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
runs=${FUZZ_RUNS:-300000}
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-request_fuzzer npy_fuzzer hdf5_fuzzer fits_fuzzer torch_pickle_fuzzer}
generator=()
if command -v ninja >/dev/null && [ ! -f "$build_dir/Makefile" ]; then generator=(-G Ninja); fi
mkdir -p "$build_dir"
CC=clang CXX=clang++ cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGALAXY_BUILD_TESTS=OFF -DGALAXY_FUZZ=ON > "$build_dir/configure.log" 2>&1 || { cat "$build_dir/configure.log"; exit 1; }
# shellcheck disable=SC2086
cmake --build "$build_dir" --target $targets -j "${JOBS:-$(nproc)}"
mkdir -p "$build_dir/crashes"
# The file-reader targets write each input to a temporary file named by their process ID; keep
# those in the build tree (emptied here) rather than leaving one per run in the system's /tmp.
rm -rf "$build_dir/tmp"
mkdir -p "$build_dir/tmp"
TMPDIR=$(cd "$build_dir/tmp" && pwd)
export TMPDIR
# Leaks inside third-party libraries that we cannot free, each with its reason (as sanitize.sh).
export LSAN_OPTIONS="suppressions=$PWD/deploy/lsan.supp:print_suppressions=0:${LSAN_OPTIONS:-}"
args=(-runs="$runs" -max_total_time="$seconds" -artifact_prefix="$build_dir/crashes/" -print_final_stats=1)

# fuzz TARGET CORPUS WHAT [libFuzzer flags...]
fuzz() {
  local target=$1 corpus=$2 what=$3
  shift 3
  case " $targets " in *" $target "*) ;; *) return 0 ;; esac
  mkdir -p "$corpus"
  "$build_dir/bin/$target" "${args[@]}" "$@" "$corpus"
  echo "fuzz.sh: $what survived the fuzzer (at most ${runs} inputs, ${seconds} s)"
}

# Request validation. Seeds: text-format requests encoded with protoc.
corpus="$build_dir/corpus"
mkdir -p "$corpus"
protoc --proto_path=proto --encode=galaxy.v1.BatchSimilarGalaxiesRequest galaxy/v1/galaxy.proto \
  < server/fuzz_seeds/batch.txtpb > "$corpus/seed-batch"
protoc --proto_path=proto --encode=galaxy.v1.ListAnomaliesRequest galaxy/v1/galaxy.proto \
  < server/fuzz_seeds/list.txtpb > "$corpus/seed-list"
protoc --proto_path=proto --encode=galaxy.v1.RankByExamplesRequest galaxy/v1/galaxy.proto \
  < server/fuzz_seeds/rank.txtpb > "$corpus/seed-rank"
protoc --proto_path=proto --encode=galaxy.v1.AddLabelsRequest galaxy/v1/galaxy.proto \
  < server/fuzz_seeds/labels.txtpb > "$corpus/seed-labels"
fuzz request_fuzzer "$corpus" "request validation" -max_len=65536

# .npy reader. Seeds: small arrays as numpy writes them (float32, float64, int64, a record array).
mkdir -p "$build_dir/npy-corpus"
/usr/bin/python3 data/fuzz_seeds/make_seeds.py npy "$build_dir/npy-corpus"
fuzz npy_fuzzer "$build_dir/npy-corpus" "the .npy reader" -max_len=65536

# HDF5 reader: the input describes the file's layout; libFuzzer starts from the empty input.
fuzz hdf5_fuzzer "$build_dir/hdf5-corpus" "the HDF5 dataset reader and HDF5 ingest" -max_len=4096

# FITS ingest. Seeds: cutout stacks with and without a table, and one with the wrong band count.
# cfitsio sizes its column tables from TFIELDS and reports a failed calloc as an error: let
# allocations that fail return NULL, as they do outside the sanitizer, and let single large (lazily
# mapped) callocs through; memory actually touched is still capped by the default 2 GB RSS limit.
mkdir -p "$build_dir/fits-corpus"
/usr/bin/python3 data/fuzz_seeds/make_seeds.py fits "$build_dir/fits-corpus"
ASAN_OPTIONS="allocator_may_return_null=1:${ASAN_OPTIONS:-}" \
  fuzz fits_fuzzer "$build_dir/fits-corpus" "the FITS ingests (stacks and single cutouts)" -max_len=65536 -malloc_limit_mb=16384

# torch.save unpickler. Seeds: the data.pkl of small torch.save files (a state dict, a checkpoint
# holding one, a view, a parameter), written by PyTorch (python3-torch).
mkdir -p "$build_dir/pickle-corpus"
/usr/bin/python3 data/fuzz_seeds/make_seeds.py pickle "$build_dir/pickle-corpus"
fuzz torch_pickle_fuzzer "$build_dir/pickle-corpus" "the torch.save unpickler" -max_len=4096

#!/usr/bin/env bash
# One run on the GPU machine (../shared/device/README.md): builds galaxy-search against the
# machine's CUDA LibTorch, runs the CUDA tests and the CPU suite, measures training and embedding
# throughput beside the PyTorch-eager anchors on the same card, prints a short table last and
# writes details to $OUT (or bench/results/gpu when $OUT is unset).
#
# Prepare here first: ../shared/device/fetch-debs.sh wcslib-dev libwcs7
# Then run there from the repository root, with .device carried.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench/results/gpu}
mkdir -p "$out"
log() { printf '[gpu_check %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
build=/tmp/galaxy-gpu-build
jobs=$(nproc)

log "setting up carried Debian packages"
# shellcheck disable=SC1091
source .device/setup.sh >"$out/setup.log" 2>&1 || { cat "$out/setup.log"; exit 1; }
tail -2 "$out/setup.log"

log "configuring and building ($jobs jobs)"
start=$(date +%s)
if ! cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$GALAXY_PREFIX" \
     -DTORCH_CUDA_ARCH_LIST=9.0 >"$out/configure.log" 2>&1; then
  tail -40 "$out/configure.log"; exit 1
fi
grep -E "galaxy-search|FAISS GPU" "$out/configure.log"
if ! cmake --build "$build" -j "$jobs" >"$out/build.log" 2>&1; then
  grep -E "error|Error" "$out/build.log" | head -40; exit 1
fi
build_s=$(( $(date +%s) - start ))
log "built in ${build_s}s"
"$build/bin/galaxy-train" devices | tee "$out/devices.txt"

log "CUDA tests"
ctest --test-dir "$build" -L cuda --output-on-failure >"$out/cuda_tests.log" 2>&1
cuda_rc=$?
grep -E "tests passed|tests failed|Failed|\*\*\*" "$out/cuda_tests.log" | tail -8

log "PyTorch-eager anchors (same card, same run)"
OUT="$out" timeout 240 python3 .device/anchors.py >"$out/anchors.log" 2>&1
grep -E "img/s|q/s" "$out/anchors.log"

log "galaxy-search throughput"
for stem in paper torchvision; do
  "$build/bin/galaxy-train" bench --device cuda --arch resnet50 --stem "$stem" --batch 256 --steps 10 --json \
    >"$out/bench_resnet50_${stem}.json" 2>>"$out/bench.log"
  cat "$out/bench_resnet50_${stem}.json"; echo
done

log "CPU suite on this machine (tests that need no GPU)"
ctest --test-dir "$build" -LE cuda -j "$jobs" --timeout 600 >"$out/cpu_tests.log" 2>&1
cpu_rc=$?
grep -E "tests passed|tests failed" "$out/cpu_tests.log"

# The short table, last.
python3 - "$out" <<'PY'
import json, re, sys, os
out = sys.argv[1]
text = open(os.path.join(out, "anchors.log")).read()
def anchor(pattern):
    m = re.search(pattern, text)
    return float(m.group(1).replace(",", "")) if m else float("nan")
rows = []
for stem, astem in (("paper", "cifar"), ("torchvision", "torchvision")):
    try:
        b = json.load(open(os.path.join(out, f"bench_resnet50_{stem}.json")))
    except Exception:
        continue
    at = anchor(rf"train step, resnet50 {astem} stem, bs 256: ([\d,\.]+) img/s")
    ae = anchor(rf"resnet50 {astem} stem embedding bf16: ([\d,\.]+) img/s")
    rows.append((stem, b["train_images_per_s"], at, b["train_no_augment_images_per_s"], b["embed_images_per_s"], ae))
print("\n| ResNet50 stem | train img/s (aug) | anchor | ratio | train img/s (no aug) | embed img/s | anchor | ratio |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for s, t, at, tn, e, ae in rows:
    print(f"| {s} | {t:,.0f} | {at:,.0f} | {t/at:.2f}x | {tn:,.0f} | {e:,.0f} | {ae:,.0f} | {e/ae:.2f}x |")
PY
log "CUDA tests rc=$cuda_rc, CPU tests rc=$cpu_rc, build ${build_s}s"
exit $(( cuda_rc != 0 ))

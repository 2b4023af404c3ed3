#!/usr/bin/env bash
# One run on the GPU machine (../shared/device/README.md): builds what the GPU checks need against
# the machine's CUDA LibTorch, runs the CUDA tests, measures training and embedding throughput
# beside the PyTorch-eager anchors on the same card (and the levers one by one), runs the
# in-process trainer tests (a crash there prints its stack), prints a short table last and
# writes details to $OUT (or bench/results/gpu when $OUT is unset).
#
# Device time is scarce: the whole run is one call, every phase has its own time limit, and the
# phases after GPU_CHECK_DEADLINE seconds (default 540) are skipped, so what was measured comes
# back. The CPU suite is left to CI.
#
# Prepare here first: ../shared/device/fetch-debs.sh with the packages docs/DEVELOPING.md lists
# ("GPU machine").
# Then run there from the repository root, with .device carried.
# A dry run of the flow on a CPU machine with an existing build:
#   GPU_CHECK_BUILD=build GPU_CHECK_SKIP_SETUP=1 GPU_CHECK_SKIP_BUILD=1 GPU_CHECK_DEVICE=cpu bench/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-bench/results/gpu}
mkdir -p "$out"
t0=$(date +%s)
deadline=${GPU_CHECK_DEADLINE:-540}
device=${GPU_CHECK_DEVICE:-cuda}
build=${GPU_CHECK_BUILD:-/tmp/galaxy-gpu-build}
jobs=$(nproc)
log() { printf '[gpu_check +%ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }
time_left() { (( $(date +%s) - t0 < deadline )); }
# A phase's time limit: its own, or what is left before the deadline plus 30 s, if less.
limit() { local left=$(( deadline + 30 - ($(date +%s) - t0) )); echo $(( $1 < left ? $1 : left )); }

# shellcheck source=bench/gpu_build.sh
source bench/gpu_build.sh
if [[ -z "${GPU_CHECK_SKIP_SETUP:-}" ]]; then
  log "setting up carried Debian packages"
  gpu_setup "$out" || exit 1
fi

if [[ -z "${GPU_CHECK_SKIP_BUILD:-}" ]]; then
  log "configuring and building what the checks need ($jobs jobs)"
  gpu_build "$build" "$out" galaxy-train galaxy-data cuda_test model_test trainer_test || exit 1
  log "built"
fi
train="$build/bin/galaxy-train"
tests="$build/tests"
[[ -x "$train" ]] && timeout 60 "$train" devices | tee "$out/devices.txt"

# Which OpenMP runtimes a process of ours loads (two distinct ones is a known source of crashes).
{
  echo "torch lib: $(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))' 2>/dev/null)/lib"
  ls "$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))' 2>/dev/null)/lib" 2>/dev/null | grep -i -E "omp|mkl|blas" || true
  for b in "$train" "$tests/trainer_test"; do
    [[ -x "$b" ]] && { echo "== $b"; ldd "$b" | grep -i -E "omp|blas|torch_cpu|cudart"; }
  done
} >"$out/runtimes.txt" 2>&1
grep -i omp "$out/runtimes.txt"

cuda_rc=0
if [[ "$device" == cuda && -x "$tests/cuda_test" ]]; then
  log "CUDA tests"
  timeout 180 "$tests/cuda_test" >"$out/cuda_tests.log" 2>&1
  cuda_rc=$?
  grep -E "^\[  (PASSED|FAILED) |OK \]|FAILED \]|signal|Failure" "$out/cuda_tests.log" | head -20
fi

if [[ "$device" == cuda ]] && time_left; then
  log "PyTorch-eager anchors (same card, same run)"
  OUT="$out" timeout "$(limit 200)" python3 .device/anchors.py >"$out/anchors.log" 2>&1
  # The same anchor with our 7x7 paper stem (anchors.py's is 3x3), for a like-for-like ratio.
  timeout "$(limit 90)" python3 bench/gpu_anchor_paper_stem.py >>"$out/anchors.log" 2>&1
  grep -E "img/s|q/s" "$out/anchors.log"
fi

# galaxy-train bench: the defaults (what pretrain runs), then each lever switched off alone.
bench() {
  local name=$1; shift
  time_left || { log "skipped $name (deadline)"; return; }
  timeout "$(limit 150)" "$train" bench --device "$device" --json "$@" >"$out/bench_$name.json" 2>>"$out/bench.log"
  cat "$out/bench_$name.json"
}
if [[ -x "$train" ]]; then
  log "galaxy-search throughput"
  if [[ "$device" == cuda ]]; then
    size=(--arch resnet50 --batch 256 --steps 20)
  else
    size=(--arch tiny --batch 32 --steps 3)
  fi
  for stem in paper torchvision; do
    bench "${stem}" "${size[@]}" --stem "$stem"
    if [[ -z "${GPU_CHECK_NO_VARIANTS:-}" ]]; then
      bench "${stem}_stepwise_aug" "${size[@]}" --stem "$stem" --augment-form stepwise
      bench "${stem}_per_param_sgd" "${size[@]}" --stem "$stem" --no-multi-tensor-sgd
    fi
  done
fi

# The real command end to end: galaxy-train pretrain on a synthetic survey (its img/s line).
data="$out/work/survey.h5"
mkdir -p "$out/work"
if [[ -x "$build/bin/galaxy-data" ]] && time_left; then
  timeout "$(limit 120)" "$build/bin/galaxy-data" synth --out "$data" --count 3000 --seed 1 >"$out/synth.log" 2>&1
fi
if [[ -f "$data" && -x "$train" ]] && time_left; then
  log "galaxy-train pretrain, $device"
  if [[ "$device" == cuda ]]; then
    run=(--arch resnet50 --stem torchvision --batch 256 --queue 4096 --steps 60)
  else
    run=(--arch tiny --batch 64 --queue 512 --steps 5)
  fi
  timeout "$(limit 150)" "$train" pretrain --data "$data" --out "$out/work/pretrain" --device "$device" "${run[@]}" \
    >"$out/pretrain.log" 2>&1
  echo "pretrain rc=$?: $(grep -o 'pretrain: step.*' "$out/pretrain.log" | tail -1)"
fi

# The in-process trainer tests (they crashed with SIGSEGV on this machine in LibTorch's copy of
# std::filesystem::remove_all, which RemoveTree has replaced since, untried here; the stack of a
# crash is in the log), then the model tests.
trainer_rc=-1
trainer() {
  local name=$1 filter=$2 limit=$3
  time_left || { log "skipped trainer tests $name (deadline)"; return; }
  log "trainer tests $name (in process, CPU)"
  timeout "$(limit "$limit")" "$tests/trainer_test" --gtest_filter="$filter" >"$out/trainer_tests_$name.log" 2>&1
  local rc=$?
  (( trainer_rc <= 0 )) && trainer_rc=$rc
  grep -E "^\[  (PASSED|FAILED) |FAILED \]|signal|Failure" "$out/trainer_tests_$name.log" | head -20
  grep -A30 "got signal" "$out/trainer_tests_$name.log" | head -40
}
if [[ -x "$tests/trainer_test" ]]; then
  trainer quick 'TrainerCudaTest.*:TrainerFailureTest.*:TrainerResumeTest.*:PretrainOptionsTest.*' 120
  # The same CPU training through the binary, at the tests' 2 threads and at all cores.
  if [[ -f "$data" ]]; then
    for threads in 2 0; do
      time_left || break
      timeout "$(limit 90)" "$train" pretrain --data "$data" --out "$out/work/cpu$threads" --device cpu --arch tiny \
        --batch 64 --queue 512 --steps 3 --threads "$threads" >"$out/pretrain_cpu_threads$threads.log" 2>&1
      echo "galaxy-train pretrain --device cpu --threads $threads: rc=$?"
      grep -A4 "got signal" "$out/pretrain_cpu_threads$threads.log" | head -6
    done
  fi
  trainer pipeline 'TrainerPipelineTest.*' 200
fi
model_rc=-1
if [[ -x "$tests/model_test" ]] && time_left; then
  log "model tests"
  timeout "$(limit 120)" "$tests/model_test" >"$out/model_tests.log" 2>&1
  model_rc=$?
  grep -E "^\[  (PASSED|FAILED) |FAILED \]|signal" "$out/model_tests.log" | head -10
fi

# The short table, last.
python3 - "$out" <<'PY'
import json, re, sys, os
out = sys.argv[1]
try:
    text = open(os.path.join(out, "anchors.log")).read()
except OSError:
    text = ""
def anchor(pattern):
    m = re.search(pattern, text)
    return float(m.group(1).replace(",", "")) if m else float("nan")
def load(name):
    try:
        return json.load(open(os.path.join(out, f"bench_{name}.json")))
    except Exception:
        return None
print("\n| ResNet50 stem | variant | train img/s (aug) | anchor | ratio | train img/s (no aug) | aug cost | aug ms/view | embed img/s | anchor | ratio |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
for stem, astem in (("paper", "cifar"), ("torchvision", "torchvision")):
    at = anchor(rf"train step, resnet50 {astem} stem, bs 256: ([\d,\.]+) img/s")
    ae = anchor(rf"resnet50 {astem} stem embedding bf16: ([\d,\.]+) img/s")
    for variant in ("", "_stepwise_aug", "_per_param_sgd"):
        b = load(stem + variant)
        if not b:
            print(f"| {stem} | {variant.strip('_') or 'default'} | (no result) |"); continue
        t, tn, e = b["train_images_per_s"], b["train_no_augment_images_per_s"], b["embed_images_per_s"]
        cost = tn / t - 1 if t > 0 else float("nan")
        print(f"| {stem} | {variant.strip('_') or 'default'} | {t:,.0f} | {at:,.0f} | {t/at:.2f}x | {tn:,.0f} | {cost:+.0%} "
              f"| {b.get('augment_ms_per_view', float('nan')):.2f} | {e:,.0f} | {ae:,.0f} | {e/ae:.2f}x |")
        if stem == "paper" and not variant:
            at7 = anchor(r"train step, resnet50 paper7 stem, bs 256: ([\d,\.]+) img/s")
            ae7 = anchor(r"resnet50 paper7 stem embedding bf16: ([\d,\.]+) img/s")
            print(f"| {stem} | default, anchor with our 7x7 stem | {t:,.0f} | {at7:,.0f} | {t/at7:.2f}x | {tn:,.0f} | "
                  f"{cost:+.0%} | | {e:,.0f} | {ae7:,.0f} | {e/ae7:.2f}x |")
PY
# What comes back from the machine is limited in files: the results in one JSON-lines file, the
# logs in one archive.
cat "$out"/bench_*.json >"$out/bench.jsonl" 2>/dev/null
rm -rf "$out/work"
(cd "$out" && tar czf logs.tar.gz --exclude=logs.tar.gz --exclude=bench.jsonl --exclude=anchors.json ./* \
  && find . -maxdepth 1 -type f ! -name logs.tar.gz ! -name bench.jsonl ! -name anchors.json ! -name anchors.log -delete)
log "CUDA tests rc=$cuda_rc, trainer tests rc=$trainer_rc, model tests rc=$model_rc"
exit $(( cuda_rc != 0 ))

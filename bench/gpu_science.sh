#!/usr/bin/env bash
# The science report on the GPU machine (docs/DEVELOPING.md, "GPU machine"): ResNet50 on a
# simulated survey of 100,000 galaxies through the one command `galaxy-bench science`, within
# one call of the device budget. It builds against the machine's CUDA LibTorch, runs the science
# with a deadline, then the CUDA and in-process trainer tests with whatever time is left, and
# writes to $OUT (or bench/results/gpu_science):
#   science.tar.gz   report.md, results.json, the plots and every stage's JSON (no checkpoints)
#   summary.txt      the report's tables and checks, and the phases' times
#   logs.tar.gz      build, science and test logs
#
# The sizes (environment, defaults in brackets): GPU_SCIENCE_PREFLIGHT (short pretrainings
# first, below), SCIENCE_GALAXIES [100000], SCIENCE_SEEDS [1], SCIENCE_ARCH [resnet50],
# SCIENCE_STEM [torchvision], SCIENCE_SIZES (the steps, batches and fractions as `galaxy-bench
# science` flags, replacing the defaults below), GPU_SCIENCE_RECIPE (the pretraining's recipe
# flags; unset: chosen by the preflight, below), GPU_SCIENCE_CALL [the seconds the whole call
# may take, 585]: the science gets what the build and preflight leave of it (less 30 s to pack
# the results), the tests what the science leaves.
#
# Prepare here: the device kit's fetch-debs.sh with the packages docs/DEVELOPING.md lists (fills
# .device/), then run there from the repository root with .device carried.
# A dry run of the flow on a CPU machine with an existing build:
#   GPU_SCIENCE_BUILD=build GPU_SCIENCE_SKIP_SETUP=1 GPU_SCIENCE_SKIP_BUILD=1 GPU_SCIENCE_DEVICE=cpu \
#   SCIENCE_GALAXIES=600 SCIENCE_ARCH=tiny SCIENCE_SIZES="--pretrain-steps 10 --pretrain-batch 32 --queue 256 \
#   --finetune-steps 10 --finetune-batch 32 --scratch-steps 10 --quality-galaxies 600" bench/gpu_science.sh
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
out=${OUT:-bench/results/gpu_science}
mkdir -p "$out"
t0=$(date +%s)
device=${GPU_SCIENCE_DEVICE:-cuda}
build=${GPU_SCIENCE_BUILD:-/tmp/galaxy-gpu-build}
work=${GPU_SCIENCE_WORK:-/tmp/galaxy-gpu-science}
call=${GPU_SCIENCE_CALL:-585}
left() { echo $(( call - ($(date +%s) - t0) )); }
log() { printf '[gpu_science +%ss] %s\n' "$(( $(date +%s) - t0 ))" "$*" | tee -a "$out/phases.txt"; }

# shellcheck source=bench/gpu_build.sh
source bench/gpu_build.sh
if [[ -z "${GPU_SCIENCE_SKIP_SETUP:-}" ]]; then
  log "setting up carried Debian packages"
  gpu_setup "$out" || exit 1  # not in a pipeline: its exports must reach this shell
  tail -2 "$out/setup.log" >>"$out/phases.txt"
fi
if [[ -z "${GPU_SCIENCE_SKIP_BUILD:-}" ]]; then
  log "configuring and building ($(nproc) jobs)"
  # The tests build beside the programs (16 cores: they cost little wall time).
  gpu_build "$build" "$out" galaxy-bench galaxy-train galaxy-data cuda_test trainer_test || exit 1
  log "built"
fi
bench="$build/bin/galaxy-bench"
train="$build/bin/galaxy-train"
[[ -x "$train" ]] && timeout 60 "$train" devices 2>&1 | tee "$out/devices.txt"

# Preflight: short pretrainings on a 50,000-galaxy survey whose monitor curves on the CPU are in
# docs/SCIENCE.md ("The first ResNet50 run on a GPU"). The CPU showed that ResNet50 learns
# slowly with the tiny network's recipe in fp32 as well (not a GPU-path problem), so these try
# ResNet50 recipes against each other and against tiny. Each is ARCH:PRECISION[:FLAG=VALUE...]
# (extra `galaxy-train pretrain` flags, colon-separated), 1,000 steps of 256, the monitor every
# 250; GPU_SCIENCE_PREFLIGHT="" skips them (~60 s each for resnet50, ~25 s for tiny).
# GPU_SCIENCE_PREFLIGHT_STEPS and _GALAXIES shrink them for a dry run. The third is the CPU's best
# recipe (temperature 0.1, the three-aperture photometric pretext: docs/SCIENCE.md, "Full
# resolution with the pretext") on ResNet50; a single BatchNorm batch (`--bn-splits=1`) was the
# third before and stays one GPU_SCIENCE_PREFLIGHT away.
preflight=${GPU_SCIENCE_PREFLIGHT-resnet50:bf16 resnet50:bf16:--lr=0.0075 resnet50:bf16:--temperature=0.1:--photometry-weight=5:--photometry-radii=1.5,3,6 tiny:bf16}
preflight_steps=${GPU_SCIENCE_PREFLIGHT_STEPS:-1000}
# A preflight's directory and log name: its spec with every other character as '_'.
preflight_name() { tr -c 'A-Za-z0-9.\n' '_' <<<"$1"; }
if [[ -n "$preflight" && -x "$train" && -x "$build/bin/galaxy-data" ]]; then
  mkdir -p "$work/preflight"
  [[ -f "$work/preflight/survey.h5" ]] ||
    timeout 120 "$build/bin/galaxy-data" synth --out "$work/preflight/survey.h5" --count "${GPU_SCIENCE_PREFLIGHT_GALAXIES:-50000}" --seed 1 \
      >"$out/preflight_synth.log" 2>&1
  for run in $preflight; do
    IFS=: read -r -a part <<<"$run"
    arch=${part[0]} precision=${part[1]} extra=("${part[@]:2}")
    name=$(preflight_name "$run")
    log "preflight $arch $precision ${extra[*]}"
    timeout 150 "$train" pretrain --data "$work/preflight/survey.h5" --out "$work/preflight/$name" --arch "$arch" \
      --stem torchvision --steps "$preflight_steps" --batch 256 --queue 8192 --momentum 0.99 \
      --monitor-every $(( (preflight_steps + 3) / 4 )) --precision "$precision" \
      --device "$device" --seed 0 "${extra[@]}" >"$out/preflight_$name.log" 2>&1
    grep -E "monitor: step|img/s|rror" "$out/preflight_$name.log" | sed 's/^.* info //' | tee -a "$out/phases.txt"
  done
fi

# The science run's pretraining recipe. ResNet50 learned nothing the monitor sees with the
# tiny network's recipe (docs/SCIENCE.md, "The first ResNet50 run on a GPU"), so the call does
# not spend its science on a recipe its own preflight found worse: of the preflights of the
# science's architecture, the one whose monitor ends with the lowest kNN redshift is taken when
# it beats the plain recipe's by more than the monitor's error (0.001) and galaxy-bench science
# takes every flag it adds (one it does not, such as --lr, is reported and passed over).
# GPU_SCIENCE_RECIPE (science flags, e.g. "--temperature 0.1"; "" for the plain recipe) decides
# instead.
# galaxy-bench science's own defaults are the CPU's best recipe (temperature 0.1 and the
# photometric pretext, the third preflight); the plain recipe, pretraining's own defaults, is
# passed to it explicitly.
science_takes=" --temperature --photometry-weight --photometry-radii --momentum --mask-outskirts "
plain=(--temperature 0.2 --photometry-weight 0)
final_z() {
  grep -E "monitor: step" "$1" 2>/dev/null | tail -1 | sed -nE 's/.*kNN z sigma_MAD ([0-9.]+) \(backbone\).*/\1/p'
}
recipe=()
if [[ -n "${GPU_SCIENCE_RECIPE+set}" ]]; then
  read -r -a recipe <<<"$GPU_SCIENCE_RECIPE"
  log "science recipe from GPU_SCIENCE_RECIPE: ${recipe[*]:-plain}"
  (( ${#recipe[@]} )) || recipe=("${plain[@]}")
elif [[ -n "$preflight" ]]; then
  plain_z="" best_z="" best=()
  for run in $preflight; do
    IFS=: read -r -a part <<<"$run"
    [[ ${part[0]} == "${SCIENCE_ARCH:-resnet50}" ]] || continue
    extra=("${part[@]:2}")
    z=$(final_z "$out/preflight_$(preflight_name "$run").log")
    [[ -n "$z" ]] || continue
    if (( ${#extra[@]} == 0 )); then
      plain_z=$z
      continue
    fi
    takes=1
    for flag in "${extra[@]}"; do [[ "$science_takes" == *" ${flag%%=*} "* ]] || takes=0; done
    if (( !takes )); then
      log "preflight ${extra[*]}: kNN z $z (galaxy-bench science does not take its flags)"
    elif [[ -z "$best_z" ]] || awk -v a="$z" -v b="$best_z" 'BEGIN { exit !(a < b) }'; then
      best_z=$z best=("${extra[@]}")
    fi
  done
  if [[ -n "$plain_z" && -n "$best_z" ]] && awk -v a="$best_z" -v b="$plain_z" 'BEGIN { exit !(a < b - 0.001) }'; then
    recipe=("${best[@]}")
    log "science recipe: ${recipe[*]} (preflight kNN z $best_z against the plain recipe's $plain_z)"
  else
    recipe=("${plain[@]}")
    log "science recipe: plain (preflight kNN z ${plain_z:-not measured}; the best other ${best_z:-none})"
  fi
else
  recipe=("${plain[@]}")
  log "science recipe: plain (no preflight)"
fi

science_rc=-1
if [[ -x "$bench" ]]; then
  mkdir -p "$work"
  args=(--out "$work/science" --galaxies "${SCIENCE_GALAXIES:-100000}" --seeds "${SCIENCE_SEEDS:-1}"
        --arch "${SCIENCE_ARCH:-resnet50}" --stem "${SCIENCE_STEM:-torchvision}" --device "$device" "${recipe[@]}")
  # ResNet50 at batch 256 (the queue 32 batches, as the CPU defaults' 4,096 of 128); the
  # redshift trainings and the probe's network from scratch at 400 steps of 256 (1.3 epochs of
  # the full label set). Measured on an H200 (docs/SCIENCE.md): cold build ~70 s, survey 12 s,
  # 1,500 steps 90 s, ~30 s per redshift training: about what fits the deadline.
  # shellcheck disable=SC2206
  sizes=(${SCIENCE_SIZES:---pretrain-steps 1500 --pretrain-batch 256 --queue 8192 --finetune-steps 400 --finetune-batch 256 --scratch-steps 400 --probe-fractions 0.01,0.05,1})
  deadline=$(( $(left) - 30 ))
  log "galaxy-bench science ${args[*]} ${sizes[*]} (deadline ${deadline} s)"
  timeout "$deadline" "$bench" science "${args[@]}" "${sizes[@]}" >"$out/science.log" 2>&1
  science_rc=$?
  log "science rc=$science_rc"
  grep -E "science:|img/s|best validation|error|Error" "$out/science.log" | tail -40
elif [[ -x "$train" && -x "$build/bin/galaxy-data" ]]; then
  # galaxy-bench links the server and indexer too; if it did not build here, the same stages
  # through galaxy-train (no combined report; each stage writes its own).
  log "galaxy-bench did not build: the stages through galaxy-train"
  s="$work/science"
  mkdir -p "$s/seed_0"
  {
    "$build/bin/galaxy-data" synth --out "$s/survey.h5" --count "${SCIENCE_GALAXIES:-100000}" --seed 1 &&
    "$train" pretrain --data "$s/survey.h5" --out "$s/seed_0/pretrain" --arch "${SCIENCE_ARCH:-resnet50}" \
      --stem "${SCIENCE_STEM:-torchvision}" --steps 1500 --batch 256 --queue 8192 --momentum 0.99 --monitor-every 500 \
      --device "$device" --seed 0 "${recipe[@]}" &&
    "$train" experiment label-efficiency --data "$s/survey.h5" --out "$s/seed_0/label_efficiency" \
      --pretrained "$s/seed_0/pretrain/model.pt" --fractions 0.01,0.04,0.05,0.2,1 --steps 400 --batch 256 --device "$device" --seed 0 &&
    "$train" probe --model "$s/seed_0/pretrain/model.pt" --data "$s/survey.h5" --label type --fractions 0.01,0.05,1 \
      --scratch-steps 400 --scratch-batch 256 --device "$device" --seed 0 --json "$s/seed_0/probe.json" &&
    "$train" quality --model "$s/seed_0/pretrain/model.pt" --data "$s/survey.h5" --max-galaxies 50000 \
      --device "$device" --json "$s/seed_0/quality.json"
  } >"$out/science.log" 2>&1 &
  # The call's time limit would otherwise end the packing below too.
  stages=$!
  (sleep $(( $(left) - 30 )); pkill -P $stages) &
  watchdog=$!
  wait $stages
  science_rc=$?
  kill $watchdog 2>/dev/null
  log "stages rc=$science_rc"
  grep -E "img/s|best validation|probe:|error|Error" "$out/science.log" | tail -40
else
  log "neither galaxy-bench nor galaxy-train built: no science run"
fi

# What the science wrote (checkpoints and the survey stay behind).
if [[ -d "$work/science" ]]; then
  (cd "$work/science" && find . \( -name '*.json' -o -name '*.md' -o -name '*.png' -o -name '*.log' -o -name '*.csv' \) \
     -print0 | tar czf - --null -T -) >"$out/science.tar.gz"
  if [[ -f "$work/science/report.md" ]]; then
    cp "$work/science/report.md" "$out/report.md"
  fi
fi

# The tests, with the time left in the call (the caller's timeout ends them otherwise).
test_rc=()
run_test() {
  local name=$1 binary=$2 filter=$3 limit=$4
  [[ -x "$binary" ]] || { log "$name: not built"; test_rc+=("$name=unbuilt"); return; }
  local most=$(( $(left) - 10 ))
  (( most < limit )) && limit=$most
  (( limit >= 20 )) || { log "$name: skipped (no time left)"; test_rc+=("$name=skipped"); return; }
  log "$name (at most $limit s)"
  timeout "$limit" "$binary" --gtest_filter="$filter" >"$out/$name.log" 2>&1
  local rc=$?
  test_rc+=("$name=$rc")
  grep -E "^\[  (PASSED|FAILED) |FAILED \]|signal|Failure" "$out/$name.log" | head -20
  grep -A30 "got signal" "$out/$name.log" | head -40
}
if [[ "$device" == cuda ]]; then
  run_test cuda_tests "$build/tests/cuda_test" '*' 90
  run_test trainer_cuda_tests "$build/tests/trainer_test" 'TrainerCudaTest.*:TrainerFailureTest.*:PretrainOptionsTest.*' 120
fi
log "science rc=$science_rc, tests: ${test_rc[*]:-none}"

{
  cat "$out/phases.txt"
  [[ -f "$out/report.md" ]] && cat "$out/report.md"
} >"$out/summary.txt"
rm -f "$out/phases.txt"
(cd "$out" && tar czf logs.tar.gz --exclude=logs.tar.gz --exclude=science.tar.gz --exclude=summary.txt ./*.log ./*.txt 2>/dev/null \
  && find . -maxdepth 1 -type f -name '*.log' -delete && rm -f devices.txt)
exit $(( science_rc != 0 ))

#!/usr/bin/env bash
# Data-parallel pretraining throughput: galaxy-train pretrain as one process with T threads
# against W processes (torchrun's variables, Gloo on loopback) with T/W threads each, the same
# global batch and steps, alternating rounds. Times the real command (its own "img/s" line, the
# whole group's images per second of its training loop).
#
#   bench/ddp_train.sh [ROUNDS] [STEPS]      (defaults 3 and 12)
#   GALAXY_DDP_ARCH=resnet18 GALAXY_DDP_BATCH=64 GALAXY_DDP_WORLD=2 GALAXY_DDP_THREADS=2 ...
#   GALAXY_DDP_DEVICE=cuda (one GPU per rank: CUDA_VISIBLE_DEVICES is set from the rank)
#
# Writes bench/results/ddp_train.json (every round, the medians, their ratio, the machine).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
steps=${2:-12}
arch=${GALAXY_DDP_ARCH:-resnet18}
batch=${GALAXY_DDP_BATCH:-64}
world=${GALAXY_DDP_WORLD:-2}
threads=${GALAXY_DDP_THREADS:-$(nproc)}
device=${GALAXY_DDP_DEVICE:-cpu}
bin=build/bin
work=$(mktemp -d /tmp/galaxy-ddp-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
out=bench/results
mkdir -p "$out"

"$bin/galaxy-data" synth --out "$work/survey.h5" --count $((batch * steps + batch)) --seed 11 >/dev/null 2>&1
common=(pretrain --data "$work/survey.h5" --arch "$arch" --stem torchvision --steps "$steps" --batch "$batch"
        --queue $((batch * 4)) --bn-splits "$world" --monitor-every 0 --checkpoint-every 100000 --device "$device")

rate() { sed -n 's/^pretrained [0-9]* steps at \([0-9]*\) img\/s.*/\1/p' "$1" | head -1; }

one=() many=()
for r in $(seq 1 "$rounds"); do
  rm -rf "$work/one" "$work/many"
  "$bin/galaxy-train" "${common[@]}" --out "$work/one" --threads "$threads" >"$work/one.out" 2>"$work/one.err"
  one+=("$(rate "$work/one.out")")
  port=$((29600 + RANDOM % 1000))
  pids=()
  for rank in $(seq 0 $((world - 1))); do
    CUDA_VISIBLE_DEVICES=$([ "$device" = cuda ] && echo "$rank" || echo "${CUDA_VISIBLE_DEVICES:-}") \
    RANK=$rank LOCAL_RANK=$rank WORLD_SIZE=$world MASTER_ADDR=127.0.0.1 MASTER_PORT=$port \
      "$bin/galaxy-train" "${common[@]}" --out "$work/many" --threads $((threads / world > 0 ? threads / world : 1)) \
      >"$work/rank$rank.out" 2>"$work/rank$rank.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || { cat "$work"/rank*.err >&2; exit 1; }; done
  many+=("$(rate "$work/rank0.out")")
  echo "round $r: 1 process ${one[-1]} img/s, $world processes ${many[-1]} img/s"
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
m1=$(median "${one[@]}")
mw=$(median "${many[@]}")
ratio=$(awk -v a="$mw" -v b="$m1" 'BEGIN {printf "%.2f", a / b}')
echo "median: 1 process $m1 img/s, $world processes $mw img/s: ${ratio}x"
machine=$("$bin/galaxy-bench" machine --json 2>/dev/null || echo '{}')
cat > "$out/ddp_train.json" <<JSON
{"arch": "$arch", "batch": $batch, "steps": $steps, "world": $world, "threads": $threads, "device": "$device",
 "one_process_img_s": [$(IFS=,; echo "${one[*]}")], "processes_img_s": [$(IFS=,; echo "${many[*]}")],
 "median_one": $m1, "median_processes": $mw, "ratio": $ratio, "machine": $machine}
JSON
echo "wrote $out/ddp_train.json"

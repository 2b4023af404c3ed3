#!/usr/bin/env bash
# CPU training and embedding throughput of galaxy-train against PyTorch eager on the same
# machine, in the same run (../shared/anchors/cpu_moco_anchor.py's network and step: ResNet18,
# torchvision stem, batch 64, 2 threads). Shared machines are noisy: both run alternately ROUNDS
# times and the medians are compared (`galaxy-bench train-ratio`, which `galaxy-bench run` uses too).
# Needs Debian's python3-torch and python3-torchvision (deploy/install-deps.sh installs them).
#   bench/cpu_anchor_ratio.sh [ROUNDS]        (default 5; writes bench/results/cpu_anchor_ratio.json)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
out=bench/results
mkdir -p "$out"
build/bin/galaxy-bench train-ratio --rounds "$rounds" --json-out "$out/cpu_anchor_ratio.json"

#!/usr/bin/env bash
# The GPU machine's two prepared calls, bench/gpu_check.sh and bench/gpu_science.sh, run through
# on the CPU with this build and tiny sizes (the dry runs their headers describe). A session lent
# that machine gets one call of a few minutes: a flag renamed in galaxy-train or galaxy-bench,
# or a script error, must fail here rather than there. Checks each script's exit status and that
# what it hands back (the summary table, the report, the archives) is there and says what it
# should.
# Usage: tests/gpu_scripts_dry_run.sh BUILD_DIR
set -uo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR}" && pwd) || exit 1
cd "$(dirname "$0")/.." || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gpu_scripts_dry_run.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAILED: $*"; failed=1; }
expect_in() {  # FILE PATTERN WHAT
  grep -qE "$2" "$1" 2>/dev/null || { fail "$3 (no /$2/ in $1)"; tail -20 "$1" 2>/dev/null; }
}

echo "== bench/gpu_science.sh (tiny, 600 galaxies, two tiny preflights)"
# Two tiny preflights exercise the recipe choice; the science takes the chosen one.
OUT="$tmp/science" GPU_SCIENCE_BUILD="$build" GPU_SCIENCE_WORK="$tmp/science_work" GPU_SCIENCE_SKIP_SETUP=1 \
  GPU_SCIENCE_SKIP_BUILD=1 GPU_SCIENCE_DEVICE=cpu GPU_SCIENCE_PREFLIGHT="tiny:fp32 tiny:fp32:--temperature=0.1" \
  GPU_SCIENCE_PREFLIGHT_STEPS=8 GPU_SCIENCE_PREFLIGHT_GALAXIES=600 SCIENCE_GALAXIES=600 SCIENCE_ARCH=tiny \
  SCIENCE_SIZES="--pretrain-steps 8 --pretrain-batch 32 --queue 256 --finetune-steps 8 --finetune-batch 32 \
--scratch-steps 8 --quality-galaxies 600" bench/gpu_science.sh >"$tmp/science.out" 2>&1
rc=$?
(( rc == 0 )) || { fail "gpu_science.sh exited $rc"; tail -40 "$tmp/science.out"; }
summary="$tmp/science/summary.txt"
expect_in "$summary" "preflight tiny fp32 --temperature=0.1" "the preflights ran"
expect_in "$summary" "science recipe: " "a recipe was chosen"
expect_in "$summary" "science rc=0" "galaxy-bench science succeeded"
expect_in "$summary" "^## " "the report is in the summary"
expect_in "$tmp/science/report.md" "kNN on colours" "the report compares with colours"
tar tzf "$tmp/science/science.tar.gz" >"$tmp/science_files.txt" 2>&1 || fail "science.tar.gz unreadable"
expect_in "$tmp/science_files.txt" "results.json" "science.tar.gz holds results.json"
tar tzf "$tmp/science/logs.tar.gz" >"$tmp/science_logs.txt" 2>&1 || fail "logs.tar.gz unreadable"
expect_in "$tmp/science_logs.txt" "science.log" "logs.tar.gz holds the science log"

echo "== bench/gpu_check.sh (CPU, no variants)"
OUT="$tmp/check" GPU_CHECK_BUILD="$build" GPU_CHECK_SKIP_SETUP=1 GPU_CHECK_SKIP_BUILD=1 GPU_CHECK_DEVICE=cpu \
  GPU_CHECK_NO_VARIANTS=1 bench/gpu_check.sh >"$tmp/check.out" 2>&1
rc=$?
(( rc == 0 )) || { fail "gpu_check.sh exited $rc"; tail -40 "$tmp/check.out"; }
expect_in "$tmp/check.out" "CUDA tests rc=0, trainer tests rc=0, model tests rc=0" "every test phase passed"
expect_in "$tmp/check.out" "^\| paper \| default \| [0-9]" "the table has the paper stem's throughput"
expect_in "$tmp/check.out" "^\| torchvision \| default \| [0-9]" "the table has the torchvision stem's throughput"
expect_in "$tmp/check.out" "pretrain rc=0" "galaxy-train pretrain ran end to end"
expect_in "$tmp/check/bench.jsonl" '"train_images_per_s"' "bench.jsonl holds the benches"
[[ -f "$tmp/check/logs.tar.gz" ]] || fail "gpu_check.sh left no logs.tar.gz"

if (( failed )); then
  echo "gpu_scripts_dry_run: FAILED"
  exit 1
fi
echo "gpu_scripts_dry_run: both GPU scripts ran through on the CPU"

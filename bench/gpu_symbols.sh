#!/usr/bin/env bash
# On the GPU machine: which of our programs' symbols bind to a definition inside the machine's
# LibTorch that is not LibTorch's own (another copy of a library we also link: Abseil, Protobuf,
# fmt, ...). Two copies of one library in a process, the wrong one picked by symbol lookup order,
# is a classic source of crashes that appear in one binary and not in another.
# Usage there: source .device/setup.sh; bench/gpu_symbols.sh BUILD_DIR [gtest filter]
set -uo pipefail
build=${1:?build directory}
filter=${2:-TrainerResumeTest.*}
out=${OUT:-/tmp}
torch_lib=$(python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))')/lib
needed() { readelf -d "$1" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' '; echo; }
echo "== NEEDED, in order: trainer_test"; needed "$build/tests/trainer_test"
echo "== NEEDED, in order: galaxy-train"; needed "$build/bin/galaxy-train"
echo "== foreign libraries' symbols that LibTorch's libraries define and export"
for f in "$torch_lib"/libtorch_cpu.so "$torch_lib"/libtorch.so "$torch_lib"/libc10.so "$torch_lib"/libtorch_cuda.so; do
  [[ -f "$f" ]] || continue
  echo "$(basename "$f"): $(nm -D --defined-only "$f" 2>/dev/null | grep -c -E ' [TWVBDR] .*(absl|google.?protobuf|nlohmann|fmt|spdlog|grpc)')"
  nm -D -C --defined-only "$f" 2>/dev/null | grep -E ' [TWVBDR] .*(absl|google::protobuf|nlohmann|fmt::|spdlog)' | head -5
done
echo "== the crash"
timeout 90 "$build/tests/trainer_test" --gtest_filter="$filter" >"$out/crash.log" 2>&1
echo "rc=$?"
grep -A5 "got signal" "$out/crash.log" | head -12
echo "== bindings into LibTorch's libraries of symbols that are not LibTorch's (same run, LD_DEBUG)"
rm -f /tmp/ldb.*
LD_DEBUG=bindings LD_DEBUG_OUTPUT=/tmp/ldb timeout 120 "$build/tests/trainer_test" --gtest_filter="$filter" >/dev/null 2>&1
grep -h "binding file" /tmp/ldb.* | grep -E "to [^ ]*torch/lib/lib(torch|c10)[^ ]*" |
  grep -v -E "symbol \`_Z(N|NK|TV|TI|TS|ZN|ZNK)?[0-9]+(at|c10|torch|caffe2)" |
  sed -E 's/.*binding file ([^ ]*) \[[0-9]+\] to ([^ ]*) \[[0-9]+\]: normal symbol `([^'"'"']*).*/\1 -> \2: \3/' |
  sed -E 's#[^ ]*/##; s# -> [^ ]*/# -> #' | sort | uniq -c | sort -rn | head -40

# Sourced by the GPU machine's scripts (bench/gpu_check.sh, bench/gpu_science.sh): the carried
# Debian packages and the build against the machine's CUDA LibTorch (docs/DEVELOPING.md, "GPU
# machine").

# gpu_setup OUT: unpacks .device/ (setup.sh exports GALAXY_PREFIX and the library paths) and
# points PLplot at its drivers and fonts where the packages were unpacked.
gpu_setup() {
  local out=$1
  # shellcheck disable=SC1091
  source .device/setup.sh >"$out/setup.log" 2>&1 || { cat "$out/setup.log"; return 1; }
  tail -2 "$out/setup.log"
  export PLPLOT_DRIVER_DIR=/opt/deb/usr/lib/x86_64-linux-gnu/plplot5.15.0/drivers
  export PLPLOT_LIB=/opt/deb/usr/share/plplot5.15.0
}

# gpu_build BUILD_DIR OUT TARGET...: configures (Release, sm_90) and builds the targets with all
# cores, keeping going past a target that fails so that the others still run; the logs go to
# OUT, the first errors to stdout. Fails only when configuring fails.
gpu_build() {
  local build=$1 out=$2
  shift 2
  local generator=() keep_going=(-k)
  if command -v ninja >/dev/null; then generator=(-G Ninja); keep_going=(-k 0); fi
  if ! cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$GALAXY_PREFIX" \
       -DTORCH_CUDA_ARCH_LIST=9.0 >"$out/configure.log" 2>&1; then
    tail -40 "$out/configure.log"
    return 1
  fi
  grep -E "galaxy-search|FAISS GPU|OpenMP" "$out/configure.log"
  cmake --build "$build" -j "$(nproc)" --target "$@" -- "${keep_going[@]}" >"$out/build.log" 2>&1
  grep -E "error|Error" "$out/build.log" | head -30
  return 0
}

#!/usr/bin/env bash
# The device check of the CUDA backend (docs/GPU.md), for a machine with an
# NVIDIA GPU: from the repository root it configures a fresh build with
# FRUGAL_CUDA=ON, builds the CUDA targets, prints nvidia-smi, runs the CUDA
# tests (the device kernels against the CPU reference), compute-sanitizer's
# memcheck over them when it is installed, the matrix-vector benchmark, and
# last builds frugal itself. Libraries that the GPU machine's image lacks
# come from .gpu-debs/ when present (bench/gpu_carry.sh, run here first;
# the device call carries the folder). Each step's output goes to
# $OUT/<step>.log and one line per step to $OUT/summary.txt; the whole run
# stops itself after FRUGAL_GPU_CHECK_SECONDS (480) seconds, skipping the
# steps that no longer fit. Exit status 0 when every step that ran passed.
#
#   OUT=/tmp/gpu bench/gpu_check.sh
#   FRUGAL_GPU_BANDWIDTH_GBS=3350 bench/gpu_check.sh   # % of this instead of the reported peak
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-$PWD/out/gpu-check}
mkdir -p "$out"
deadline=$((SECONDS + ${FRUGAL_GPU_CHECK_SECONDS:-480}))
build=${FRUGAL_GPU_BUILD_DIR:-build-gpu-check}
jobs=$(nproc)
summary=$out/summary.txt
declare -A status  # step name -> exit status
: >"$summary"
failed=0

note() { echo "$*" | tee -a "$summary"; }

# step NAME NEED CMD...: CMD with the time left (at least NEED seconds, else
# not started), its output in $out/NAME.log. Exit 77 is a skip.
step() {
  local name=$1 need=$2
  shift 2
  local left=$((deadline - SECONDS))
  if ((left < need)); then
    note "$name: not run, ${left}s of the budget left (needs ${need}s)"
    failed=1
    return 1
  fi
  local t0=$SECONDS rc=0
  timeout --kill-after=10 "$left" "$@" >"$out/$name.log" 2>&1 || rc=$?
  status[$name]=$rc
  local what=passed
  ((rc == 77)) && what=skipped
  ((rc == 124 || rc == 137)) && what="stopped at the budget"
  ((rc != 0 && rc != 77 && rc != 124 && rc != 137)) && what="FAILED"
  note "$name: $what (exit $rc, $((SECONDS - t0))s, $name.log)"
  ((rc != 0 && rc != 77)) && failed=1
  return $rc
}

nvcc=$(command -v nvcc || true)
[[ -z $nvcc && -x /usr/local/cuda/bin/nvcc ]] && nvcc=/usr/local/cuda/bin/nvcc
if [[ -z $nvcc ]]; then
  note "no nvcc on PATH or in /usr/local/cuda/bin: nothing to build"
  exit 1
fi
# The libraries frugal's build links, carried from the development machine
# (bench/gpu_carry.sh) where the image lacks them: unpacked under .gpu-root
# (a .deb is an ar archive holding data.tar.*; python3 reads both, so no
# dpkg is needed), found through CMake's prefix, pkg-config's sysroot and
# the loader's path. The image's own C library, C++ runtime and compilers
# are used.
carried=()
if compgen -G ".gpu-debs/*.deb" >/dev/null; then
  root=$PWD/.gpu-root
  rm -rf "$root"
  python3 - "$root" .gpu-debs/*.deb <<'PYEOF' || { note "could not unpack .gpu-debs"; exit 1; }
import io, sys, tarfile
root, debs = sys.argv[1], sys.argv[2:]
for deb in debs:
    data = open(deb, "rb").read()
    assert data[:8] == b"!<arch>\n", deb
    at = 8
    while at + 60 <= len(data):
        name, size = data[at:at + 16].decode().strip().rstrip("/"), int(data[at + 48:at + 58].decode())
        body = data[at + 60:at + 60 + size]
        if name.startswith("data.tar"):
            with tarfile.open(fileobj=io.BytesIO(body)) as t:
                t.extractall(root, filter="tar") if hasattr(tarfile, "tar_filter") else t.extractall(root)
        at += 60 + size + (size & 1)
PYEOF
  lib=$root/usr/lib/x86_64-linux-gnu
  export PKG_CONFIG_SYSROOT_DIR=$root
  export PKG_CONFIG_LIBDIR=$lib/pkgconfig:$root/usr/share/pkgconfig
  export LD_LIBRARY_PATH=$lib:$lib/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  command -v pkg-config >/dev/null || export PATH=$PATH:$root/usr/bin
  carried=(-DCMAKE_PREFIX_PATH="$root/usr" -DCMAKE_LIBRARY_PATH="$lib/openblas-pthread")
  note "carried libraries: $(ls .gpu-debs/*.deb | wc -l) packages unpacked under $root"
fi
generator=(-G Ninja)
command -v ninja >/dev/null || generator=(-G "Unix Makefiles")
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
note "gpu_check: $(git rev-parse --short HEAD 2>/dev/null || echo '?'), $jobs cores, nvcc $nvcc, build $build"

step nvidia-smi 5 nvidia-smi
rm -rf "$build"
step configure 60 cmake -S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DFRUGAL_CUDA=ON \
  -DCMAKE_CUDA_COMPILER="$nvcc" "${launcher[@]}" "${carried[@]}" || { tail -30 "$out/configure.log"; cat "$summary"; exit 1; }
step build-cuda 60 cmake --build "$build" -j"$jobs" --target test_cuda cuda_device_check frugal_gpu_bench ||
  { tail -30 "$out/build-cuda.log"; cat "$summary"; exit 1; }
step ctest-cuda 30 ctest --test-dir "$build" -L cuda --output-on-failure
step device-check 30 "$build/cuda_device_check"
# A skip where nvidia-smi sees a GPU means the runtime could not use it
# (most likely a driver older than the CUDA 13 runtime needs): a failure here.
if [[ ${status[device-check]:-} == 77 && ${status[nvidia-smi]:-} == 0 ]]; then
  note "device-check: skipped although nvidia-smi lists a GPU; see device-check.log and the driver's CUDA version in nvidia-smi.log"
  failed=1
fi
if command -v compute-sanitizer >/dev/null; then
  step memcheck 90 compute-sanitizer --tool memcheck --error-exitcode 1 "$build/cuda_device_check"
else
  note "memcheck: not run, no compute-sanitizer on PATH"
fi
bandwidth=()
[[ -n ${FRUGAL_GPU_BANDWIDTH_GBS:-} ]] && bandwidth=(--bandwidth-gbs "$FRUGAL_GPU_BANDWIDTH_GBS")
step gpu-matvec 60 "$build/frugal_gpu_bench" "${bandwidth[@]}"
step build-frugal 60 cmake --build "$build" -j"$jobs" --target frugal

for log in nvidia-smi device-check gpu-matvec; do
  [[ -f $out/$log.log ]] && { echo "== $log"; tail -60 "$out/$log.log"; }
done
echo "== summary"
cat "$summary"
exit $failed

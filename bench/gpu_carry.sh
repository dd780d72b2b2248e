#!/usr/bin/env bash
# Run here, before bench/gpu_check.sh goes to a GPU machine: downloads the
# Debian packages frugal's build links (the libraries scripts/bootstrap
# installs, their headers and what they need at run time, and pkgconf) into
# .gpu-debs/, for the device tool to carry (`carry: [".gpu-debs"]`). The GPU
# machine's image has CUDA's compiler, CMake and ninja but not these
# libraries and cannot fetch them; gpu_check.sh unpacks them under
# .gpu-root/ (dpkg -x: no scripts run, nothing outside the folder changes)
# and points CMake, pkg-config and the loader there. The C library, the C++
# runtime and the compilers are the image's own.
set -euo pipefail
cd "$(dirname "$0")/.."
dev=(libgtest-dev libgmock-dev libhwy-dev nlohmann-json3-dev libcli11-dev libcpp-httplib-dev libpcre2-dev
     libutf8proc-dev libzstd-dev libxxhash-dev libopenblas-dev libopenblas-pthread-dev pkgconf)
# Their closure, less what the image has of its own (the C library and
# runtime, the compiler's) and the other builds of OpenBLAS (one is enough).
mapfile -t all < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
  --no-replaces --no-enhances --no-pre-depends "${dev[@]}" | grep -v '^[ <]' | sort -u |
  grep -v -E '^(libc6|libc6-dev|libc-dev-bin|linux-libc-dev|libgcc-s1|libstdc\+\+6|gcc-[0-9]+-base|libcrypt1|libcrypt-dev)$' |
  grep -v -E '^libopenblas.*(openmp|serial)')
rm -rf .gpu-debs
mkdir -p .gpu-debs
(cd .gpu-debs && apt-get download "${all[@]}" >/dev/null)
echo "gpu_carry: ${#all[@]} packages, $(du -sh .gpu-debs | cut -f1) in .gpu-debs/ (carry it with the device call)"

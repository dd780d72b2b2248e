#!/bin/bash
# Builds bench/moe_speed.cc against BUILD_DIR's libraries and runs it.
#   bench/moe_speed.sh BUILD_DIR MODEL.gguf [PROMPT_TOKENS] [DECODE_TOKENS] [THREADS] [KV_TYPE]
set -euo pipefail
build=$1; shift
src=$(cd "$(dirname "$0")/.." && pwd)
# The source tree whose headers match the build (a build dir made from another
# checkout records it in CMakeCache.txt).
tree=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
exe="$build/moe_speed"
if [[ ! -x $exe || $src/bench/moe_speed.cc -nt $exe ]]; then
  libs=()
  for l in runtime model kernels quant gguf base; do libs+=("$build/libfrugal_$l.a"); done
  g++ -std=c++20 -O2 -I"$tree/src" "$src/bench/moe_speed.cc" "${libs[@]}" -lpthread -o "$exe"
fi
exec "$exe" "$@"

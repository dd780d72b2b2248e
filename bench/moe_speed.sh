#!/bin/bash
# Builds bench/moe_speed.cc against BUILD_DIR's libraries and runs it.
#   bench/moe_speed.sh BUILD_DIR MODEL.gguf [PROMPT_TOKENS] [DECODE_TOKENS] [THREADS] [KV_TYPE]
#   bench/moe_speed.sh BUILD_DIR synth ARCH PRESET LAYERS TYPE OUT.gguf
set -euo pipefail
build=$1; shift
src=$(cd "$(dirname "$0")/.." && pwd)
# The source tree the build was configured from (its headers match the libraries).
tree=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
libs=()
for l in runtime model kernels quant gguf base; do libs+=("$build/libfrugal_$l.a"); done
defs=()
if grep -q kv_type_from_name "$tree/src/model/forward.h"; then defs+=(-DFRUGAL_MOE_SPEED_KV_NAMES); fi
# Static C++ runtime: the binary also runs on a machine with another compiler.
g++ -std=c++20 -O2 "${defs[@]}" -I"$tree/src" "$src/bench/moe_speed.cc" "${libs[@]}" -lpthread \
  -static-libstdc++ -static-libgcc -o "$build/moe_speed"
exec "$build/moe_speed" "$@"

#!/bin/bash
# Builds bench/constrained_decode.cc against BUILD_DIR's libraries and runs it.
#   bench/constrained_decode.sh BUILD_DIR MODEL.gguf [ROUNDS] [TOKENS] [THREADS]
set -euo pipefail
build=$1; shift
src=$(cd "$(dirname "$0")/.." && pwd)
libs=()
for l in runtime model kernels quant tokenizer gguf base; do libs+=("$build/libfrugal_$l.a"); done
g++ -std=c++20 -O2 -I"$src/src" "$src/bench/constrained_decode.cc" "${libs[@]}" \
  $(pkg-config --libs libhwy libpcre2-8 libutf8proc) -lpthread -o "$build/constrained_decode"
exec "$build/constrained_decode" "$@"

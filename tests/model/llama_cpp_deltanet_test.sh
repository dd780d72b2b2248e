#!/usr/bin/env bash
# The Gated DeltaNet architectures (qwen35moe, qwen3next) beside ik_llama.cpp's
# llama-perplexity, an independent implementation of the same layers: on
# tiny F32 models the two perplexities must agree within 1e-4 of their value
# (measured: about 1e-6; the peer keeps its attention layer's KV cache in
# f16, frugal perplexity in f32).
#
# How the peer is run matters, for two faults of its own (ik_llama.cpp
# 8337e4cd3; docs/usage/convert.md#beside-ik_llamacpp has the evidence):
# - its DeltaNet loop for heads other than 64 or 128 wide (ggml.c's
#   ggml_compute_forward_delta_net_f32 when iqk_fused_delta_net declines)
#   reads v, the decay and beta of a multi-token ubatch as if laid out
#   [head][token], where llama-delta-net.cpp hands it [token][head] views:
#   right for one token, wrong for more. The tiny presets' heads of 32 are
#   therefore scored one token per batch (-b 1);
# - a lone BOS as the first token of a context with no single-token decode
#   counted yet is taken for its warm-up and routed to every expert, which
#   -b 128 -ub 1 (128 lone tokens per decode) hits at every chunk; -b 1 only
#   at the first chunk's BOS (within the tolerance).
# With heads of 64 (--ssm-head-dim 64) its vectorised kernel runs, and each
# chunk goes as one ubatch (-b 128). The peer's qwen3next loader puts full
# attention on every 4th layer whatever the file says, hence
# --attn-interval 4 for qwen3next.
#
# Runs where FRUGAL_PEER_LLAMA_PERPLEXITY names the peer's llama-perplexity;
# skipped otherwise.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"

use_peer FRUGAL_PEER_LLAMA_PERPLEXITY "FRUGAL_PEER_LLAMA_PERPLEXITY does not name ik_llama.cpp's llama-perplexity"
ppl_bin=$peer_bin
src=${FRUGAL_SOURCE_DIR:?source directory}
# About 90 chunks of 128 tokens (the synth models' vocabulary is byte-level).
head -c 12000 "$src/docs/TESTING.md" >"$dir/text.txt"

# check NAME "PEER FLAGS" SYNTH ARGS...
check() {
  local name=$1 peer_flags=$2
  shift 2
  "$FRUGAL" synth "$@" --type f32 --seed 1 -o "$dir/m.gguf" >/dev/null 2>&1 || fail "$name: synth $*"
  local ours theirs
  ours=$("$FRUGAL" perplexity -m "$dir/m.gguf" -f "$dir/text.txt" -c 128 --json 2>/dev/null \
    | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["ppl"])') || fail "$name: frugal perplexity"
  # shellcheck disable=SC2086  # the peer's flags split on purpose
  (cd "$dir" && "$ppl_bin" -m "$dir/m.gguf" -f "$dir/text.txt" -c 128 -t 2 $peer_flags >"$dir/pp.out" 2>&1) \
    || fail "$name: peer llama-perplexity: $(tail -20 "$dir/pp.out")"
  theirs=$(sed -n 's/^Final estimate: PPL.* = \([0-9.]*\) +\/- .*/\1/p' "$dir/pp.out")
  [[ -n "$theirs" ]] || fail "$name: no estimate from the peer: $(tail -20 "$dir/pp.out")"
  /usr/bin/python3 -c "import sys; a, b = $ours, $theirs; sys.exit(abs(a - b) > 1e-4 * b)" \
    || fail "$name: frugal $ours, peer $theirs"
  echo "$name: frugal $ours, peer $theirs"
}

check "qwen35moe tiny (DeltaNet heads of 32)" "-b 1 -ub 1" --arch qwen35moe --preset tiny
check "qwen35moe tiny, DeltaNet heads of 64" "-b 128" --arch qwen35moe --preset tiny --ssm-head-dim 64
check "qwen3next tiny, every 4th layer attention" "-b 1 -ub 1" --arch qwen3next --preset tiny --attn-interval 4
check "qwen3next tiny, every 4th layer attention, DeltaNet heads of 64" "-b 128" \
  --arch qwen3next --preset tiny --attn-interval 4 --ssm-head-dim 64
echo "PASS"

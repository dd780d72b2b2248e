#!/usr/bin/env bash
# Adapters of the Gated DeltaNet families (qwen35moe, qwen3next) and of
# bailingmoe2 (its fused attn_qkv) made by frugal finetune, read by
# llama.cpp's own --lora: for each family, an adapter on the attention
# projections alone (the recurrent layers' too), then one on every target,
# must give in llama-perplexity --lora the perplexity frugal gives with the
# adapter merged (frugal lora-merge), and one that differs from the base's.
#
# Runs where FRUGAL_PEER_LLAMA_PERPLEXITY names ik_llama.cpp's
# llama-perplexity; skipped otherwise. The models are tiny F32 synth files;
# the DeltaNet ones with heads of 64 and full attention on every 4th layer:
# the shapes the peer's DeltaNet computes right a chunk at a time
# (docs/usage/convert.md, "Beside ik_llama.cpp"). bailingmoe2's routing in
# groups is an option in the peer (-ger), off by default. The peer runs without flash attention, without its
# fused MoE up/gate op (tests/finetune/llama_cpp_lora_test.sh) and without its
# fused up/gate op of the other FFNs (-no-fug), which leaves the shared
# expert's gate and up adapters out.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"

use_peer FRUGAL_PEER_LLAMA_PERPLEXITY "FRUGAL_PEER_LLAMA_PERPLEXITY does not name a llama-perplexity"
ppl_bin=$peer_bin
src=${FRUGAL_SOURCE_DIR:?source directory}

cat >"$dir/data.jsonl" <<'EOF'
{"text": "A fool and his money are soon parted, said the banker to the fool."}
{"text": "The early bird gets the worm, but the second mouse gets the cheese."}
EOF
head -c 6000 "$src/README.md" >"$dir/text.txt"

# frugal's perplexity of MODEL on the text, and the peer's of BASE with ADAPTER
# ($peer_flags: the family's own).
ours() {
  "$FRUGAL" perplexity -m "$1" -f "$dir/text.txt" -c 128 --json 2>/dev/null \
    | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["ppl"])'
}
theirs() {
  (cd "$dir" && "$ppl_bin" -m "$1" ${2:+--lora "$2"} -f "$dir/text.txt" -c 128 -b 128 -t 2 -fa off -no-fmoe -no-fug \
    $peer_flags >"$dir/pp.out" 2>&1) || fail "peer llama-perplexity: $(tail -20 "$dir/pp.out")"
  [[ -z "${2:-}" ]] || grep -q "loaded .* tensors from lora file" "$dir/pp.out" \
    || fail "the peer did not load $2: $(grep -i lora "$dir/pp.out" | tail -5)"
  sed -n 's/^Final estimate: PPL.* = \([0-9.]*\) +\/- .*/\1/p' "$dir/pp.out"
}
# close A B: A within 1e-3 of B (the peer's KV cache is f16, frugal perplexity's f32).
close() { /usr/bin/python3 -c "import sys; a, b = $1, $2; sys.exit(abs(a - b) > 1e-3 * b)"; }
agree() { close "$2" "$3" || fail "$1: frugal $2, peer $3"; }

while IFS='|' read -r arch synth_flags peer_flags; do
  base="$dir/$arch.gguf"
  # shellcheck disable=SC2086  # the flags are words
  "$FRUGAL" -q synth --arch "$arch" --preset tiny --type f32 --seed 1 $synth_flags -o "$base" >/dev/null 2>&1 \
    || fail "synth $arch"
  base_ours=$(ours "$base")
  base_theirs=$(theirs "$base")
  agree "$arch base" "$base_ours" "$base_theirs"
  for targets in attn attn,shared,experts,router; do
    adapter="$dir/$arch-${targets//,/-}.gguf"
    "$FRUGAL" finetune -m "$base" --data "$dir/data.jsonl" -o "$adapter" --rank 16 --alpha 32 --targets "$targets" \
      --epochs 6 --lr 1e-2 >"$dir/ft.out" 2>&1 || fail "finetune $arch $targets: $(tail -5 "$dir/ft.out")"
    "$FRUGAL" lora-merge -m "$base" --lora "$adapter" -o "$dir/merged.gguf" >/dev/null 2>&1 || fail "lora-merge"
    with_ours=$(ours "$dir/merged.gguf")
    with_theirs=$(theirs "$base" "$adapter")
    agree "$arch, adapter on $targets" "$with_ours" "$with_theirs"
    close "$with_ours" "$base_ours" && fail "$arch: the adapter on $targets leaves the perplexity at the base's $base_ours"
    echo "$arch, adapter on $targets: perplexity frugal $with_ours, peer $with_theirs (base $base_ours, $base_theirs)"
  done
done <<'FAMILIES'
qwen35moe|--attn-interval 4 --ssm-head-dim 64|
qwen3next|--attn-interval 4 --ssm-head-dim 64|
bailingmoe2||-ger
FAMILIES
echo "PASS"

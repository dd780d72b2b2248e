#!/usr/bin/env bash
# An adapter made by frugal finetune, read by llama.cpp's own --lora (an
# independent reader of the GGUF LoRA format with its own products): over the
# bundled trained model (qwen3moe, in f32 so neither side rounds weights), an
# adapter on the attention, the routed experts (llama.cpp's 3-D expert
# factors) and the router must give the same greedy text in llama-cli as in
# frugal run, a text that differs from the base's; and with
# FRUGAL_PEER_LLAMA_PERPLEXITY set, llama-perplexity --lora must give the
# perplexity frugal gives with the adapter merged (frugal lora-merge).
#
# Runs where FRUGAL_PEER_LLAMA_CLI names ik_llama.cpp's llama-cli (the flags
# below are its own); skipped otherwise. The peer runs without flash
# attention (with it, ik_llama.cpp leaves the adapter out: "flash_attn is not
# compatible with LoRA") and without its fused MoE up/gate op (-no-fmoe,
# which applies no adapter to the experts' up and gate matrices). Rank 16:
# at rank 8 that peer's greedy text parts from frugal's and from itself with
# each single target (an attention-only adapter gives no text at all).
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"

use_peer FRUGAL_PEER_LLAMA_CLI "FRUGAL_PEER_LLAMA_CLI does not name a llama-cli (optional: FRUGAL_PEER_LLAMA_PERPLEXITY)"
cli=$peer_bin
use_peer FRUGAL_PEER_LLAMA_PERPLEXITY
ppl_bin=$peer_bin
src=${FRUGAL_SOURCE_DIR:?source directory}

"$FRUGAL" quantize "$src/models/fortunes-moe.gguf" "$dir/base.gguf" f32 >/dev/null 2>&1 || fail "quantize to f32"
cat >"$dir/data.jsonl" <<'EOF'
{"text": "A fool and his money are soon parted, said the banker to the fool."}
{"text": "The early bird gets the worm, but the second mouse gets the cheese."}
EOF
"$FRUGAL" finetune -m "$dir/base.gguf" --data "$dir/data.jsonl" -o "$dir/a.gguf" --rank 16 --alpha 32 \
  --targets attn,experts,router --epochs 6 --lr 1e-2 >"$dir/ft.out" 2>&1 || fail "finetune: $(cat "$dir/ft.out")"

# The model's byte-level BPE splits text as GPT-2 does; its file names the
# pre-tokenizer "default", which llama.cpp reads as another regex.
peer_common=(-m "$dir/base.gguf" -t 2 -c 128 -fa off -no-fmoe --override-kv tokenizer.ggml.pre=str:gpt-2)

# greedy PROMPT [--lora FILE]: frugal's and the peer's 32 greedy tokens (f16
# KV caches on both sides), in $dir/frugal.txt and $dir/peer.txt.
greedy() {
  local prompt=$1
  shift
  "$FRUGAL" run -m "$dir/base.gguf" "$@" -p "$prompt" -n 32 --temp 0 >"$dir/frugal.raw" 2>"$dir/frugal.err" \
    || fail "frugal run: $(cat "$dir/frugal.err")"
  # The peer writes main.log where it runs.
  (cd "$dir" && "$cli" "${peer_common[@]}" "$@" -p "$prompt" -n 32 --temp 0 -s 1 --no-warmup --no-display-prompt \
    >"$dir/peer.raw" 2>"$dir/peer.err" </dev/null) || fail "peer llama-cli: $(tail -20 "$dir/peer.err")"
  # frugal run ends its text with a newline; llama-cli may add " [end of text]".
  /usr/bin/python3 - "$dir" <<'PY'
import sys
d = sys.argv[1]
ours = open(f"{d}/frugal.raw", encoding="utf-8", errors="replace").read()
theirs = open(f"{d}/peer.raw", encoding="utf-8", errors="replace").read()
open(f"{d}/frugal.txt", "w").write(ours[:-1] if ours.endswith("\n") else ours)
open(f"{d}/peer.txt", "w").write(theirs.removesuffix(" [end of text]\n").removesuffix(" [end of text]"))
PY
}
for prompt in "A fool and his money" "The early bird"; do
  greedy "$prompt"
  cmp -s "$dir/frugal.txt" "$dir/peer.txt" || fail "base, '$prompt': frugal '$(cat "$dir/frugal.txt")', peer '$(cat "$dir/peer.txt")'"
  cp "$dir/frugal.txt" "$dir/base.txt"
  greedy "$prompt" --lora "$dir/a.gguf"
  grep -q "loaded .* tensors from lora file" "$dir/peer.err" || fail "the peer did not load the adapter: $(tail -20 "$dir/peer.err")"
  grep -q "not compatible with LoRA" "$dir/peer.err" && fail "the peer left the adapter out: $(grep LoRA "$dir/peer.err")"
  cmp -s "$dir/frugal.txt" "$dir/peer.txt" \
    || fail "--lora, '$prompt': frugal '$(cat "$dir/frugal.txt")', peer '$(cat "$dir/peer.txt")'"
  cmp -s "$dir/frugal.txt" "$dir/base.txt" && fail "the adapter changed nothing for '$prompt': '$(cat "$dir/base.txt")'"
  echo "'$prompt' + adapter: $(cat "$dir/frugal.txt")"
done

if [[ -n "$ppl_bin" ]]; then
  # The peer's KV cache is f16 (without flash attention it keeps V in no other type), frugal
  # perplexity's f32: the two figures part by a few 1e-4 of their value (the base alone 3.3e-4).
  head -c 6000 "$src/README.md" >"$dir/text.txt"
  "$FRUGAL" lora-merge -m "$dir/base.gguf" --lora "$dir/a.gguf" -o "$dir/merged.gguf" >/dev/null 2>&1 || fail "lora-merge"
  ours=$("$FRUGAL" perplexity -m "$dir/merged.gguf" -f "$dir/text.txt" -c 128 --json 2>/dev/null \
    | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["ppl"])')
  (cd "$dir" && "$ppl_bin" "${peer_common[@]}" --lora "$dir/a.gguf" -f "$dir/text.txt" >"$dir/pp.out" 2>&1) \
    || fail "peer llama-perplexity: $(tail -20 "$dir/pp.out")"
  theirs=$(sed -n 's/^Final estimate: PPL.* = \([0-9.]*\) +\/- .*/\1/p' "$dir/pp.out")
  [[ -n "$theirs" ]] || fail "no estimate from the peer: $(tail -20 "$dir/pp.out")"
  /usr/bin/python3 -c "import sys; a, b = $ours, $theirs; sys.exit(abs(a - b) > 1e-3 * b)" \
    || fail "perplexity with the adapter: frugal $ours, peer $theirs"
  echo "perplexity with the adapter: frugal $ours, peer $theirs"
fi
echo "PASS"

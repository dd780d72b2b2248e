#!/usr/bin/env bash
# frugal quantize with the mixed recipes (q2_k_s, q3_k_s/m/l and the lattice
# mixes) on synthetic MoE models: --list shows each role of tensor in the
# type the recipe gives it (routed experts at the base type, attention,
# shared experts, the output and the first layer's ffn_down above it), the
# file carries the recipe's general.file_type, it loads and its logits stay
# near the F32 model's; the summary states the size in bits per weight.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"

# Rows of 256 so the 256-value blocks fit; 4 experts keep the lattice
# searches to seconds. Two layers: the first is the "first layers" of ffn_down.
"$FRUGAL" -q synth --arch qwen3moe --embd 256 --ff 256 --ff-exp 256 --experts 4 --type f32 \
  -o "$dir/qwen.gguf" >/dev/null
tokens=1,5,9,200,33,7,100,42
"$FRUGAL" -q logits -m "$dir/qwen.gguf" --tokens "$tokens" -o "$dir/qwen.bin"

# check_logits MODEL REFERENCE.bin LABEL BOUND: the model's logits are finite
# and within BOUND (relative RMS) of the reference's.
check_logits() {
  "$FRUGAL" -q logits -m "$1" --tokens "$tokens" -o "$dir/check.bin"
  /usr/bin/python3 - "$dir/check.bin" "$2" "$3" "$4" <<'PY'
import sys, numpy as np
a = np.fromfile(sys.argv[2], dtype="<f4")
b = np.fromfile(sys.argv[1], dtype="<f4")
assert a.size == b.size > 0, (a.size, b.size)
err = float(np.sqrt(np.mean((a - b) ** 2) / np.mean(a ** 2)))
print(f"  {sys.argv[3]:26s} logits relative rms {err:.4f} (bound {sys.argv[4]})")
assert np.isfinite(b).all() and err < float(sys.argv[4]), err
PY
}

# quantize_listed MODEL RECIPE OUT: quantize with --list (into $dir/list);
# prints the summary line (size and bits per weight).
quantize_listed() {
  "$FRUGAL" quantize "$1" "$3" "$2" --list -t 2 >"$dir/list" 2>"$dir/err"
  grep -E "^wrote " "$dir/list" | sed -E 's/^wrote [^:]*: /  /; s/, [0-9.]+ s$//'
}

# expect_types RECIPE TENSOR=TYPE...: the types --list gave those tensors.
expect_types() {
  local recipe=$1 pair got
  shift
  for pair in "$@"; do
    got=$(awk -v n="${pair%=*}" '$1 == n { print $4 }' "$dir/list")
    [[ "$got" == "${pair#*=}" ]] || fail "$recipe: ${pair%=*} is '$got', expected ${pair#*=}"
  done
}

# recipe, file_type, routed experts, blk.0 ffn_down, blk.1 ffn_down, attn_q,
# attn_v, output, bound on the logits' error
cases=(
  "q2_k_s 21 q2_k q4_k q2_k q3_k q4_k q6_k 0.55"
  "q3_k_s 11 q3_k q4_k q3_k q4_k q4_k q6_k 0.35"
  "q3_k_m 12 q3_k q5_k q4_k q4_k q5_k q6_k 0.35"
  "q3_k_l 13 q3_k q5_k q5_k q5_k q5_k q6_k 0.35"
  "iq2_xxs_mix 19 iq2_xxs q2_k iq2_xxs q4_k q4_k q5_k 0.55"
  "iq2_xs_mix 20 iq2_xs q2_k iq2_xs q4_k q4_k q5_k 0.55"
  "iq3_xxs_mix 23 iq3_xxs q4_k iq3_xxs q4_k q4_k q5_k 0.35"
)
for c in "${cases[@]}"; do
  read -r recipe code experts down0 down1 attn values output bound <<<"$c"
  quantize_listed "$dir/qwen.gguf" "$recipe" "$dir/$recipe.gguf"
  grep -q "general.file_type $code," "$dir/list" || fail "$recipe: no file_type $code in: $(tail -8 "$dir/list")"
  grep -Eq "\(([0-9.]+) bits per weight\)" "$dir/list" || fail "$recipe: no bits per weight in the summary"
  expect_types "$recipe" blk.1.ffn_gate_exps.weight="$experts" blk.1.ffn_up_exps.weight="$experts" \
    blk.0.ffn_down_exps.weight="$down0" blk.1.ffn_down_exps.weight="$down1" blk.1.attn_q.weight="$attn" \
    blk.1.attn_v.weight="$values" output.weight="$output" blk.1.ffn_gate_inp.weight=f32
  "$FRUGAL" inspect "$dir/$recipe.gguf" >"$dir/inspect"
  grep -Eq "general.file_type +uint32 +$code\$" "$dir/inspect" || fail "$recipe: inspect shows no file_type $code"
  check_logits "$dir/$recipe.gguf" "$dir/qwen.bin" "qwen3moe $recipe" "$bound"
done

# DeepSeek-style names: MLA attention and shared experts (ffn_*_shexp) above
# the routed experts; the model loads and runs.
"$FRUGAL" -q synth --arch deepseek2 --embd 256 --ff 256 --ff-exp 256 --experts 4 --type f32 -o "$dir/ds.gguf" >/dev/null
"$FRUGAL" -q logits -m "$dir/ds.gguf" --tokens "$tokens" -o "$dir/ds.bin"
for c in "q3_k_m q3_k q5_k q4_k 0.3" "iq2_xxs_mix iq2_xxs q4_k q4_k 0.55"; do
  read -r recipe experts shexp attn bound <<<"$c"
  quantize_listed "$dir/ds.gguf" "$recipe" "$dir/ds-$recipe.gguf"
  expect_types "$recipe" blk.2.ffn_gate_exps.weight="$experts" blk.2.ffn_gate_shexp.weight="$shexp" \
    blk.2.ffn_down_shexp.weight="$shexp" blk.2.attn_q.weight="$attn" blk.2.attn_kv_a_mqa.weight="$attn"
  check_logits "$dir/ds-$recipe.gguf" "$dir/ds.bin" "deepseek2 $recipe" "$bound"
done
echo OK

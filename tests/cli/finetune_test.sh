#!/usr/bin/env bash
# frugal finetune on a tiny q8_0 qwen3 (and qwen3moe, qwen2moe, olmoe, glm4moe, gpt-oss, llama4, deepseek2,
# minimax-m2, dots1, ernie4_5-moe, qwen3next, qwen35moe, deepseek4): the validation loss falls on a
# memorised set, the adapter it writes loads in `frugal run --lora` and
# `frugal lora-merge`; bad data and unsupported models are clear errors.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"

"$FRUGAL" synth --arch qwen3 --preset tiny --type q8_0 -o "$dir/base.gguf" >/dev/null 2>&1
cat >"$dir/data.jsonl" <<'JSONL'
{"text": "The capital of France is Paris."}

{"text": "Two plus two is four."}
JSONL
"$FRUGAL" finetune -m "$dir/base.gguf" --data "$dir/data.jsonl" -o "$dir/adapter.gguf" --rank 8 --alpha 16 \
  --epochs 10 --lr 1e-2 --eval-every 5 >"$dir/stdout" 2>"$dir/stderr" || { cat "$dir/stderr"; fail "finetune"; }
grep -q "adapter.gguf: 14 matrices, rank 8" "$dir/stdout" || { cat "$dir/stdout"; fail "summary"; }
first=$(grep -o '^step 0/20 | val [0-9.]*' "$dir/stderr" | awk '{print $NF}')
last=$(grep -o '^step 20/20 | loss [0-9.]* | val [0-9.]*' "$dir/stderr" | awk '{print $NF}')
[ -n "$first" ] && [ -n "$last" ] || { cat "$dir/stderr"; fail "progress lines"; }
awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a / 2) }' || fail "validation loss $first -> $last did not halve"

# --eval-only: the base model's loss, the one a run starts from (step 0's validation loss).
"$FRUGAL" finetune -m "$dir/base.gguf" --data "$dir/data.jsonl" --eval-only >"$dir/eval" 2>&1 \
  || { cat "$dir/eval"; fail "--eval-only"; }
grep -q "data.jsonl: loss $first (ppl [0-9.]*), the mean over 2 examples" "$dir/eval" \
  || { cat "$dir/eval"; fail "--eval-only loss, want $first"; }
expect_error "-o ADAPTER.gguf is required (or --eval-only)" finetune -m "$dir/base.gguf" --data "$dir/data.jsonl"
"$FRUGAL" run -m "$dir/base.gguf" --lora "$dir/adapter.gguf" -p "The capital of" -n 4 --temp 0 >"$dir/run" 2>&1 \
  || { cat "$dir/run"; fail "run --lora"; }
"$FRUGAL" lora-merge -m "$dir/base.gguf" --lora "$dir/adapter.gguf" -o "$dir/merged.gguf" >/dev/null \
  || fail "lora-merge"

# perplexity --lora scores the adapted model without a merged copy: on the
# fine-tuning text far below the base's, and level with the merged model's
# (which re-quantises the adapted weights to the base's q8_0).
for i in 1 2 3 4 5 6; do echo "The capital of France is Paris. Two plus two is four."; done >"$dir/ft.txt"
ppl() { "$FRUGAL" -q perplexity "$@" -f "$dir/ft.txt" -c 16 --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["ppl"])'; }
p_base=$(ppl -m "$dir/base.gguf") || fail "perplexity of the base"
p_lora=$(ppl -m "$dir/base.gguf" --lora "$dir/adapter.gguf") || fail "perplexity --lora"
p_merged=$(ppl -m "$dir/merged.gguf") || fail "perplexity of the merged model"
awk -v b="$p_base" -v l="$p_lora" -v m="$p_merged" 'BEGIN { d = l / m - 1; exit !(l < b / 10 && d < 0.005 && d > -0.005) }' \
  || fail "perplexity --lora $p_lora: want under a tenth of the base's $p_base and within 0.5% of the merged $p_merged"
expect_error "data.jsonl: not a GGUF file" perplexity -m "$dir/base.gguf" --lora "$dir/data.jsonl" -f "$dir/ft.txt" -c 16

# Checkpoints: a run stopped after step 5 and resumed gives the uninterrupted
# run's metrics (all but the timing) and the same adapter bytes; the log is
# one frugal plot reads.
printf '%s\n' '{"text": "Snow is cold and white."}' >>"$dir/data.jsonl"
ft=(finetune -m "$dir/base.gguf" --data "$dir/data.jsonl" --rank 8 --alpha 16 --epochs 4 --lr 1e-2 --eval-every 4)
"$FRUGAL" "${ft[@]}" -o "$dir/whole.gguf" --log "$dir/whole.jsonl" >/dev/null 2>&1 || fail "uninterrupted run"
"$FRUGAL" "${ft[@]}" -o "$dir/parts.gguf" --log "$dir/parts.jsonl" --checkpoint "$dir/ck" --stop-after 5 \
  >"$dir/stdout" 2>"$dir/stderr" || { cat "$dir/stderr"; fail "stopped run"; }
grep -q "stopped after step 5 of 12; go on with --resume $dir/ck" "$dir/stdout" || { cat "$dir/stdout"; fail "stop"; }
[ -f "$dir/ck/finetune.ckpt" ] && [ -f "$dir/ck/adapter.gguf" ] && [ ! -e "$dir/parts.gguf" ] || fail "checkpoint files"
expect_error "was written with other options" "${ft[@]/1e-2/2e-2}" -o "$dir/x.gguf" --resume "$dir/ck"
"$FRUGAL" "${ft[@]}" -o "$dir/parts.gguf" --log "$dir/parts.jsonl" --resume "$dir/ck" >/dev/null 2>"$dir/stderr" \
  || { cat "$dir/stderr"; fail "resumed run"; }
grep -q "resumed at step 5" "$dir/stderr" || { cat "$dir/stderr"; fail "resume line"; }
grep -q '^step 12/12 | loss [0-9.]* | val [0-9.]* | [0-9]* tok/s | ETA ' "$dir/stderr" || { cat "$dir/stderr"; fail "progress"; }
untimed() { sed 's/"tokens_per_second":[^,}]*//' "$1"; }
[ "$(wc -l <"$dir/parts.jsonl")" -eq 13 ] || fail "the resumed log has $(wc -l <"$dir/parts.jsonl") lines, want 13"
diff <(untimed "$dir/whole.jsonl") <(untimed "$dir/parts.jsonl") || fail "resumed metrics differ"
cmp "$dir/whole.gguf" "$dir/parts.gguf" || fail "resumed adapter differs"
"$FRUGAL" plot "$dir/parts.jsonl" -o "$dir/curve.svg" >/dev/null 2>&1 || fail "plot of the metrics log"
# --batch 2 over the three examples: two steps an epoch (the second holds the
# one left), stopped mid-epoch and resumed: the same metrics and adapter.
ftb=("${ft[@]}" --batch 2)
"$FRUGAL" "${ftb[@]}" -o "$dir/bwhole.gguf" --log "$dir/bwhole.jsonl" >/dev/null 2>"$dir/stderr" \
  || { cat "$dir/stderr"; fail "batched run"; }
grep -q "3 examples (3 validation), 2 a step" "$dir/stderr" || { cat "$dir/stderr"; fail "batch line"; }
grep -q '^step 8/8 | loss' "$dir/stderr" || { cat "$dir/stderr"; fail "batched steps"; }
"$FRUGAL" "${ftb[@]}" -o "$dir/bparts.gguf" --log "$dir/bparts.jsonl" --checkpoint "$dir/bck" --stop-after 3 \
  >/dev/null 2>&1 || fail "stopped batched run"
expect_error "was written with other options" "${ft[@]}" -o "$dir/x.gguf" --resume "$dir/bck"
"$FRUGAL" "${ftb[@]}" -o "$dir/bparts.gguf" --log "$dir/bparts.jsonl" --resume "$dir/bck" >/dev/null 2>&1 \
  || fail "resumed batched run"
diff <(untimed "$dir/bwhole.jsonl") <(untimed "$dir/bparts.jsonl") || fail "resumed batched metrics differ"
cmp "$dir/bwhole.gguf" "$dir/bparts.gguf" || fail "resumed batched adapter differs"
expect_error "--batch must be positive" "${ft[@]}" -o "$dir/x.gguf" --batch 0
expect_error "--stop-after needs --checkpoint DIR" "${ft[@]}" -o "$dir/x.gguf" --stop-after 3
expect_error "no checkpoint there" "${ft[@]}" -o "$dir/x.gguf" --resume "$dir/nothing"

"$FRUGAL" synth --arch qwen3moe --preset tiny --type q8_0 -o "$dir/moe.gguf" >/dev/null 2>&1
"$FRUGAL" finetune -m "$dir/moe.gguf" --data "$dir/data.jsonl" -o "$dir/moe-adapter.gguf" --rank 4 --epochs 2 \
  >"$dir/stdout" 2>"$dir/stderr" || { cat "$dir/stderr"; fail "finetune qwen3moe"; }
grep -q "moe-adapter.gguf: 8 matrices, rank 4" "$dir/stdout" || { cat "$dir/stdout"; fail "qwen3moe summary"; }
"$FRUGAL" run -m "$dir/moe.gguf" --lora "$dir/moe-adapter.gguf" -p "Two" -n 4 --temp 0 >"$dir/run" 2>&1 \
  || { cat "$dir/run"; fail "run --lora qwen3moe"; }

"$FRUGAL" finetune -m "$dir/base.gguf" --data "$dir/data.jsonl" -o "$dir/attn.gguf" --targets attn --rank 4 \
  >"$dir/stdout" 2>/dev/null || fail "finetune --targets attn"
grep -q "attn.gguf: 8 matrices, rank 4" "$dir/stdout" || { cat "$dir/stdout"; fail "--targets attn summary"; }
expect_error "--targets: unknown target 'expert'" finetune -m "$dir/base.gguf" --data "$dir/data.jsonl" \
  -o "$dir/x.gguf" --targets attn,expert
expect_error "--targets experts/router: this qwen3 model has no routed experts" finetune -m "$dir/base.gguf" \
  --data "$dir/data.jsonl" -o "$dir/x.gguf" --targets experts
expect_error "--targets shared: qwen3moe model has no shared experts" finetune -m "$dir/moe.gguf" \
  --data "$dir/data.jsonl" -o "$dir/x.gguf" --targets shared

# The MoE targets on qwen2moe: shared experts, routed experts (per-expert
# 3-D factors) and the router; the adapter loads in run --lora.
"$FRUGAL" synth --arch qwen2moe --preset tiny --type q8_0 -o "$dir/q2moe.gguf" >/dev/null 2>&1
"$FRUGAL" finetune -m "$dir/q2moe.gguf" --data "$dir/data.jsonl" -o "$dir/q2moe-adapter.gguf" --rank 4 --epochs 2 \
  --targets attn,shared,experts,router >"$dir/stdout" 2>"$dir/stderr" || { cat "$dir/stderr"; fail "qwen2moe MoE targets"; }
grep -q "q2moe-adapter.gguf: 22 matrices, rank 4" "$dir/stdout" || { cat "$dir/stdout"; fail "qwen2moe summary"; }
"$FRUGAL" run -m "$dir/q2moe.gguf" --lora "$dir/q2moe-adapter.gguf" -p "Two" -n 4 --temp 0 >"$dir/run" 2>&1 \
  || { cat "$dir/run"; fail "run --lora qwen2moe"; }
grep -q "22 matrices, rank 4" "$dir/run" || { cat "$dir/run"; fail "run --lora qwen2moe summary"; }
# --lora-experts shared: one pair of factors for all of a layer's experts
# (fewer values to train), written repeated per expert: run --lora reads it.
"$FRUGAL" finetune -m "$dir/q2moe.gguf" --data "$dir/data.jsonl" -o "$dir/q2moe-shared.gguf" --rank 4 --epochs 2 \
  --targets attn,shared,experts,router --lora-experts shared >"$dir/stdout" 2>"$dir/stderr.shared" \
  || { cat "$dir/stderr.shared"; fail "qwen2moe --lora-experts shared"; }
values() { sed -n 's/.*alpha [0-9.]*: \([0-9]*\) adapter values.*/\1/p' "$1"; }
[ "$(values "$dir/stderr.shared")" -lt "$(values "$dir/stderr")" ] \
  || fail "shared experts train $(values "$dir/stderr.shared") values, a pair each $(values "$dir/stderr")"
"$FRUGAL" run -m "$dir/q2moe.gguf" --lora "$dir/q2moe-shared.gguf" -p "Two" -n 4 --temp 0 >"$dir/run" 2>&1 \
  || { cat "$dir/run"; fail "run --lora with shared expert factors"; }
grep -q "22 matrices, rank 4" "$dir/run" || { cat "$dir/run"; fail "run --lora shared summary"; }
expect_error "--lora-experts: 'some' is neither 'each'" finetune -m "$dir/q2moe.gguf" --data "$dir/data.jsonl" \
  -o "$dir/x.gguf" --lora-experts some
expect_error "--lora-experts shared: the routed experts are not adapted" finetune -m "$dir/q2moe.gguf" \
  --data "$dir/data.jsonl" -o "$dir/x.gguf" --lora-experts shared

printf '%s\n' '{"text": "fine"}' '{"text": broken}' >"$dir/bad.jsonl"
expect_error "bad.jsonl:2: not valid JSON" finetune -m "$dir/base.gguf" --data "$dir/bad.jsonl" -o "$dir/x.gguf"
printf '%s\n' '{"messages": [{"role": "user", "content": "hi"}]}' >"$dir/noanswer.jsonl"
expect_error "noanswer.jsonl:1: the conversation has no assistant message" finetune -m "$dir/base.gguf" \
  --data "$dir/noanswer.jsonl" -o "$dir/x.gguf"
# olmoe (whole-vector q/k norm) with its MoE targets; the adapter loads in run --lora.
"$FRUGAL" synth --arch olmoe --preset tiny --type q8_0 -o "$dir/olmoe.gguf" >/dev/null 2>&1
"$FRUGAL" finetune -m "$dir/olmoe.gguf" --data "$dir/data.jsonl" -o "$dir/olmoe-adapter.gguf" --rank 4 --epochs 2 \
  --targets attn,experts,router >"$dir/stdout" 2>"$dir/stderr" || { cat "$dir/stderr"; fail "finetune olmoe"; }
grep -q "olmoe-adapter.gguf: 16 matrices, rank 4" "$dir/stdout" || { cat "$dir/stdout"; fail "olmoe summary"; }
"$FRUGAL" run -m "$dir/olmoe.gguf" --lora "$dir/olmoe-adapter.gguf" -p "Two" -n 4 --temp 0 >"$dir/run" 2>&1 \
  || { cat "$dir/run"; fail "run --lora olmoe"; }
# A MoE model with its targets: the loss falls and run --lora applies all
# its matrices; the adapter applied by frugal logits gives lora-merge's
# model's logits, and not the base's, and run --lora lora-merge's model's
# greedy text.
adapted_moe() {  # name arch targets matrices [preset]
  local n=$1 arch=$2 targets=$3 matrices=$4 preset=${5:-tiny}
  "$FRUGAL" synth --arch "$arch" --preset "$preset" --type q8_0 -o "$dir/$n.gguf" >/dev/null 2>&1
  "$FRUGAL" finetune -m "$dir/$n.gguf" --data "$dir/data.jsonl" -o "$dir/$n-adapter.gguf" --rank 4 --epochs 4 \
    --lr 1e-2 --eval-every 12 --targets "$targets" >"$dir/stdout" 2>"$dir/stderr" \
    || { cat "$dir/stderr"; fail "finetune $arch"; }
  grep -q "$n-adapter.gguf: $matrices matrices, rank 4" "$dir/stdout" || { cat "$dir/stdout"; fail "$arch summary"; }
  first=$(grep -o '^step 0/12 | val [0-9.]*' "$dir/stderr" | awk '{print $NF}')
  last=$(grep -o '^step 12/12 | loss [0-9.]* | val [0-9.]*' "$dir/stderr" | awk '{print $NF}')
  [ -n "$first" ] && [ -n "$last" ] || { cat "$dir/stderr"; fail "$arch progress lines"; }
  awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }' || fail "$arch validation loss $first -> $last did not fall"
  "$FRUGAL" run -m "$dir/$n.gguf" --lora "$dir/$n-adapter.gguf" -p "Two" -n 4 --temp 0 >"$dir/run" 2>&1 \
    || { cat "$dir/run"; fail "run --lora $arch"; }
  grep -q "$matrices matrices, rank 4" "$dir/run" || { cat "$dir/run"; fail "run --lora $arch summary"; }
  "$FRUGAL" quantize "$dir/$n.gguf" "$dir/${n}32.gguf" f32 >/dev/null 2>&1 || fail "$arch to f32"
  "$FRUGAL" lora-merge -m "$dir/${n}32.gguf" --lora "$dir/$n-adapter.gguf" -o "$dir/$n-merged.gguf" >/dev/null \
    || fail "lora-merge $arch"
  moe_logits() { "$FRUGAL" logits -m "$1" --tokens 84,119,111,32,112,108,117,115 --kv-type f32 -t 1 -o "$2" "${@:3}" \
    >/dev/null 2>&1 || fail "logits $1 $*"; }
  moe_logits "$dir/${n}32.gguf" "$dir/l_base.bin"
  moe_logits "$dir/${n}32.gguf" "$dir/l_lora.bin" --lora "$dir/$n-adapter.gguf"
  moe_logits "$dir/$n-merged.gguf" "$dir/l_merged.bin"
  /usr/bin/python3 - "$dir" <<'PY' || fail "$arch adapter logits"
import sys, numpy as np
d = sys.argv[1]
base, lora, merged = (np.fromfile(f"{d}/l_{n}.bin", dtype="<f4") for n in ("base", "lora", "merged"))
top = np.abs(merged).max()
assert np.abs(lora - merged).max() < 1e-4 * top, f"applied vs merged: {np.abs(lora - merged).max()} of {top}"
assert np.abs(lora - base).max() > 1e-2 * top, "the adapter did not move the logits"
PY
  local greedy=(-p "The capital of" -n 12 --temp 0 --kv-type f32 -t 1)
  "$FRUGAL" -q run -m "$dir/${n}32.gguf" --lora "$dir/$n-adapter.gguf" "${greedy[@]}" >"$dir/t_lora" 2>/dev/null \
    || fail "run --lora $arch (f32)"
  "$FRUGAL" -q run -m "$dir/$n-merged.gguf" "${greedy[@]}" >"$dir/t_merged" 2>/dev/null || fail "run merged $arch"
  cmp -s "$dir/t_lora" "$dir/t_merged" || fail "$arch: run --lora '$(cat "$dir/t_lora")', merged '$(cat "$dir/t_merged")'"
}
# glm4moe (a leading dense layer, the sigmoid router with its selection bias,
# an ungated shared expert, RoPE on half of each head) with every target.
adapted_moe glm glm4moe attn,ffn,shared,experts,router 29
# gpt-oss (attention sinks, a window of 8 on the even layers, biased
# experts with the clamped gated unit, the router's bias).
adapted_moe oss gpt-oss attn,experts,router 32
# llama4 (chunked attention, a NoPE layer, top-1 sigmoid experts weighted on
# their input, dense and MoE layers interleaved) with every target.
adapted_moe l4 llama4 attn,ffn,shared,experts,router 36
# deepseek2: latent attention with kv_b joint (DeepSeek-V2-Lite's design: q,
# kv_a_mqa, kv_b and output adapted), a leading dense layer, two shared
# experts, the softmax router; and split into per-head k_b/v_b (Kimi-K2's:
# q_a, q_b, kv_a_mqa, k_b, v_b and output adapted), the biased sigmoid
# router and its routed scale.
adapted_moe ds2 deepseek2 attn,ffn,shared,experts,router 29
adapted_moe k2 deepseek2 attn,shared,experts,router 32 tiny-k2
# minimax-m2 (q/k norm over a token's whole q and k, RoPE on half of each
# head, a sigmoid router with a selection bias, renormalised, no shared expert).
adapted_moe mm minimax-m2 attn,experts,router 16
# dots1 (per-head q/k norm, a leading dense layer, a biased sigmoid router
# times the routed scale, two shared experts) with every target.
adapted_moe dots dots1 attn,ffn,shared,experts,router 29
# ernie4_5-moe (RoPE on interleaved pairs, dense and MoE layers alternating,
# a softmax router whose selection bias only chooses, ungated shared experts).
adapted_moe ern ernie4_5-moe attn,ffn,shared,experts,router 36
# qwen3next (Gated DeltaNet layers with the joint ssm_in/ssm_ba, gated
# attention, a sigmoid-gated shared expert) and qwen35moe (the DeltaNet's
# projections apart: attn_qkv, attn_gate, ssm_beta, ssm_alpha) with every target.
adapted_moe qn qwen3next attn,shared,experts,router 42
adapted_moe q35 qwen35moe attn,shared,experts,router 47
# bailingmoe2 (q, k and v in one attn_qkv, adapted whole; grouped biased
# sigmoid routing, a shared expert) with every target.
adapted_moe bl bailingmoe2 attn,ffn,shared,experts,router 23
# mistral4 (DeepSeek-V2's latent attention with kv_b split, a softmax router, a shared expert).
adapted_moe m4 mistral4 attn,shared,experts,router 26
# hunyuan-moe (per-head q/k norm after RoPE, a softmax router, a shared expert, a tied embedding).
adapted_moe hy hunyuan-moe attn,shared,experts,router 22
# deepseek4 (hyper-connection streams, compressed attention with the
# indexer, grouped output, sqrt-softplus routing with a hash layer, clamped
# units): q_a, q_b, kv, output_a and output_b adapted beside the MoE's.
adapted_moe ds4 deepseek4 attn,shared,experts,router 48
echo "finetune_test: ok"

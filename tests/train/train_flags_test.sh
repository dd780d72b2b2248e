#!/usr/bin/env bash
# frugal train refuses bad flags before any work (no progress line, exit 1,
# a message naming the flag); a q8_0 export that cannot be written and an
# output folder that does not exist are refused at the start, not after the
# run; --resume refuses a checkpoint made on other data; after a kill and a
# resume the metrics log holds every step exactly once; a --bias-balance
# export carries its selection bias (blk.N.exp_probs_b.bias).
set -euo pipefail
source "${FRUGAL_SOURCE_DIR:?}/tests/lib/cli_test_lib.sh"

"$FRUGAL" synth --arch qwen3moe --type f32 -o "$dir/tok.gguf" >/dev/null
for i in $(seq 1 1500); do echo "line $i: the quick brown fox jumps over the lazy dog $((i % 7))"; done >"$dir/text.txt"
for i in $(seq 1 1500); do echo "row $i: a slow green turtle walks under the busy bridge $((i % 5))"; done >"$dir/other.txt"
model=(--embd 32 --layers 2 --heads 4 --heads-kv 2 --head-dim 8 --experts 4 --experts-used 2 --ff-exp 32)
run=(--data "$dir/text.txt" --tokenizer "$dir/tok.gguf" "${model[@]}" --batch 4 --seq 32 --lr 3e-3 --seed 5 -t 1)

# refused "message" flags...: exit 1, the message, and no training step taken
# (the model flags not given keep their defaults).
refused() {
  local want=$1; shift
  expect_error "$want" train --data "$dir/text.txt" --tokenizer "$dir/tok.gguf" -t 1 "$@"
  if grep -q "^step " "$dir/err"; then fail "'$*' was refused only after training: $(cat "$dir/err")"; fi
}
refused "--lr must be" --lr -1 -o "$dir/x.gguf"
refused "--lr must be" --lr 0 -o "$dir/x.gguf"
refused "--steps must be" --steps 0 -o "$dir/x.gguf"
refused "--batch must be" --batch -2 -o "$dir/x.gguf"
refused "--seq must be" --seq 0 -o "$dir/x.gguf"
refused "--accum must be" --accum 0 -o "$dir/x.gguf"
refused "--warmup must be" --warmup -1 -o "$dir/x.gguf"
refused "--weight-decay must be" --weight-decay -1 -o "$dir/x.gguf"
refused "--min-lr-ratio must be" --min-lr-ratio 2 -o "$dir/x.gguf"
refused "--clip must be" --clip -1 -o "$dir/x.gguf"
refused "--aux-coef must be" --aux-coef -0.5 -o "$dir/x.gguf"
refused "--bias-rate must be" --bias-balance --bias-rate -1 -o "$dir/x.gguf"
refused "--eval-batches must be" --eval-batches 0 -o "$dir/x.gguf"
refused "--experts must be" --experts 0 -o "$dir/x.gguf"
refused "--experts-used 5 exceeds --experts 4" --experts 4 --experts-used 5 -o "$dir/x.gguf"
refused "--embd must be" --embd -8 -o "$dir/x.gguf"
refused "--ctx 16 is shorter than --seq 32" --seq 32 --ctx 16 -o "$dir/x.gguf"
refused "--ctx must be" --ctx -4 -o "$dir/x.gguf"
refused "--head-dim must be even" --head-dim 7 -o "$dir/x.gguf"
refused "multiples of 32" --embd 48 --type q8_0 --steps 3 -o "$dir/x.gguf"
refused "--arch deepseek2 cannot be made from scratch" --arch deepseek2 -o "$dir/x.gguf"
refused "--arch nope cannot be made from scratch" --arch nope -o "$dir/x.gguf"
refused "the olmoe layout has no shared expert" --arch olmoe --shared-ff 32 -o "$dir/x.gguf"
refused "does not exist" --steps 3 -o "$dir/no/such/folder/x.gguf"
refused "does not exist" --steps 3 --checkpoint "$dir/no/ck" -o "$dir/x.gguf"
[[ ! -e $dir/x.gguf ]] || fail "a refused run wrote its output"

# A checkpoint made on other data is refused on resume.
"$FRUGAL" train "${run[@]}" --steps 4 --checkpoint "$dir/ck" -o "$dir/a.gguf" 2>/dev/null >/dev/null
expect_error "different training data" train --data "$dir/other.txt" --tokenizer "$dir/tok.gguf" "${model[@]}" \
  --batch 4 --seq 32 --lr 3e-3 --seed 5 -t 1 --steps 4 --checkpoint "$dir/ck" --resume -o "$dir/b.gguf"

# Killed after a checkpoint and resumed: every step in the log once.
steps=40
rm -f "$dir/ck"
"$FRUGAL" train "${run[@]}" --steps $steps --print-every 1 --log "$dir/m.jsonl" --checkpoint "$dir/ck" \
  --checkpoint-every 4 -o "$dir/r.gguf" 2>/dev/null >/dev/null &
pid=$!
for _ in $(seq 1 600); do
  [[ -f $dir/ck ]] && break
  sleep 0.02
done
sleep 0.2
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
[[ -f $dir/ck ]] || fail "no checkpoint written"
"$FRUGAL" train "${run[@]}" --steps $steps --print-every 1 --log "$dir/m.jsonl" --checkpoint "$dir/ck" \
  --checkpoint-every 4 --resume -o "$dir/r.gguf" 2>"$dir/r.err" >/dev/null
/usr/bin/python3 - "$dir/m.jsonl" $steps <<'PY'
import json, sys
steps = [json.loads(l)["step"] for l in open(sys.argv[1])]
want = list(range(1, int(sys.argv[2]) + 1))
assert steps == want, f"log steps {steps}"
PY

# --bias-balance: the exported file carries the bias, and frugal loads it.
"$FRUGAL" train "${run[@]}" --steps 6 --aux-coef 0 --bias-balance --bias-rate 0.01 -o "$dir/bb.gguf" 2>/dev/null >/dev/null
"$FRUGAL" inspect "$dir/bb.gguf" >"$dir/bb.txt"
grep -q "blk.1.exp_probs_b.bias" "$dir/bb.txt" || fail "no selection bias in the export: $(grep -c blk "$dir/bb.txt")"
"$FRUGAL" run -m "$dir/bb.gguf" -p "line" -n 4 >/dev/null 2>&1 || fail "the bias-balanced model does not run"
"$FRUGAL" train "${run[@]}" --steps 2 -o "$dir/plain.gguf" 2>/dev/null >/dev/null
"$FRUGAL" inspect "$dir/plain.gguf" | grep -q exp_probs_b && fail "a model without --bias-balance has a selection bias"
# Fine-tuning a bias-balanced model keeps its routing: it needs --bias-balance.
expect_error "fine-tune it with --bias-balance" train --init "$dir/bb.gguf" --data "$dir/text.txt" --steps 2 --batch 4 --seq 32 -o "$dir/ft.gguf"
"$FRUGAL" train --init "$dir/bb.gguf" --data "$dir/text.txt" --steps 2 --batch 4 --seq 32 -t 1 --bias-balance \
  -o "$dir/ft.gguf" 2>/dev/null >/dev/null || fail "fine-tuning with --bias-balance failed"
"$FRUGAL" inspect "$dir/ft.gguf" | grep -q "blk.0.exp_probs_b.bias" || fail "fine-tuned model lost its bias"
# --init takes the shape from the file: a shape flag that disagrees is an error; one that agrees is accepted.
expect_error "--experts 8 disagrees with" train --init "$dir/plain.gguf" --experts 8 --data "$dir/text.txt" --steps 1 --batch 4 --seq 32 -o "$dir/ft2.gguf"
expect_error "--embd 64 disagrees with" train --init "$dir/plain.gguf" --embd 64 --data "$dir/text.txt" --steps 1 --batch 4 --seq 32 -o "$dir/ft2.gguf"
expect_error "--arch olmoe disagrees with" train --init "$dir/plain.gguf" --arch olmoe --data "$dir/text.txt" --steps 1 --batch 4 --seq 32 -o "$dir/ft2.gguf"
"$FRUGAL" train --init "$dir/plain.gguf" --embd 32 --data "$dir/text.txt" --steps 1 --batch 4 --seq 32 -t 1 \
  -o "$dir/ft2.gguf" 2>/dev/null >/dev/null || fail "--init with an agreeing --embd failed"
# With --eval-every, the untrained model is evaluated first: a step-0 record with a validation loss.
"$FRUGAL" train "${run[@]}" --steps 2 --eval-every 2 --log "$dir/e0.jsonl" -o "$dir/e0.gguf" 2>"$dir/e0.txt" >/dev/null ||
  fail "the run with --eval-every failed"
grep -q "^step 0/2  val " "$dir/e0.txt" || fail "no step-0 evaluation line"
head -n 1 "$dir/e0.jsonl" | grep -q '"step":0,' || fail "the log does not start with the step-0 record"
head -n 1 "$dir/e0.jsonl" | grep -q '"val_loss":[0-9]' || fail "the step-0 record holds no validation loss"
echo "train flags: all checks passed"

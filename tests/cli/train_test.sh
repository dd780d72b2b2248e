#!/usr/bin/env bash
# frugal train end to end: a short run writes a model that frugal run loads
# and a metrics log with every field; a run killed with SIGKILL and resumed
# from its checkpoint ends bit-identical to an uninterrupted run; corrupt or
# mismatched checkpoints and bad flags are clear errors; --init fine-tunes.
set -euo pipefail
source "${FRUGAL_SOURCE_DIR:?}/tests/lib/cli_test_lib.sh"

"$FRUGAL" synth --arch qwen3moe --type f32 -o "$dir/tok.gguf" >/dev/null
data=/work/shared/data/tinyshakespeare.txt
if [[ -f $data ]]; then
  head -c 60000 "$data" >"$dir/text.txt"
else
  for i in $(seq 1 2000); do echo "line $i: the quick brown fox jumps over the lazy dog $((i % 7))"; done >"$dir/text.txt"
fi
model=(--embd 32 --layers 2 --heads 4 --heads-kv 2 --head-dim 8 --experts 4 --experts-used 2 --ff-exp 32)
run=(--data "$dir/text.txt" --tokenizer "$dir/tok.gguf" "${model[@]}" --batch 4 --seq 32 --lr 3e-3 --warmup 3
     --seed 5 -t 1)

# A short run with evaluation and a metrics log.
"$FRUGAL" train "${run[@]}" --steps 12 --eval-every 6 --log "$dir/m.jsonl" -o "$dir/a.gguf" 2>"$dir/a.err" >"$dir/a.out"
grep -q "step 12/12" "$dir/a.err" || fail "no progress line: $(cat "$dir/a.err")"
grep -q "tok/s" "$dir/a.err" || fail "no tokens/s in the progress line"
grep -q "wrote $dir/a.gguf" "$dir/a.out" || fail "no summary line"
/usr/bin/python3 - "$dir/m.jsonl" <<'PY'
import json, math, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert recs, "empty log"
for r in recs:
    for k in ("step", "tokens", "seconds", "lr", "train_loss", "val_loss", "val_ppl", "tokens_per_second",
              "expert_load", "router_entropy"):
        assert k in r, k
    assert r["tokens"] == r["step"] * 4 * 32, r  # batch 4 x seq 32 a step
secs = [r["seconds"] for r in recs]
assert secs[0] == 0 and all(b > a for a, b in zip(secs, secs[1:])), secs
evals = [r for r in recs if r["val_loss"] is not None]
assert [r["step"] for r in evals] == [0, 6, 12], evals  # step 0: the untrained model
for r in evals:
    assert abs(math.exp(r["val_loss"]) - r["val_ppl"]) < 1e-6 * r["val_ppl"]
    assert len(r["expert_load"]) == 2 and all(len(l) == 4 for l in r["expert_load"])
    assert all(abs(sum(l) - 1) < 1e-9 for l in r["expert_load"])
    assert len(r["router_entropy"]) == 2
PY
"$FRUGAL" run -m "$dir/a.gguf" -p "ROMEO:" -n 8 --seed 1 >"$dir/gen.out" 2>/dev/null || fail "frugal run cannot use the trained model"
"$FRUGAL" inspect "$dir/a.gguf" >/dev/null

# Uninterrupted reference run, then a run killed with SIGKILL after its first
# checkpoint and resumed: the exported models must be byte-identical.
steps=40
"$FRUGAL" train "${run[@]}" --steps $steps -o "$dir/ref.gguf" 2>/dev/null >/dev/null
"$FRUGAL" train "${run[@]}" --steps $steps --checkpoint "$dir/ck" --checkpoint-every 4 -o "$dir/res.gguf" \
  --log "$dir/res.jsonl" --print-every 2 2>/dev/null >/dev/null &
pid=$!
for _ in $(seq 1 600); do
  [[ -f $dir/ck ]] && break
  sleep 0.02
done
kill -9 $pid 2>/dev/null || true
wait $pid 2>/dev/null || true
[[ -f $dir/ck ]] || fail "no checkpoint written"
[[ ! -f $dir/res.gguf ]] || echo "note: the run finished before it was killed"
"$FRUGAL" train "${run[@]}" --steps $steps --checkpoint "$dir/ck" --checkpoint-every 4 --resume -o "$dir/res.gguf" \
  --log "$dir/res.jsonl" --print-every 2 2>"$dir/res.err" >/dev/null
grep -q "resumed at step" "$dir/res.err" || fail "did not resume: $(head -3 "$dir/res.err")"
cmp -s "$dir/ref.gguf" "$dir/res.gguf" || fail "resumed run differs from the uninterrupted one"
# The resumed log holds every step once, and its training clock goes on from the checkpoint's record.
/usr/bin/python3 - "$dir/res.jsonl" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
assert [r["step"] for r in recs] == list(range(2, 41, 2)), [r["step"] for r in recs]
secs = [r["seconds"] for r in recs]
assert all(b > a for a, b in zip(secs, secs[1:])), secs
PY

# Mismatched and corrupt checkpoints.
expect_error "different training options" train "${run[@]}" --steps $steps --clip 0.5 --checkpoint "$dir/ck" --resume -o "$dir/x.gguf"
expect_error "different model configuration" train "${run[@]}" --ctx 64 --steps $steps --checkpoint "$dir/ck" --resume -o "$dir/x.gguf"
printf 'garbage' | dd of="$dir/ck" bs=1 seek=200 conv=notrunc 2>/dev/null
expect_error "corrupt" train "${run[@]}" --steps $steps --checkpoint "$dir/ck" --resume -o "$dir/x.gguf"
echo "not a checkpoint" >"$dir/bad"
expect_error "not a frugal training checkpoint" train "${run[@]}" --checkpoint "$dir/bad" --resume -o "$dir/x.gguf"

# Bad flags and inputs.
expect_error "--type must be" train "${run[@]}" --type q4_k -o "$dir/x.gguf"
expect_error "cannot read data file" train --data "$dir/missing.txt" --tokenizer "$dir/tok.gguf" -o "$dir/x.gguf"
expect_error "tokenizer" train --data "$dir/text.txt" -o "$dir/x.gguf"
expect_error "n_head" train --data "$dir/text.txt" --tokenizer "$dir/tok.gguf" --heads 3 --heads-kv 2 -o "$dir/x.gguf"

# Fine-tuning from the exported model, exported as q8_0.
"$FRUGAL" train --init "$dir/a.gguf" --data "$dir/text.txt" --batch 4 --seq 32 --steps 3 -t 1 --type q8_0 \
  -o "$dir/ft.gguf" 2>/dev/null >/dev/null
"$FRUGAL" run -m "$dir/ft.gguf" -p "KING" -n 4 >/dev/null 2>&1 || fail "fine-tuned model does not load"
echo "train CLI: all checks passed"

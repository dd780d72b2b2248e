#!/usr/bin/env bash
# mpirun -np N frugal finetune --data-parallel on this machine: each rank
# reads and tokenises only its own examples (line j of the file on rank j
# mod N: 4 and 3 of the 7 at 2 ranks, 3, 2 and 2 at 3); with one example a
# step (its rank computes it, the others add zeros) the adapter at 2 ranks
# is one process's byte for byte; with batches of 3 every step's training
# and validation losses follow one process's within 1e-3 relative: the
# gradients are summed in another order, AdamW divides each factor's
# gradient by its own size (a factor whose gradient almost cancels moves by
# a share of the learning rate that the order decides), and a token whose
# router scores two experts almost alike may then pick the other one
# (measured: the training losses within 1e-11, one validation loss 1.0e-4
# off, the next step's back within 3e-9). Only rank 0 prints, logs
# and writes the adapter; a run stopped at 2 ranks after step 2 resumes in
# one process; the adapter made at 2 ranks gives one process's greedy text.
# Skipped, saying why, where mpirun or frugal's MPI build is missing.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"
source "$(dirname "$0")/../lib/mpi_test_lib.sh"
PY=/usr/bin/python3

"$FRUGAL" synth --arch qwen3moe --preset tiny --type q8_0 -o "$dir/base.gguf" >/dev/null
cat >"$dir/data.jsonl" <<'JSONL'
{"text": "A fool and his money are soon parted, said the banker to the fool."}
{"text": "The early bird gets the worm, but the second mouse gets the cheese."}
{"messages": [{"role": "user", "content": "What gets the worm?"}, {"role": "assistant", "content": "The early bird."}]}
{"text": "Every cloud has a silver lining, and every lining a cloud."}
{"text": "Many hands make light work, and light work makes many hands idle."}
{"messages": [{"role": "user", "content": "Who is soon parted?"}, {"role": "assistant", "content": "A fool and his money."}]}
{"text": "Still waters run deep, said the river to the stone."}
JSONL
ft=(finetune -m "$dir/base.gguf" --data "$dir/data.jsonl" --rank 4 --alpha 8 --targets attn,experts,router
    --epochs 2 --batch 3 --lr 1e-2 --eval-every 1 --print-every 1 --seed 3)

"$FRUGAL" "${ft[@]}" --log "$dir/one.jsonl" -o "$dir/one.gguf" >"$dir/one.out" 2>"$dir/one.err" \
  || fail "one process: $(cat "$dir/one.err")"
ranks 2 "${ft[@]}" --log "$dir/two.jsonl" -o "$dir/two.gguf" --data-parallel >"$dir/two.out" 2>"$dir/two.err" \
  || fail "2 ranks: $(tail -20 "$dir/two.err")"
ranks 3 "${ft[@]}" --log "$dir/three.jsonl" -o "$dir/three.gguf" --data-parallel >/dev/null 2>"$dir/three.err" \
  || fail "3 ranks: $(tail -20 "$dir/three.err")"
[[ $(grep -c 'matrices, rank 4' "$dir/two.out") -eq 1 ]] || fail "want one adapter line (rank 0's): $(cat "$dir/two.out")"
[[ $(grep -c '^step 6/6' "$dir/two.err") -eq 1 ]] || fail "want one progress line a step: $(cat "$dir/two.err")"
grep -q "data-parallel over 2 ranks, example j of a file on rank j mod 2; read and tokenised per rank (training/validation): 4/4 3/3$" \
  "$dir/two.err" || fail "no data-parallel line with 4 and 3 examples read: $(cat "$dir/two.err")"
grep -q "read and tokenised per rank (training/validation): 3/3 2/2 2/2$" "$dir/three.err" ||
  fail "3 ranks: want 3, 2 and 2 examples read: $(cat "$dir/three.err")"

# One example a step: the same bytes.
one_step=(finetune -m "$dir/base.gguf" --data "$dir/data.jsonl" --rank 4 --alpha 8 --targets attn,experts,router
          --epochs 1 --batch 1 --lr 1e-2 --eval-every 0 --seed 3)
"$FRUGAL" "${one_step[@]}" -o "$dir/b1.gguf" >/dev/null 2>&1 || fail "one process, batch 1"
ranks 2 "${one_step[@]}" -o "$dir/b2.gguf" --data-parallel >/dev/null 2>"$dir/b2.err" || fail "2 ranks, batch 1: $(tail "$dir/b2.err")"
cmp -s "$dir/b1.gguf" "$dir/b2.gguf" || fail "batch 1: the adapter at 2 ranks is not one process's"

# Stopped at 2 ranks after step 2 (checkpointed), resumed by one process.
ranks 2 "${ft[@]}" --log "$dir/res.jsonl" -o "$dir/res.gguf" --checkpoint "$dir/ck" --stop-after 2 --data-parallel \
  >"$dir/stop.out" 2>"$dir/stop.err" || fail "stopped run: $(tail -20 "$dir/stop.err")"
grep -q "stopped after step 2 of 6" "$dir/stop.out" || fail "did not stop at step 2: $(cat "$dir/stop.out")"
"$FRUGAL" "${ft[@]}" --log "$dir/res.jsonl" -o "$dir/res.gguf" --resume "$dir/ck" >/dev/null 2>"$dir/res.err" \
  || fail "resume: $(cat "$dir/res.err")"
grep -q "resumed at step 2" "$dir/res.err" || fail "did not resume at step 2: $(cat "$dir/res.err")"

"$PY" - "$dir" <<'PYEOF'
import json, sys
d = sys.argv[1]
def curve(name):
    return {r["step"]: r for r in map(json.loads, open(f"{d}/{name}.jsonl"))}
def same(name):
    a_curve, b_curve = curve("one"), curve(name)
    assert sorted(a_curve) == list(range(7)), sorted(a_curve)
    assert sorted(b_curve) == sorted(a_curve), (name, sorted(b_curve))
    for step, r in a_curve.items():
        for key in ("train_loss", "val_loss"):
            a, b = r[key], b_curve[step][key]
            if a is None:
                assert b is None, (name, step, key, b)
                continue
            assert abs(a - b) <= 1e-3 * abs(a), (name, step, key, a, b)
same("two")
same("three")
same("res")
PYEOF

for f in one two; do
  "$FRUGAL" run -m "$dir/base.gguf" --lora "$dir/$f.gguf" -p "The early bird" -n 12 --temp 0 >"$dir/$f.txt" 2>/dev/null \
    || fail "run --lora $f.gguf"
done
cmp -s "$dir/one.txt" "$dir/two.txt" || fail "greedy text: one process '$(cat "$dir/one.txt")', 2 ranks '$(cat "$dir/two.txt")'"
echo OK

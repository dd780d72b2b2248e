#!/usr/bin/env bash
# mpirun -np N frugal train --data-parallel on this machine: at 2 and 4
# ranks the training and validation loss curves follow one process's at the
# same global batch to f32 summation-order tolerance (with --aux-coef 0: the
# balancing loss is each rank's over its own share); only rank 0 prints,
# logs and writes; a checkpoint written at 2 ranks resumes in one process
# and ends where one process does; a batch that does not split is a clear error.
# Skipped, saying why, where mpirun or frugal's MPI build is missing.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"
source "$(dirname "$0")/../lib/mpi_test_lib.sh"
PY=/usr/bin/python3

source "$(dirname "$0")/../lib/dp_corpus.sh"
train=(train --data "$dir/text.txt" --tokenizer "$dir/tok.gguf" --embd 32 --layers 2 --heads 4 --heads-kv 2
       --head-dim 8 --experts 4 --experts-used 2 --ff-exp 32 --batch 4 --seq 32 --lr 3e-3 --warmup 3 --seed 5 -t 1)

short=(--steps 8 --print-every 1 --eval-every 4 --aux-coef 0)
"$FRUGAL" "${train[@]}" "${short[@]}" --log "$dir/one.jsonl" -o "$dir/one.gguf" >/dev/null 2>&1
ranks 2 "${train[@]}" "${short[@]}" --log "$dir/two.jsonl" -o "$dir/two.gguf" --data-parallel >"$dir/two.out" 2>"$dir/two.err"
ranks 4 "${train[@]}" "${short[@]}" --log "$dir/four.jsonl" -o "$dir/four.gguf" --data-parallel >/dev/null 2>&1
[[ $(grep -c '^wrote ' "$dir/two.out") -eq 1 ]] || fail "want one 'wrote' line (rank 0's): $(cat "$dir/two.out")"
[[ $(grep -c '^step 8/8' "$dir/two.err") -eq 1 ]] || fail "want one progress line per step: $(cat "$dir/two.err")"

# A run at 2 ranks cut short after its step-4 checkpoint (rank 1 exits at
# its 11th sum: the step-0 evaluation, 2 per step, the step-4 evaluation,
# then step 5's gradients), resumed by one process: the same curve as one
# process's from the start.
ck=(--steps 8 --print-every 1 --eval-every 4 --aux-coef 0 --checkpoint-every 4)
"$FRUGAL" "${train[@]}" "${ck[@]}" --checkpoint "$dir/ck.ref" --log "$dir/ref.jsonl" -o "$dir/ref.gguf" >/dev/null 2>&1
set +e
FRUGAL_TEST_RANK_FAULT=exit:1:11 ranks 2 "${train[@]}" "${ck[@]}" --checkpoint "$dir/ck" --log "$dir/res.jsonl" -o "$dir/res.gguf" \
  --data-parallel >/dev/null 2>"$dir/cut.err"
rc=$?
set -e
[[ $rc -ne 0 ]] || fail "the cut run finished: $(cat "$dir/cut.err")"
"$FRUGAL" "${train[@]}" "${ck[@]}" --checkpoint "$dir/ck" --log "$dir/res.jsonl" -o "$dir/res.gguf" --resume >/dev/null 2>"$dir/res.err"
grep -q "resumed at step 4" "$dir/res.err" || fail "did not resume at step 4: $(cat "$dir/res.err")"

"$PY" - "$dir/one.jsonl" <<'PYEOF'
import json, sys
steps = [json.loads(line)["step"] for line in open(sys.argv[1])]
assert steps == list(range(9)), steps
PYEOF
"$PY" "$(dirname "$0")/../lib/same_curve.py" "$dir/one.jsonl" "$dir/two.jsonl" "$dir/four.jsonl" || fail "2 or 4 ranks"
"$PY" "$(dirname "$0")/../lib/same_curve.py" "$dir/ref.jsonl" "$dir/res.jsonl" || fail "the resumed run"

# With the balancing loss on, the ranks still train one model (one log).
ranks 2 "${train[@]}" --steps 4 --print-every 1 --aux-coef 0.01 --log "$dir/aux.jsonl" -o "$dir/aux.gguf" --data-parallel >/dev/null 2>&1
[[ $(wc -l <"$dir/aux.jsonl") -eq 4 ]] || fail "want 4 log lines: $(cat "$dir/aux.jsonl")"

set +e
ranks 3 "${train[@]}" --steps 1 -o "$dir/bad.gguf" --data-parallel >/dev/null 2>"$dir/bad.err"
rc=$?
set -e
[[ $rc -ne 0 && $rc -ne 124 ]] || fail "a batch of 4 over 3 ranks: exit $rc"
grep -q -- "--batch 4 does not split evenly over 3 ranks" "$dir/bad.err" || fail "no clear error: $(cat "$dir/bad.err")"
echo OK

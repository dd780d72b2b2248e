#!/usr/bin/env bash
# mpirun -np N frugal ... --expert-parallel --attention-dp on this machine
# (loopback only): each rank runs its own share of the sequences through
# attention with its own KV cache, and MoE rows travel to their experts'
# ranks by all-to-all. Every sequence's logits equal one process's bits
# (one batch and one token at a time; 3 sequences over 2 ranks, 3 over 4 so
# that a rank has none, 1 over 2; and with --attention-first-rank, every
# sequence on rank 0, at 2 and 3 ranks); bench decodes batches with a
# rank's share each and reports the bytes per token; the flag alone is
# refused; a stalled rank ends the job; run with several prompts gives each
# prompt's greedy tokens alone. Also runs ProcessGroup::all_to_all's own check
# at 1, 2 and 3 ranks. Skipped, saying why, where mpirun or frugal's MPI
# build is missing.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"
source "$(dirname "$0")/../lib/mpi_test_lib.sh"
PY=/usr/bin/python3

check="${FRUGAL_BUILD_DIR:-$(dirname "$FRUGAL")}/dist_all_to_all_check"
[[ -x $check ]] || fail "no $check (built with frugal when FRUGAL_MPI is on)"
for n in 1 2 3; do
  timeout -k 5 120 mpirun --oversubscribe --bind-to none -np "$n" "$check" --gtest_color=no >"$dir/a2a.$n.out" 2>&1 ||
    fail "all_to_all check at $n ranks: $(tail -30 "$dir/a2a.$n.out")"
  [[ $(grep -c '\[  PASSED  \] 2 tests' "$dir/a2a.$n.out") -eq $n ]] || fail "all_to_all at $n ranks: $(cat "$dir/a2a.$n.out")"
done

three='256,72,101,108,108,111,32;119,111,114,108,100,33,10,65,66;67,68'
for arch in qwen3moe deepseek2 gpt-oss; do
  m="$dir/$arch.gguf"
  "$FRUGAL" -q synth --arch "$arch" --type q8_0 -o "$m" >/dev/null
  for mode in batch incremental; do
    "$FRUGAL" -q logits -m "$m" --tokens "$three" --mode "$mode" -o "$dir/$arch.$mode.one.bin" -t 1
    # Each rank its share (at 4 ranks one has none), or every sequence on rank 0.
    for run in "2 --attention-dp" "4 --attention-dp" "2 --attention-first-rank" "3 --attention-first-rank"; do
      read -r n flag <<<"$run"
      ranks "$n" -q logits -m "$m" --tokens "$three" --mode "$mode" -o "$dir/$arch.$mode.$n$flag.bin" -t 1 \
        --expert-parallel "$flag"
      cmp "$dir/$arch.$mode.one.bin" "$dir/$arch.$mode.$n$flag.bin" ||
        fail "$arch, $mode, $n ranks, $flag: logits differ from one process's"
    done
  done
  # The three sequences run together are each the sequence alone (the
  # batch itself changes no bits), so the comparison above is per sequence.
  "$PY" - "$dir/$arch" "$FRUGAL" "$m" <<'PYEOF'
import subprocess, sys, numpy as np
base, frugal, model = sys.argv[1:]
seqs = "256,72,101,108,108,111,32;119,111,114,108,100,33,10,65,66;67,68".split(";")
batch = np.fromfile(base + ".batch.one.bin", dtype="<f4")
alone = []
for i, s in enumerate(seqs):
    out = f"{base}.alone{i}.bin"
    subprocess.run([frugal, "-q", "logits", "-m", model, "--tokens", s, "-o", out, "-t", "1"], check=True)
    alone.append(np.fromfile(out, dtype="<f4"))
assert np.isfinite(batch).all() and batch.size == sum(a.size for a in alone), (batch.size, [a.size for a in alone])
assert np.array_equal(np.concatenate(alone), batch), base
PYEOF
done

# One sequence over 2 ranks: rank 1 has none and still computes its experts.
m="$dir/qwen3moe.gguf"
"$FRUGAL" -q logits -m "$m" --tokens 5,6,7,8 -o "$dir/one.bin" -t 1 --mode incremental
ranks 2 -q logits -m "$m" --tokens 5,6,7,8 -o "$dir/one.2.bin" -t 1 --mode incremental --expert-parallel --attention-dp
cmp "$dir/one.bin" "$dir/one.2.bin" || fail "one sequence over 2 ranks: logits differ"

# bench: batches of 1, 3 and 4 sequences, each rank decoding its share;
# one table (rank 0's), the report with the bytes per token.
ranks 2 bench -m "$m" -p 8 -n 4 -b 1,3,4 -r 1 -t 1 --bandwidth-gbs 10 --expert-parallel --attention-dp \
  >"$dir/bench.out" 2>"$dir/bench.err" || fail "bench: $(cat "$dir/bench.err")"
[[ $(grep -c '^| model' "$dir/bench.out") -eq 1 ]] || fail "want one table: $(cat "$dir/bench.out")"
grep -q '| tg4 x3 ' "$dir/bench.out" || fail "no tg4 x3 row: $(cat "$dir/bench.out")"
grep -q '^attention data-parallel: rows computed per rank: busiest [0-9]*, mean [0-9.]*; all-to-all sent .* per token per MoE layer (all ranks, both ways, over [0-9]* token-layers), the all-gather design 1.00 KiB$' \
  "$dir/bench.err" || fail "no attention data-parallel line: $(cat "$dir/bench.err")"

# run with several prompts (ids with ';', text with -p repeated), decoded
# together: each prompt's greedy tokens are those it gets alone in one
# process, in one process and through 2 ranks with --attention-dp (3
# prompts: two on rank 0, one on rank 1).
run_flags=(-m "$m" --temp 0 --ignore-eos -n 8 -t 1)
IFS=';' read -ra alone <<<"$three"
for p in "${alone[@]}"; do "$FRUGAL" -q run "${run_flags[@]}" --prompt-ids "$p" --print-ids; done >"$dir/run.alone"
"$FRUGAL" -q run "${run_flags[@]}" --prompt-ids "$three" --print-ids >"$dir/run.one"
ranks 2 -q run "${run_flags[@]}" --prompt-ids "$three" --print-ids --expert-parallel --attention-dp >"$dir/run.dp"
[[ $(wc -l <"$dir/run.alone") -eq 3 && $(wc -w <"$dir/run.alone") -eq 24 ]] || fail "run alone: $(cat "$dir/run.alone")"
cmp "$dir/run.alone" "$dir/run.one" || fail "3 prompts together differ from each alone: $(cat "$dir/run.one")"
cmp "$dir/run.alone" "$dir/run.dp" || fail "3 prompts over 2 ranks differ from each alone: $(cat "$dir/run.dp")"
"$FRUGAL" -q run "${run_flags[@]}" -p "the sea and" -p "hello world, this is" >"$dir/text.one"
ranks 2 -q run "${run_flags[@]}" -p "the sea and" -p "hello world, this is" --expert-parallel --attention-dp >"$dir/text.dp"
[[ $(grep -c '^--- prompt [12] ---$' "$dir/text.one") -eq 2 ]] || fail "run's two completions: $(cat "$dir/text.one")"
cmp "$dir/text.one" "$dir/text.dp" || fail "2 text prompts over 2 ranks differ: $(diff "$dir/text.one" "$dir/text.dp")"

# The flag needs --expert-parallel.
expect_error '--attention-dp needs --expert-parallel' bench -m "$m" -n 4 -p 0 --attention-dp
expect_error '--attention-dp needs --expert-parallel' run -m "$m" -p hi -n 2 --attention-dp

# A rank that stalls at its first all-to-all ends the job with the step named.
set +e
FRUGAL_TEST_RANK_FAULT=stall:1 ranks 2 logits -m "$m" --tokens "$three" -o "$dir/stall.bin" -t 1 --expert-parallel \
  --attention-dp --ep-timeout 3 >/dev/null 2>"$dir/stall.err"
rc=$?
set -e
[[ $rc -ne 0 && $rc -ne 124 ]] || fail "a stalled rank: exit $rc (124: hung): $(cat "$dir/stall.err")"
grep -q 'rank 0 of 2: sending rows to their experts. ranks in layer 0: no answer from the other ranks in 3 s' "$dir/stall.err" ||
  fail "no timeout message: $(cat "$dir/stall.err")"
echo OK

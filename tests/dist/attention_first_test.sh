#!/usr/bin/env bash
# mpirun -np N frugal ... --expert-parallel --attention-first-rank on this
# machine (loopback only): rank 0 runs every sequence through attention
# (the only KV cache) and sends each MoE row to its experts' ranks; the
# other ranks hold routed experts only. (Every sequence's logits equal to
# one process's bits: attention_dp_test.sh, beside --attention-dp's.) Run's
# several prompts give each prompt's greedy tokens alone; bench reports per
# rank; a rank other than 0 maps (close to) none of the
# weights but its own experts', rank 0 maps them; the flag without
# --expert-parallel, or with --attention-dp, is refused. Skipped, saying
# why, where mpirun or frugal's MPI build is missing.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"
source "$(dirname "$0")/../lib/mpi_test_lib.sh"
PY=/usr/bin/python3

three='256,72,101,108,108,111,32;119,111,114,108,100,33,10,65,66;67,68'

# run with three prompts decoded together: each prompt's greedy tokens
# alone, in one process and through 2 ranks.
m="$dir/qwen3moe.gguf"
"$FRUGAL" -q synth --arch qwen3moe --type q8_0 -o "$m" >/dev/null
run_flags=(-m "$m" --temp 0 --ignore-eos -n 8 -t 1)
IFS=';' read -ra alone <<<"$three"
for p in "${alone[@]}"; do "$FRUGAL" -q run "${run_flags[@]}" --prompt-ids "$p" --print-ids; done >"$dir/run.alone"
ranks 2 -q run "${run_flags[@]}" --prompt-ids "$three" --print-ids --expert-parallel --attention-first-rank \
  >"$dir/run.first"
[[ $(wc -w <"$dir/run.alone") -eq 24 ]] || fail "run alone: $(cat "$dir/run.alone")"
cmp "$dir/run.alone" "$dir/run.first" || fail "3 prompts over 2 ranks differ from each alone: $(cat "$dir/run.first")"

# bench: one table (rank 0's) and the report, rows by all-to-all.
ranks 2 bench -m "$m" -p 8 -n 4 -b 1,3 -r 1 -t 1 --bandwidth-gbs 10 --expert-parallel --attention-first-rank \
  >"$dir/bench.out" 2>"$dir/bench.err" || fail "bench: $(cat "$dir/bench.err")"
[[ $(grep -c '^| model' "$dir/bench.out") -eq 1 ]] || fail "want one table: $(cat "$dir/bench.out")"
grep -q '| tg4 x3 ' "$dir/bench.out" || fail "no tg4 x3 row: $(cat "$dir/bench.out")"
grep -q '^attention on rank 0: rows computed per rank: busiest [0-9]*, mean [0-9.]*; all-to-all sent ' "$dir/bench.err" ||
  fail "no report line: $(cat "$dir/bench.err")"

# Pages: each rank reads its own copy of the file, not in the page cache at
# the start (as on machines of their own; see expert_parallel_test.sh).
# Rank 1 maps its own experts and (close to) nothing else; rank 0 maps its
# experts and the rest of the model.
"$FRUGAL" -q synth --arch qwen3moe --type q8_0 --embd 512 --heads 8 --heads-kv 8 --ff-exp 1024 -o "$dir/w0.gguf" >/dev/null
cp "$dir/w0.gguf" "$dir/w1.gguf"
"$PY" -c "
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)
" "$dir/w0.gguf" "$dir/w1.gguf"
bench=(bench -p 32 -n 4 -b 1,2 -r 1 -t 1 --bandwidth-gbs 10 --expert-parallel --attention-first-rank)
timeout -k 5 120 mpirun --oversubscribe --bind-to none -np 1 "$FRUGAL" "${bench[@]}" -m "$dir/w0.gguf" : \
  -np 1 "$FRUGAL" "${bench[@]}" -m "$dir/w1.gguf" >"$dir/pages.out" 2>"$dir/pages.err" ||
  fail "bench on two copies: $(cat "$dir/pages.err")"
PYTHONPATH="$(dirname "$0")/../lib" "$PY" - "$dir/pages.err" <<'PYEOF'
import sys, ep_report
pages = ep_report.rank_pages(sys.argv[1])
assert len(pages) == 2, pages
for rank, p in enumerate(pages):
    assert p["own"] > 0.5 * p["own_total"], p["line"]
    assert p["others"] < 0.05 * p["others_total"], p["line"]
    # Rank 0 reads the rest of the model; rank 1 (close to) none of it.
    assert (p["rest"] > 0.5 * p["rest_total"]) if rank == 0 else (p["rest"] < 0.05 * p["rest_total"]), p["line"]
PYEOF

expect_error '--attention-first-rank needs --expert-parallel' bench -m "$m" -n 4 -p 0 --attention-first-rank
expect_error '--attention-dp and --attention-first-rank: choose one' logits -m "$m" --tokens 1 -o "$dir/x.bin" \
  --expert-parallel --attention-dp --attention-first-rank
echo OK

#!/usr/bin/env bash
# mpirun -np N frugal ... --expert-parallel on this machine (loopback only,
# ranks oversubscribing the cores): for every MoE architecture, the logits
# at 2 and 4 ranks are the same bits as one process's and so are greedy
# ids, under the contiguous default and under a measured placement file;
# only rank 0 prints; each rank maps (almost) none
# of the other ranks' expert weights; a rank that dies or stalls ends the
# job with a clear error instead of hanging it. Skipped, saying why, where
# mpirun or frugal's MPI build is missing.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"
source "$(dirname "$0")/../lib/mpi_test_lib.sh"
PY=/usr/bin/python3

tokens=256,72,101,108,108,111,32,119,111,114,108,100,33
for arch in llama qwen2moe qwen3moe olmoe deepseek2 gpt-oss; do
  m="$dir/$arch.gguf"
  "$FRUGAL" -q synth --arch "$arch" --type q8_0 -o "$m" >/dev/null
  "$FRUGAL" -q logits -m "$m" --tokens "$tokens" -o "$dir/$arch.one.bin" -t 1
  ranks 2 -q logits -m "$m" --tokens "$tokens" -o "$dir/$arch.2.bin" -t 1 --expert-parallel
  ranks 4 -q logits -m "$m" --tokens "$tokens" -o "$dir/$arch.4.bin" -t 1 --expert-parallel
  ranks 2 -q logits -m "$m" --tokens "$tokens" -o "$dir/$arch.2inc.bin" -t 1 --mode incremental --expert-parallel
  "$PY" - "$dir/$arch" <<'PYEOF'
import sys, numpy as np
base = sys.argv[1]
one = np.fromfile(base + ".one.bin", dtype="<f4")
assert one.size == 13 * 512 and np.isfinite(one).all(), one.size
for run in ("2", "4", "2inc"):
    got = np.fromfile(base + "." + run + ".bin", dtype="<f4")
    assert got.shape == one.shape, (run, got.shape)
    assert np.array_equal(got, one), (base, run, np.abs(got - one).max())
PYEOF
done

# A measured placement (frugal placement over a text, on a model whose
# routers favour some experts): each rank computes the experts the file
# gives it, non-contiguous and the hottest replicated, and the logits are
# still one process's bits, at the file's 2 ranks and placed again at 4.
m="$dir/skew.gguf"
"$FRUGAL" -q synth --arch qwen3moe --type q8_0 --router-skew 1.2 -o "$m" >/dev/null
"$PY" -c '
import random
random.seed(7)
words = ["the", "king", "of", "a", "night", "sword", "love", "and", "rain", "house", "to", "sea"]
print(" ".join(random.choice(words) for _ in range(1200)))' >"$dir/calib.txt"
"$FRUGAL" -q placement -m "$m" -f "$dir/calib.txt" -c 64 --chunks 8 --ranks 2 --replicas 1 -o "$dir/p.json" -t 1 >/dev/null
"$FRUGAL" -q logits -m "$m" --tokens "$tokens" -o "$dir/skew.one.bin" -t 1
ranks 2 logits -m "$m" --tokens "$tokens" -o "$dir/skew.2.bin" -t 1 --expert-parallel --expert-placement "$dir/p.json" \
  2>"$dir/skew.2.err"
ranks 4 -q logits -m "$m" --tokens "$tokens" -o "$dir/skew.4.bin" -t 1 --expert-parallel --expert-placement "$dir/p.json"
cmp "$dir/skew.one.bin" "$dir/skew.2.bin" || fail "2 ranks under a placement file: logits differ"
cmp "$dir/skew.one.bin" "$dir/skew.4.bin" || fail "4 ranks under a placement file made for 2: logits differ"
grep -q "expert-parallel: rank 0 of 2 holds experts: .* a layer.*, placed by $dir/p.json (rows measured over calib.txt" \
  "$dir/skew.2.err" || fail "no placement line: $(cat "$dir/skew.2.err")"
ranks 2 run -m "$m" --prompt-ids 256,72,101 --print-ids --temp 0 -n 6 --ignore-eos -t 1 --expert-parallel \
  --expert-placement "$dir/p.json" >/dev/null 2>"$dir/skew.run.err"
grep -q "^expert-parallel rank 1: experts: .* a layer.* | rows computed [0-9]* | " "$dir/skew.run.err" ||
  fail "no report of rank 1: $(cat "$dir/skew.run.err")"
grep -q "^expert-parallel: rows computed per rank: busiest [0-9]*, .* x the mean (the file.s placement)" "$dir/skew.run.err" ||
  fail "no balance line: $(cat "$dir/skew.run.err")"

# Greedy ids: the same as one process's, printed once (rank 0 only).
m="$dir/deepseek2.gguf"
"$FRUGAL" run -m "$m" --prompt-ids 256,72,101 --print-ids --temp 0 -n 12 --ignore-eos -t 1 >"$dir/ids.one" 2>/dev/null
ranks 2 run -m "$m" --prompt-ids 256,72,101 --print-ids --temp 0 -n 12 --ignore-eos -t 1 --expert-parallel \
  >"$dir/ids.2" 2>"$dir/ids.2.err"
cmp "$dir/ids.one" "$dir/ids.2" || fail "greedy ids differ: $(cat "$dir/ids.one") vs $(cat "$dir/ids.2")"
[[ $(grep -c 'generation: 12 tokens' "$dir/ids.2.err") -eq 1 ]] || fail "want one speed line: $(cat "$dir/ids.2.err")"
grep -q 'expert-parallel rank 1: experts 4\.\.7 ' "$dir/ids.2.err" || fail "no report of rank 1: $(cat "$dir/ids.2.err")"

# Pages: each rank maps the pages of its own experts and (close to) none of
# the others'. Each rank reads its own copy of the file, not in the page
# cache at the start, as on machines of their own: on one machine, ranks
# that share a file share its page cache, and the kernel maps pages that are
# already cached around each fault (fault-around), the other rank's among
# them. Experts of 1.6 MiB, so that the pages that share an edge are few.
"$FRUGAL" -q synth --arch qwen3moe --type q8_0 --ff-exp 4096 -o "$dir/w0.gguf" >/dev/null
cp "$dir/w0.gguf" "$dir/w1.gguf"
"$PY" -c "
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDONLY); os.fsync(fd); os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED); os.close(fd)
" "$dir/w0.gguf" "$dir/w1.gguf"
bench=(bench -p 32 -n 4 -r 1 -t 1 --bandwidth-gbs 10 --expert-parallel)
timeout -k 5 120 mpirun --oversubscribe --bind-to none -np 1 "$FRUGAL" "${bench[@]}" -m "$dir/w0.gguf" : \
  -np 1 "$FRUGAL" "${bench[@]}" -m "$dir/w1.gguf" >"$dir/bench.out" 2>"$dir/bench.err"
[[ $(grep -c '^| model' "$dir/bench.out") -eq 1 ]] || fail "want one table (rank 0's): $(cat "$dir/bench.out")"
PYTHONPATH="$(dirname "$0")/../lib" "$PY" - "$dir/bench.err" <<'PYEOF'
import sys, ep_report
pages = ep_report.rank_pages(sys.argv[1])
assert len(pages) == 2, pages
for p in pages:
    assert p["own"] > 0.5 * p["own_total"], p["line"]
    assert p["others"] < 0.05 * p["others_total"], p["line"]
PYEOF

# A rank that exits, or stops answering, ends the whole job with an error.
set +e
FRUGAL_TEST_RANK_FAULT=exit:1 ranks 2 run -m "$m" -p hi -n 4 -t 1 --expert-parallel \
  >/dev/null 2>"$dir/exit.err"
rc=$?
set -e
[[ $rc -ne 0 && $rc -ne 124 ]] || fail "a dead rank: exit $rc (124: hung): $(cat "$dir/exit.err")"
grep -q 'FRUGAL_TEST_RANK_FAULT: exiting' "$dir/exit.err" || fail "rank 1 did not exit: $(cat "$dir/exit.err")"
set +e
FRUGAL_TEST_RANK_FAULT=stall:1 ranks 2 run -m "$m" -p hi -n 4 -t 1 --expert-parallel --ep-timeout 3 \
  >/dev/null 2>"$dir/stall.err"
rc=$?
set -e
[[ $rc -ne 0 && $rc -ne 124 ]] || fail "a stalled rank: exit $rc (124: hung): $(cat "$dir/stall.err")"
grep -q 'rank 0 of 2: exchanging expert outputs in layer [0-9]*: no answer from the other ranks in 3 s' "$dir/stall.err" ||
  fail "no timeout message: $(cat "$dir/stall.err")"
echo OK

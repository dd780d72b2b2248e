#!/usr/bin/env bash
# frugal placement and frugal inspect --placement: the rows each routed
# expert receives over a text add up to the tokens times the experts used
# per token, are the same on a second run, and the placement they give is a
# valid one (every expert placed, replicas on distinct ranks, as many slots
# a rank) that evens the ranks' rows out on a model whose routers favour some
# experts; inspect shows it layer by layer and places the counts again for
# another rank count; one process with --expert-parallel --expert-placement
# (a group of one, where frugal is built with MPI) gives the plain logits;
# bad inputs fail with a message.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"
PY=/usr/bin/python3

m="$dir/skew.gguf"
"$FRUGAL" -q synth --arch qwen3moe --experts 32 --experts-used 4 --layers 3 --type q8_0 --router-skew 1.2 \
  -o "$m" >/dev/null
"$PY" -c '
import random
random.seed(3)
words = ["the", "king", "of", "a", "night", "sword", "love", "and", "rain", "house", "to", "sea"]
print(" ".join(random.choice(words) for _ in range(3000)))' >"$dir/text.txt"

"$FRUGAL" -q placement -m "$m" -f "$dir/text.txt" -c 64 --chunks 8 --ranks 4 --replicas 1 -o "$dir/p.json" -t 2 \
  >"$dir/out"
grep -q "^wrote $dir/p.json: 3 MoE layers x 32 experts, 512 tokens (8 chunks of 64); 4 ranks, 1 replica a rank: " \
  "$dir/out" || fail "output: $(cat "$dir/out")"
"$FRUGAL" -q placement -m "$m" -f "$dir/text.txt" -c 64 --chunks 8 --ranks 4 --replicas 1 -o "$dir/p2.json" -t 1 \
  >/dev/null
cmp -s "$dir/p.json" "$dir/p2.json" || fail "two runs wrote different files"

"$PY" - "$dir/p.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
assert f["format"] == "frugal expert placement" and f["version"] == 1, f
assert f["architecture"] == "qwen3moe" and f["source"] == "text.txt" and f["tokens"] == 512, f
assert f["n_expert"] == 32 and f["n_expert_used"] == 4 and f["ranks"] == 4 and f["replicas_per_rank"] == 1, f
assert [l["layer"] for l in f["layers"]] == [0, 1, 2], f["layers"]

def loads(rows, ranks):
    holders = {}
    for r, es in enumerate(ranks):
        for e in es:
            holders.setdefault(e, []).append(r)
    out = [0] * len(ranks)
    for e, hs in holders.items():
        n, c = rows[e], len(hs)
        for j, r in enumerate(sorted(hs)):
            out[r] += n * (j + 1) // c - n * j // c
    return out

for l in f["layers"]:
    rows, ranks = l["rows"], l["placement"]
    assert len(rows) == 32 and sum(rows) == 512 * 4, (l["layer"], sum(rows))
    assert len(ranks) == 4
    copies = [0] * 32
    for es in ranks:
        assert len(set(es)) == len(es), es
        for e in es:
            copies[e] += 1
    assert min(copies) >= 1, copies
    assert sum(copies) <= 32 + 4 and max(len(es) for es in ranks) <= 9, ranks
    assert max(copies) > 1, "no expert replicated"
    contiguous = [list(range(8 * r, 8 * r + 8)) for r in range(4)]
    lc, lp = loads(rows, contiguous), loads(rows, ranks)
    mean = sum(rows) / 4
    assert max(lp) / mean < 1.1, (l["layer"], lp)
    assert max(lp) <= max(lc), (lc, lp)
    assert max(lc) / mean > 1.3, ("the skewed routers should unbalance the blocks", lc)
PY

# inspect --placement: the file's figures, then placed again at 2 ranks.
"$FRUGAL" inspect --placement "$dir/p.json" -m "$m" >"$dir/inspect.txt"
for want in "^placement:     $dir/p.json" "^measured:      .* (qwen3moe): 3 MoE layers x 32 experts (4 used per token), rows over text.txt, 512 tokens" \
    "^ranks:         4, 1 replica a rank$" "^layer 0: 2048 rows; busiest rank / mean: contiguous [0-9.]*, placed [0-9.]*" \
    "^  rank 3: contiguous  *[0-9]* rows (24\.\.31) | placed  *[0-9]* rows, [0-9]* experts: [0-9 *]*$" \
    "^all 3 MoE layers: busiest rank / mean, layer average (worst layer): contiguous" \
    "^rows per rank, all layers: contiguous [0-9 ]* | placed [0-9 ]*$" "^expert weights per rank ($m): contiguous"; do
  grep -q -- "$want" "$dir/inspect.txt" || { cat "$dir/inspect.txt"; fail "no '$want' in inspect --placement"; }
done
grep -q '\*' "$dir/inspect.txt" || fail "no replicated expert marked: $(cat "$dir/inspect.txt")"
"$FRUGAL" inspect --placement "$dir/p.json" --ranks 2 --replicas 0 >"$dir/inspect2.txt"
grep -q "^ranks:         2, 0 replicas a rank (placed again from the counts" "$dir/inspect2.txt" ||
  fail "not placed again: $(head -5 "$dir/inspect2.txt")"
[[ $(grep -c "^  rank " "$dir/inspect2.txt") -eq 6 ]] || fail "want 2 ranks x 3 layers: $(cat "$dir/inspect2.txt")"
grep -q "expert weights" "$dir/inspect2.txt" && fail "expert weights without -m"

# One process as a group of one: the placement (made for 4 ranks) placed
# again for 1; the same logits as without it.
tokens=256,72,101,108,108,111,32,119,111,114,108,100,33
"$FRUGAL" -q logits -m "$m" --tokens "$tokens" -o "$dir/plain.bin" -t 1
if "$FRUGAL" logits -m "$m" --tokens "$tokens" -o "$dir/placed.bin" -t 1 --expert-parallel \
    --expert-placement "$dir/p.json" 2>"$dir/placed.err"; then
  cmp "$dir/plain.bin" "$dir/placed.bin" || fail "logits differ under a placement file"
  grep -q "made for 4 ranks, placed again for 1 with 1 replicas a rank" "$dir/placed.err" ||
    fail "no note of the placement: $(cat "$dir/placed.err")"
else
  grep -q "built without OpenMPI" "$dir/placed.err" || fail "logits --expert-placement: $(cat "$dir/placed.err")"
fi

# Bad inputs.
"$FRUGAL" -q synth --arch qwen3 --type q8_0 -o "$dir/dense.gguf" >/dev/null
"$FRUGAL" -q synth --arch qwen3moe --type q8_0 -o "$dir/eight.gguf" >/dev/null
expect_error "has no routed experts" placement -m "$dir/dense.gguf" -f "$dir/text.txt" -c 64 --ranks 2 -o "$dir/x.json"
expect_error "ranks must be at least 1" placement -m "$m" -f "$dir/text.txt" -c 64 --ranks 0 -o "$dir/x.json"
expect_error "replicas must not be negative" placement -m "$m" -f "$dir/text.txt" -c 64 --ranks 2 --replicas -1 \
  -o "$dir/x.json"
expect_error "ranks" placement -m "$m" -f "$dir/text.txt" -c 64 -o "$dir/x.json"
expect_error "the file is for 32 experts a layer, the model has 8" inspect --placement "$dir/p.json" -m "$dir/eight.gguf"
expect_error "needs --expert-parallel" logits -m "$m" --tokens 1,2 -o "$dir/x.bin" --expert-placement "$dir/p.json"
echo '{"format": "frugal expert placement", "version": 1}' >"$dir/bad.json"
expect_error "no \"n_expert\"" inspect --placement "$dir/bad.json"
expect_error "go with --placement" inspect "$m" --ranks 2
expect_error "give a GGUF file" inspect
echo OK

#!/usr/bin/env bash
# frugal inspect from the command line: text and JSON views of a MoE and a
# dense model written by frugal's GGUF writer (through frugal synth), counts
# recomputed independently from the JSON tensor list, and corrupt files
# giving "error: ..." with exit 1.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"
PY=/usr/bin/python3

expect_error() {  # expect_error "message part" file
  set +e
  "$FRUGAL" inspect "$2" >"$dir/out" 2>"$dir/err"
  local rc=$?
  set -e
  [[ $rc -eq 1 ]] || { cat "$dir/err"; fail "exit $rc (want 1) for $2"; }
  grep -q "^error: " "$dir/err" || { cat "$dir/err"; fail "no 'error:' line for $2"; }
  grep -q -- "$1" "$dir/err" || { cat "$dir/err"; fail "no '$1' in stderr for $2"; }
}

"$FRUGAL" -q synth --arch qwen3moe --preset tiny --type q8_0 --seed 3 -o "$dir/moe.gguf" >/dev/null
"$FRUGAL" -q synth --arch qwen3 --preset tiny --type f16 --seed 3 -o "$dir/dense.gguf" >/dev/null

# Text view.
"$FRUGAL" inspect "$dir/moe.gguf" >"$dir/moe.txt"
for want in "architecture:  qwen3moe" "GGUF v3, alignment 32" "qwen3moe.expert_count" \
    'tokenizer.ggml.tokens .*array<string>  \[[0-9]* strings: "Ā", "ā", "Ă", ...\]' \
    "blk.1.ffn_down_exps.weight  *q8_0  *\[" "experts:       8 per layer, 2 used per token" \
    "active per token" "read/token:"; do
  grep -q -- "$want" "$dir/moe.txt" || { cat "$dir/moe.txt"; fail "no '$want' in the text view"; }
done
"$FRUGAL" inspect "$dir/dense.gguf" >"$dir/dense.txt"
grep -q "active per token" "$dir/dense.txt" && fail "dense model shows active parameters"

# JSON view: every count recomputed here from the tensor list.
"$FRUGAL" inspect --json "$dir/moe.gguf" >"$dir/moe.json"
"$FRUGAL" inspect --json "$dir/dense.gguf" >"$dir/dense.json"
"$PY" - "$dir/moe.json" "$dir/dense.json" <<'EOF'
import json, sys
moe, dense = (json.load(open(p)) for p in sys.argv[1:3])
for j in (moe, dense):
    md = {m["key"]: m for m in j["metadata"]}
    assert md["general.architecture"]["value"] == j["architecture"]
    toks = md["tokenizer.ggml.tokens"]["value"]
    assert toks["count"] > 256 and len(toks["head"]) == 3, toks
    ts = j["tensors"]
    assert j["totals"]["tensors"] == len(ts)
    assert j["totals"]["parameters"] == sum(t["parameters"] for t in ts)
    assert j["totals"]["bytes"] == sum(t["bytes"] for t in ts)
    for t in ts:
        n = 1
        for d in t["shape"]: n *= d
        assert n == t["parameters"], t
        assert t["offset"] % j["alignment"] == 0
    assert sum(b["bytes"] for b in j["totals"]["by_type"]) == j["totals"]["bytes"]

m = moe["moe"]
assert (m["expert_count"], m["expert_used_count"]) == (8, 2), m
names = {t["name"]: t for t in moe["tensors"]}
exps = [t for t in moe["tensors"] if "_exps." in t["name"]]
assert len(exps) == 6
active = sum(t["parameters"] for t in moe["tensors"] if t not in exps) + sum(t["parameters"] * 2 // 8 for t in exps)
assert m["active_parameters"] == active, (m, active)
emb = names["token_embd.weight"]
per_token = (sum(t["bytes"] for t in moe["tensors"] if t not in exps and t is not emb)
             + sum(t["bytes"] * 2 // 8 for t in exps) + emb["bytes"] // emb["shape"][1])
assert "output.weight" in names and moe["tied_output"] is False
assert moe["bytes_per_token"] == per_token, (moe["bytes_per_token"], per_token)
assert "moe" not in dense
print("inspect json ok: %d parameters, %d active, %d bytes/token" % (moe["totals"]["parameters"], active, per_token))
EOF

# Corrupt files: exit 1 with a message naming the problem.
head -c 100 "$dir/moe.gguf" >"$dir/cut_header.gguf"
expect_error "tensor count 27 cannot fit in the file" "$dir/cut_header.gguf"
expect_error "byte offset 8" "$dir/cut_header.gguf"
size=$(stat -c %s "$dir/moe.gguf")
head -c $((size - 100)) "$dir/moe.gguf" >"$dir/cut_data.gguf"
expect_error "extends past the end of the file" "$dir/cut_data.gguf"
{ printf 'GGUX'; tail -c +5 "$dir/moe.gguf"; } >"$dir/magic.gguf"
expect_error "not a GGUF file" "$dir/magic.gguf"
: >"$dir/empty.gguf"
expect_error "truncated file: magic" "$dir/empty.gguf"
expect_error "cannot open" "$dir/missing.gguf"
echo "inspect_test: ok"

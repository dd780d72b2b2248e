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
assert m["active_parameters_without_embedding"] == active - emb["parameters"]
assert m["active_parameters_without_embedding_and_head"] == active - emb["parameters"] - names["output.weight"]["parameters"]
assert "moe" not in dense
print("inspect json ok: %d parameters, %d active, %d bytes/token" % (moe["totals"]["parameters"], active, per_token))
EOF

# A preset inspected without writing it (--arch/--preset/--type) is the file
# synth writes: the same text view but for the file line, and the same JSON
# (the file's size, offsets and per-token bytes included) but for its name.
"$FRUGAL" -q synth --arch glm4moe --preset tiny --type q4_k_m --seed 3 -o "$dir/glm.gguf" >/dev/null
"$FRUGAL" inspect "$dir/glm.gguf" >"$dir/glm_file.txt"
"$FRUGAL" inspect --arch glm4moe --preset tiny --type q4_k_m >"$dir/glm_preset.txt"
size_text=$(head -1 "$dir/glm_file.txt" | sed 's/.*(\(.*\))$/\1/')
[[ "$(head -1 "$dir/glm_preset.txt")" == "file:          synth glm4moe tiny at q4_k_m, not written ($size_text)" ]] ||
  { head -1 "$dir/glm_preset.txt"; fail "the preset view's file line"; }
diff <(tail -n +2 "$dir/glm_file.txt") <(tail -n +2 "$dir/glm_preset.txt") ||
  fail "the preset view differs from the written file's"
"$FRUGAL" inspect --json "$dir/glm.gguf" >"$dir/glm_file.json"
"$FRUGAL" inspect --json --arch glm4moe --preset tiny --type q4_k_m >"$dir/glm_preset.json"
"$PY" - "$dir/glm_file.json" "$dir/glm_preset.json" "$(stat -c %s "$dir/glm.gguf")" <<'EOF'
import json, sys
f, p = (json.load(open(x)) for x in sys.argv[1:3])
assert p["file_bytes"] == f["file_bytes"] == int(sys.argv[3]), (p["file_bytes"], f["file_bytes"], sys.argv[3])
for j in (f, p): del j["file"]
assert f == p
print("preset view ok: %d bytes, %d tensors" % (p["file_bytes"], len(p["tensors"])))
EOF

# The real-size presets of the newer families against their model cards (in
# billions): the card's total against the total less the next-token-prediction
# blocks; its active figure against everything a token runs, that less the
# embedding table, or less the table and the LM head, as each card counts.
while read -r arch preset total within active how; do
  "$FRUGAL" inspect --json --arch "$arch" --preset "$preset" --type q4_0 >"$dir/card.json"
  "$PY" - "$dir/card.json" "$total" "$active" "$how" "$arch $preset" "$within" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))["moe"]
total, active, how, name = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
ours_total = (m["total_parameters"] - m["nextn_parameters"]) / 1e9
key = {"all": "active_parameters", "no-embd": "active_parameters_without_embedding",
       "no-embd-head": "active_parameters_without_embedding_and_head"}[how]
ours_active = m[key] / 1e9
# Totals within the card's rounding (a column of the table: Kimi-K2's card
# says 1T; GLM-4.5's 355 B lies between 352.8 B without its next-token block
# and 356.8 B with it). Active counts cut to the card's last digit ("A3B" for
# 3.35 B) or rounded to it ("A10B" for 9.77 B).
assert abs(ours_total - total) <= float(sys.argv[6]), (name, ours_total, total)
unit = 0.1 if "." in sys.argv[3] else 1.0
assert -0.5 * unit <= ours_active - active < unit, (name, ours_active, active)
print("%-30s total %8.2f B (card %g), active %6.2f B (card %g, %s)" % (name, ours_total, total, ours_active, active, how))
EOF
done <<'CARDS'
gpt-oss gpt-oss-20b 21 0.5 3.6 no-embd
gpt-oss gpt-oss-120b 117 0.5 5.1 no-embd
glm4moe glm-4.5-air 106 1 12 no-embd-head
glm4moe glm-4.5 355 2.5 32 no-embd-head
deepseek2 deepseek-v3 671 0.5 37 all
deepseek2 kimi-k2 1000 50 32 all
qwen3next qwen3-next-80b-a3b 80 0.5 3 no-embd-head
qwen35moe qwen3.5-35b-a3b 35 0.5 3 all
qwen35moe qwen3.5-122b-a10b 122 0.5 10 all
qwen35moe qwen3.5-397b-a17b 397 1 17 all
deepseek4 deepseek-v4-flash 284 0.5 13 all
llama4 llama4-maverick 400 1 17 all
minimax-m2 minimax-m2 230 2 10 no-embd-head
bailingmoe2 ling-mini-2.0 16 0.5 1.4 all
bailingmoe2 ling-flash-2.0 100 3 6.1 all
hunyuan-moe hunyuan-a13b 80 0.5 13 all
CARDS

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
# A preset that does not exist, or a preset beside a file: errors naming them.
for args in "--arch glm4moe --preset glm-9" "--arch gpt9" "--arch glm4moe --type q9_9" "$dir/moe.gguf --arch glm4moe"; do
  set +e
  # shellcheck disable=SC2086  # the words are the arguments
  "$FRUGAL" inspect $args >"$dir/out" 2>"$dir/err"
  rc=$?
  set -e
  [[ $rc -eq 1 ]] && grep -q "^error: " "$dir/err" || { cat "$dir/err"; fail "inspect $args: exit $rc"; }
done
echo "inspect_test: ok"

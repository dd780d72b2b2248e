#!/usr/bin/env bash
# frugal run from the command line: greedy generation is deterministic and is
# the argmax chain of frugal logits; a seed fixes sampled output; --stop cuts
# the text; speeds go to stderr; bad input is a clear error (exit 1).
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"
PY=/usr/bin/python3

"$FRUGAL" -q synth --arch qwen3moe --preset tiny --type q8_0 -o "$dir/m.gguf"

# Greedy ids twice: identical, and each one the argmax of the logits of the
# prompt extended by the ids before it (recomputed from scratch).
prompt=256,72,101,108,108,111
"$FRUGAL" run -m "$dir/m.gguf" --prompt-ids $prompt --print-ids --temp 0 -n 16 --ignore-eos >"$dir/ids1" 2>"$dir/err1"
"$FRUGAL" run -m "$dir/m.gguf" --prompt-ids $prompt --print-ids --temp 0 -n 16 --ignore-eos >"$dir/ids2" 2>/dev/null
cmp "$dir/ids1" "$dir/ids2" || fail "greedy output differs between runs"
grep -q 'generation: 16 tokens' "$dir/err1" || fail "no generation speed on stderr: $(cat "$dir/err1")"
ids=$(tr ' ' ',' <"$dir/ids1" | tr -d '\n')
"$FRUGAL" -q logits -m "$dir/m.gguf" --tokens "$prompt,$ids" -o "$dir/logits.bin"
"$PY" - "$dir/logits.bin" "$prompt" "$ids" <<'PYEOF'
import sys, numpy as np
prompt = [int(x) for x in sys.argv[2].split(',')]
gen = [int(x) for x in sys.argv[3].split(',')]
n = len(prompt) + len(gen)
logits = np.fromfile(sys.argv[1], dtype='<f4').reshape(n, -1)
for k, tok in enumerate(gen):
    row = logits[len(prompt) - 1 + k]
    assert int(np.argmax(row)) == tok, f"step {k}: argmax {int(np.argmax(row))} but run gave {tok}"
PYEOF

# A seed fixes sampled text; text mode streams the decoded ids.
"$FRUGAL" run -m "$dir/m.gguf" -p "Hello" --seed 7 -n 24 >"$dir/s1" 2>/dev/null
"$FRUGAL" run -m "$dir/m.gguf" -p "Hello" --seed 7 -n 24 >"$dir/s2" 2>/dev/null
cmp "$dir/s1" "$dir/s2" || fail "same seed gave different text"

# --stop: the greedy text up to (not including) the stop string.
"$FRUGAL" run -m "$dir/m.gguf" -p "Hello" --temp 0 -n 24 >"$dir/full" 2>/dev/null
stop=$("$PY" -c "import sys; t=open(sys.argv[1],'rb').read().decode('utf-8','replace'); print(t[3:5], end='')" "$dir/full")
"$FRUGAL" run -m "$dir/m.gguf" -p "Hello" --temp 0 -n 24 --stop "$stop" >"$dir/cut" 2>"$dir/cuterr"
grep -q 'stop: stop' "$dir/cuterr" || fail "--stop did not stop: $(cat "$dir/cuterr")"
"$PY" - "$dir/full" "$dir/cut" "$stop" <<'PYEOF'
import sys
full = open(sys.argv[1], 'rb').read().decode('utf-8', 'replace')
cut = open(sys.argv[2], 'rb').read().decode('utf-8', 'replace')
stop = sys.argv[3]
want = full[:full.index(stop)] + "\n"
assert cut == want, (cut, want)
PYEOF

# -n -1 runs until the context is full (--ignore-eos: a random model may pick
# <|eos|>, which would end it first): 3 prompt tokens in 16 positions, 13
# more computed, and one last token sampled from the last logits.
"$FRUGAL" run -m "$dir/m.gguf" -p hi -n -1 -c 16 --temp 0 --print-ids --ignore-eos >"$dir/ctx" 2>"$dir/ctxerr"
grep -q 'stop: context' "$dir/ctxerr" || fail "no context stop: $(cat "$dir/ctxerr")"
[[ $(wc -w <"$dir/ctx") -eq 14 ]] || fail "want 14 ids before the context is full: $(cat "$dir/ctx")"

expect_error "give the prompt" run -m "$dir/m.gguf"
expect_error "not a token id" run -m "$dir/m.gguf" --prompt-ids 1,x
expect_error "outside the vocabulary" run -m "$dir/m.gguf" --prompt-ids 1,999999
expect_error "top-p must be in" run -m "$dir/m.gguf" -p hi --top-p 2
expect_error "no room in the context" run -m "$dir/m.gguf" -p "a long enough prompt" -c 8
# The default model: $FRUGAL_MODEL first (a missing file there is an error,
# not a silent fallback), then models/default.gguf beside the build, then in
# the checkout; with none of them, an error that names the paths tried.
FRUGAL_MODEL="$dir/missing.gguf" expect_error "FRUGAL_MODEL names $dir/missing.gguf, which does not exist" run -p hi
FRUGAL_MODEL="$dir/m.gguf" "$FRUGAL" run -p hi -n 2 --temp 0 >/dev/null 2>"$dir/err_env" || fail "FRUGAL_MODEL not used"
grep -q 'prompt: 3 tokens' "$dir/err_env" || fail "FRUGAL_MODEL: unexpected run: $(cat "$dir/err_env")"
if [[ -f $FRUGAL_SOURCE_DIR/models/default.gguf ]]; then
  env -u FRUGAL_MODEL "$FRUGAL" run -p hi -n 1 --temp 0 >/dev/null 2>&1 || fail "the default model does not run"
else
  # A copy of the binary away from the checkout tries beside itself, then the checkout.
  mkdir -p "$dir/x" && cp "$FRUGAL" "$dir/x/frugal"
  FRUGAL="$dir/x/frugal" FRUGAL_MODEL= expect_error "no default model found" run -p hi
  grep -q "tried: $dir/models/default.gguf, .*models/default.gguf" "$dir/err" || fail "paths tried not named: $(cat "$dir/err")"
fi
echo "run_test: ok"

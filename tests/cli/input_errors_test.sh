#!/usr/bin/env bash
# Inputs that used to be silently misread now give a clear error and exit 1:
# a folder where a text file belongs (tokenize -f, train-tokenizer --data,
# train --data),
# two texts at once (tokenize -p with -f), and malformed JSON, whose message
# must not carry the JSON library's internal tags.
set -euo pipefail
source "${FRUGAL_SOURCE_DIR:?}/tests/lib/cli_test_lib.sh"

"$FRUGAL" -q synth --arch qwen3moe --type f32 -o "$dir/m.gguf" >/dev/null
mkdir -p "$dir/texts"
echo "some text to read" >"$dir/texts/a.txt"

expect_error "cannot read '$dir/texts': it is a folder" tokenize -m "$dir/m.gguf" -f "$dir/texts"
expect_error "excludes" tokenize -m "$dir/m.gguf" -p "hello" -f "$dir/texts/a.txt"
expect_error "excludes" tokenize -m "$dir/m.gguf" -f "$dir/texts/a.txt" -p "hello"
"$FRUGAL" tokenize -m "$dir/m.gguf" -f "$dir/texts/a.txt" --ids >/dev/null || fail "tokenize -f FILE"

expect_error "is a folder" train-tokenizer --data "$dir/texts" --vocab-size 300 -o "$dir/tok.gguf"
[[ ! -e "$dir/tok.gguf" ]] || fail "train-tokenizer wrote a vocabulary from a folder"
expect_error "cannot read '$dir/texts': it is a folder" train --data "$dir/texts" --tokenizer "$dir/m.gguf" -o "$dir/x.gguf"

# Malformed JSON: a clear error without "[json.exception...]".
echo 'nope' >"$dir/bad.json"
echo '{"model": {"type": "BPE", "vocab": {"a": "x"}, "merges": []}}' >"$dir/types.json"
for f in bad types; do
  expect_error "JSON" tokenize --tokenizer-json "$dir/$f.json" -p hi
  if grep -q "json.exception" "$dir/err"; then cat "$dir/err"; fail "library text in the error for $f.json"; fi
done
echo "input_errors_test: ok"

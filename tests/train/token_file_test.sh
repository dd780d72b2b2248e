#!/usr/bin/env bash
# frugal train --write-tokens FILE, then --data FILE: the token file holds
# the training and validation ids as a run on the text splits them, so a run
# on it (reading each window at its offset) is the run on the text: the same
# metrics log and the same checkpoint bytes, and a checkpoint resumes on
# either. Bad token files and mixes are clear errors.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"

"$FRUGAL" synth --arch qwen3moe --type f32 -o "$dir/tok.gguf" >/dev/null
for i in $(seq 1 800); do echo "line $i: the quick brown fox jumps over the lazy dog $((i % 7))"; done >"$dir/text.txt"
common=(--tokenizer "$dir/tok.gguf" --embd 32 --layers 2 --heads 4 --heads-kv 2 --head-dim 8 --experts 4
        --experts-used 2 --ff-exp 32 --batch 4 --seq 32 --seed 5 -t 1 --print-every 1 --eval-every 3)

"$FRUGAL" train --data "$dir/text.txt" --tokenizer "$dir/tok.gguf" --write-tokens "$dir/corpus.tok" >"$dir/w.out"
grep -q "^wrote $dir/corpus.tok (.* training and .* validation token ids)" "$dir/w.out" || fail "$(cat "$dir/w.out")"

"$FRUGAL" train --data "$dir/text.txt" "${common[@]}" --steps 6 --log "$dir/text.jsonl" --checkpoint "$dir/text.ck" \
  -o "$dir/text.gguf" >/dev/null 2>&1
"$FRUGAL" train --data "$dir/corpus.tok" "${common[@]}" --steps 6 --log "$dir/file.jsonl" --checkpoint "$dir/file.ck" \
  -o "$dir/file.gguf" >/dev/null 2>"$dir/file.err"
cmp -s "$dir/text.ck" "$dir/file.ck" || fail "the token file's checkpoint differs from the text's"
# The logs differ only in the measured speed.
strip() { sed 's/"seconds":[^,]*,//; s/"tokens_per_second":[^,]*,//' "$1"; }  # timings differ
[[ "$(strip "$dir/text.jsonl")" == "$(strip "$dir/file.jsonl")" ]] || fail "the token file's curve differs"
# One process reads every window of its batches: 6 steps x 4 x 33 ids.
grep -q "ids read of the .* in $dir/corpus.tok: training 792, validation " "$dir/file.err" ||
  fail "no read count: $(cat "$dir/file.err")"

# A checkpoint of the text run resumes on the token file (and ends where both do).
"$FRUGAL" train --data "$dir/text.txt" "${common[@]}" --steps 8 --checkpoint-every 4 --checkpoint "$dir/a.ck" \
  -o "$dir/a.gguf" >/dev/null 2>&1
"$FRUGAL" train --data "$dir/text.txt" "${common[@]}" --steps 8 --checkpoint-every 4 --checkpoint "$dir/b.ck" \
  -o "$dir/b.gguf" >/dev/null 2>&1
"$FRUGAL" train --data "$dir/corpus.tok" "${common[@]}" --steps 8 --checkpoint "$dir/b.ck" --resume \
  -o "$dir/b.gguf" >/dev/null 2>"$dir/b.err"
grep -q "resumed at step 8" "$dir/b.err" || fail "did not resume: $(cat "$dir/b.err")"
cmp -s "$dir/a.ck" "$dir/b.ck" || fail "the resumed run's checkpoint differs"

expect_error "is a token file, which holds its validation ids" train --data "$dir/corpus.tok" "${common[@]}" \
  --steps 1 --val-data "$dir/text.txt" -o "$dir/x.gguf"
expect_error "is a token file: give it as the only --data" train --data "$dir/text.txt" "$dir/corpus.tok" \
  "${common[@]}" --steps 1 -o "$dir/x.gguf"
expect_error "is a token file already" train --data "$dir/corpus.tok" --tokenizer "$dir/tok.gguf" \
  --write-tokens "$dir/again.tok"
head -c 100 "$dir/corpus.tok" >"$dir/short.tok"
expect_error "truncated or corrupt" train --data "$dir/short.tok" "${common[@]}" --steps 1 -o "$dir/x.gguf"
# An id past the vocabulary (a damaged file) is an error when its window is read, not a crash:
# here the first validation id (after the 48-byte header and the training ids), read by the
# step-0 evaluation.
n_train=$(sed -n 's/^wrote .* (\([0-9]*\) training and .*/\1/p' "$dir/w.out")
cp "$dir/corpus.tok" "$dir/bad.tok"
printf '\xff\xff\xff\x7f' | dd of="$dir/bad.tok" bs=1 seek=$((48 + 4 * n_train)) conv=notrunc status=none
expect_error "holds the id 2147483647 (training or validation id 0), outside its vocabulary" \
  train --data "$dir/bad.tok" "${common[@]}" --steps 1 -o "$dir/x.gguf"
expect_error "-o is required" train --data "$dir/corpus.tok" "${common[@]}" --steps 1
"$FRUGAL" synth --arch qwen3moe --type f32 --vocab 300 -o "$dir/tok300.gguf" >/dev/null
expect_error "was written with a vocabulary of" train --data "$dir/corpus.tok" --tokenizer "$dir/tok300.gguf" \
  --embd 32 --layers 2 --heads 4 --heads-kv 2 --head-dim 8 --experts 4 --experts-used 2 --ff-exp 32 --batch 4 \
  --seq 32 --steps 1 -t 1 -o "$dir/x.gguf"
echo OK

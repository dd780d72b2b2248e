#!/usr/bin/env bash
# Where commands write: a symbolic link as the output path stays a link (its
# target gets the new file), a FIFO (standing in for /dev/null and other
# devices, which a test must not risk) is written through and stays a FIFO,
# a folder is refused, and a second trainer on a checkpoint in use stops with
# a clear error. Covers synth, quantize, logits, train -o/--checkpoint/--log,
# train-tokenizer -o/--json, plot -o and data's train.txt/val.txt.
set -euo pipefail
source "${FRUGAL_SOURCE_DIR:?}/tests/lib/cli_test_lib.sh"

# through_fifo NAME command...: runs the command, whose output path is the
# FIFO $dir/NAME, with a reader on the other end; the FIFO must stay a FIFO
# and the reader must get bytes.
through_fifo() {
  local fifo="$dir/$1"; shift
  rm -f "$fifo" "$fifo.got"
  mkfifo "$fifo"
  timeout 60 cat "$fifo" >"$fifo.got" &
  local reader=$!
  "$@" >/dev/null 2>"$dir/fifo.err" || { cat "$dir/fifo.err"; fail "writing into a FIFO: $*"; }
  wait $reader || fail "the FIFO's reader got no end of file: $*"
  [[ -p "$fifo" ]] || fail "the FIFO was replaced by a regular file: $*"
  [[ -s "$fifo.got" ]] || fail "nothing came through the FIFO: $*"
}

# A symbolic link as output: still a link afterwards, its target rewritten.
linked() {  # linked NAME: makes $dir/NAME -> real/NAME and prints the link's path
  mkdir -p "$dir/real"
  echo old >"$dir/real/$1"
  ln -sf "real/$1" "$dir/$1"
  echo "$dir/$1"
}
check_linked() {
  [[ -L "$dir/$1" ]] || fail "$1: the symbolic link was replaced by a file"
  ! cmp -s <(echo old) "$dir/real/$1" || fail "$1: the link's target was not written"
}

# synth and quantize
"$FRUGAL" -q synth --arch qwen3moe --type f32 -o "$(linked synth.gguf)" >/dev/null
check_linked synth.gguf
"$FRUGAL" inspect "$dir/synth.gguf" >/dev/null || fail "the model written through a link does not load"
through_fifo synth.fifo "$FRUGAL" -q synth --arch llama -o "$dir/synth.fifo"
"$FRUGAL" -q quantize "$dir/synth.gguf" "$(linked q.gguf)" q8_0 >/dev/null
check_linked q.gguf
through_fifo q.fifo "$FRUGAL" -q quantize "$dir/synth.gguf" "$dir/q.fifo" q8_0
expect_error "is a folder" synth --arch llama -o "$dir"
"$FRUGAL" -q logits -m "$dir/synth.gguf" --tokens 1,2,3 -o "$(linked logits.bin)" || fail "logits through a link"
check_linked logits.bin

# train-tokenizer
for i in $(seq 1 200); do echo "line $i: the quick brown fox jumps over the lazy dog"; done >"$dir/text.txt"
"$FRUGAL" train-tokenizer --data "$dir/text.txt" --vocab-size 280 -o "$(linked tok.gguf)" \
  --json "$(linked tokenizer.json)" >/dev/null 2>&1 || fail "train-tokenizer through links"
check_linked tok.gguf
check_linked tokenizer.json
through_fifo tok.fifo "$FRUGAL" train-tokenizer --data "$dir/text.txt" --vocab-size 280 -o "$dir/tok.fifo"

# train: -o, --checkpoint and --log through links
model=(--data "$dir/text.txt" --tokenizer "$dir/tok.gguf" --embd 16 --layers 1 --heads 2 --heads-kv 1 --head-dim 8
       --experts 2 --experts-used 1 --ff-exp 16 --batch 2 --seq 16 -t 1)
run=("${model[@]}" --steps 2)
"$FRUGAL" train "${run[@]}" -o "$(linked model.gguf)" --checkpoint "$(linked run.ck)" --log "$(linked m.jsonl)" \
  >/dev/null 2>&1 || fail "train through links"
check_linked model.gguf
check_linked run.ck
check_linked m.jsonl
[[ ! -e "$dir/real/run.ck.lock" ]] || fail "the checkpoint lock was left behind"
through_fifo model.fifo "$FRUGAL" train "${run[@]}" -o "$dir/model.fifo"
# --resume at the last step rewrites the log through its link too.
"$FRUGAL" train "${run[@]}" -o "$dir/model2.gguf" --checkpoint "$dir/run.ck" --resume --log "$dir/m.jsonl" \
  >/dev/null 2>&1 || fail "train --resume through links"
[[ -L "$dir/m.jsonl" ]] || fail "the resumed log's link was replaced"

# Two trainers on one checkpoint: the second stops with a clear error.
"$FRUGAL" train "${model[@]}" --steps 100000000 -o "$dir/long.gguf" --checkpoint "$dir/shared.ck" >/dev/null 2>&1 &
first=$!
trap 'kill $first 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 200); do [[ -e "$dir/shared.ck.lock" ]] && break; sleep 0.05; done
[[ -e "$dir/shared.ck.lock" ]] || fail "the first trainer took no lock"
expect_error "in use by another process (pid $first)" train "${run[@]}" -o "$dir/other.gguf" --checkpoint "$dir/shared.ck"
kill $first
wait $first 2>/dev/null || true

# plot
"$FRUGAL" plot "$dir/m.jsonl" -o "$(linked fig.svg)" >/dev/null
check_linked fig.svg
through_fifo fig.fifo "$FRUGAL" plot "$dir/m.jsonl" -o "$dir/fig.fifo"

# data: train.txt and val.txt in the output folder
printf 'One document long enough to keep.\n\nAnother document long enough to keep.\n' >"$dir/raw.txt"
mkdir -p "$dir/corpus"
ln -sf ../real/train.txt "$dir/corpus/train.txt"
echo old >"$dir/real/train.txt"
"$FRUGAL" -q data "$dir/raw.txt" --val-fraction 0 -o "$dir/corpus" >/dev/null
[[ -L "$dir/corpus/train.txt" ]] || fail "data replaced the linked train.txt"
grep -q "Another document" "$dir/real/train.txt" || fail "data did not write through the link"
echo "outputs_test: ok"

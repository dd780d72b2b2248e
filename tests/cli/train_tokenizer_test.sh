#!/usr/bin/env bash
# frugal train-tokenizer from the command line: the vocabulary size asked for,
# a GGUF file that frugal tokenize reads, a tokenizer.json that it reads back
# to the same ids, ChatML specials and template, clear errors.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"

for i in $(seq 1 300); do
  echo "Line $i: the quick brown fox jumps over the lazy dog, and the cat sleeps.<|endoftext|>"
done >"$dir/text.txt"
printf 'Grüße aus Köln! Привет, мир. 你好世界 🙂\n' >>"$dir/text.txt"

"$FRUGAL" train-tokenizer --data "$dir/text.txt" --vocab-size 300 --chat-template chatml \
  -o "$dir/tok.gguf" --json "$dir/hf/tokenizer.json" >"$dir/stdout" 2>"$dir/stderr" || { cat "$dir/stderr"; fail "train-tokenizer"; }
grep -q "300 tokens (256 bytes, 3 special, 41 merges), ChatML chat template" "$dir/stdout" || { cat "$dir/stdout"; fail "summary"; }
[[ -f "$dir/hf/tokenizer.json" && -f "$dir/hf/tokenizer_config.json" ]] || fail "tokenizer.json not written"
"$FRUGAL" inspect "$dir/tok.gguf" >"$dir/inspect" 2>&1 || { cat "$dir/inspect"; fail "inspect"; }

text='the lazy dog<|im_end|> Grüße 🙂'
a=$("$FRUGAL" tokenize -m "$dir/tok.gguf" -p "$text" --ids)
b=$("$FRUGAL" tokenize --tokenizer-json "$dir/hf/tokenizer.json" -p "$text" --ids)
[[ "$a" == "$b" ]] || fail "GGUF and tokenizer.json disagree: $a vs $b"
grep -qw 258 <<<"$a" || fail "<|im_end|> (258) not split out: $a"
back=$("$FRUGAL" tokenize -m "$dir/tok.gguf" --decode "$(tr ' ' , <<<"$a")")
[[ "$back" == "$text" ]] || fail "decode(encode) = '$back'"
echo '{"messages":[{"role":"user","content":"hi"}],"add_generation_prompt":true}' \
  | "$FRUGAL" tokenize -m "$dir/tok.gguf" --chat-jsonl >"$dir/chat"
grep -qF '"<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"' "$dir/chat" || { cat "$dir/chat"; fail "chat template"; }

expect_error "below the 257 tokens" train-tokenizer --data "$dir/text.txt" --vocab-size 100 -o "$dir/x.gguf"
expect_error "cannot open" train-tokenizer --data "$dir/missing.txt" --vocab-size 300 -o "$dir/x.gguf"
expect_error "cannot be trained" train-tokenizer --data "$dir/text.txt" --vocab-size 300 --pre bert -o "$dir/x.gguf"
expect_error "unknown --chat-template 'alpaca'" train-tokenizer --data "$dir/text.txt" --vocab-size 300 --chat-template alpaca -o "$dir/x.gguf"
[[ ! -e "$dir/x.gguf" ]] || fail "a failed run left a file"
echo "train_tokenizer_test: ok"

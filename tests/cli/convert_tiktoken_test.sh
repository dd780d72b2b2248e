#!/usr/bin/env bash
# frugal convert of a checkpoint whose tokenizer is a tiktoken vocabulary
# (tiktoken.model and tokenizer_config.json, as Kimi-K2's Hugging Face files
# ship it, no tokenizer.json): the GGUF gets the byte-level tokens, the
# merges recovered from the ranks, the kimi-k2 pre-tokenizer, the special
# tokens and their ids, padded to config.json's vocab_size; the converted
# model tokenizes as the tiktoken file itself does. A folder without
# tokenizer_config.json is an error naming it, with nothing written.
set -euo pipefail
source "${FRUGAL_SOURCE_DIR:?}/tests/lib/cli_test_lib.sh"

"$FRUGAL" synth --arch deepseek2 --preset tiny-k2 --type f32 --format hf -o "$dir/hf" >/dev/null 2>&1
rm "$dir/hf/tokenizer.json"
# 256 byte tokens (in an order of their own), a few merged ones, two specials.
/usr/bin/python3 - "$dir/hf" <<'PY'
import base64, json, os, sys
d = sys.argv[1]
ranks = [bytes([b]) for b in range(255, -1, -1)] + [b"th", b"he", b"the", b"e ", b"the ", b" t", b" the"]
with open(os.path.join(d, "tiktoken.model"), "w") as f:
    for r, t in enumerate(ranks):
        f.write(f"{base64.b64encode(t).decode()} {r}\n")
n = len(ranks)
json.dump({"auto_map": {"AutoTokenizer": ["tokenization_kimi.TikTokenTokenizer", None]},
           "added_tokens_decoder": {str(n): {"content": "[BOS]", "special": True},
                                    str(n + 1): {"content": "[EOS]", "special": True}},
           "bos_token": "[BOS]", "eos_token": "[EOS]"}, open(os.path.join(d, "tokenizer_config.json"), "w"))
PY
"$FRUGAL" convert "$dir/hf" -o "$dir/k2.gguf" >/dev/null 2>&1 || fail "convert of a tiktoken checkpoint failed"
"$FRUGAL" inspect "$dir/k2.gguf" >"$dir/inspect"
grep -q 'tokenizer.ggml.pre .*"kimi-k2"' "$dir/inspect" || fail "no kimi-k2 pre-tokenizer: $(grep pre "$dir/inspect")"
grep -q 'tokenizer.ggml.tokens .*\[512 strings' "$dir/inspect" || fail "tokens not padded to vocab_size: $(grep ggml.tokens "$dir/inspect")"
grep -q 'tokenizer.ggml.bos_token_id .* 263$' "$dir/inspect" || fail "bos id: $(grep bos_token_id "$dir/inspect")"
text="then the theme [EOS] ok"
want=$("$FRUGAL" tokenize --tokenizer-json "$dir/hf/tiktoken.model" -p "$text" --ids)
got=$("$FRUGAL" tokenize -m "$dir/k2.gguf" -p "$text" --ids)
[[ "$got" == "$want" ]] || fail "converted model tokenizes '$text' as $got, the tiktoken file as $want"
# Byte b is rank 255 - b; "the" 258, " the" 262, [EOS] 264: "the"+"n",
# " the", " the"+"m"+"e", " ", [EOS], " "+"o"+"k".
[[ "$want" == "258 145 262 262 146 154 223 264 223 144 148" ]] || fail "unexpected ids for '$text': $want"

rm "$dir/hf/tokenizer_config.json"
expect_error "tokenizer_config.json is missing" convert "$dir/hf" -o "$dir/k2b.gguf"
[[ ! -e "$dir/k2b.gguf" ]] || fail "a refused conversion wrote its output"
echo ok

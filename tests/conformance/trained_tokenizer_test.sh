#!/usr/bin/env bash
# A tokenizer trained by frugal train-tokenizer encodes the same in frugal (GGUF
# and tokenizer.json) and in Hugging Face tokenizers' JavaScript port.
set -euo pipefail
cd "$FRUGAL_SOURCE_DIR/tests/conformance"
if [ ! -d node_modules/@lenml/tokenizers ]; then
  echo "peers missing: run scripts/install-test-peers" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
node trained_tokenizer_compare.js "$FRUGAL" "$work"

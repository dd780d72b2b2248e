#!/usr/bin/env bash
# frugal serve's chat page in headless chromium (chat_page_browser.js): a
# tiny synth model on loopback, a message streamed and stopped, the next one
# answered, markup in answers kept as text, the Content-Security-Policy; then
# a server with --api-key and the page's key field (chat_page_key.js).
# Skipped, saying so, without Debian's chromium or the playwright-core peer
# (scripts/install-test-peers installs both). FRUGAL_SCREENSHOT=FILE.png
# also saves the page after the second answer (docs/chat-page.png).
set -euo pipefail
source "$FRUGAL_SOURCE_DIR/tests/lib/cli_test_lib.sh"
peers="$FRUGAL_SOURCE_DIR/tests/conformance"
chromium=$(command -v chromium || true)
if [ -z "$chromium" ]; then
  echo "SKIP: chromium is absent (scripts/install-test-peers installs it)"
  exit 0
fi
if [ ! -f "$peers/node_modules/playwright-core/package.json" ]; then
  echo "SKIP: playwright-core is absent (scripts/install-test-peers installs it)"
  exit 0
fi
"$FRUGAL" synth --arch qwen3moe --preset tiny --ctx 32768 --seed 7 -o "$dir/tiny.gguf" >/dev/null 2>&1
start_serve -m "$dir/tiny.gguf" --host 127.0.0.1 --port 0 -t 1 --parallel 2 -c 32768 --seed 1
(cd "$peers" && timeout 240 node chat_page_browser.js "http://127.0.0.1:$serve_port" "$chromium" ${FRUGAL_SCREENSHOT:-})
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
start_serve -m "$dir/tiny.gguf" --host 127.0.0.1 --port 0 -t 1 --parallel 2 -c 4096 --seed 1 --api-key sk-page-1
(cd "$peers" && timeout 60 node chat_page_key.js "http://127.0.0.1:$serve_port" "$chromium" sk-page-1)
echo "chat_page_browser_test: ok"

#!/usr/bin/env bash
# frugal serve from the command line: with no -m it serves the bundled default
# model, prints the port it listens on, answers an OpenAI completion and a
# streamed chat completion with real text, and stops cleanly (exit 0) on
# SIGTERM; bad flags and a port in use are clear errors. Loopback only.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"
PY=/usr/bin/python3

expect_error "--parallel must be at least 1" serve --parallel 0 --port 0
expect_error "must be at least --parallel" serve --parallel 8 -b 4 --port 0
expect_error "top-p must be in" serve --top-p 3 --port 0

start_serve --port 0 -t 1 --parallel 2
pid=$serve_pid port=$serve_port
grep -q "default on http" "$dir/serve.err" || fail "the default model is not the one served: $(cat "$dir/serve.err")"

# The same port again: in use.
expect_error "cannot listen on 127.0.0.1:$port" serve --port "$port"

"$PY" - "$port" <<'PYEOF'
import json, sys, urllib.request, urllib.error
base = f"http://127.0.0.1:{sys.argv[1]}"
def post(path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    return urllib.request.urlopen(req, timeout=60)
models = json.load(urllib.request.urlopen(base + "/v1/models", timeout=10))
assert models["data"][0]["id"] == "default", models
r = json.load(post("/v1/completions", {"prompt": "The secret of happiness is", "max_tokens": 16, "temperature": 0}))
text = r["choices"][0]["text"]
assert r["usage"]["completion_tokens"] >= 1 and text.strip(), r
print("completion:", repr(text))
chunks, done = [], False
with post("/v1/chat/completions", {"messages": [{"role": "user", "content": "Tell me a fortune."}],
                                   "max_tokens": 16, "stream": True, "temperature": 0}) as s:
    for line in s:
        line = line.decode().strip()
        if not line.startswith("data: "):
            continue
        if line == "data: [DONE]":
            done = True
            break
        delta = json.loads(line[6:])["choices"][0]["delta"]
        chunks.append(delta.get("content", ""))
assert done and "".join(chunks).strip(), chunks
print("chat:", repr("".join(chunks)))
try:
    post("/v1/completions", {"prompt": "x", "max_tokens": "many"})
    raise SystemExit("a bad max_tokens was accepted")
except urllib.error.HTTPError as e:
    body = json.load(e)
    assert e.code == 400 and body["error"]["param"] == "max_tokens", body
PYEOF

kill -TERM $pid
for _ in $(seq 1 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && fail "serve did not stop within 10 s of SIGTERM"
set +e; wait $pid; rc=$?; set -e
[[ $rc -eq 0 ]] || fail "serve exited $rc after SIGTERM: $(cat "$dir/serve.err")"
grep -q "stopping" "$dir/serve.err" || fail "no stopping message: $(cat "$dir/serve.err")"
echo "serve_test: ok"

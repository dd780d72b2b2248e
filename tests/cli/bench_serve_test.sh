#!/usr/bin/env bash
# frugal bench-serve against frugal serve on loopback (the default model):
# 4 clients and 12 short streamed requests all succeed, with tokens, a time to
# first token and ordered percentiles in the JSON, for completions and chat;
# the server's usage chunk gives the counts; a shared system prompt reaches
# the server. Bad flags, a dead server, a server that never answers and
# failing requests are clear errors with exit 1, each in bounded time.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"
PY=/usr/bin/python3

expect_error "--url is required" bench-serve
expect_error "only http://" bench-serve --url https://127.0.0.1:1
expect_error "port must be a number" bench-serve --url http://127.0.0.1:70000
expect_error "--clients must be from 1" bench-serve --url http://127.0.0.1:1 --clients 0
expect_error "--requests must be at least 1" bench-serve --url http://127.0.0.1:1 --requests 0
expect_error "the range is reversed" bench-serve --url http://127.0.0.1:1 --prompt-tokens 9-3
expect_error "--max-tokens 'x'" bench-serve --url http://127.0.0.1:1 --max-tokens x
expect_error "--timeout must be more than 0" bench-serve --url http://127.0.0.1:1 --timeout 0
expect_error "--price-per-hour must not be negative" bench-serve --url http://127.0.0.1:1 --price-per-hour -1

# A dead server: nothing listens on the port: refused at once, not after the
# request timeout. The port stays bound (without listening) while it is
# used, so no other test's server can be given it meanwhile.
"$PY" - "$dir/dead.port" <<'PYEOF' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0))
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
time.sleep(30)
PYEOF
dead_pid=$!
trap 'kill $dead_pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do [[ -s "$dir/dead.port" ]] && break; sleep 0.1; done
dead=$(cat "$dir/dead.port")
start=$SECONDS
expect_error "cannot connect to 127.0.0.1:$dead" bench-serve --url "http://127.0.0.1:$dead" --timeout 60
(( SECONDS - start < 10 )) || fail "a dead server took $((SECONDS - start)) s"
kill $dead_pid 2>/dev/null || true

# A server that accepts and never answers: every request ends at --timeout.
"$PY" - "$dir/mute.port" <<'PYEOF' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(64)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
held = []
end = time.time() + 30
s.settimeout(1)
while time.time() < end:
    try: held.append(s.accept()[0])
    except socket.timeout: pass
PYEOF
mute_pid=$!
trap 'kill $mute_pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do [[ -s "$dir/mute.port" ]] && break; sleep 0.1; done
start=$SECONDS
expect_error "2 of 2 requests failed (2x timed out waiting for the response)" \
  bench-serve --url "http://127.0.0.1:$(cat "$dir/mute.port")" --clients 2 --requests 2 --timeout 1
(( SECONDS - start < 10 )) || fail "a mute server took $((SECONDS - start)) s"
kill $mute_pid 2>/dev/null || true

# A server in the manner of others: no usage chunk (the text events are
# counted), the body ended by closing the connection or chunked in pieces of
# 5 bytes that split lines (and a chunk extension); 20 ms between events.
"$PY" - "$dir/sse.port" <<'PYEOF' &
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
open(sys.argv[1], "w").write(str(s.getsockname()[1]))
s.settimeout(20)
n = 0
while n < 2:
    c, _ = s.accept()
    c.settimeout(20)
    req = b""
    while b"\r\n\r\n" not in req:
        got = c.recv(4096)
        if not got: break  # bench-serve's probe: connects and closes
        req += got
    if not got: continue
    head, body = req.split(b"\r\n\r\n", 1)
    length = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
    while len(body) < length: body += c.recv(4096)
    events = [b'data: {"choices":[{"index":0,"text":"%d"}]}\n\n' % i for i in range(3)]
    events += [b'data: {"choices":[{"index":0,"text":"","finish_reason":"length"}]}\n\n', b"data: [DONE]\n\n"]
    chunked = n % 2 == 1
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n" +
              (b"Transfer-Encoding: chunked\r\n" if chunked else b"") + b"\r\n")
    for e in events:
        time.sleep(0.02)
        if chunked:
            for i in range(0, len(e), 5):
                c.sendall(b"%x;x=y\r\n%s\r\n" % (len(e[i:i + 5]), e[i:i + 5]))
        else:
            c.sendall(e)
    if chunked: c.sendall(b"0\r\n\r\n")
    c.close()
    n += 1
PYEOF
sse_pid=$!
trap 'kill $sse_pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do [[ -s "$dir/sse.port" ]] && break; sleep 0.1; done
"$FRUGAL" bench-serve --url "http://127.0.0.1:$(cat "$dir/sse.port")" -c 1 -n 2 --timeout 20 --json >"$dir/sse.json" 2>"$dir/bs.err" ||
  fail "against the plain SSE server: $(cat "$dir/sse.json" "$dir/bs.err")"
"$PY" - "$dir/sse.json" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["ok"] == 2 and j["usage_reported"] == 0 and j["output_tokens"] == 6, j
assert j["itl_ms"]["p50"] >= 15 and j["ttft_ms"]["p50"] >= 15, j
PYEOF
wait $sse_pid

start_serve --port 0 -t 1 --parallel 4

check_json() {  # check_json FILE: 12 requests, all ok, tokens, timings
  "$PY" - "$1" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["requests"] == 12 and j["ok"] == 12 and j["failed"] == 0 and j["errors"] == [], j
assert j["output_tokens"] > 0 and j["output_tokens_per_second"] > 0, j
# Every answer is as long as asked (ignore_eos), counted by the usage chunk.
assert j["usage_reported"] == 12 and 12 * 4 <= j["output_tokens"] <= 12 * 8, j
assert 0 < j["ttft_ms"]["p50"] <= j["ttft_ms"]["p99"], j
assert 0 <= j["itl_ms"]["p50"] <= j["itl_ms"]["p99"] and j["itl_ms"]["p99"] > 0, j
assert j["usd_per_million_output_tokens"] > 0 and j["price_per_hour_usd"] == 0.5, j
print(sys.argv[1], "ok:", j["output_tokens"], "tokens,", round(j["output_tokens_per_second"]), "tok/s")
PYEOF
}

url="http://127.0.0.1:$serve_port"
"$FRUGAL" bench-serve --url "$url" --clients 4 --requests 12 --prompt-tokens 6-12 --max-tokens 4-8 --timeout 60 \
  --price-per-hour 0.5 --json >"$dir/completions.json" 2>"$dir/bs.err" || fail "bench-serve failed: $(cat "$dir/completions.json")"
check_json "$dir/completions.json"
"$FRUGAL" bench-serve --url "$url" --clients 4 --requests 12 --prompt-tokens 6-12 --max-tokens 4-8 --timeout 60 \
  --price-per-hour 0.5 --chat --system-prompt-tokens 20 --json >"$dir/chat.json" 2>"$dir/bs.err" || fail "chat failed"
check_json "$dir/chat.json"
# The shared system prompt is in every prompt: at least 20 more tokens each.
"$PY" - "$dir/completions.json" "$dir/chat.json" <<'PYEOF'
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
assert a["prompt_tokens_reported"] >= 12 * 6, a
assert b["prompt_tokens_reported"] >= a["prompt_tokens_reported"] + 12 * 20, (a, b)
PYEOF

# The table; the same seed gives the same prompts (the same token counts,
# whatever the number of clients).
"$FRUGAL" bench-serve --url "$url/" -c 2 -n 12 --prompt-tokens 6-12 --max-tokens 4-8 --seed 7 --timeout 60 >"$dir/table" 2>"$dir/bs.err"
grep -q "| *2 | *12 | *12 | *0 |" "$dir/table" || fail "table: $(cat "$dir/table")"
grep -q "usage chunk came with 12 of 12" "$dir/table" || fail "table: $(cat "$dir/table")"
"$FRUGAL" bench-serve --url "$url" -c 3 -n 12 --prompt-tokens 6-12 --max-tokens 4-8 --seed 7 --timeout 60 >"$dir/again" 2>"$dir/bs.err"
[[ "$(grep -o 'prompt tokens in those: [0-9]*' "$dir/table")" == "$(grep -o 'prompt tokens in those: [0-9]*' "$dir/again")" ]] ||
  fail "seed 7 twice: $(cat "$dir/table" "$dir/again")"

# Requests the server refuses (prompt beyond its context): the report, then
# exit 1 naming the server's reason.
expect_error "3 of 3 requests failed (.x HTTP 400: the prompt has" bench-serve --url "$url" -c 2 -n 3 --prompt-tokens 400 --timeout 60
grep -q "| *2 | *3 | *0 | *3 |" "$dir/out" || fail "no report before the error: $(cat "$dir/out")"
kill -0 "$serve_pid" || fail "the server died"
echo "bench_serve_test: ok"

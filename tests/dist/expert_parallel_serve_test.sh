#!/usr/bin/env bash
# mpirun -np 2 frugal serve --expert-parallel on this machine (loopback
# only): rank 0 serves HTTP and the other rank runs every forward pass with
# it. Several concurrent completions (streamed and whole, n = 2 choices, a
# second round that reuses cached prefixes) give the same tokens as one
# process's server at temperature 0; SIGTERM to rank 0 ends both ranks with
# status 0 and the end-of-run report; a rank that stalls ends the job with
# a clear error. The same requests through 2 ranks with --attention-dp
# (each request's slot computed on one rank, logits gathered on rank 0, KV
# rows moved for n choices and reused prefixes across ranks) give the same
# tokens too, after a stream cancelled by its client, and with
# --attention-first-rank (every slot on rank 0). Skipped, saying why,
# where mpirun or frugal's MPI build is missing.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"
source "$(dirname "$0")/../lib/mpi_test_lib.sh"
PY=/usr/bin/python3

m="$dir/moe.gguf"
"$FRUGAL" -q synth --arch qwen3moe --type q8_0 -o "$m" >/dev/null
serve_flags=(-m "$m" --port 0 -t 1 --parallel 3 --ctx-size 256)

# ask PORT OUT: two rounds of six concurrent requests; OUT gets each answer's
# tokens and text, in request order.
ask() {
  "$PY" - "$1" "$2" <<'PYEOF'
import json, sys, threading, urllib.request
base, out = f"http://127.0.0.1:{sys.argv[1]}", sys.argv[2]
words = "the king of a night sword love and rain house to sea".split()
def prompt(i):
    return " ".join(words[(i * 5 + k) % len(words)] for k in range(8 + 9 * i))
def ask(i, results):
    body = {"prompt": prompt(i), "max_tokens": 10 + i, "temperature": 0, "ignore_eos": True, "logprobs": 0,
            "stream": i % 2 == 1}
    if i == 4:
        body["n"] = 2
    req = urllib.request.Request(base + "/v1/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    choices = {}
    with urllib.request.urlopen(req, timeout=100) as r:
        if not body["stream"]:
            for c in json.load(r)["choices"]:
                choices[c["index"]] = [c["text"], c["logprobs"]["tokens"]]
        else:
            for line in r:
                line = line.decode().strip()
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                for c in json.loads(line[6:])["choices"]:
                    got = choices.setdefault(c["index"], ["", []])
                    got[0] += c["text"]
                    got[1] += (c.get("logprobs") or {}).get("tokens", [])
    results[i] = [choices[k] for k in sorted(choices)]
answers = []
for round in range(2):
    results = {}
    threads = [threading.Thread(target=ask, args=(i, results)) for i in range(6)]
    for t in threads: t.start()
    for t in threads: t.join(120)
    assert len(results) == 6, sorted(results)
    answers += [results[i] for i in range(6)]
for a in answers:
    for text, tokens in a:
        assert len(tokens) >= 10 and "".join(tokens) == text, (text, tokens)
metrics = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
cached = [l for l in metrics.split("\n") if l.startswith("frugal_prompt_tokens_cached_total ")]
assert cached and int(cached[0].split()[1]) > 0, cached
json.dump(answers, open(out, "w"), indent=1)
PYEOF
}

start_serve "${serve_flags[@]}"
ask "$serve_port" "$dir/one.json"
kill -TERM "$serve_pid"
wait "$serve_pid" || fail "one process's server exited $?"

# start_ranks [env...]: the 2-rank server in the background (mpirun's
# stderr in $dir/ranks.err), with the flags in rank_flags; sets ranks_pid
# and ranks_port.
rank_flags=()
start_ranks() {
  : >"$dir/ranks.err"
  env "$@" timeout -k 5 120 mpirun --oversubscribe --bind-to none -np 2 "$FRUGAL" serve "${serve_flags[@]}" \
    --expert-parallel --ep-timeout 3 "${rank_flags[@]}" >"$dir/ranks.out" 2>"$dir/ranks.err" &
  ranks_pid=$!
  trap 'kill $ranks_pid 2>/dev/null || true; rm -rf "$dir"' EXIT
  wait_for_address $ranks_pid "$dir/ranks.err" 300 "the 2-rank server"
  ranks_port=$address_port
}

start_ranks
# Idle for longer than --ep-timeout: rank 0's keep-alives hold the job.
sleep 4
ask "$ranks_port" "$dir/two.json"
cmp "$dir/one.json" "$dir/two.json" || fail "2 ranks answer otherwise than one process: $(diff "$dir/one.json" "$dir/two.json" | head -20)"
# SIGTERM to rank 0 (the process listening on the port) stops both ranks.
stop_ranks() {
  local rank0 rc
  rank0=$(ss -ltnpH "sport = :$ranks_port" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -1)
  [[ -n "$rank0" ]] || fail "no process listens on $ranks_port"
  kill -TERM "$rank0"
  set +e; wait "$ranks_pid"; rc=$?; set -e
  [[ $rc -eq 0 ]] || fail "the ranks exited $rc after SIGTERM to rank 0: $(cat "$dir/ranks.err")"
  grep -q "^expert-parallel rank 1: experts 4\.\.7 | rows computed [1-9][0-9]* " "$dir/ranks.err" ||
    fail "no report of rank 1: $(cat "$dir/ranks.err")"
}
stop_ranks

# Attention data-parallel: each request on one rank, the same answers.
# A stream whose client leaves after its first bytes is cancelled first.
rank_flags=(--attention-dp)
start_ranks
sleep 4
timeout 60 curl -sN "http://127.0.0.1:$ranks_port/v1/completions" \
  -d '{"prompt": "the king of", "max_tokens": 200, "ignore_eos": true, "stream": true}' | head -c 1 >/dev/null || true
ask "$ranks_port" "$dir/dp.json"
cmp "$dir/one.json" "$dir/dp.json" ||
  fail "2 ranks with --attention-dp answer otherwise than one process: $(diff "$dir/one.json" "$dir/dp.json" | head -20)"
# The server sees the client gone when a write fails, which on a loaded
# machine may come after the answers above: up to 10 s.
cancelled=0
for _ in $(seq 1 50); do
  curl -s "http://127.0.0.1:$ranks_port/metrics" | grep -q '^frugal_requests_cancelled_total 1$' && { cancelled=1; break; }
  sleep 0.2
done
((cancelled)) ||
  fail "the stream left by its client was not cancelled: $(curl -s "http://127.0.0.1:$ranks_port/metrics" | grep cancel)"
stop_ranks
grep -q "^attention data-parallel serving: logits and KV rows moved between ranks: " "$dir/ranks.err" ||
  fail "no report of the logits and KV rows moved: $(cat "$dir/ranks.err")"

# Attention on rank 0 alone: every request's slot there, rank 1 computing
# routed experts only; the same answers.
rank_flags=(--attention-first-rank)
start_ranks
ask "$ranks_port" "$dir/first.json"
cmp "$dir/one.json" "$dir/first.json" ||
  fail "2 ranks with --attention-first-rank answer otherwise than one process: $(diff "$dir/one.json" "$dir/first.json" | head -20)"
stop_ranks
rank_flags=()

# A rank that stalls at its first expert exchange: rank 0 ends the job.
start_ranks FRUGAL_TEST_RANK_FAULT=stall:1
set +e
curl -s -m 60 "http://127.0.0.1:$ranks_port/v1/completions" -d '{"prompt": "hi", "max_tokens": 4}' >/dev/null
wait "$ranks_pid"; rc=$?
set -e
[[ $rc -ne 0 && $rc -ne 124 ]] || fail "a stalled rank: exit $rc (124: hung): $(cat "$dir/ranks.err")"
grep -q 'rank 0 of 2: exchanging expert outputs in layer 0: no answer from the other ranks in 3 s' "$dir/ranks.err" ||
  fail "no timeout message: $(cat "$dir/ranks.err")"
echo OK

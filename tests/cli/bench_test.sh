#!/usr/bin/env bash
# frugal bench on a tiny model: the table and the JSON carry every test with
# positive figures, roofline shares for generation, $ per million tokens that
# follow from the price; bad flags are clear errors. No speed is asserted.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"
PY=/usr/bin/python3

"$FRUGAL" -q synth --arch olmoe --preset tiny --type q8_0 -o "$dir/m.gguf"
"$FRUGAL" -q bench -m "$dir/m.gguf" -p 32 -n 8 -b 1,3 -r 2 --bandwidth-mib 16 >"$dir/table"
for t in pp32 tg8 "tg8 x3"; do grep -q "| $t " "$dir/table" || fail "no $t row: $(cat "$dir/table")"; done
grep -q 'memory read bandwidth' "$dir/table" || fail "no bandwidth line"
grep -q 'first token of work after' "$dir/table" || fail "no load line"
# The default price is $0.0504 per logical CPU an hour.
want_price=$("$PY" -c "import os; print('%.4f' % (0.0504 * os.cpu_count()))")
grep -q "price: \$$want_price per hour" "$dir/table" || fail "default price not $want_price: $(head -1 "$dir/table")"

"$FRUGAL" -q bench -m "$dir/m.gguf" -p 16 -n 4 -b 2 -r 1 --price-per-hour 3.6 --bandwidth-gbs 10 --json >"$dir/j.json"
"$PY" - "$dir/j.json" <<'PYEOF'
import json, sys
j = json.load(open(sys.argv[1]))
assert j["architecture"] == "olmoe" and j["bandwidth_gb_per_s"] == 10 and j["price_per_hour_usd"] == 3.6, j
assert 0 < j["load_seconds"] <= j["first_token_seconds"], j
tests = {r["test"]: r for r in j["results"]}
assert set(tests) == {"pp16", "tg4 x2"}, tests.keys()
for r in j["results"]:
    assert r["tokens_per_second"] > 0 and len(r["seconds"]) == 1, r
    # $3.60 an hour is $0.001 a second: $/M tokens = 1000 / (tokens per second).
    assert abs(r["usd_per_million_tokens"] - 1000 / r["tokens_per_second"]) < 1e-6 * r["usd_per_million_tokens"], r
tg = tests["tg4 x2"]
assert tg["batch"] == 2 and tg["tokens"] == 8 and tg["bytes_per_step"] > 0 and tg["roofline_percent"] > 0, tg
assert abs(tg["per_stream_tokens_per_second"] * 2 - tg["tokens_per_second"]) < 1e-9 * tg["tokens_per_second"], tg
PYEOF

expect_error "batch sizes must be in" bench -m "$dir/m.gguf" -b 0 -p 8 -n 2
expect_error "not a batch size" bench -m "$dir/m.gguf" -b 1,x
expect_error "repetitions must be positive" bench -m "$dir/m.gguf" -r 0 -p 8 -n 2 --bandwidth-gbs 1
expect_error "token counts must not be negative" bench -m "$dir/m.gguf" -n -1
expect_error "price-per-hour must not be negative" bench -m "$dir/m.gguf" --price-per-hour -1 -p 8 -n 2 --bandwidth-gbs 1
expect_error "threads must not be negative" bench -m "$dir/m.gguf" -t -3
expect_error "Failed to open\|cannot open\|No such" bench -m "$dir/none.gguf"
echo "bench_test: ok"

#!/usr/bin/env bash
# frugal plot on hand-written metrics logs: a valid SVG document with the loss
# curves of both logs, the expert-load panels of the MoE log, the throughput
# bars; clear errors for bad input.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"

cat >"$dir/moe.jsonl" <<'JSONL'
{"step": 0, "lr": 0.0001, "train_loss": 5.50, "tokens_per_second": 1200, "expert_load": [[0.40, 0.30, 0.20, 0.10], [0.25, 0.25, 0.25, 0.25]], "router_entropy": [1.20, 1.38]}
{"step": 10, "lr": 0.0003, "train_loss": 4.10, "val_loss": 4.30, "val_ppl": 73.7, "tokens_per_second": 1250, "expert_load": [[0.35, 0.30, 0.20, 0.15], [0.30, 0.25, 0.25, 0.20]], "router_entropy": [1.25, 1.37]}
{"step": 20, "lr": 0.0003, "train_loss": 3.40, "tokens_per_second": 1240, "expert_load": [[0.30, 0.28, 0.22, 0.20], [0.28, 0.26, 0.24, 0.22]], "router_entropy": [1.32, 1.38]}

{"step": 30, "lr": 0.0002, "train_loss": 3.00, "val_loss": 3.20, "val_ppl": 24.5, "tokens_per_second": 1260, "expert_load": [[0.27, 0.26, 0.24, 0.23], [0.26, 0.25, 0.25, 0.24]], "router_entropy": [1.37, 1.38]}
JSONL
cat >"$dir/dense.jsonl" <<'JSONL'
{"step": 0, "lr": 0.0001, "train_loss": 5.50, "tokens_per_second": 2000}
{"step": 10, "lr": 0.0003, "train_loss": 4.40, "val_loss": 4.60, "tokens_per_second": 2100}
{"step": 20, "lr": 0.0003, "train_loss": 3.80, "tokens_per_second": 2050}
{"step": 30, "lr": 0.0002, "train_loss": 3.50, "val_loss": 3.70, "tokens_per_second": 2080}
JSONL

"$FRUGAL" plot "$dir/moe.jsonl" "$dir/dense.jsonl" -o "$dir/fig.svg" >"$dir/stdout" 2>"$dir/stderr" || { cat "$dir/stderr"; fail "plot"; }
grep -q "wrote $dir/fig.svg: 6 panels from 2 logs" "$dir/stdout" || { cat "$dir/stdout"; fail "summary"; }
/usr/bin/python3 - "$dir/fig.svg" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()          # raises on malformed XML
assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
names = [p.get("data-name") for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("class") == "series"]
for want in ["moe train", "moe val", "dense train", "dense val", "moe"]:
    assert want in names, (want, names)
# The training curve has one point per record, the validation curve one per record that has it.
d = {p.get("data-name"): p.get("d") for p in root.iter("{http://www.w3.org/2000/svg}path")}
assert d["moe train"].count("L") == 3 and d["moe train"].count("M") == 1, d["moe train"]
assert d["moe val"].count("M") + d["moe val"].count("L") == 2, d["moe val"]
texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
for want in ["Loss", "Learning rate", "Expert load imbalance (1 = balanced)", "Router entropy",
             "Final expert load: moe", "Throughput (mean)", "step"]:
    assert want in texts, (want, texts)
cells = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("class") == "cell"]
assert len(cells) == 8, len(cells)                # 2 layers x 4 experts
bars = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.get("class") == "bar"]
assert len(bars) == 2, len(bars)
PY
if command -v xmllint >/dev/null; then xmllint --noout "$dir/fig.svg" || fail "xmllint"; fi

# Labels name the logs; a dense log alone has no expert panels.
"$FRUGAL" plot "$dir/dense.jsonl" --label baseline -o "$dir/d.svg" >"$dir/stdout"
grep -q "3 panels from 1 log$" "$dir/stdout" || { cat "$dir/stdout"; fail "dense panels"; }
grep -q 'data-name="train"' "$dir/d.svg" || fail "single-log legend"

printf '{"step": 1, "train_loss": 2}\n{"step": 2, "train_loss": \n' >"$dir/bad.jsonl"
expect_error "bad.jsonl:2: not valid JSON" plot "$dir/bad.jsonl" -o "$dir/x.svg"
printf '{"train_loss": 2}\n' >"$dir/nostep.jsonl"
expect_error 'nostep.jsonl:1: no "step"' plot "$dir/nostep.jsonl" -o "$dir/x.svg"
printf '{"step": 1, "lr": 0.1}\n' >"$dir/noloss.jsonl"
expect_error "no train_loss or val_loss" plot "$dir/noloss.jsonl" -o "$dir/x.svg"
printf '{"step": 1, "train_loss": 2, "expert_load": [0.5, 0.5]}\n' >"$dir/shape.jsonl"
expect_error '"expert_load" must be an array (per layer)' plot "$dir/shape.jsonl" -o "$dir/x.svg"
printf '{"step": 1, "train_loss": "high"}\n' >"$dir/type.jsonl"
expect_error '"train_loss" is not a number' plot "$dir/type.jsonl" -o "$dir/x.svg"
printf '[1, 2]\n' >"$dir/array.jsonl"
expect_error "must be a JSON object" plot "$dir/array.jsonl" -o "$dir/x.svg"
: >"$dir/empty.jsonl"
expect_error "holds no records" plot "$dir/empty.jsonl" -o "$dir/x.svg"
expect_error "cannot open" plot "$dir/missing.jsonl" -o "$dir/x.svg"
expect_error "--label" plot "$dir/moe.jsonl" "$dir/dense.jsonl" --label one -o "$dir/x.svg"
[[ ! -e "$dir/x.svg" ]] || fail "a failed plot left a file"
# Hostile input. The figure may not replace the log it is drawn from (by any name).
cp "$dir/dense.jsonl" "$dir/keep.jsonl"
ln -s keep.jsonl "$dir/alias.jsonl"
expect_error "is the metrics log" plot "$dir/keep.jsonl" -o "$dir/keep.jsonl"
expect_error "is the metrics log" plot "$dir/moe.jsonl" "$dir/keep.jsonl" -o "$dir/alias.jsonl"
cmp -s "$dir/dense.jsonl" "$dir/keep.jsonl" || fail "plot overwrote its input"

# The last line cut short by a killed run is left out with a warning; a cut
# line in the middle is still an error.
{ cat "$dir/dense.jsonl"; printf '{"step": 40, "lr": 0.0002, "train_lo'; } >"$dir/cut.jsonl"
"$FRUGAL" plot "$dir/cut.jsonl" -o "$dir/cut.svg" >"$dir/stdout" 2>"$dir/stderr" || { cat "$dir/stderr"; fail "a cut last line"; }
grep -q "cut.jsonl:5: the last line is cut short" "$dir/stderr" || { cat "$dir/stderr"; fail "no warning for the cut line"; }

# Labels and file names are any bytes: the SVG stays well-formed UTF-8.
badname=$'\xff\xfe log\x01 <&">'
cp "$dir/dense.jsonl" "$dir/$badname.jsonl"
"$FRUGAL" plot "$dir/$badname.jsonl" "$dir/moe.jsonl" --label $'caf\xe9 \x02<b>' "$dir/$badname" -o "$dir/bytes.svg" >/dev/null \
  || fail "plot with invalid UTF-8 labels"
"$FRUGAL" plot "$dir/$badname.jsonl" -o "$dir/bytes2.svg" >/dev/null || fail "plot with an invalid UTF-8 file name"

# Steps too large for a double's unit steps (>= 1e17) and extreme values draw no NaN.
printf '{"step": 100000000000000000, "train_loss": 2}\n{"step": 100000000000000001, "train_loss": 1.5}\n' >"$dir/big.jsonl"
printf '{"step": 1e300, "train_loss": 1e308}\n{"step": 1.0000000001e300, "train_loss": -1e308}\n' >"$dir/huge.jsonl"
printf '{"step": 1e17, "train_loss": 2}\n{"step": 1.00000000000001e17, "train_loss": 1}\n' >"$dir/near.jsonl"
for f in big huge near; do
  "$FRUGAL" plot "$dir/$f.jsonl" -o "$dir/$f.svg" >/dev/null || fail "plot $f"
done
/usr/bin/python3 - "$dir/bytes.svg" "$dir/bytes2.svg" "$dir/big.svg" "$dir/huge.svg" "$dir/near.svg" <<'PY'
import re, sys, xml.etree.ElementTree as ET
for f in sys.argv[1:]:
    root = ET.fromstring(open(f, "rb").read().decode("utf-8", errors="strict"))  # raises on either
    for e in root.iter():
        for k, v in e.attrib.items():
            assert not re.search(r"(?i)(^|[^a-z])-?(nan|inf)", v), (f, e.tag, k, v)
PY
# Runs under one label are one curve: their mean, with a band from the lowest to the highest run.
# --x tokens / seconds put those fields on the x axis; --x-min leaves out the points before it.
for r in 1 2; do
  : >"$dir/seed$r.jsonl"
  for step in 0 10 20 30; do
    printf '{"step": %d, "tokens": %d, "seconds": %s, "train_loss": %s, "val_loss": %s}\n' $step $((step * 100)) \
      "$(python3 -c "print($step * (1.5 + 0.5 * $r))")" "$(python3 -c "print(5 - $step / 10 - $r / 10)")" \
      "$(python3 -c "print(5.2 - $step / 10 - $r / 10)")" >>"$dir/seed$r.jsonl"
  done
done
"$FRUGAL" plot "$dir/seed1.jsonl" "$dir/seed2.jsonl" "$dir/dense.jsonl" --label moe --label moe --label dense \
  --x step -o "$dir/runs.svg" >/dev/null || fail "plot of grouped runs"
"$FRUGAL" plot "$dir/seed1.jsonl" "$dir/seed2.jsonl" --label moe --label moe --x seconds --x-min 20 \
  -o "$dir/secs.svg" >/dev/null || fail "plot --x seconds"
"$FRUGAL" plot "$dir/seed1.jsonl" --x tokens -o "$dir/toks.svg" >/dev/null || fail "plot --x tokens"
/usr/bin/python3 - "$dir/runs.svg" "$dir/secs.svg" "$dir/toks.svg" <<'PY'
import re, sys, xml.etree.ElementTree as ET
S = "{http://www.w3.org/2000/svg}"
def paths(f, cls):
    root = ET.parse(f).getroot()
    return {p.get("data-name"): p.get("d") for p in root.iter(S + "path") if p.get("class") == cls}, \
           [t.text for t in root.iter(S + "text")]
series, texts = paths(sys.argv[1], "series")
bands, _ = paths(sys.argv[1], "band")
# Two runs -> one mean curve per loss, named with the run count, and its band; one run -> no band.
assert set(series) >= {"moe train, mean of 2", "moe val, mean of 2", "dense train", "dense val"}, series
assert set(bands) == {"moe train, mean of 2", "moe val, mean of 2"}, bands
assert series["moe train, mean of 2"].count("L") == 3, series  # 4 steps, the runs merged
assert bands["moe train, mean of 2"].count("L") == 7 and bands["moe train, mean of 2"].endswith("Z"), bands
assert "Loss (bands: lowest to highest run)" in texts, texts
# The mean lies between the band's edges: the runs differ by 0.1 at every step.
pts = lambda d: [tuple(map(float, m)) for m in re.findall(r"[ML]([-\d.]+) ([-\d.]+)", d)]
line, band = pts(series["moe train, mean of 2"]), pts(bands["moe train, mean of 2"])
for i, (x, y) in enumerate(line):
    top, bottom = band[i], band[7 - i]
    assert abs(top[0] - x) < 0.01 and abs(bottom[0] - x) < 0.01, (line, band)
    assert abs((top[1] + bottom[1]) / 2 - y) < 0.02 and bottom[1] > top[1], (line, band)
# --x seconds: the axis label, and the points from 20 s on only (mean seconds 0, 25, 50, 75 -> 3 points).
series, texts = paths(sys.argv[2], "series")
assert "training time (s), evaluation left out" in texts, texts
assert series["train, mean of 2"].count("M") + series["train, mean of 2"].count("L") == 3, series
series, texts = paths(sys.argv[3], "series")
assert "training tokens" in texts and "3000" in texts, texts
PY
expect_error "has no \"seconds\" in any record" plot "$dir/dense.jsonl" --x seconds -o "$dir/x.svg"
expect_error "--x is one of step, tokens, seconds, not 'time'" plot "$dir/seed1.jsonl" --x time -o "$dir/x.svg"
cat "$dir/seed1.jsonl" "$dir/seed1.jsonl" >"$dir/twice.jsonl"
expect_error "logs its steps out of order or twice" plot "$dir/twice.jsonl" "$dir/seed2.jsonl" --label a --label a \
  -o "$dir/x.svg"
[[ ! -e "$dir/x.svg" ]] || fail "a failed plot left a file"

echo "plot_test: ok"

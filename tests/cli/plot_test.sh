#!/usr/bin/env bash
# frugal plot on hand-written training logs: a valid SVG with the loss curves
# of each run, a chart per MoE layer's expert load and the router entropy;
# bad logs are clear errors.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"
PY=/usr/bin/python3

cat >"$dir/moe.jsonl" <<'JSONL'
{"step": 0, "lr": 0.0, "train_loss": 6.2, "val_loss": 6.3, "expert_load": [[0.5,0.3,0.1,0.1],[0.25,0.25,0.25,0.25]], "router_entropy": [1.2, 1.38]}
{"step": 50, "lr": 0.001, "train_loss": 4.1}

{"step": 100, "lr": 0.001, "train_loss": 3.2, "val_loss": 3.4, "expert_load": [[0.3,0.3,0.2,0.2],[0.2,0.3,0.25,0.25]], "router_entropy": [1.3, 1.37]}
JSONL
cat >"$dir/dense.jsonl" <<'JSONL'
{"config": "a header line without a step is skipped"}
{"step": 0, "train_loss": 6.3, "val_loss": 6.4}
{"step": 100, "train_loss": 3.5, "val_loss": 3.7}
JSONL
"$FRUGAL" -q plot "$dir/moe.jsonl" "$dir/dense.jsonl" -o "$dir/out.svg"
"$PY" - "$dir/out.svg" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
lines = {p.get("data-name"): p.get("points").split() for p in root.iter("{http://www.w3.org/2000/svg}polyline")}
titles = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
# Loss: train and validation of both runs; expert load: 4 experts x 2 layers; entropy: 2 layers.
for name, n in [("moe train", 3), ("moe validation", 2), ("dense train", 2), ("dense validation", 2)]:
    assert len(lines[name]) == n, (name, lines.get(name))
assert "moe: expert load, layer 0" in titles and "moe: expert load, layer 1" in titles, titles
assert "moe: router entropy" in titles, titles
assert sum(1 for _ in root.iter("{http://www.w3.org/2000/svg}polyline")) == 4 + 8 + 2
PYEOF

printf '{"step": 1, "train_loss": 2}\nnot json\n' >"$dir/bad.jsonl"
expect_error "line 2 is not a JSON object" plot "$dir/bad.jsonl" -o "$dir/x.svg"
printf '{"lr": 1}\n' >"$dir/nostep.jsonl"
expect_error "has no metrics" plot "$dir/nostep.jsonl" -o "$dir/x.svg"
printf '{"step": 1, "train_loss": "low"}\n' >"$dir/type.jsonl"
expect_error "is not a number" plot "$dir/type.jsonl" -o "$dir/x.svg"
expect_error "cannot open" plot "$dir/missing.jsonl" -o "$dir/x.svg"
echo "plot_test: ok"

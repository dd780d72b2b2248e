#!/usr/bin/env bash
# frugal perplexity from the command line, on the bundled trained model and
# held-out text (Shakespeare; the model learnt on fortunes): the same figure
# on a second run, equal to an independent numpy computation of
# llama-perplexity's method from `frugal logits` (BOS handling checked on a
# synth model whose tokenizer adds one); KL divergence of a model from itself
# 0 with full top-1 agreement, q8_0 against f32 small and equal to numpy's;
# clear errors.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"

src=${FRUGAL_SOURCE_DIR:-.}
model="$src/models/fortunes-moe.gguf"
shakes="$src/../shared/data/tinyshakespeare.txt"
if [[ ! -f "$shakes" ]]; then
  echo "SKIP: $shakes is absent (the shared corpus beside the checkout)"
  exit 0
fi
[[ -f "$model" ]] || fail "$model is missing"
# 16 chunks of 128 tokens and a little more, from the middle of the corpus.
head -c 520000 "$shakes" | tail -c 7000 >"$dir/text.txt"

# numpy_ppl MODEL CTX CHUNKS BOS: perplexity by the method, from frugal logits
# on each chunk alone (BOS -1: none), printed as "ppl error".
numpy_ppl() {
  local m=$1 ctx=$2 chunks=$3 bos=$4
  "$FRUGAL" -q tokenize -m "$m" -f "$dir/text.txt" --ids --no-special >"$dir/ids.txt"
  /usr/bin/python3 - "$dir" "$ctx" "$chunks" "$bos" <<'PY' >"$dir/chunks.txt"
import sys
d, ctx, chunks, bos = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ids = [int(x) for x in open(d + "/ids.txt").read().split()]
for c in range(chunks):
    chunk = ids[c * ctx:(c + 1) * ctx]
    if bos >= 0:
        chunk[0] = bos
    print(",".join(map(str, chunk)))
PY
  local c=0
  while read -r line; do
    "$FRUGAL" -q logits -m "$m" --tokens "$line" -o "$dir/logits.$c.bin"
    c=$((c + 1))
  done <"$dir/chunks.txt"
  /usr/bin/python3 - "$dir" "$ctx" "$chunks" <<'PY'
import sys, numpy as np
d, ctx, chunks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lines = open(d + "/chunks.txt").read().split()
first = ctx // 2
nll = []
for c in range(chunks):
    toks = [int(x) for x in lines[c].split(",")]
    ids = [int(x) for x in open(d + "/ids.txt").read().split()][c * ctx:(c + 1) * ctx]
    z = np.fromfile(f"{d}/logits.{c}.bin", dtype="<f4").astype(np.float64).reshape(ctx, -1)
    for i in range(first, ctx - 1):
        row = z[i]
        lse = row.max() + np.log(np.exp(row - row.max()).sum())
        nll.append(lse - row[ids[i + 1]])  # the text's next token (BOS replaces only position 0)
nll = np.array(nll)
mean = nll.mean()
err = np.sqrt(((nll ** 2).mean() - mean ** 2) / (len(nll) - 1))
print(np.exp(mean), np.exp(mean) * err)
PY
}

# close A B TOL: |A - B| <= TOL * |B|
close() { /usr/bin/python3 -c "import sys; a,b,t=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b) <= t*abs(b) else 1)" "$@"; }
field() { /usr/bin/python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$@"; }

# 1. The trained model: finite, the same twice, equal to numpy's.
"$FRUGAL" -q perplexity -m "$model" -f "$dir/text.txt" -c 128 --chunks 16 --json >"$dir/a.json"
"$FRUGAL" -q perplexity -m "$model" -f "$dir/text.txt" -c 128 --chunks 16 --json >"$dir/b.json"
cmp -s "$dir/a.json" "$dir/b.json" || fail "two runs differ: $(cat "$dir/a.json" "$dir/b.json")"
ppl=$(field "$dir/a.json" ppl)
err=$(field "$dir/a.json" ppl_error)
[[ $(field "$dir/a.json" tokens_scored) == $((16 * 63)) ]] || fail "tokens scored: $(cat "$dir/a.json")"
/usr/bin/python3 -c "import math,sys; p=float(sys.argv[1]); sys.exit(0 if math.isfinite(p) and 1 < p < 2048 else 1)" "$ppl" \
  || fail "perplexity $ppl"
read -r np_ppl np_err < <(numpy_ppl "$model" 128 16 -1)
close "$ppl" "$np_ppl" 1e-5 || fail "perplexity $ppl, numpy $np_ppl"
close "$err" "$np_err" 1e-4 || fail "error $err, numpy $np_err"
echo "default model: PPL $ppl +/- $err (numpy $np_ppl +/- $np_err)"

# The text form says the same.
"$FRUGAL" perplexity -m "$model" -f "$dir/text.txt" -c 128 --chunks 16 >"$dir/out.txt" 2>"$dir/err.txt"
grep -q "^PPL = .* +/- .* (16 chunks of 128 tokens, 1008 tokens scored)$" "$dir/out.txt" || fail "text output: $(cat "$dir/out.txt")"
grep -q "perplexity (PPL" "$dir/err.txt" || fail "no progress: $(cat "$dir/err.txt")"

# 2. A tokenizer that adds BOS: the text starts with one and each chunk's first token becomes one.
"$FRUGAL" -q synth --arch qwen3moe -o "$dir/synth.gguf" >/dev/null
"$FRUGAL" -q perplexity -m "$dir/synth.gguf" -f "$dir/text.txt" -c 64 --chunks 5 --json >"$dir/s.json"
read -r np_ppl _ < <(numpy_ppl "$dir/synth.gguf" 64 5 256)
close "$(field "$dir/s.json" ppl)" "$np_ppl" 1e-5 || fail "BOS model: $(field "$dir/s.json" ppl), numpy $np_ppl"

# 3. KL divergence: a model against itself, q8_0 against f32.
"$FRUGAL" -q quantize "$model" "$dir/f32.gguf" f32 >/dev/null
"$FRUGAL" -q quantize "$model" "$dir/q8.gguf" q8_0 >/dev/null
"$FRUGAL" -q perplexity -m "$dir/f32.gguf" -f "$dir/text.txt" -c 128 --chunks 8 --kl-divergence-base "$dir/base.kl" \
  --json >"$dir/base.json"
"$FRUGAL" -q perplexity -m "$dir/f32.gguf" --kl-divergence-base "$dir/base.kl" --kl-divergence --json >"$dir/self.json"
/usr/bin/python3 - "$dir/base.json" "$dir/self.json" <<'PY' || fail "self KL: $(cat "$dir/self.json")"
import json, sys
b, s = (json.load(open(p)) for p in sys.argv[1:])
assert s["tokens_scored"] == 8 * 63, s
assert abs(s["ppl"] - b["ppl"]) <= 1e-9 * b["ppl"], (s["ppl"], b["ppl"])
assert abs(s["ppl_base"] - s["ppl"]) <= 1e-5 * s["ppl"], s  # the file keeps the target's log-prob as float32
assert 0 <= s["kld_mean"] < 1e-7, s["kld_mean"]
assert s["top1_agreement"] == 1.0, s["top1_agreement"]
assert abs(s["delta_p_rms"]) < 1e-6, s
PY
"$FRUGAL" -q perplexity -m "$dir/q8.gguf" --kl-divergence-base "$dir/base.kl" --kl-divergence --json >"$dir/q8.json"
"$FRUGAL" -q perplexity -m "$dir/q8.gguf" --kl-divergence-base "$dir/base.kl" --kl-divergence >"$dir/q8.txt"
grep -q "^top-1 agreement *: " "$dir/q8.txt" && grep -q "^mean KLD *: " "$dir/q8.txt" && grep -q "^p99 " "$dir/q8.txt" \
  || fail "KL text output: $(cat "$dir/q8.txt")"

# numpy's KL divergence, top-1 agreement and delta-p from both models' logits.
"$FRUGAL" -q tokenize -m "$model" -f "$dir/text.txt" --ids --no-special >"$dir/ids.txt"
/usr/bin/python3 -c "
import sys
ids = open(sys.argv[1]).read().split()
for c in range(8): print(','.join(ids[c * 128:(c + 1) * 128]))" "$dir/ids.txt" >"$dir/chunks.txt"
c=0
while read -r line; do
  "$FRUGAL" -q logits -m "$dir/f32.gguf" --tokens "$line" -o "$dir/f.$c.bin"
  "$FRUGAL" -q logits -m "$dir/q8.gguf" --tokens "$line" -o "$dir/q.$c.bin"
  c=$((c + 1))
done <"$dir/chunks.txt"
/usr/bin/python3 - "$dir" <<'PY' || fail "q8_0 KL against numpy: $(cat "$dir/q8.json")"
import json, sys, numpy as np
d = sys.argv[1]
r = json.load(open(d + "/q8.json"))
ids = [int(x) for x in open(d + "/ids.txt").read().split()]
def logp(z):
    z = z.astype(np.float64)
    m = z.max(axis=1, keepdims=True)
    return z - m - np.log(np.exp(z - m).sum(axis=1, keepdims=True))
kl, top, dp = [], [], []
for c in range(8):
    f = logp(np.fromfile(f"{d}/f.{c}.bin", dtype="<f4").reshape(128, -1))[64:127]
    q = logp(np.fromfile(f"{d}/q.{c}.bin", dtype="<f4").reshape(128, -1))[64:127]
    t = ids[c * 128 + 65:c * 128 + 128]
    kl += list((np.exp(f) * (f - q)).sum(axis=1))
    top += list(f.argmax(axis=1) == q.argmax(axis=1))
    dp += list(np.exp(q[np.arange(63), t]) - np.exp(f[np.arange(63), t]))
kl, dp = np.array(kl), np.array(dp)
print(f"q8_0 against f32: KLD {r['kld_mean']:.6f} (numpy {kl.mean():.6f}), top-1 {r['top1_agreement']:.4f} "
      f"(numpy {np.mean(top):.4f}), delta-p RMS {r['delta_p_rms']:.5f}")
assert 0 < r["kld_mean"] < 5e-3 and r["top1_agreement"] > 0.95, r   # small: 8-bit weights
assert abs(r["kld_mean"] - kl.mean()) < 2e-5, (r["kld_mean"], kl.mean())
assert abs(r["top1_agreement"] - np.mean(top)) <= 1 / len(top) + 1e-12, (r["top1_agreement"], np.mean(top))
assert abs(r["delta_p_rms"] - np.sqrt((dp ** 2).mean())) < 1e-4, r["delta_p_rms"]
for name, f in (("p50", 50), ("p90", 90), ("max", 100)):
    assert abs(r["kld_percentiles"][name] - np.percentile(kl, f)) < 2e-5, (name, r["kld_percentiles"][name])
    assert abs(r["delta_p_percentiles"][name] - np.percentile(dp, f)) < 1e-4, (name, r["delta_p_percentiles"][name])
PY

# 4. Errors.
head -c 300 "$dir/text.txt" >"$dir/short.txt"
expect_error "needs at least 256 (two chunks)" perplexity -m "$model" -f "$dir/short.txt" -c 128
expect_error "vocabulary mismatch: .* was made with 2048 tokens, the model has 512" \
  perplexity -m "$dir/synth.gguf" --kl-divergence-base "$dir/base.kl" --kl-divergence
expect_error "--kl-divergence needs --kl-divergence-base" perplexity -m "$model" --kl-divergence
expect_error "-f TEXT is required" perplexity -m "$model"
expect_error "differs from the base file's 128" \
  perplexity -m "$model" --kl-divergence-base "$dir/base.kl" --kl-divergence -c 64
echo "garbage" >"$dir/bad.kl"
expect_error "not a base log-probability file" perplexity -m "$model" --kl-divergence-base "$dir/bad.kl" --kl-divergence
head -c 100000 "$dir/base.kl" >"$dir/cut.kl"
expect_error "truncated or damaged" perplexity -m "$model" --kl-divergence-base "$dir/cut.kl" --kl-divergence
expect_error "at least 4 tokens" perplexity -m "$model" -f "$dir/text.txt" -c 2
expect_error "missing.txt" perplexity -m "$model" -f "$dir/missing.txt"
echo OK

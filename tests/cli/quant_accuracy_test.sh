#!/usr/bin/env bash
# Quantisation accuracy on trained weights: the bundled model (qwen3moe,
# trained on fortunes, stored as F16) re-encoded at each type, its KL
# divergence from the F32 copy measured by `frugal perplexity` on held-out
# Shakespeare. Random Gaussian weights say little here (no quantiser keeps
# them within a few percent at 4 bits); a trained model's outputs do.
# Checked per type: the mean KL divergence under a ceiling and top-1
# agreement over a floor (about 1.5x and a few points from what the types
# measure, docs/QUANTIZATION.md), the types ordered by their bits, and the
# importance matrix lowering the KL divergence of IQ2_XXS. (The slower
# lattice encoders, IQ3 and IQ1, are left to QUANTIZATION.md's runs.)
# A real encoder or kernel bug (a scale off by a bit, a nibble or sign
# misplaced, a grid index wrong) moves the KL divergence by an order of
# magnitude or more; a correct quantiser stays well inside.
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
# Scored text: 24 chunks of 128 tokens from the start of the corpus; the
# importance matrix comes from another part of it.
head -c 12000 "$shakes" >"$dir/text.txt"
head -c 520000 "$shakes" | tail -c 12000 >"$dir/calib.txt"

"$FRUGAL" -q quantize "$model" "$dir/f32.gguf" f32 -t 2 >/dev/null
"$FRUGAL" -q perplexity -m "$dir/f32.gguf" -f "$dir/text.txt" -c 128 --chunks 24 --kl-divergence-base "$dir/base.kl" \
  -t 2 >/dev/null
"$FRUGAL" -q imatrix -m "$model" -f "$dir/calib.txt" -c 128 --chunks 24 -o "$dir/im.gguf" -t 2 >/dev/null

# kld FILE: "mean-KLD top-1" of FILE against the F32 logits.
kld() {
  "$FRUGAL" -q perplexity -m "$1" --kl-divergence-base "$dir/base.kl" --kl-divergence --json -t 2 >"$dir/k.json"
  /usr/bin/python3 -c "import json,sys; j=json.load(open(sys.argv[1])); print(j['kld_mean'], j['top1_agreement'])" \
    "$dir/k.json"
}

# check TYPE IMATRIX(no|yes) MAX_KLD MIN_TOP1: quantise, score, compare; sets got_kld.
check() {
  local type=$1 im=$2 max=$3 min_top1=$4 out="$dir/$1-$2.gguf"
  local args=()
  [[ $im == yes ]] && args=(--imatrix "$dir/im.gguf")
  "$FRUGAL" -q quantize "$model" "$out" "$type" "${args[@]}" -t 2 >/dev/null
  read -r got_kld top1 < <(kld "$out")
  echo "$type imatrix $im: mean KLD $got_kld, top-1 $top1"
  /usr/bin/python3 -c "import sys; k,t,mk,mt=map(float,sys.argv[1:]); sys.exit(0 if 0 <= k < mk and t > mt else 1)" \
    "$got_kld" "$top1" "$max" "$min_top1" || fail "$type (imatrix $im): KLD $got_kld (ceiling $max), top-1 $top1 (floor $min_top1)"
  rm -f "$out"
}
less() { /usr/bin/python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$1" "$2"; }

check q8_0 no 0.0006 0.97
k8=$got_kld
check q4_k no 0.007 0.90
k4=$got_kld
check q2_k no 0.08 0.68
k2=$got_kld
less "$k8" "$k4" && less "$k4" "$k2" || fail "k-quant KLD not ordered by bits: q8_0 $k8, q4_k $k4, q2_k $k2"

check iq2_xxs no 0.135 0.63
k2n=$got_kld
check iq2_xxs yes 0.12 0.65
k2y=$got_kld
less "$k2" "$k2n" || fail "iq2_xxs (2.06 bits) below q2_k (2.63 bits): $k2n, $k2"
less "$k2y" "$k2n" || fail "the imatrix did not lower iq2_xxs's KLD ($k2n -> $k2y)"
echo "quantisation accuracy on trained weights: passed"

#!/usr/bin/env bash
# frugal logits from the command line: n_tokens x n_vocab float32 rows, the
# three modes agreeing for every architecture, and clear errors (exit 1).
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"

tokens=256,72,101,108,108,111,32,119,111,114,108,100,33
for arch in llama qwen2 qwen3 qwen2moe qwen3moe olmoe deepseek2; do
  "$FRUGAL" -q synth --arch "$arch" --type q8_0 -o "$dir/$arch.gguf" >/dev/null
  for mode in batch incremental chunked; do
    "$FRUGAL" -q logits -m "$dir/$arch.gguf" --tokens "$tokens" -o "$dir/$arch.$mode.bin" --mode "$mode" -t 2
  done
  /usr/bin/python3 - "$dir/$arch" <<'PY'
import sys, numpy as np
base = sys.argv[1]
a = np.fromfile(base + ".batch.bin", dtype="<f4")
assert a.size == 13 * 512, a.size  # 13 tokens x the tiny presets' 512-token vocabulary
a = a.reshape(13, 512)
assert np.isfinite(a).all()
for mode in ("incremental", "chunked"):
    b = np.fromfile(base + "." + mode + ".bin", dtype="<f4").reshape(13, 512)
    err = np.abs(a - b).max() / np.abs(a).max()
    assert err < 1e-4, (base, mode, err)
PY
done

m="$dir/qwen3moe.gguf"
expect_error "is not a token id" logits -m "$m" --tokens 1,x,3 -o "$dir/o.bin"
expect_error "is not a token id" logits -m "$m" --tokens 1,,3 -o "$dir/o.bin"
expect_error "token id 512 (item 2) is out of range: the model has 512 tokens" logits -m "$m" --tokens 1,512 -o "$dir/o.bin"
expect_error "--mode must be batch, incremental or chunked" logits -m "$m" --tokens 1 -o "$dir/o.bin" --mode sideways
expect_error "$dir/missing.gguf" logits -m "$dir/missing.gguf" --tokens 1 -o "$dir/o.bin"
echo "garbage" >"$dir/bad.gguf"
expect_error "bad.gguf" logits -m "$dir/bad.gguf" --tokens 1 -o "$dir/o.bin"
echo OK

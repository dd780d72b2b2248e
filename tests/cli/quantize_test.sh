#!/usr/bin/env bash
# frugal quantize: an F32 model re-encoded to several types and recipes;
# inspect shows the chosen types and general.file_type, the logits stay close
# to the F32 model's (closer for more bits), re-quantising an already
# quantised file works, and bad types/files are clear errors (exit 1).
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"

# n_embd 256 so the k-quants' 256-value blocks fit the rows.
"$FRUGAL" -q synth --arch qwen3moe --embd 256 --ff 512 --ff-exp 256 --type f32 -o "$dir/f32.gguf" >/dev/null
tokens=1,5,9,200,33,7,100,42,256,11
"$FRUGAL" -q logits -m "$dir/f32.gguf" --tokens "$tokens" -o "$dir/f32.bin"

# type, general.file_type, a tensor type inspect must list, bound on the
# logits' relative RMS error against F32.
cases=(
  "f16 1 f16 0.002"
  "bf16 32 bf16 0.01"
  "q8_0 7 q8_0 0.03"
  "q6_k 18 q6_k 0.07"
  "q5_k 16 q5_k 0.12"
  "q5_1 9 q5_1 0.14"
  "q5_k_m 17 q6_k 0.12"
  "q4_k_m 15 q4_k 0.22"
  "iq4_xs 30 iq4_xs 0.25"
  "iq4_nl 25 iq4_nl 0.25"
  "q4_0 2 q4_0 0.3"
  "q3_k 11 q3_k 0.4"
  "q2_k 10 q2_k 0.7"
)
for c in "${cases[@]}"; do
  read -r type code want bound <<<"$c"
  "$FRUGAL" quantize "$dir/f32.gguf" "$dir/$type.gguf" "$type" -t 2 >"$dir/out" 2>"$dir/err"
  grep -q "general.file_type $code" "$dir/out" || fail "$type: no file_type $code in: $(cat "$dir/out")"
  "$FRUGAL" inspect "$dir/$type.gguf" >"$dir/inspect"
  grep -Eq "general.file_type +uint32 +$code\$" "$dir/inspect" || fail "$type: inspect shows no file_type $code"
  grep -Eq "\b$want\b" "$dir/inspect" || fail "$type: inspect shows no $want tensor"
  grep -Eq "output_norm.weight.*f32" "$dir/inspect" || fail "$type: output_norm is not f32"
  "$FRUGAL" -q logits -m "$dir/$type.gguf" --tokens "$tokens" -o "$dir/$type.bin"
  /usr/bin/python3 - "$dir/f32.bin" "$dir/$type.bin" "$type" "$bound" <<'PY'
import sys, numpy as np
a = np.fromfile(sys.argv[1], dtype="<f4")
b = np.fromfile(sys.argv[2], dtype="<f4")
assert a.size == b.size == 10 * 512, (a.size, b.size)
err = float(np.sqrt(np.mean((a - b) ** 2) / np.mean(a ** 2)))
print(f"  {sys.argv[3]:7s} logits relative rms {err:.4f} (bound {sys.argv[4]})")
assert np.isfinite(b).all() and err < float(sys.argv[4]), err
PY
done

# Every architecture's tensor names go through the q4_k_m chooser and load.
for arch in llama qwen2 qwen3 qwen2moe olmoe deepseek2; do
  "$FRUGAL" -q synth --arch "$arch" --embd 256 --type f32 -o "$dir/$arch.gguf" >/dev/null
  "$FRUGAL" -q quantize "$dir/$arch.gguf" "$dir/$arch.q.gguf" q4_k_m >/dev/null
  "$FRUGAL" -q logits -m "$dir/$arch.gguf" --tokens 1,2,3,4 -o "$dir/$arch.bin"
  "$FRUGAL" -q logits -m "$dir/$arch.q.gguf" --tokens 1,2,3,4 -o "$dir/$arch.q.bin"
  /usr/bin/python3 - "$dir/$arch.bin" "$dir/$arch.q.bin" "$arch" <<'PY'
import sys, numpy as np
a = np.fromfile(sys.argv[1], dtype="<f4")
b = np.fromfile(sys.argv[2], dtype="<f4")
err = float(np.sqrt(np.mean((a - b) ** 2) / np.mean(a ** 2)))
print(f"  {sys.argv[3]:9s} q4_k_m logits relative rms {err:.4f}")
assert a.size == b.size and np.isfinite(b).all() and err < 0.35, err
PY
done

# A quantised file re-quantised: to another type, and with --keep-types
# (its quantised tensors copied, byte for byte the same file but file_type).
"$FRUGAL" -q quantize "$dir/q8_0.gguf" "$dir/q8_q4km.gguf" q4_k_m >/dev/null
"$FRUGAL" inspect "$dir/q8_q4km.gguf" >"$dir/inspect"
grep -q q4_k "$dir/inspect" || fail "q8_0 -> q4_k_m has no q4_k tensor"
"$FRUGAL" quantize "$dir/q8_0.gguf" "$dir/kept.gguf" q4_k_m --keep-types >"$dir/out"
grep -q "27 tensors (27 copied unchanged)" "$dir/out" || fail "--keep-types: $(cat "$dir/out")"
"$FRUGAL" inspect "$dir/kept.gguf" >"$dir/inspect"
grep -q q4_k "$dir/inspect" && fail "--keep-types re-quantised a tensor"

expect_error "unknown quantisation type or recipe 'q9_z'" quantize "$dir/f32.gguf" "$dir/o.gguf" q9_z
expect_error "'q8_k' is not a type a model file can be quantised to" quantize "$dir/f32.gguf" "$dir/o.gguf" q8_k
expect_error "$dir/missing.gguf" quantize "$dir/missing.gguf" "$dir/o.gguf" q8_0
echo "garbage" >"$dir/bad.gguf"
expect_error "bad.gguf" quantize "$dir/bad.gguf" "$dir/o.gguf" q8_0
expect_error "threads" quantize "$dir/f32.gguf" "$dir/o.gguf" q8_0 -t -2
[[ ! -e "$dir/o.gguf" ]] || fail "a failed quantize left an output file"
echo OK

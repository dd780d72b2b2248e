#!/usr/bin/env bash
# frugal imatrix: the importance matrix of a synthetic MoE model over a text
# has every matrix with its shape (experts as the second dimension), row
# counts that add up to the tokens evaluated (times the experts used per
# token for expert tensors), llama.cpp's keys, and is the same file on a
# second run; quantize --imatrix uses it and records it; bad inputs fail
# with a message.
set -euo pipefail
source "$(dirname "$0")/../lib/cli_test_lib.sh"

"$FRUGAL" -q synth --arch qwen3moe --embd 256 --ff 512 --ff-exp 256 --type f32 -o "$dir/m.gguf" >/dev/null
/usr/bin/python3 -c '
import random
random.seed(3)
words = ["the", "king", "of", "a", "night", "sword", "love", "and", "rain", "house", "to", "sea"]
print(" ".join(random.choice(words) for _ in range(3000)))' >"$dir/text.txt"

"$FRUGAL" -q imatrix -m "$dir/m.gguf" -f "$dir/text.txt" -c 64 --chunks 6 -o "$dir/a.gguf" -t 2 >"$dir/out"
grep -q "^wrote $dir/a.gguf: .* matrices, 6 chunks of 64 tokens" "$dir/out" || fail "output: $(cat "$dir/out")"
"$FRUGAL" -q imatrix -m "$dir/m.gguf" -f "$dir/text.txt" -c 64 --chunks 6 -o "$dir/b.gguf" -t 2 >/dev/null
cmp -s "$dir/a.gguf" "$dir/b.gguf" || fail "two runs wrote different files"

PYTHONPATH="$FRUGAL_SOURCE_DIR/tests/reference" /usr/bin/python3 - "$dir/m.gguf" "$dir/a.gguf" <<'PY'
import sys
from frugal_ref.gguf import read_gguf
model, im = read_gguf(sys.argv[1]), read_gguf(sys.argv[2])
md = im.metadata
assert md["general.type"] == "imatrix", md
assert md["imatrix.chunk_count"] == 6 and md["imatrix.chunk_size"] == 64, md
assert md["imatrix.datasets"] == ["text.txt"], md
arch = model.metadata["general.architecture"]
n_used = model.metadata[arch + ".expert_used_count"]
tokens = 6 * 64
names = [n for n, t in model.tensors.items() if len(t.dims) >= 2 and n != "token_embd.weight"]
for name in names:
    dims = model.tensors[name].dims
    n_mat = dims[2] if len(dims) == 3 else 1
    assert im.tensors[name + ".in_sum2"].dims == [dims[0], n_mat], (name, im.tensors[name + ".in_sum2"].dims)
    assert im.tensors[name + ".counts"].dims == [1, n_mat], name
    counts = im.tensor(name + ".counts").ravel()
    sums = im.tensor(name + ".in_sum2")
    assert (sums >= 0).all() and sums.sum() > 0, name
    if n_mat > 1:
        assert counts.sum() == tokens * n_used, (name, counts)
    elif name != "output.weight":  # the output sees the scored rows only
        assert counts[0] == tokens, (name, counts)
assert not im.has("token_embd.weight.in_sum2")  # looked up, never multiplied
print(f"imatrix: {len(names)} matrices, shapes and counts right")
PY

"$FRUGAL" quantize "$dir/m.gguf" "$dir/q.gguf" q2_k --imatrix "$dir/a.gguf" -t 2 >/dev/null
"$FRUGAL" quantize "$dir/m.gguf" "$dir/p.gguf" q2_k -t 2 >/dev/null
"$FRUGAL" inspect "$dir/q.gguf" >"$dir/inspect"
grep -Eq "quantize.imatrix.file +string +\"$dir/a.gguf\"" "$dir/inspect" || fail "no quantize.imatrix.file"
grep -Eq "quantize.imatrix.chunks_count +int32 +6" "$dir/inspect" || fail "no quantize.imatrix.chunks_count"
cmp -s <(tail -c 100000 "$dir/q.gguf") <(tail -c 100000 "$dir/p.gguf") && fail "the imatrix changed nothing"

# -o NAME.dat writes the older .dat format (the one llama-imatrix writes and
# ik_llama.cpp's llama-quantize reads): entry count, then per entry the name,
# a count and the sums; it reads back to the same per-expert importance, so
# quantize gives the same file from either form.
"$FRUGAL" -q imatrix -m "$dir/m.gguf" -f "$dir/text.txt" -c 64 --chunks 6 -o "$dir/a.dat" -t 2 >"$dir/out"
grep -q "^wrote $dir/a.dat: " "$dir/out" || fail "output: $(cat "$dir/out")"
/usr/bin/python3 - "$dir/a.dat" <<'PY'
import struct, sys
raw = open(sys.argv[1], "rb").read()
assert raw[:4] != b"GGUF", "a .dat name wrote GGUF"
(n,) = struct.unpack_from("<i", raw, 0)
o = 4
for _ in range(n):
    (ln,) = struct.unpack_from("<i", raw, o); o += 4
    name = raw[o:o + ln].decode(); o += ln
    ncall, nval = struct.unpack_from("<ii", raw, o); o += 8 + 4 * nval
    assert ncall > 0 and nval % 256 == 0, (name, ncall, nval)
chunks, ln = struct.unpack_from("<ii", raw, o)
assert chunks == 6 and raw[o + 8:o + 8 + ln] == b"text.txt", (chunks, raw[o + 8:])
assert o + 8 + ln == len(raw)
print(f"imatrix .dat: {n} entries")
PY
"$FRUGAL" quantize "$dir/m.gguf" "$dir/qd.gguf" q2_k --imatrix "$dir/a.dat" -t 2 >/dev/null
cmp -s <(tail -c 100000 "$dir/q.gguf") <(tail -c 100000 "$dir/qd.gguf") || fail "the .dat imatrix quantised otherwise"

expect_error "required" imatrix -m "$dir/m.gguf"
echo "too short" >"$dir/short.txt"
expect_error "needs at least" imatrix -m "$dir/m.gguf" -f "$dir/short.txt" -c 64
printf 'xx' >"$dir/bad.dat"
expect_error "bad.dat" quantize "$dir/m.gguf" "$dir/z.gguf" q2_k --imatrix "$dir/bad.dat"
echo "imatrix tests passed"

#!/usr/bin/python3
"""The reference's own pieces against their definitions, written a second way
(scalar loops, complex numbers, hand-worked examples), without frugal:
RoPE as a complex rotation; llama's un-permuted q/k with rotate_half giving
the same attention scores as the stored (interleaved) layout rotated pair by
pair; YaRN's frequency ramp; causal attention; DeepSeek-V3 group-limited
routing on a worked example; cross-entropy; Q4_K and Q6_K blocks packed by
plain loops from the format description and read back by the vectorised
dequantiser."""
import math
import os
import struct
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np  # noqa: E402

from frugal_ref import dequant  # noqa: E402
from frugal_ref import model as M  # noqa: E402

rng = np.random.default_rng(int.from_bytes(os.urandom(4), "little"))


def close(a, b, tol=1e-12):
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape, (a.shape, b.shape)
    err = np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)
    assert err < tol, err


def cfg(**kw):
    c = types.SimpleNamespace(rope_base=10000.0, scaling="none", factor=1.0, orig_ctx=64, attn_factor=1.0,
                              beta_fast=32.0, beta_slow=1.0)
    c.__dict__.update(kw)
    return c


def test_rope_is_a_complex_rotation():
    T, H, d = 7, 3, 16
    x = rng.standard_normal((T, H, d))
    pos = np.arange(T, dtype=float)
    inv, mag = M.rope_inv_freq(cfg(), d)
    got = M.rope_halves(x, pos, inv, mag)
    z = (x[..., :d // 2] + 1j * x[..., d // 2:]) * np.exp(1j * pos[:, None, None] * inv)
    close(got, np.concatenate([z.real, z.imag], -1))


def test_llama_unpermute_matches_interleaved_rotation():
    # Scores from the stored layout rotated pair by pair (x[2i], x[2i+1]) must
    # equal scores from the un-permuted weights rotated by halves.
    n_head, d, n_in, T = 2, 8, 5, 6
    wq = rng.standard_normal((n_head * d, n_in))
    wk = rng.standard_normal((n_head * d, n_in))
    x = rng.standard_normal((T, n_in))
    pos = np.arange(T, dtype=float)
    inv = 10000.0 ** (-np.arange(0, d, 2) / d)
    rm = M.ReferenceModel.__new__(M.ReferenceModel)
    rm.cfg = types.SimpleNamespace(head_dim=d, rope_dim=d)

    def interleaved(w):
        v = (x @ w.T).reshape(T, n_head, d)
        z = (v[..., 0::2] + 1j * v[..., 1::2]) * np.exp(1j * pos[:, None, None] * inv)
        return z

    zq, zk = interleaved(wq), interleaved(wk)
    want = np.einsum("thi,shi->hts", zq.real, zk.real) + np.einsum("thi,shi->hts", zq.imag, zk.imag)
    q = M.rope_halves((x @ rm._unpermute(wq).T).reshape(T, n_head, d), pos, inv, 1.0)
    k = M.rope_halves((x @ rm._unpermute(wk).T).reshape(T, n_head, d), pos, inv, 1.0)
    close(np.einsum("thd,shd->hts", q, k), want)


def test_yarn_ramp():
    d = 32
    base = 10000.0 ** (-np.arange(0, d, 2) / d)
    inv, mag = M.rope_inv_freq(cfg(scaling="none"), d)
    close(inv, base)
    assert mag == 1.0
    c = cfg(scaling="yarn", factor=4.0, orig_ctx=64)
    inv, mag = M.rope_inv_freq(c, d)
    close(mag, 1 + 0.1 * math.log(4.0))
    # Pair i turns orig_ctx * base[i] / (2 pi) times over the original context:
    # more than beta_fast turns keeps the frequency, fewer than beta_slow is
    # interpolated by the factor (the ramp's rounding moves each edge by < 1 pair).
    turns = 64 * base / (2 * math.pi)
    for i in range(d // 2):
        if turns[i] > 32 and i + 1 < d // 2 and turns[i + 1] > 32:
            close(inv[i], base[i])
        if turns[i] < 1 and turns[i - 1] < 1:
            close(inv[i], base[i] / 4)
    assert np.all(inv <= base + 1e-18) and np.all(inv >= base / 4 - 1e-18)
    close(M.rope_inv_freq(cfg(scaling="linear", factor=4.0), d)[0], base / 4)


def test_causal_attention_against_loops():
    T, H, Hkv, D, Dv = 5, 4, 2, 3, 2
    q, k, v = rng.standard_normal((T, H, D)), rng.standard_normal((T, Hkv, D)), rng.standard_normal((T, Hkv, Dv))
    got = M.attention(q, k, v, 0.7).reshape(T, H, Dv)
    for t in range(T):
        for h in range(H):
            kv = h // (H // Hkv)
            s = np.array([0.7 * q[t, h] @ k[j, kv] for j in range(t + 1)])
            p = np.exp(s - s.max())
            p /= p.sum()
            close(got[t, h], sum(p[j] * v[j, kv] for j in range(t + 1)))


def test_v3_group_routing_example():
    rm = M.ReferenceModel.__new__(M.ReferenceModel)
    rm.cfg = types.SimpleNamespace(n_expert_used=2, gating=2, n_group=4, n_group_used=2, norm_topk=True,
                                   routed_scale=2.5)
    rm.route_margins = []
    # 8 experts in 4 groups of 2. Scores s = sigmoid(l); choice = s + bias.
    s = np.array([[0.9, 0.1, 0.6, 0.6, 0.95, 0.0001, 0.5, 0.5]])
    logits = np.log(s / (1 - s))
    bias = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.3])
    # Group sums of the choice values: g0 1.0, g1 1.2, g2 ~0.95, g3 1.3 -> groups 3 and 1.
    # Best two among experts 2, 3, 6, 7: 7 (0.8), then 2 and 3 tie at 0.6 -> 2 (lower id).
    # Expert 4 (0.95, group 2) is not eligible.
    ids, w = rm._route(logits, bias)
    assert sorted(ids[0].tolist()) == [2, 7], ids
    # Weights from the unbiased scores, renormalised, times 2.5.
    want = {7: 0.5 / 1.1 * 2.5, 2: 0.6 / 1.1 * 2.5}
    for e, x in zip(ids[0], w[0]):
        close(x, want[int(e)])


def test_cross_entropy():
    rm = M.ReferenceModel.__new__(M.ReferenceModel)
    lg = rng.standard_normal((6, 11))
    rm.logits = lambda toks: lg
    toks = [3, 1, 4, 1, 5, 9]
    want = np.mean([-(lg[t][toks[t + 1]] - math.log(sum(math.exp(v) for v in lg[t]))) for t in range(5)])
    close(rm.mean_cross_entropy(toks), want)


def f16(x):
    return struct.pack("<e", x)


def test_q4_k_block():
    # One super-block: d, dmin, then 8 (scale, min) 6-bit pairs packed into 12
    # bytes, then 4 x 32 bytes whose low nibbles are sub-block 2i and high nibbles
    # sub-block 2i+1.
    sc = rng.integers(0, 64, 8)
    mn = rng.integers(0, 64, 8)
    q = rng.integers(0, 16, (8, 32))
    d, dmin = 0.03125, 0.0078125
    packed = [0] * 12
    for j in range(8):
        if j < 4:
            packed[j] |= sc[j]
            packed[j + 4] |= mn[j]
        else:
            packed[j + 4] |= (sc[j] & 15) | ((mn[j] & 15) << 4)
            packed[j - 4] |= (sc[j] >> 4) << 6
            packed[j] |= (mn[j] >> 4) << 6
    qs = [0] * 128
    for i in range(4):
        for l in range(32):
            qs[32 * i + l] = q[2 * i][l] | (q[2 * i + 1][l] << 4)
    raw = f16(d) + f16(dmin) + bytes(packed) + bytes(qs)
    want = [d * sc[j] * q[j][l] - dmin * mn[j] for j in range(8) for l in range(32)]
    close(dequant.dequantize(dequant.Q4_K, raw, 256), want)


def test_q6_k_block():
    # 16 sub-blocks of 16 with int8 scales; 6-bit values q in [0, 64) stored as
    # 4 low bits in ql and 2 high bits in qh; x = d * scale * (q - 32).
    q = rng.integers(0, 64, 256)
    sc = rng.integers(-128, 128, 16)
    d = 0.0625
    ql = [0] * 128
    qh = [0] * 64
    for half in range(2):
        for l in range(32):
            for k in range(4):  # element 128*half + 32*k + l
                v = int(q[128 * half + 32 * k + l])
                byte = 64 * half + l + (32 if k in (1, 3) else 0)
                ql[byte] |= (v & 15) << (4 if k >= 2 else 0)
                qh[32 * half + l] |= (v >> 4) << (2 * k)
    raw = bytes(ql) + bytes(qh) + struct.pack("<16b", *sc) + f16(d)
    want = [d * sc[i // 16] * (q[i] - 32) for i in range(256)]
    close(dequant.dequantize(dequant.Q6_K, raw, 256), want)


def test_q4_0_and_q8_0_blocks():
    q = rng.integers(0, 16, 32)
    raw = f16(0.5) + bytes(int(q[j]) | (int(q[j + 16]) << 4) for j in range(16))
    close(dequant.dequantize(dequant.Q4_0, raw, 32), 0.5 * (q - 8))
    q8 = rng.integers(-128, 128, 32)
    raw = f16(0.25) + struct.pack("<32b", *q8)
    close(dequant.dequantize(dequant.Q8_0, raw, 32), 0.25 * q8)


for name, fn in list(globals().items()):
    if name.startswith("test_"):
        fn()
        print("ok", name)
print("OK")

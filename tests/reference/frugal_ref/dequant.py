"""Dequantisation of the GGUF tensor types the tests use, in numpy, from the
block layouts of the format (ggml's type ids):

  F32 (0)   4-byte IEEE floats.            F16 (1)  2-byte IEEE halves.
  BF16 (30) the top 16 bits of an f32.
  Q4_0 (2)  blocks of 32: f16 d, 16 bytes; byte j holds element j (low
            nibble) and element j+16 (high nibble); x = d * (q - 8).
  Q8_0 (8)  blocks of 32: f16 d, 32 int8 q; x = d * q.
  Q4_K (12) super-blocks of 256: f16 d, f16 dmin, 12 bytes of packed 6-bit
            (scale, min) pairs for 8 sub-blocks of 32, 128 bytes of nibbles.
            Each 64 elements share 32 bytes: low nibbles are sub-block 2i,
            high nibbles sub-block 2i+1; x = d*scale*q - dmin*min.
  Q5_K (13) super-blocks of 256: Q4_K's d, dmin and scales, then 32 bytes
            qh, then Q4_K's 128 bytes of nibbles; element l of sub-block j
            adds 16 to its nibble where bit j of qh[l] is set.
  Q6_K (14) super-blocks of 256: 128 bytes of low nibbles (ql), 64 bytes of
            high 2-bit pairs (qh), 16 int8 scales, f16 d; x = d*scale*(q - 32),
            q = 6 bits. Each half of 128 elements uses 64 bytes of ql, 32 of qh
            and 8 scales: element l + 32k (k = 0..3, l < 32) takes the low or
            high nibble of ql[l + 32*(k&1)] (high for k >= 2) and bits 2k..2k+1
            of qh[l]; its scale is scales[l//16 + 2k].
  MXFP4 (39) blocks of 32: one E8M0 byte e, 16 bytes of 4-bit E2M1 codes
            packed as Q4_0's. Code c: sign bit 3, exponent bits 2..1,
            mantissa bit 0; magnitude m/2 for exponent 0 (subnormal),
            (1 + m/2) * 2^(exp - 1) otherwise (0, 0.5, 1, 1.5, 2, 3, 4, 6).
            x = 2^(e - 127) * value (the OCP microscaling format).
"""
import numpy as np

F32, F16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, BF16, MXFP4 = 0, 1, 2, 8, 12, 13, 14, 30, 39
I32 = 26  # integer tables (deepseek4's ffn_gate_tid2eid), read as exact float64

# type id -> (block size in elements, bytes per block)
BLOCKS = {F32: (1, 4), I32: (1, 4), F16: (1, 2), BF16: (1, 2), Q4_0: (32, 18), Q8_0: (32, 34), Q4_K: (256, 144),
          Q5_K: (256, 176), Q6_K: (256, 210), MXFP4: (32, 17)}
NAMES = {F32: "f32", I32: "i32", F16: "f16", BF16: "bf16", Q4_0: "q4_0", Q8_0: "q8_0", Q4_K: "q4_k", Q5_K: "q5_k",
         Q6_K: "q6_k", MXFP4: "mxfp4"}


def tensor_bytes(ttype, dims):
    if ttype not in BLOCKS:
        raise ValueError(f"dequant: tensor type {ttype} is not supported by the reference")
    bs, bb = BLOCKS[ttype]
    if dims[0] % bs:
        raise ValueError(f"dequant: row length {dims[0]} is not a multiple of the block size {bs}")
    n = 1
    for d in dims:
        n *= d
    return n // bs * bb


def _half(b):
    return b.copy().view("<f2").astype(np.float64)


def dequantize(ttype, raw, n):
    """Returns n float64 values from the stored bytes of a tensor."""
    buf = np.frombuffer(raw, dtype=np.uint8)
    if ttype == F32:
        return buf.view("<f4").astype(np.float64)
    if ttype == I32:
        return buf.view("<i4").astype(np.float64)
    if ttype == F16:
        return buf.view("<f2").astype(np.float64)
    if ttype == BF16:
        return (buf.view("<u2").astype(np.uint32) << 16).view("<f4").astype(np.float64)
    bs, bb = BLOCKS[ttype]
    blocks = buf.reshape(n // bs, bb)
    if ttype == Q8_0:
        d = _half(blocks[:, 0:2])
        q = blocks[:, 2:34].copy().view(np.int8).astype(np.float64)
        return (d * q).reshape(-1)
    if ttype == Q4_0:
        d = _half(blocks[:, 0:2])
        qs = blocks[:, 2:18]
        q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float64) - 8.0
        return (d * q).reshape(-1)
    if ttype in (Q4_K, Q5_K):
        d = _half(blocks[:, 0:2])
        dmin = _half(blocks[:, 2:4])
        s = blocks[:, 4:16].astype(np.int32)
        qs = blocks[:, 16:144] if ttype == Q4_K else blocks[:, 48:176]
        # 6-bit scale and min of sub-block j: j < 4 in the low 6 bits of
        # bytes j and j+4; j >= 4 in the nibbles of byte j+4 with their top
        # two bits in the top bits of bytes j-4 (scale) and j (min).
        sc = np.empty((len(blocks), 8), np.int32)
        mn = np.empty((len(blocks), 8), np.int32)
        sc[:, :4] = s[:, 0:4] & 63
        mn[:, :4] = s[:, 4:8] & 63
        sc[:, 4:] = (s[:, 8:12] & 0x0F) | ((s[:, 0:4] >> 6) << 4)
        mn[:, 4:] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
        q = qs.reshape(-1, 4, 32)  # 4 chunks of 32 bytes, each 64 elements
        nib = np.stack([q & 0x0F, q >> 4], axis=2).reshape(-1, 8, 32).astype(np.float64)  # sub-block order
        if ttype == Q5_K:
            qh = blocks[:, 16:48].astype(np.int32)
            nib += 16.0 * ((qh[:, None, :] >> np.arange(8)[None, :, None]) & 1)
        x = d[:, :, None] * sc[:, :, None] * nib - dmin[:, :, None] * mn[:, :, None]
        return x.reshape(-1)
    if ttype == Q6_K:
        ql = blocks[:, 0:128].reshape(-1, 2, 64).astype(np.int32)
        qh = blocks[:, 128:192].reshape(-1, 2, 32).astype(np.int32)
        sc = blocks[:, 192:208].copy().view(np.int8).astype(np.float64).reshape(-1, 2, 8)
        d = _half(blocks[:, 208:210]).reshape(-1, 1, 1)
        out = np.empty((len(blocks), 2, 4, 32), np.float64)
        for k in range(4):
            low = ql[:, :, 32 * (k & 1):32 * (k & 1) + 32]
            low = (low >> 4) if k >= 2 else (low & 0x0F)
            q = (low | (((qh >> (2 * k)) & 3) << 4)) - 32
            scale = np.repeat(sc[:, :, 2 * k:2 * k + 2], 16, axis=2)  # l//16 picks scale 2k or 2k+1
            out[:, :, k, :] = d * scale * q
        return out.reshape(-1)
    if ttype == MXFP4:
        scale = np.ldexp(1.0, blocks[:, 0:1].astype(np.int64) - 127)
        qs = blocks[:, 1:17]
        code = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int64)
        exp, man = (code >> 1) & 3, (code & 1).astype(np.float64)
        mag = np.where(exp == 0, man / 2, (1 + man / 2) * np.ldexp(1.0, exp - 1))
        return (scale * np.where(code & 8, -mag, mag)).reshape(-1)
    raise ValueError(f"dequant: tensor type {ttype} is not supported by the reference")

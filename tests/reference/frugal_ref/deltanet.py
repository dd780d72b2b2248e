"""Gated DeltaNet linear attention (Qwen3-Next, Qwen3.5-MoE), float64.

From "Gated Delta Networks: Improving Mamba2 with Delta Rule" and the
Qwen3-Next model definition, as the GGUF files lay out its tensors:

- Projections of the normalised input x: q and k for n_k key heads of d_k,
  v and z for n_v value heads of d_v, b and a per value head.
  qwen3next: ssm_in holds, for each key head g, [q_g, k_g, v, z] where v and
  z are those of value heads g*r .. g*r+r-1 (r = n_v / n_k), and ssm_ba
  holds per key head [b of its r value heads, a of them]; value head h
  reads key head h // r.
  qwen35moe: attn_qkv is [q of every key head, k of every key head, v of
  every value head], attn_gate z, ssm_beta b and ssm_alpha a; value head h
  reads key head h % n_k.
- A causal depthwise convolution over time of the q, k, v channels (ssm_conv1d:
  conv_kernel taps per channel, the last tap on the current position, zeros
  before the sequence), then silu.
- q and k of each head divided by sqrt(sum x^2 + eps) (eps: the RMSNorm
  epsilon); q also by sqrt(d_k).
- beta = sigmoid(b); decay = exp(softplus(a + ssm_dt.bias) * ssm_a) (ssm_a
  is -exp(A_log), negative).
- Per value head a state S (d_v x d_k), zero at position 0; per position:
  S = decay * S; S = S + beta * (v - S k) k^T; o = S q.
- o normalised per head by RMSNorm with ssm_norm, times silu(z), then
  ssm_out.
"""
import numpy as np


def _silu(x):
    return x / (1.0 + np.exp(-x))


def _softplus(x):
    return np.where(x > 20.0, x, np.log1p(np.exp(np.minimum(x, 20.0))))


def _rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def _l2_normalise(x, eps):
    return x / np.sqrt(np.sum(x * x, axis=-1, keepdims=True) + eps)


def delta_net(model, il, x):
    """The layer's output (T, n_embd) for the normalised rows x (T, n_embd) of one sequence."""
    cfg = model.cfg
    b = f"blk.{il}."
    T = x.shape[0]
    nk, nv, dk, dv = cfg.ssm_n_k, cfg.ssm_n_v, cfg.ssm_dk, cfg.ssm_dv
    r = nv // nk
    if cfg.arch == "qwen35moe":
        qkv = model.mm(x, b + "attn_qkv.weight")
        z = model.mm(x, b + "attn_gate.weight").reshape(T, nv, dv)
        beta = model.mm(x, b + "ssm_beta.weight")
        alpha = model.mm(x, b + "ssm_alpha.weight")
        key_head = np.arange(nv) % nk
    else:
        mixed = model.mm(x, b + "ssm_in.weight").reshape(T, nk, 2 * dk + 2 * r * dv)
        q, k = mixed[..., :dk], mixed[..., dk:2 * dk]
        v = mixed[..., 2 * dk:2 * dk + r * dv].reshape(T, nv * dv)
        z = mixed[..., 2 * dk + r * dv:].reshape(T, nv, dv)
        qkv = np.concatenate([q.reshape(T, -1), k.reshape(T, -1), v], axis=-1)
        ba = model.mm(x, b + "ssm_ba.weight").reshape(T, nk, 2 * r)
        beta = ba[..., :r].reshape(T, nv)
        alpha = ba[..., r:].reshape(T, nv)
        key_head = np.arange(nv) // r

    # Causal depthwise convolution: output t = sum_i w[i] * input[t - (K-1) + i].
    w = model.w(b + "ssm_conv1d.weight")  # (channels, K)
    K = w.shape[1]
    padded = np.concatenate([np.zeros((K - 1, qkv.shape[1])), qkv], axis=0)
    conv = sum(w[:, i][None, :] * padded[i:i + T] for i in range(K))
    conv = _silu(conv)
    q = _l2_normalise(conv[:, :nk * dk].reshape(T, nk, dk), cfg.eps) / np.sqrt(dk)
    k = _l2_normalise(conv[:, nk * dk:2 * nk * dk].reshape(T, nk, dk), cfg.eps)
    v = conv[:, 2 * nk * dk:].reshape(T, nv, dv)

    beta = 1.0 / (1.0 + np.exp(-beta))
    decay = np.exp(_softplus(alpha + model.w(b + "ssm_dt.bias")) * model.w(b + "ssm_a"))

    out = np.zeros((T, nv, dv))
    for h in range(nv):
        S = np.zeros((dv, dk))
        g = key_head[h]
        for t in range(T):
            S = decay[t, h] * S
            S = S + beta[t, h] * np.outer(v[t, h] - S @ k[t, g], k[t, g])
            out[t, h] = S @ q[t, g]
    out = _rms_norm(out, model.w(b + "ssm_norm.weight"), cfg.eps) * _silu(z)
    return model.mm(out.reshape(T, nv * dv), b + "ssm_out.weight")

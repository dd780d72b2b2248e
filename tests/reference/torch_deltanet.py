"""PyTorch Gated DeltaNet layer (qwen3next, qwen35moe), float64, for the LoRA
trainer's gradient check (tests/finetune/torch_lora_gradient_test.py).

Written from the Gated DeltaNet paper's recurrence (Yang et al., "Gated
Delta Networks: Improving Mamba2 with Delta Rule") with torch's own
operations, so that autograd, not a hand-written backward, gives the
gradients:

- the projections of the normalised rows h: qwen3next's ssm_in gives per
  key head [q, k, v of its r value heads, z of them] and ssm_ba per key
  head [b of its value heads, a of them]; qwen35moe's attn_qkv, attn_gate,
  ssm_beta and ssm_alpha give them apart (q of every key head, k of every
  key head, v of every value head);
- a causal depthwise conv1d (ssm_conv1d, zero-padded on the left) of q, k, v,
  then SiLU; q and k of each key head scaled to unit length (F.normalize
  with the RMSNorm epsilon under the square root), q also by 1/sqrt(d_k);
- beta = sigmoid(b), the decay g = exp(-exp(A_log) softplus(a + dt_bias))
  (ssm_a holds -exp(A_log));
- per value head (reading key head h // r for qwen3next, h % n_k for
  qwen35moe) the state S (d_v x d_k) from zero: S <- g S + beta (v - g S k)
  k^T, o = S q;
- o RMS-normalised per head with ssm_norm, times SiLU(z), through ssm_out.
"""
import torch

F = torch.nn.functional


def _rmsnorm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def _unit(x, eps):
    return x / torch.sqrt((x * x).sum(-1, keepdim=True) + eps)


def delta_net(head, p, h):
    """The layer's output (T x n_embd) for one sequence's normalised rows h."""
    eps = head["eps"]
    nk, nv, dk, dv = int(head["ssm_nk"]), int(head["ssm_nv"]), int(head["ssm_dk"]), int(head["ssm_dv"])
    r = nv // nk
    T = h.shape[0]
    if p("attn_qkv.weight") is not None:
        qkv = h @ p("attn_qkv.weight").T
        q, k, v = qkv.split([nk * dk, nk * dk, nv * dv], -1)
        z = h @ p("attn_gate.weight").T
        b, a = h @ p("ssm_beta.weight").T, h @ p("ssm_alpha.weight").T
        key_of = torch.arange(nv) % nk
    else:
        per_key = (h @ p("ssm_in.weight").T).view(T, nk, 2 * dk + 2 * r * dv)
        q, k, v, z = per_key.split([dk, dk, r * dv, r * dv], -1)
        q, k, v, z = q.reshape(T, -1), k.reshape(T, -1), v.reshape(T, -1), z.reshape(T, -1)
        ba = (h @ p("ssm_ba.weight").T).view(T, nk, 2 * r)
        b, a = ba[..., :r].reshape(T, nv), ba[..., r:].reshape(T, nv)
        key_of = torch.arange(nv) // r
    # The causal depthwise convolution over time, as a grouped conv1d.
    x = torch.cat([q, k, v], -1).T[None]  # 1 x channels x T
    w = p("ssm_conv1d.weight")  # channels x taps
    taps = w.shape[1]
    y = F.silu(F.conv1d(F.pad(x, (taps - 1, 0)), w[:, None, :], groups=w.shape[0]))[0].T  # T x channels
    q, k, v = y.split([nk * dk, nk * dk, nv * dv], -1)
    q = _unit(q.reshape(T, nk, dk), eps) / dk ** 0.5
    k = _unit(k.reshape(T, nk, dk), eps)
    v = v.reshape(T, nv, dv)
    beta = torch.sigmoid(b)
    g = torch.exp(p("ssm_a") * F.softplus(a + p("ssm_dt.bias")))
    outs = []
    for hv in range(nv):
        kh = int(key_of[hv])
        S = torch.zeros(dv, dk, dtype=h.dtype)
        rows = []
        for t in range(T):
            kt, qt = k[t, kh], q[t, kh]
            S = g[t, hv] * S
            S = S + beta[t, hv] * torch.outer(v[t, hv] - S @ kt, kt)
            rows.append(S @ qt)
        outs.append(torch.stack(rows))
    o = torch.stack(outs, 1)  # T x nv x dv
    o = _rmsnorm(o, p("ssm_norm.weight"), eps) * F.silu(z.view(T, nv, dv))
    return o.reshape(T, nv * dv) @ p("ssm_out.weight").T

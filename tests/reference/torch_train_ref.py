"""PyTorch reference of frugal's training model (src/train/train_model.h),
written from the model's definition: loss and autograd gradients of every
parameter for one batch, in float64. The architectures it trains (qwen3moe,
qwen2moe, olmoe, Mixtral-style llama) differ in what the dump's JSON line
names: q/k norm (per head, whole vector, none), RoPE pairing and base, norm
eps, q/k/v biases and a gated shared expert (from the tensors present), and
whether the top-k weights are renormalised.

Reads what train_gradient_dump writes: a JSON line (shape, losses, each
tensor's name, ggml shape and offset into the flat parameter array), then the
f32 parameters, frugal's f32 gradients, the selection bias, tokens, targets.
"""
import json

import numpy as np
import torch

F = torch.nn.functional


def read_dump(path):
    with open(path, "rb") as f:
        head = json.loads(f.readline())
        rest = f.read()
    n_params = sum(int(np.prod(t["shape"])) for t in head["tensors"])
    L, E, N = int(head["layer"]), int(head["expert"]), int(head["batch"]) * int(head["seq"])
    arr = np.frombuffer(rest, dtype="<f4", count=2 * n_params + L * E)
    ints = np.frombuffer(rest, dtype="<i4", offset=4 * (2 * n_params + L * E), count=2 * N)
    return head, arr[:n_params], arr[n_params:2 * n_params], arr[2 * n_params:].reshape(L, E), ints[:N], ints[N:]


def tensors_of(head, flat):
    """name -> numpy array in PyTorch order (ggml's shape reversed)."""
    out = {}
    for t in head["tensors"]:
        n = int(np.prod(t["shape"]))
        out[t["name"]] = flat[t["offset"]:t["offset"] + n].reshape(tuple(reversed(t["shape"])))
    return out


def rmsnorm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rope(x, base=10000.0, neox=True):
    # x: B x T x H x hd; pair i turns by pos * base^(-2i/hd). NeoX pairs
    # (i, i + hd/2) (qwen*, olmoe); llama pairs (2i, 2i + 1).
    if not neox:
        B, T, H, hd = x.shape
        halves = x.view(B, T, H, hd // 2, 2).transpose(-1, -2).reshape(B, T, H, hd)
        turned = rope(halves, base, True)
        return turned.view(B, T, H, 2, hd // 2).transpose(-1, -2).reshape(B, T, H, hd)
    T, hd = x.shape[1], x.shape[-1]
    half = hd // 2
    inv = base ** (-2.0 * torch.arange(half, dtype=torch.float64) / hd)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    c, s = (torch.cos(ang)[None, :, None, :].to(x.dtype), torch.sin(ang)[None, :, None, :].to(x.dtype))
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * c - b * s, a * s + b * c], -1)


def swiglu_ffn(x, g, u, d):
    return (F.silu(x @ g.T) * (x @ u.T)) @ d.T


def loss(head, W, bias, tokens, targets):
    """Total loss (cross-entropy + aux + z) and its parts, as tensors of W's dtype."""
    eps, base, neox, qk_norm = head["eps"], head["rope_base"], bool(head["rope_neox"]), head["qk_norm"]
    B, T = int(head["batch"]), int(head["seq"])
    H, Hkv, hd = int(head["head"]), int(head["head_kv"]), int(head["head_dim"])
    E, k = int(head["expert"]), int(head["used"])
    aux_coef, z_coef, norm_w = head["aux"], head["z"], head["norm_w"]
    tok = torch.as_tensor(tokens.astype(np.int64))
    tgt = torch.as_tensor(targets.astype(np.int64))
    N = tok.numel()
    x = W["token_embd.weight"][tok]
    dt = x.dtype
    aux_total = torch.zeros((), dtype=dt)
    z_total = torch.zeros((), dtype=dt)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    il = 0
    while f"blk.{il}.attn_norm.weight" in W:
        p = lambda n: W.get(f"blk.{il}.{n}")  # noqa: E731
        h = rmsnorm(x, p("attn_norm.weight"), eps)
        q, kk, v = h @ p("attn_q.weight").T, h @ p("attn_k.weight").T, h @ p("attn_v.weight").T
        if p("attn_q.bias") is not None:
            q, kk, v = q + p("attn_q.bias"), kk + p("attn_k.bias"), v + p("attn_v.bias")
        if qk_norm == "whole":  # olmoe: over each token's whole q and k vectors
            q, kk = rmsnorm(q, p("attn_q_norm.weight"), eps), rmsnorm(kk, p("attn_k_norm.weight"), eps)
        q, kk, v = q.view(B, T, H, hd), kk.view(B, T, Hkv, hd), v.view(B, T, Hkv, hd)
        if qk_norm == "head":  # qwen3moe: per head
            q, kk = rmsnorm(q, p("attn_q_norm.weight"), eps), rmsnorm(kk, p("attn_k_norm.weight"), eps)
        q, kk = rope(q, base, neox), rope(kk, base, neox)
        kk, v = kk.repeat_interleave(H // Hkv, dim=2), v.repeat_interleave(H // Hkv, dim=2)
        s = torch.einsum("bihd,bjhd->bhij", q, kk) / np.sqrt(hd)
        s = s.masked_fill(~mask, float("-inf")).softmax(-1)
        att = torch.einsum("bhij,bjhd->bihd", s, v).reshape(N, H * hd)
        x = x + att @ p("attn_output.weight").T
        hn = rmsnorm(x, p("ffn_norm.weight"), eps)
        logits = hn @ p("ffn_gate_inp.weight").T
        probs = logits.softmax(-1)
        lse = torch.logsumexp(logits, -1)
        score = probs.detach() + torch.as_tensor(bias[il]).to(dt)
        sel = score.topk(k, -1).indices  # N x k
        w = probs.gather(1, sel)
        if norm_w:
            w = w / w.sum(-1, keepdim=True)
        out = torch.zeros_like(x)
        G, U, D = p("ffn_gate_exps.weight"), p("ffn_up_exps.weight"), p("ffn_down_exps.weight")
        for e in range(E):
            rows, j = (sel == e).nonzero(as_tuple=True)
            if rows.numel():
                out = out.index_add(0, rows, w[rows, j, None] * swiglu_ffn(hn[rows], G[e], U[e], D[e]))
        if p("ffn_gate_shexp.weight") is not None:
            gate = torch.sigmoid(hn @ p("ffn_gate_inp_shexp.weight"))
            out = out + gate[:, None] * swiglu_ffn(hn, p("ffn_gate_shexp.weight"), p("ffn_up_shexp.weight"),
                                                    p("ffn_down_shexp.weight"))
        x = x + out
        share = torch.bincount(sel.flatten(), minlength=E).to(dt) / (N * k)  # a constant
        aux_total = aux_total + aux_coef * E * (share * probs.mean(0)).sum()
        z_total = z_total + z_coef * (lse * lse).mean()
        il += 1
    x = rmsnorm(x, W["output_norm.weight"], eps)
    ce = F.cross_entropy(x @ W["output.weight"].T, tgt)
    return ce + aux_total + z_total, ce, aux_total, z_total


def gradients(path):
    """(head, {name: (frugal grad, torch grad)}, {part: (frugal, torch)})."""
    head, params, grads, bias, tokens, targets = read_dump(path)
    W = {n: torch.tensor(a.astype(np.float64), requires_grad=True) for n, a in tensors_of(head, params).items()}
    total, ce, aux, z = loss(head, W, bias, tokens, targets)
    total.backward()
    fr = tensors_of(head, grads)
    pairs = {n: (fr[n].astype(np.float64), W[n].grad.numpy()) for n in W}
    losses = {"ce": (head["ce"], ce.item()), "aux": (head["aux_loss"], aux.item()), "z": (head["z_loss"], z.item())}
    return head, pairs, losses

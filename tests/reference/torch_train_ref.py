"""PyTorch reference of frugal's training model (src/train/train_model.h),
written from the model's definition: loss and autograd gradients of every
parameter for one batch, in float64. The architectures it trains (qwen3moe,
qwen2moe, olmoe, Mixtral-style llama, deepseek2; glm4moe for the LoRA
trainer's reference, gpt-oss: attention sinks, a window on the even layers,
biases on attn_output, the router and the experts, its clamped gated unit, and
llama4: chunks, NoPE layers tempering their queries, experts weighted on their
input; qwen3next and qwen35moe for the LoRA trainer's: Gated DeltaNet layers,
torch_deltanet.py, beside attention with an output gate per head)
differ in what the dump's JSON line names: q/k norm (per head, whole vector,
none), RoPE pairing, base, rotated dimensions and YaRN's frequencies, norm eps, softmax or sigmoid router, its groups and scale, whether the
top-k weights are renormalised, and for latent attention its dimensions, the
softmax scale and inference's RoPE angles (YaRN); and in the tensors present:
q/k/v biases, shared experts with or without a gate, dense layers, latent
attention's projections.

Reads what train_gradient_dump writes: a JSON line (shape, losses, each
tensor's name, ggml shape and offset into the flat parameter array), then the
f32 parameters, frugal's f32 gradients, the selection bias, tokens, targets.
"""
import json

import numpy as np
import torch
from torch_deltanet import delta_net

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


def rope(x, base=10000.0, neox=True, n_dims=None, inv_freq=None, magnitude=1.0):
    # x: B x T x H x hd; pair i turns by pos * base^(-2i/hd). NeoX pairs
    # (i, i + hd/2) (qwen*, olmoe); llama pairs (2i, 2i + 1). With n_dims
    # (glm4moe: half of each head) only the first n_dims values turn, as
    # pairs of those, and the rest pass unturned. inv_freq and magnitude:
    # other frequencies and a cos/sin magnitude (gpt-oss's YaRN).
    if n_dims is not None and n_dims < x.shape[-1]:
        return torch.cat([rope(x[..., :n_dims], base, neox, None, inv_freq, magnitude), x[..., n_dims:]], -1)
    if not neox:
        B, T, H, hd = x.shape
        halves = x.view(B, T, H, hd // 2, 2).transpose(-1, -2).reshape(B, T, H, hd)
        turned = rope(halves, base, True, None, inv_freq, magnitude)
        return turned.view(B, T, H, 2, hd // 2).transpose(-1, -2).reshape(B, T, H, hd)
    T, hd = x.shape[1], x.shape[-1]
    half = hd // 2
    inv = base ** (-2.0 * torch.arange(half, dtype=torch.float64) / hd)
    if inv_freq is not None:
        inv = torch.as_tensor(np.asarray(inv_freq, dtype=np.float64))
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    c, s = (torch.cos(ang)[None, :, None, :].to(x.dtype) * magnitude,
            torch.sin(ang)[None, :, None, :].to(x.dtype) * magnitude)
    a, b = x[..., :half], x[..., half:]
    return torch.cat([a * c - b * s, a * s + b * c], -1)


def swiglu_ffn(x, g, u, d):
    return (F.silu(x @ g.T) * (x @ u.T)) @ d.T


def oai_ffn(x, g, u, d, gb, ub, db, alpha=1.702, limit=7.0):
    """gpt-oss's expert: biases, then g' sigmoid(alpha g') (u' + 1) with g' =
    min(g, limit), u' = clamp(u, -limit, limit), then down and its bias."""
    gg, uu = (x @ g.T + gb).clamp(max=limit), (x @ u.T + ub).clamp(-limit, limit)
    return (gg * torch.sigmoid(alpha * gg) * (uu + 1.0)) @ d.T + db


def attention(head, p, h, B, T, mask, nope=False):
    """The attention block of qwen3moe, qwen2moe, olmoe and llama: N x n_embd.
    nope (llama4's NoPE layers): no rotation and no q/k norm; the queries
    tempered by position instead."""
    eps, base, neox, qk_norm = head["eps"], head["rope_base"], bool(head["rope_neox"]), head["qk_norm"]
    H, Hkv, hd = int(head["head"]), int(head["head_kv"]), int(head["head_dim"])
    q, kk, v = h @ p("attn_q.weight").T, h @ p("attn_k.weight").T, h @ p("attn_v.weight").T
    gate = None
    if head.get("attn_gate"):  # qwen3next, qwen35moe: per head the query, then its output gate's logits
        qg = q.view(B * T, H, 2, hd)
        q, gate = qg[:, :, 0].reshape(B * T, H * hd), torch.sigmoid(qg[:, :, 1].reshape(B * T, H * hd))
    if p("attn_q.bias") is not None:
        q, kk, v = q + p("attn_q.bias"), kk + p("attn_k.bias"), v + p("attn_v.bias")
    if qk_norm == "whole":  # olmoe: over each token's whole q and k vectors
        q, kk = rmsnorm(q, p("attn_q_norm.weight"), eps), rmsnorm(kk, p("attn_k_norm.weight"), eps)
    q, kk, v = q.view(B, T, H, hd), kk.view(B, T, Hkv, hd), v.view(B, T, Hkv, hd)
    if qk_norm == "head":  # qwen3moe: per head
        q, kk = rmsnorm(q, p("attn_q_norm.weight"), eps), rmsnorm(kk, p("attn_k_norm.weight"), eps)
    after = qk_norm == "head_after_rope"  # hunyuan-moe: per head, the rotated heads
    if qk_norm == "head_unweighted" and not nope:  # llama4: per head, no weight, RoPE layers only
        q, kk = rmsnorm(q, 1.0, eps), rmsnorm(kk, 1.0, eps)
    rd = int(head.get("rope_dim", hd))
    inv, mag = head.get("rope_inv_freq"), float(head.get("rope_mag", 1.0))
    if nope:
        if head.get("temp_scale", 0.0):
            pos = torch.arange(T, dtype=torch.float64)
            t = 1.0 + head["temp_scale"] * torch.log(torch.floor((pos + 1) / head["temp_length"]) + 1)
            q = q * t[None, :, None, None].to(q.dtype)
    else:
        q, kk = rope(q, base, neox, rd, inv, mag), rope(kk, base, neox, rd, inv, mag)
    if after:
        q, kk = rmsnorm(q, p("attn_q_norm.weight"), eps), rmsnorm(kk, p("attn_k_norm.weight"), eps)
    kk, v = kk.repeat_interleave(H // Hkv, dim=2), v.repeat_interleave(H // Hkv, dim=2)
    s = torch.einsum("bihd,bjhd->bhij", q, kk) / np.sqrt(hd)
    s = s.masked_fill(~mask, float("-inf"))
    if p("attn_sinks.weight") is not None:  # gpt-oss: a logit per head in the denominator, without a value
        sink = p("attn_sinks.weight")[None, :, None, None].expand(B, H, T, 1)
        s = torch.cat([s, sink], -1).softmax(-1)[..., :T]
    else:
        s = s.softmax(-1)
    att = torch.einsum("bhij,bjhd->bihd", s, v).reshape(B * T, H * hd)
    if gate is not None:
        att = att * gate
    out = att @ p("attn_output.weight").T
    return out + p("attn_output.bias") if p("attn_output.bias") is not None else out


def rope_table(x, cs):
    """x: B x T x H x d; pairs (2i, 2i + 1) turned by the dumped (cos, sin)
    table of inference's angles (T x d: YaRN included)."""
    c, s = cs[:, 0::2][None, :, None, :], cs[:, 1::2][None, :, None, :]
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack([a * c - b * s, a * s + b * c], -1).flatten(-2)


def latent_attention(head, p, h, B, T, mask):
    """deepseek2's multi-head latent attention, unabsorbed: N x n_embd."""
    eps = head["eps"]
    H, hd, nope, rd, vd = int(head["head"]), int(head["head_dim"]), int(head["nope"]), int(head["rope_dim"]), int(
        head["v_dim"])
    cs = torch.tensor(np.array(head["rope_cs"], dtype=np.float64).reshape(-1, rd)[:T])
    if p("attn_q_a.weight") is not None:
        q = rmsnorm(h @ p("attn_q_a.weight").T, p("attn_q_a_norm.weight"), eps) @ p("attn_q_b.weight").T
    else:
        q = h @ p("attn_q.weight").T
    q = q.view(B, T, H, hd)
    q = torch.cat([q[..., :nope], rope_table(q[..., nope:], cs)], -1)
    kva = h @ p("attn_kv_a_mqa.weight").T
    rank = kva.shape[-1] - rd
    c = rmsnorm(kva[:, :rank], p("attn_kv_a_norm.weight"), eps)
    kpe = rope_table(kva[:, rank:].view(B, T, 1, rd), cs)
    if p("attn_kv_b.weight") is not None:
        kv = (c @ p("attn_kv_b.weight").T).view(B, T, H, nope + vd)
        k_nope, v = kv[..., :nope], kv[..., nope:]
    else:  # split: attn_k_b per head rank x nope (the key rows transposed), attn_v_b per head v x rank
        k_nope = torch.einsum("nr,hrj->nhj", c, p("attn_k_b.weight")).view(B, T, H, nope)
        v = torch.einsum("nr,hvr->nhv", c, p("attn_v_b.weight")).view(B, T, H, vd)
    kk = torch.cat([k_nope, kpe.expand(B, T, H, rd)], -1)
    s = torch.einsum("bihd,bjhd->bhij", q, kk) * head["attn_scale"]
    s = s.masked_fill(~mask, float("-inf")).softmax(-1)
    att = torch.einsum("bhij,bjhd->bihd", s, v).reshape(B * T, H * vd)
    return att @ p("attn_output.weight").T


def choose(head, scores, k):
    """The top-k experts by scores (N x E, the selection bias added), within
    the n_group_used best groups where the router has groups (group score:
    the best score, or the sum of the best two for a sigmoid router)."""
    ng, used = int(head["groups"]), int(head["groups_used"])
    if ng > 1:
        N, E = scores.shape
        g = scores.view(N, ng, E // ng)
        top = g.topk(min(2, E // ng), -1).values
        gs = top.sum(-1) if head["sigmoid"] else top[..., 0]
        keep = torch.zeros(N, ng, dtype=torch.bool)
        keep.scatter_(1, gs.topk(used, -1).indices, True)
        scores = scores.masked_fill(~keep.repeat_interleave(E // ng, 1), float("-inf"))
    return scores.topk(k, -1).indices


def loss(head, W, bias, tokens, targets):
    """Total loss (cross-entropy + aux + z) and its parts, as tensors of W's dtype."""
    eps = head["eps"]
    B, T = int(head["batch"]), int(head["seq"])
    E, k = int(head["expert"]), int(head["used"])
    aux_coef, z_coef, norm_w, sigmoid = head["aux"], head["z"], head["norm_w"], bool(head["sigmoid"])
    tok = torch.as_tensor(tokens.astype(np.int64))
    tgt = torch.as_tensor(targets.astype(np.int64))
    N = tok.numel()
    x = W["token_embd.weight"][tok]
    dt = x.dtype
    aux_total = torch.zeros((), dtype=dt)
    z_total = torch.zeros((), dtype=dt)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    il = 0
    n_layer = int(head.get("layer", 1 << 30))  # glm4moe's next-token-prediction block after them does not run
    while f"blk.{il}.attn_norm.weight" in W and il < n_layer:
        p = lambda n: W.get(f"blk.{il}.{n}")  # noqa: E731
        h = rmsnorm(x, p("attn_norm.weight"), eps)
        block = latent_attention if p("attn_kv_a_mqa.weight") is not None else attention
        swa = int(head.get("swa", 0))  # gpt-oss: the even layers see their last swa positions only
        ar = torch.arange(T)
        window = (ar[:, None] - ar[None, :] < swa) if swa > 0 and il % 2 == 0 else torch.ones(T, T, dtype=torch.bool)
        step, chunk = int(head.get("nope_step", 0)), int(head.get("chunk", 0))
        nope = step > 0 and (il + 1) % step == 0  # llama4: no RoPE, all positions; chunks on the others
        if step > 0 and not nope and chunk > 0:
            window = ar[:, None] // chunk == ar[None, :] // chunk
        interval = int(head.get("full_attn_interval", 0))
        if interval and (il + 1) % interval:  # a Gated DeltaNet layer (one sequence)
            x = x + delta_net(head, p, h)
        elif nope:
            x = x + attention(head, p, h, B, T, mask & window, nope=True)
        else:
            x = x + block(head, p, h, B, T, mask & window)
        # The FFN's pre-norm: ffn_norm, or post_attention_norm as glm4moe's converter names it.
        ffn_norm = p("ffn_norm.weight") if p("ffn_norm.weight") is not None else p("post_attention_norm.weight")
        hn = rmsnorm(x, ffn_norm, eps)
        if p("ffn_gate.weight") is not None:  # a dense layer (deepseek2's leading ones)
            x = x + swiglu_ffn(hn, p("ffn_gate.weight"), p("ffn_up.weight"), p("ffn_down.weight"))
            il += 1
            continue
        logits = hn @ p("ffn_gate_inp.weight").T
        if p("ffn_gate_inp.bias") is not None:  # gpt-oss
            logits = logits + p("ffn_gate_inp.bias")
        probs = torch.sigmoid(logits) if sigmoid else logits.softmax(-1)
        lse = torch.logsumexp(logits, -1)
        sel = choose(head, probs.detach() + torch.as_tensor(np.array(bias[il])).to(dt), k)  # N x k
        w = probs.gather(1, sel)
        if norm_w:
            w = w / w.sum(-1, keepdim=True)
        w = w * head["w_scale"]
        out = torch.zeros_like(x)
        G, U, D = p("ffn_gate_exps.weight"), p("ffn_up_exps.weight"), p("ffn_down_exps.weight")
        GB, UB, DB = p("ffn_gate_exps.bias"), p("ffn_up_exps.bias"), p("ffn_down_exps.bias")
        for e in range(E):
            rows, j = (sel == e).nonzero(as_tuple=True)
            if rows.numel():
                if head.get("weight_on_input"):  # llama4: the weight scales the input, the output adds as is
                    out = out.index_add(0, rows, swiglu_ffn(w[rows, j, None] * hn[rows], G[e], U[e], D[e]))
                    continue
                y = (oai_ffn(hn[rows], G[e], U[e], D[e], GB[e], UB[e], DB[e]) if GB is not None
                     else swiglu_ffn(hn[rows], G[e], U[e], D[e]))
                out = out.index_add(0, rows, w[rows, j, None] * y)
        if p("ffn_gate_shexp.weight") is not None:
            shared = swiglu_ffn(hn, p("ffn_gate_shexp.weight"), p("ffn_up_shexp.weight"), p("ffn_down_shexp.weight"))
            if p("ffn_gate_inp_shexp.weight") is not None:  # qwen2moe's sigmoid gate
                shared = torch.sigmoid(hn @ p("ffn_gate_inp_shexp.weight"))[:, None] * shared
            out = out + shared
        x = x + out
        share = torch.bincount(sel.flatten(), minlength=E).to(dt) / (N * k)  # a constant
        q = probs / probs.sum(-1, keepdim=True) if sigmoid else probs  # the balanced scores
        aux_total = aux_total + aux_coef * E * (share * q.mean(0)).sum()
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

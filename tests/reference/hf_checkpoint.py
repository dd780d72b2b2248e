"""Reads a Hugging Face checkpoint folder with numpy alone (safetensors
parsed here, names as Hugging Face spells them) and runs its forward pass in
float64 as the Hugging Face modeling code defines it: rotate-half RoPE on the
unpermuted q/k projections, per-head (Qwen3) or whole-vector (OLMoE) q/k
norms, the routers of Mixtral, Qwen2-MoE (with its gated shared expert),
Qwen3-MoE and OLMoE. Independent of
frugal's name mapping, so `frugal convert`'s output can be checked against it."""
import json
import math
import os
from types import SimpleNamespace

import numpy as np

from frugal_ref.model import attention, rms_norm, rope_halves, rope_inv_freq, sigmoid, silu, softmax


def _array(raw, base, entry):
    b0, b1 = entry["data_offsets"]
    shape = tuple(entry["shape"])
    dtype = entry["dtype"]
    if dtype == "F32":
        a = np.frombuffer(raw, "<f4", (b1 - b0) // 4, base + b0)
    elif dtype == "F16":
        a = np.frombuffer(raw, "<f2", (b1 - b0) // 2, base + b0)
    elif dtype == "BF16":
        a = (np.frombuffer(raw, "<u2", (b1 - b0) // 2, base + b0).astype(np.uint32) << 16).view("<f4")
    else:
        raise ValueError(f"dtype {dtype}")
    return a.astype(np.float64).reshape(shape)


def read_checkpoint(folder):
    """{name: float64 array in PyTorch's shape}."""
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out = {}
    for name in files:
        with open(os.path.join(folder, name), "rb") as f:
            raw = f.read()
        n = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8:8 + n])
        for tname, entry in header.items():
            if tname != "__metadata__":
                out[tname] = _array(raw, 8 + n, entry)
    return out


def hf_inv_freq(cfg, dim):
    """RoPE inverse frequencies and cos/sin magnitude as Hugging Face's
    rope_scaling defines them: none, linear, yarn, llama3."""
    base = cfg.get("rope_theta", 10000.0)
    inv_freq = base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    rs = cfg.get("rope_scaling") or {}
    kind = rs.get("rope_type", rs.get("type", "default"))
    if kind == "linear":
        return inv_freq / rs["factor"], 1.0
    if kind == "yarn":
        return rope_inv_freq(SimpleNamespace(rope_base=base, scaling="yarn", factor=rs["factor"],
                                             orig_ctx=rs.get("original_max_position_embeddings",
                                                             cfg["max_position_embeddings"]),
                                             beta_fast=rs.get("beta_fast", 32.0), beta_slow=rs.get("beta_slow", 1.0),
                                             attn_factor=1.0), dim)
    if kind == "llama3":
        factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
        old = rs["original_max_position_embeddings"]
        wavelen = 2 * math.pi / inv_freq
        smooth = (old / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * inv_freq / factor + smooth * inv_freq
        out = np.where(wavelen > old / low, inv_freq / factor, inv_freq)
        medium = (wavelen >= old / high) & (wavelen <= old / low)
        return np.where(medium, smoothed, out), 1.0
    assert kind == "default", kind
    return inv_freq, 1.0


def hf_logits(folder, tokens, config_edit=None):
    """Logits (T, vocab) of the checkpoint for the token ids (config.json's
    keys replaced by config_edit's)."""
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    cfg.update(config_edit or {})
    W = read_checkpoint(folder)
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or cfg["hidden_size"] // nh
    eps = cfg["rms_norm_eps"]
    inv_freq, magnitude = hf_inv_freq(cfg, hd)
    T = len(tokens)
    pos = np.arange(T, dtype=np.float64)
    x = W["model.embed_tokens.weight"][tokens]
    for il in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{il}."

        def proj(name, h):
            y = h @ W[p + name + ".weight"].T
            return y + W[p + name + ".bias"] if p + name + ".bias" in W else y

        def mlp(prefix, h):
            g = h @ W[prefix + "gate_proj.weight"].T
            u = h @ W[prefix + "up_proj.weight"].T
            return (silu(g) * u) @ W[prefix + "down_proj.weight"].T

        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = proj("self_attn.q_proj", h)
        k = proj("self_attn.k_proj", h)
        v = proj("self_attn.v_proj", h).reshape(T, nkv, hd)
        q_norm = W.get(p + "self_attn.q_norm.weight")
        if q_norm is not None and q_norm.shape[0] == nh * hd:  # OLMoE: over the whole projection
            q = rms_norm(q, q_norm, eps)
            k = rms_norm(k, W[p + "self_attn.k_norm.weight"], eps)
        q = q.reshape(T, nh, hd)
        k = k.reshape(T, nkv, hd)
        if q_norm is not None and q_norm.shape[0] == hd:  # Qwen3: per head
            q = rms_norm(q, q_norm, eps)
            k = rms_norm(k, W[p + "self_attn.k_norm.weight"], eps)
        q = rope_halves(q, pos, inv_freq, magnitude)
        k = rope_halves(k, pos, inv_freq, magnitude)
        x = x + proj("self_attn.o_proj", attention(q, k, v, 1.0 / np.sqrt(hd)))
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        if p + "block_sparse_moe.gate.weight" in W or p + "mlp.gate.weight" in W:
            mixtral = p + "block_sparse_moe.gate.weight" in W
            block = p + ("block_sparse_moe." if mixtral else "mlp.")
            gate, up, down = ("w1", "w3", "w2") if mixtral else ("gate_proj", "up_proj", "down_proj")
            probs = softmax(h @ W[block + "gate.weight"].T)
            top_k = cfg["num_experts_per_tok"]
            out = np.zeros_like(h)
            for t in range(T):
                chosen = np.argsort(-probs[t])[:top_k]
                w = probs[t, chosen]
                if mixtral or cfg.get("norm_topk_prob", False):
                    w = w / w.sum()
                for e, we in zip(chosen, w):
                    e_ = f"{block}experts.{e}."
                    g = W[e_ + gate + ".weight"] @ h[t]
                    u = W[e_ + up + ".weight"] @ h[t]
                    out[t] += we * (W[e_ + down + ".weight"] @ (silu(g) * u))
            if p + "mlp.shared_expert.gate_proj.weight" in W:  # Qwen2-MoE
                out += sigmoid(h @ W[p + "mlp.shared_expert_gate.weight"].T) * mlp(p + "mlp.shared_expert.", h)
            x = x + out
        else:
            x = x + mlp(p + "mlp.", h)
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["lm_head.weight"] if "lm_head.weight" in W else W["model.embed_tokens.weight"]
    return x @ head.T

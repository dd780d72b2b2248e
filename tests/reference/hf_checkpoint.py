"""Reads a Hugging Face checkpoint folder with numpy alone (safetensors
parsed here, names as Hugging Face spells them) and runs its forward pass in
float64 as the Hugging Face modeling code defines it: rotate-half RoPE on the
unpermuted q/k projections, per-head (Qwen3) or whole-vector (OLMoE) q/k
norms, the routers of Mixtral, Qwen2-MoE (with its gated shared expert),
Qwen3-MoE, OLMoE, DeepSeek-V2/V3 (latent attention, group-limited and
bias-corrected routing, shared experts, leading dense layers) and GLM-4.5
(partial RoPE, q/k/v biases; its next-token-prediction layer not run), and
Llama 4's language model (interleaved-pair RoPE, NoPE layers, chunked
attention, sigmoid-weighted expert inputs, fused experts), Qwen3-Next's
(Gated DeltaNet, gated attention, zero-centred norms) and Qwen3.5-MoE's
(the same layers with the DeltaNet's projections apart and the experts
stacked, in a multimodal checkpoint), and DeepSeek-V4's (its own module
names mapped here onto frugal_ref.deepseek4's arithmetic). Independent of
frugal's name mapping, so `frugal convert`'s output can be checked against it."""
import json
import math
import os
from types import SimpleNamespace

import numpy as np

from frugal_ref.deepseek4 import Deepseek4
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
    elif dtype == "F8_E4M3":  # unscaled; read_checkpoint multiplies by the block scales
        a = _FP8_E4M3[np.frombuffer(raw, "u1", b1 - b0, base + b0)]
    elif dtype == "U8":  # gpt-oss's MXFP4 blocks and scales: read_checkpoint decodes them
        return np.frombuffer(raw, "u1", b1 - b0, base + b0).reshape(shape)
    elif dtype == "F8_E8M0":  # DeepSeek-V4's block scales: 2^(byte - 127)
        a = np.exp2(np.frombuffer(raw, "u1", b1 - b0, base + b0).astype(np.float64) - 127.0)
    elif dtype == "I8":  # DeepSeek-V4's FP4 experts: read_checkpoint decodes them with their scales
        return np.frombuffer(raw, "u1", b1 - b0, base + b0).reshape(shape)
    elif dtype in ("I32", "I64"):  # DeepSeek-V4's token -> experts tables stay integers
        size = 4 if dtype == "I32" else 8
        return np.frombuffer(raw, f"<i{size}", (b1 - b0) // size, base + b0).astype(np.int64).reshape(shape)
    else:
        raise ValueError(f"dtype {dtype}")
    return a.astype(np.float64).reshape(shape)


def _fp8_e4m3_values():
    """The 256 values of float8_e4m3fn: sign, 4 exponent bits (bias 7), 3
    mantissa bits, subnormals at exponent 0, NaN at 0x7f and 0xff."""
    b = np.arange(256)
    e, m = (b >> 3) & 15, (b & 7).astype(np.float64)
    v = np.where(e == 0, m / 8 * 2.0 ** -6, (1 + m / 8) * 2.0 ** (e - 7))
    v[(b & 127) == 127] = np.nan
    return np.where(b & 128, -v, v)


_FP8_E4M3 = _fp8_e4m3_values()


def _apply_fp8_scales(out, block):
    """DeepSeek-V3's fp8 checkpoints: W = fp8(W) * W_scale_inv per block."""
    br, bc = block
    for name in [n for n in out if n.endswith("_scale_inv")]:
        scale = out.pop(name)
        w = name[:-len("_scale_inv")]
        r, c = out[w].shape
        out[w] = out[w] * np.repeat(np.repeat(scale, br, axis=0), bc, axis=1)[:r, :c]


def _apply_scales(out, block):
    """DeepSeek-V4's X.scale beside X.weight: fp8 weights times their
    block's scale, as _apply_fp8_scales; FP4 experts (I8 [rows, cols / 2],
    byte j holding code 2j low and 2j + 1 high) as E2M1 values times the
    scale of each 32 columns."""
    br, bc = block
    for name in [n for n in out if n.endswith(".scale")]:
        scale = out.pop(name)
        w = name[:-len(".scale")] + ".weight"
        if out[w].dtype == np.uint8:
            codes = np.stack([out[w] & 15, out[w] >> 4], axis=-1).reshape(out[w].shape[0], -1)
            out[w] = _E2M1[codes] * np.repeat(scale, 32, axis=1)
        else:
            r, c = out[w].shape
            out[w] = out[w] * np.repeat(np.repeat(scale, br, axis=0), bc, axis=1)[:r, :c]


# The E2M1 values of MXFP4's codes (OCP microscaling).
_E2M1 = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0])


def _decode_mxfp4(out):
    """gpt-oss: X_blocks [E, rows, n/32, 16] (byte j of a block: code 2j low,
    2j+1 high) and X_scales [E, rows, n/32] (2^(s - 127)) as X [E, n, rows],
    the parameter Hugging Face's modeling code multiplies by (h @ X[e])."""
    for name in [n for n in out if n.endswith("_blocks")]:
        base = name[:-len("_blocks")]
        blocks, scales = out.pop(name), out.pop(base + "_scales")
        codes = np.stack([blocks & 15, blocks >> 4], axis=-1).reshape(*blocks.shape[:-1], 32)
        values = _E2M1[codes] * np.exp2(scales.astype(np.float64) - 127.0)[..., None]
        out[base] = values.reshape(*blocks.shape[:-2], -1).transpose(0, 2, 1)


def read_checkpoint(folder):
    """{name: float64 array in PyTorch's shape}; fp8 weights multiplied by
    their block scales."""
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
    with open(os.path.join(folder, "config.json")) as f:
        quant = json.load(f).get("quantization_config")
    if quant and quant["quant_method"] == "fp8":
        _apply_fp8_scales(out, quant["weight_block_size"])
        _apply_scales(out, quant["weight_block_size"])
    else:
        assert not quant or quant["quant_method"] == "mxfp4", quant
        _decode_mxfp4(out)
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
        with np.errstate(divide="ignore", invalid="ignore"):  # Llama 4 Scout's high == low: no medium band
            smooth = (old / wavelen - low) / (high - low)
            smoothed = (1 - smooth) * inv_freq / factor + smooth * inv_freq
        out = np.where(wavelen > old / low, inv_freq / factor, inv_freq)
        medium = (wavelen >= old / high) & (wavelen <= old / low)
        return np.where(medium, smoothed, out), 1.0
    assert kind == "default", kind
    return inv_freq, 1.0


def mha(W, p, cfg, h, pos, proj):
    """Grouped-query attention with rotate-half RoPE (Llama, Qwen, OLMoE)."""
    T = h.shape[0]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or cfg["hidden_size"] // nh
    eps = cfg["rms_norm_eps"]
    # GLM-4.5, MiniMax-M2: RoPE on the first rd dimensions
    rd = cfg.get("rotary_dim") or int(hd * cfg.get("partial_rotary_factor", 1.0))
    inv_freq, magnitude = hf_inv_freq(cfg, rd)
    q = proj("self_attn.q_proj", h)
    k = proj("self_attn.k_proj", h)
    v = proj("self_attn.v_proj", h).reshape(T, nkv, hd)
    q_norm = W.get(p + "self_attn.q_norm.weight")
    if q_norm is not None and q_norm.shape[0] == nh * hd:  # OLMoE, MiniMax-M2: over the whole projection
        q = rms_norm(q, q_norm, eps)
        k = rms_norm(k, W[p + "self_attn.k_norm.weight"], eps)
    q = q.reshape(T, nh, hd)
    k = k.reshape(T, nkv, hd)
    if q_norm is not None and q_norm.shape[0] == hd:  # Qwen3: per head
        q = rms_norm(q, q_norm, eps)
        k = rms_norm(k, W[p + "self_attn.k_norm.weight"], eps)
    if cfg.get("model_type") == "ernie4_5_moe":  # ERNIE-4.5: RoPE over interleaved pairs (x[2i], x[2i+1])
        def rope(x, pos, inv_freq, magnitude):
            return rope_pairs(x, pos, inv_freq) * magnitude
    else:
        rope = rope_halves
    q = np.concatenate([rope(q[..., :rd], pos, inv_freq, magnitude), q[..., rd:]], axis=-1)
    k = np.concatenate([rope(k[..., :rd], pos, inv_freq, magnitude), k[..., rd:]], axis=-1)
    if p + "self_attn.query_layernorm.weight" in W:  # Hunyuan: per head, the rotated heads
        q = rms_norm(q, W[p + "self_attn.query_layernorm.weight"], eps)
        k = rms_norm(k, W[p + "self_attn.key_layernorm.weight"], eps)
    window = 0  # gpt-oss: sliding_window on the layers layer_types says
    if cfg.get("layer_types") and cfg["layer_types"][int(p.split(".")[2])] == "sliding_attention":
        window = cfg["sliding_window"]
    return attention(q, k, v, 1.0 / np.sqrt(hd), window, W.get(p + "self_attn.sinks"))


def gpt_oss_moe(W, p, cfg, h):
    """gpt-oss's MoE as its modeling code writes it: router with a bias, a
    softmax over the top-k logits, experts.gate_up_proj's even rows the gate
    and odd rows the up projection (with biases), the SwiGLU clamped at
    swiglu_limit with alpha 1.702 and (up + 1), down_proj with its bias."""
    e_ = p + "mlp.experts."
    logits = h @ W[p + "mlp.router.weight"].T + W[p + "mlp.router.bias"]
    ids = np.argsort(-logits, axis=-1, kind="stable")[:, :cfg["num_experts_per_tok"]]
    weights = softmax(np.take_along_axis(logits, ids, axis=-1))
    limit = cfg.get("swiglu_limit", 7.0)
    out = np.zeros_like(h)
    for t in range(h.shape[0]):
        for e, we in zip(ids[t], weights[t]):
            gu = h[t] @ W[e_ + "gate_up_proj"][e] + W[e_ + "gate_up_proj_bias"][e]
            gate, up = np.minimum(gu[0::2], limit), np.clip(gu[1::2], -limit, limit)
            y = (up + 1) * gate * sigmoid(1.702 * gate)
            out[t] += we * (y @ W[e_ + "down_proj"][e] + W[e_ + "down_proj_bias"][e])
    return out


def latent_attention(W, p, cfg, h, pos):
    """DeepSeek-V2/V3's multi-head latent attention as its modeling code
    writes it: keys and values expanded from the normalised latent by
    kv_b_proj, RoPE on the last qk_rope_head_dim dimensions after turning
    interleaved pairs into halves, YaRN's mscale_all_dim correction squared
    on the logits (cos/sin scaled by mscale / mscale_all_dim)."""
    T = h.shape[0]
    H, nope, rd = cfg["num_attention_heads"], cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"]
    dv, rank, eps = cfg["v_head_dim"], cfg["kv_lora_rank"], cfg["rms_norm_eps"]
    a = p + "self_attn."
    if cfg.get("q_lora_rank"):
        q = rms_norm(h @ W[a + "q_a_proj.weight"].T, W[a + "q_a_layernorm.weight"], eps) @ W[a + "q_b_proj.weight"].T
    else:
        q = h @ W[a + "q_proj.weight"].T
    q = q.reshape(T, H, nope + rd)
    ckv = h @ W[a + "kv_a_proj_with_mqa.weight"].T
    kv = (rms_norm(ckv[:, :rank], W[a + "kv_a_layernorm.weight"], eps) @ W[a + "kv_b_proj.weight"].T)
    kv = kv.reshape(T, H, nope + dv)

    def halves(t):
        return np.concatenate([t[..., 0::2], t[..., 1::2]], axis=-1)

    inv_freq, _ = hf_inv_freq(cfg, rd)
    rs = cfg.get("rope_scaling") or {}
    mscale = lambda m: 0.1 * m * math.log(rs["factor"]) + 1.0 if rs and rs["factor"] > 1 else 1.0  # noqa: E731
    cos_sin_scale = mscale(rs.get("mscale", 1.0)) / mscale(rs.get("mscale_all_dim", 1.0)) if rs else 1.0
    q_pe = rope_halves(halves(q[..., nope:]), pos, inv_freq, cos_sin_scale)
    k_pe = rope_halves(halves(ckv[:, None, rank:]), pos, inv_freq, cos_sin_scale)
    qh = np.concatenate([q[..., :nope], q_pe], axis=-1)
    kh = np.concatenate([kv[..., :nope], np.broadcast_to(k_pe, (T, H, rd))], axis=-1)
    scale = (nope + rd) ** -0.5
    if rs:
        scale *= mscale(rs.get("mscale_all_dim", 0.0)) ** 2
    return attention(qh, kh, kv[..., nope:], scale)


def route(cfg, logits, bias, renormalise):
    """Chosen experts and their weights per token, as the Hugging Face routers
    compute them: softmax (or DeepSeek's sigmoid) scores, DeepSeek's group
    limit (a group scored by its best score, or with noaux_tc by its two best
    biased scores), the bias used to choose only, renormalised top-k weights
    and the routed scaling factor."""
    top_k = cfg["num_experts_per_tok"]
    scores = sigmoid(logits) if cfg.get("scoring_func") == "sigmoid" else softmax(logits)
    choice = scores + bias if bias is not None else scores.copy()
    n_group = cfg.get("n_group") or 1
    method = cfg.get("topk_method", "greedy")
    if n_group > 1 and method in ("group_limited_greedy", "noaux_tc"):
        T, E = choice.shape
        g = choice.reshape(T, n_group, E // n_group)
        gs = np.sort(g, axis=-1)[..., -2:].sum(-1) if method == "noaux_tc" else g.max(-1)
        keep = np.argsort(-gs, axis=-1, kind="stable")[:, :cfg["topk_group"]]
        mask = np.zeros((T, n_group), bool)
        np.put_along_axis(mask, keep, True, axis=-1)
        choice = np.where(np.repeat(mask, E // n_group, axis=-1), choice, -np.inf)
    ids = np.argsort(-choice, axis=-1, kind="stable")[:, :top_k]
    weights = np.take_along_axis(scores, ids, axis=-1)
    if renormalise and top_k > 1:
        weights = weights / weights.sum(-1, keepdims=True)
    return ids, weights * cfg.get("routed_scaling_factor", 1.0)


def rope_pairs(x, pos, inv_freq):
    """RoPE over interleaved pairs (x[2i], x[2i+1]) as complex numbers
    rotated by pos * inv_freq[i] (Llama 4's apply_rotary_emb)."""
    ang = pos[:, None, None] * inv_freq[None, None, :]
    z = (x[..., 0::2] + 1j * x[..., 1::2]) * np.exp(1j * ang)
    return np.stack([z.real, z.imag], axis=-1).reshape(x.shape)


def llama4_logits(W, cfg, tokens):
    """Llama 4's language model as its modeling code writes it: RoPE over
    interleaved pairs on the layers no_rope_layers marks 1, each followed by
    the weightless L2 norm of q and k when use_qk_norm, chunked attention on
    those layers; the other (NoPE) layers attend to all positions with their
    queries scaled by 1 + attn_scale * log(floor((pos + 1) / floor_scale) +
    1) when attn_temperature_tuning; on moe_layers a top-k router whose
    sigmoid scores scale each expert's input, experts.gate_up_proj [E, in, 2
    n_ff] (gate columns first) and down_proj, plus the shared expert; dense
    layers otherwise (intermediate_size_mlp wide)."""
    eps, T = cfg["rms_norm_eps"], len(tokens)
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    L = cfg["num_hidden_layers"]
    step = cfg.get("interleave_moe_layer_step", 1)
    moe_layers = cfg.get("moe_layers") or list(range(step - 1, L, step))
    rope_layers = cfg.get("no_rope_layers") or [int((i + 1) % 4 != 0) for i in range(L)]
    inv_freq, _ = hf_inv_freq(cfg, hd)
    pos = np.arange(T, dtype=np.float64)
    m = "language_model.model."
    x = W[m + "embed_tokens.weight"][tokens]

    def mlp(prefix, h):
        return (silu(h @ W[prefix + "gate_proj.weight"].T) * (h @ W[prefix + "up_proj.weight"].T)) @ \
            W[prefix + "down_proj.weight"].T

    for il in range(L):
        p = f"{m}layers.{il}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        q = (h @ W[p + "self_attn.q_proj.weight"].T).reshape(T, nh, hd)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).reshape(T, nkv, hd)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).reshape(T, nkv, hd)
        chunk = 0
        if rope_layers[il]:
            q, k = rope_pairs(q, pos, inv_freq), rope_pairs(k, pos, inv_freq)
            if cfg.get("use_qk_norm", True):
                q, k = rms_norm(q, np.ones(hd), eps), rms_norm(k, np.ones(hd), eps)
            chunk = cfg.get("attention_chunk_size", 8192)
        elif cfg.get("attn_temperature_tuning", True):
            scale = np.log(np.floor((pos + 1.0) / cfg.get("floor_scale", 8192)) + 1.0) * cfg.get("attn_scale", 0.1) + 1
            q = q * scale[:, None, None]
        x = x + attention(q, k, v, hd ** -0.5, chunk=chunk) @ W[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        f = p + "feed_forward."
        if il not in moe_layers:
            x = x + mlp(f, h)
            continue
        logits = h @ W[f + "router.weight"].T
        ids = np.argsort(-logits, axis=-1, kind="stable")[:, :cfg["num_experts_per_tok"]]
        out = mlp(f + "shared_expert.", h)
        n_ff = cfg["intermediate_size"]
        for t in range(T):
            for e in ids[t]:
                xin = h[t] * sigmoid(logits[t, e])
                gu = xin @ W[f + "experts.gate_up_proj"][e]
                out[t] += (silu(gu[:n_ff]) * gu[n_ff:]) @ W[f + "experts.down_proj"][e]
        x = x + out
    x = rms_norm(x, W[m + "norm.weight"], eps)
    return x @ W["language_model.lm_head.weight"].T


def qwen3next_logits(W, cfg, tokens, model="model.", split=False):
    """Qwen3-Next as its modeling code writes it: every RMSNorm multiplies
    by 1 + weight (but the DeltaNet's gated norm, by weight); every
    full_attention_interval-th layer gated attention (q_proj gives per head
    the query then its gate, q/k norms, RoPE on the first
    partial_rotary_factor of each head, the output times sigmoid(gate));
    the others Gated DeltaNet: in_proj_qkvz per key head [q, k, v, z] of its
    value heads, in_proj_ba per key head [b, a], the causal conv1d and silu
    over [all q, all k, all v], q and k L2-normalised (q also by sqrt(dk)),
    g = -exp(A_log) * softplus(a + dt_bias), beta = sigmoid(b), the delta
    rule S = S e^g + k (beta (v - k S)), o = q S per value head (key head
    h // r), then norm(o) * weight * silu(z) and out_proj; Qwen2-MoE's MoE with
    its gated shared expert. split (Qwen3.5-MoE): in_proj_qkv gives [all q,
    all k, all v] (value heads in the same grouped order), in_proj_z,
    in_proj_b and in_proj_a the rest; the experts stacked as
    experts.gate_up_proj [E, 2 n_ff, n_embd] (gate rows, then up) and
    experts.down_proj, the top-k weights always renormalised; the layers
    under `model`."""
    eps, T = cfg["rms_norm_eps"], len(tokens)
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    nk, nv = cfg["linear_num_key_heads"], cfg["linear_num_value_heads"]
    dk, dv, K = cfg["linear_key_head_dim"], cfg["linear_value_head_dim"], cfg["linear_conv_kernel_dim"]
    r = nv // nk
    rd = int(hd * cfg.get("partial_rotary_factor", 0.25))
    inv_freq, magnitude = hf_inv_freq(cfg, rd)
    pos = np.arange(T, dtype=np.float64)
    interval = cfg.get("full_attention_interval", 4)
    full = cfg.get("layer_types") or ["full_attention" if (il + 1) % interval == 0 else "linear_attention"
                                      for il in range(cfg["num_hidden_layers"])]

    def norm(x, w):
        return rms_norm(x, 1.0 + w, eps)

    def l2(x):
        return x / np.sqrt(np.sum(x * x, axis=-1, keepdims=True) + 1e-6)

    def mlp(prefix, h):
        return (silu(h @ W[prefix + "gate_proj.weight"].T) * (h @ W[prefix + "up_proj.weight"].T)) @ \
            W[prefix + "down_proj.weight"].T

    def expert(p, e, h):
        if p + "mlp.experts.gate_up_proj" not in W:
            return mlp(f"{p}mlp.experts.{e}.", h)
        gu = W[p + "mlp.experts.gate_up_proj"][e] @ h[0]
        n_ff = gu.shape[0] // 2
        return (W[p + "mlp.experts.down_proj"][e] @ (silu(gu[:n_ff]) * gu[n_ff:]))[None]

    x = W[model + "embed_tokens.weight"][tokens]
    for il in range(cfg["num_hidden_layers"]):
        p = f"{model}layers.{il}."
        h = norm(x, W[p + "input_layernorm.weight"])
        if full[il] == "full_attention":
            a = p + "self_attn."
            qg = (h @ W[a + "q_proj.weight"].T).reshape(T, nh, 2 * hd)
            q, gate = qg[..., :hd], qg[..., hd:].reshape(T, nh * hd)
            q = norm(q, W[a + "q_norm.weight"])
            k = norm((h @ W[a + "k_proj.weight"].T).reshape(T, nkv, hd), W[a + "k_norm.weight"])
            v = (h @ W[a + "v_proj.weight"].T).reshape(T, nkv, hd)
            q = np.concatenate([rope_halves(q[..., :rd], pos, inv_freq, magnitude), q[..., rd:]], axis=-1)
            k = np.concatenate([rope_halves(k[..., :rd], pos, inv_freq, magnitude), k[..., rd:]], axis=-1)
            o = attention(q, k, v, hd ** -0.5) * sigmoid(gate)
            x = x + o @ W[a + "o_proj.weight"].T
        else:
            a = p + "linear_attn."
            if split:
                mixed = h @ W[a + "in_proj_qkv.weight"].T
                z = (h @ W[a + "in_proj_z.weight"].T).reshape(T, nv, dv)
                b, alpha = h @ W[a + "in_proj_b.weight"].T, h @ W[a + "in_proj_a.weight"].T
            else:
                qkvz = (h @ W[a + "in_proj_qkvz.weight"].T).reshape(T, nk, 2 * dk + 2 * r * dv)
                ba = (h @ W[a + "in_proj_ba.weight"].T).reshape(T, nk, 2 * r)
                q, k = qkvz[..., :dk], qkvz[..., dk:2 * dk]
                v = qkvz[..., 2 * dk:2 * dk + r * dv].reshape(T, nv, dv)
                z = qkvz[..., 2 * dk + r * dv:].reshape(T, nv, dv)
                b, alpha = ba[..., :r].reshape(T, nv), ba[..., r:].reshape(T, nv)
                mixed = np.concatenate([q.reshape(T, -1), k.reshape(T, -1), v.reshape(T, -1)], axis=-1)
            w = W[a + "conv1d.weight"][:, 0, :]  # [channels, K], the last tap on the current position
            padded = np.concatenate([np.zeros((K - 1, mixed.shape[1])), mixed], axis=0)
            mixed = silu(sum(padded[j:j + T] * w[:, j] for j in range(K)))
            q = l2(mixed[:, :nk * dk].reshape(T, nk, dk)) / np.sqrt(dk)
            k = l2(mixed[:, nk * dk:2 * nk * dk].reshape(T, nk, dk))
            v = mixed[:, 2 * nk * dk:].reshape(T, nv, dv)
            beta = sigmoid(b)
            sp = np.where(alpha + W[a + "dt_bias"] > 20, alpha + W[a + "dt_bias"],
                          np.log1p(np.exp(np.minimum(alpha + W[a + "dt_bias"], 20))))
            g = -np.exp(W[a + "A_log"]) * sp
            S = np.zeros((nv, dk, dv))
            o = np.zeros((T, nv, dv))
            for t in range(T):
                for hh in range(nv):
                    kh = hh // r
                    S[hh] *= np.exp(g[t, hh])
                    delta = (v[t, hh] - k[t, kh] @ S[hh]) * beta[t, hh]
                    S[hh] += np.outer(k[t, kh], delta)
                    o[t, hh] = q[t, kh] @ S[hh]
            o = rms_norm(o, W[a + "norm.weight"], eps) * silu(z)
            x = x + o.reshape(T, -1) @ W[a + "out_proj.weight"].T
        h = norm(x, W[p + "post_attention_layernorm.weight"])
        ids, weights = route(cfg, h @ W[p + "mlp.gate.weight"].T, None, split or cfg.get("norm_topk_prob", False))
        out = sigmoid(h @ W[p + "mlp.shared_expert_gate.weight"].T) * mlp(p + "mlp.shared_expert.", h)
        for t in range(T):
            for e, we in zip(ids[t], weights[t]):
                out[t] += we * expert(p, e, h[t:t + 1])[0]
        x = x + out
    x = norm(x, W[model + "norm.weight"])
    return x @ W["lm_head.weight"].T


# DeepSeek-V4's checkpoint names (DeepSeek's inference modules: no "model."
# prefix, attn.* and ffn.*, the hyper-connections' parameters bare) for the
# GGUF names frugal_ref.deepseek4 asks for; blocks' after "layers.N.".
_DSV4_GLOBAL = {"token_embd.weight": "embed.weight", "output_norm.weight": "norm.weight",
                "output.weight": "head.weight", "output_hc_fn.weight": "hc_head_fn",
                "output_hc_base.weight": "hc_head_base", "output_hc_scale.weight": "hc_head_scale"}
_DSV4_LAYER = {
    "attn_norm.weight": "attn_norm.weight", "ffn_norm.weight": "ffn_norm.weight",
    "hc_attn_fn.weight": "hc_attn_fn", "hc_attn_base.weight": "hc_attn_base", "hc_attn_scale.weight": "hc_attn_scale",
    "hc_ffn_fn.weight": "hc_ffn_fn", "hc_ffn_base.weight": "hc_ffn_base", "hc_ffn_scale.weight": "hc_ffn_scale",
    "attn_sinks.weight": "attn.attn_sink", "attn_q_a.weight": "attn.wq_a.weight",
    "attn_q_a_norm.weight": "attn.q_norm.weight", "attn_q_b.weight": "attn.wq_b.weight",
    "attn_kv.weight": "attn.wkv.weight", "attn_kv_a_norm.weight": "attn.kv_norm.weight",
    "attn_output_a.weight": "attn.wo_a.weight", "attn_output_b.weight": "attn.wo_b.weight",
    "indexer.attn_q_b.weight": "attn.indexer.wq_b.weight", "indexer.proj.weight": "attn.indexer.weights_proj.weight",
    "ffn_gate_inp.weight": "ffn.gate.weight", "exp_probs_b.bias": "ffn.gate.bias",
    "ffn_gate_tid2eid.weight": "ffn.gate.tid2eid", "ffn_gate_shexp.weight": "ffn.shared_experts.w1.weight",
    "ffn_up_shexp.weight": "ffn.shared_experts.w3.weight", "ffn_down_shexp.weight": "ffn.shared_experts.w2.weight",
}
for _gguf, _hf in [("attn_compressor", "attn.compressor"), ("indexer_compressor", "attn.indexer.compressor")]:
    _DSV4_LAYER.update({f"{_gguf}_kv.weight": f"{_hf}.wkv.weight", f"{_gguf}_gate.weight": f"{_hf}.wgate.weight",
                        f"{_gguf}_ape.weight": f"{_hf}.ape", f"{_gguf}_norm.weight": f"{_hf}.norm.weight"})
_DSV4_EXPERTS = {"ffn_gate_exps.weight": "w1", "ffn_up_exps.weight": "w3", "ffn_down_exps.weight": "w2"}


class _Dsv4Checkpoint:
    """What frugal_ref.deepseek4 reads of a model (w, mm, cfg, the file's
    metadata) over a DeepSeek-V4 checkpoint: its tensors by their own names
    (each expert's ffn.experts.E.w1/w3/w2 stacked), its config.json keys as
    the deepseek4 keys they stand for."""

    def __init__(self, W, cfg):
        self.W, self.act_rounding, self.routes, self.route_margins = W, False, {}, []
        self._stacked = {}
        self.n_expert = cfg["n_routed_experts"]
        rs = cfg.get("rope_scaling") or {}
        assert not rs.get("mscale_all_dim"), "reference: DeepSeek-V4 with mscale_all_dim"
        self.cfg = SimpleNamespace(
            eps=cfg["rms_norm_eps"], n_layer=cfg["num_hidden_layers"], n_head=cfg["num_attention_heads"],
            head_dim=cfg["head_dim"], rope_dim=cfg["qk_rope_head_dim"], n_expert_used=cfg["num_experts_per_tok"],
            norm_topk=cfg.get("norm_topk_prob", False), routed_scale=cfg.get("routed_scaling_factor", 1.0),
            rope_base=cfg.get("rope_theta", 10000.0), scaling=rs.get("rope_type", rs.get("type", "none")),
            factor=rs.get("factor", 1.0),
            orig_ctx=rs.get("original_max_position_embeddings", cfg["max_position_embeddings"]),
            beta_fast=rs.get("beta_fast", 32.0), beta_slow=rs.get("beta_slow", 1.0), attn_factor=1.0)
        L = cfg["num_hidden_layers"]
        keys = {"block_count": L, "hyper_connection.count": cfg["hc_mult"],
                "hyper_connection.sinkhorn_iterations": cfg["hc_sinkhorn_iters"],
                "hyper_connection.epsilon": cfg.get("hc_eps", 1e-6), "attention.q_lora_rank": cfg["q_lora_rank"],
                "attention.sliding_window": cfg["sliding_window"], "attention.output_group_count": cfg["o_groups"],
                "attention.output_lora_rank": cfg["o_lora_rank"],
                "attention.compress_ratios": cfg["compress_ratios"][:L],
                "attention.compress_rope_freq_base": cfg["compress_rope_theta"],
                "hash_layer_count": cfg.get("num_hash_layers", 0), "swiglu_clamp_exp": cfg["swiglu_limit"],
                "expert_shared_count": cfg.get("n_shared_experts", 0)}
        if 4 in cfg["compress_ratios"][:L]:
            keys.update({"attention.indexer.head_count": cfg["index_n_heads"],
                         "attention.indexer.key_length": cfg["index_head_dim"],
                         "attention.indexer.top_k": cfg["index_topk"]})
        self.file = SimpleNamespace(metadata={"deepseek4." + k: v for k, v in keys.items()})

    def w(self, name):
        if not name.startswith("blk."):
            return self.W[_DSV4_GLOBAL[name]]
        _, il, rest = name.split(".", 2)
        if rest in _DSV4_EXPERTS:
            if name not in self._stacked:
                self._stacked[name] = np.stack([self.W[f"layers.{il}.ffn.experts.{e}.{_DSV4_EXPERTS[rest]}.weight"]
                                                for e in range(self.n_expert)])
            return self._stacked[name]
        return self.W[f"layers.{il}.{_DSV4_LAYER[rest]}"]

    def mm(self, x, name, expert=None):
        w = self.w(name) if expert is None else self.w(name)[expert]
        return x @ w.T


def bailing_as_common(W, cfg):
    """Ling 2.0 (bailing_moe) under the names the common path reads: its
    query_key_value rows viewed as (heads + 2 kv heads, head_dim) and split
    into q, k and v, query/key_layernorm as the q/k norms, dense as o_proj,
    word_embeddings as embed_tokens, mlp.gate.expert_bias as the selection
    bias; its router (score_function sigmoid, groups scored by their two
    best biased scores) as DeepSeek-V3's keys say it."""
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or cfg["hidden_size"] // nh
    out = {}
    for name, w in W.items():
        name = name.replace("model.word_embeddings.", "model.embed_tokens.")
        name = name.replace(".attention.query_layernorm.", ".self_attn.q_norm.")
        name = name.replace(".attention.key_layernorm.", ".self_attn.k_norm.")
        name = name.replace(".attention.dense.", ".self_attn.o_proj.")
        name = name.replace(".mlp.gate.expert_bias", ".mlp.gate.e_score_correction_bias")
        if name.endswith(".attention.query_key_value.weight"):
            heads = w.reshape(nh + 2 * nkv, hd, -1)
            p = name[:-len("attention.query_key_value.weight")] + "self_attn."
            out[p + "q_proj.weight"] = heads[:nh].reshape(nh * hd, -1)
            out[p + "k_proj.weight"] = heads[nh:nh + nkv].reshape(nkv * hd, -1)
            out[p + "v_proj.weight"] = heads[nh + nkv:].reshape(nkv * hd, -1)
            continue
        out[name] = w
    cfg = dict(cfg, scoring_func=cfg.get("score_function", "sigmoid"), topk_method="noaux_tc")
    return out, cfg


def hunyuan_as_common(W, cfg):
    """Hunyuan-A13B (hunyuan_v1_moe) under the names the common path reads:
    its router mlp.gate.wg as mlp.gate, its shared FFN mlp.shared_mlp as
    DeepSeek's mlp.shared_experts; its q/k norms (self_attn.query_layernorm
    and key_layernorm, applied after RoPE) kept under their own names for
    mha; its per-layer MoE lists as their value; rope_scaling's dynamic
    alpha raising RoPE's base as its rotary embedding does."""
    out = {}
    for name, w in W.items():
        name = name.replace(".mlp.gate.wg.", ".mlp.gate.").replace(".mlp.shared_mlp.", ".mlp.shared_experts.")
        out[name] = w
    cfg = dict(cfg)
    for key in ("moe_topk", "moe_intermediate_size", "num_shared_expert"):
        if isinstance(cfg.get(key), list):
            cfg[key] = cfg[key][0]
    cfg["num_experts_per_tok"] = cfg["moe_topk"]
    cfg["norm_topk_prob"] = True
    rs = cfg.pop("rope_scaling", None)
    if rs:
        hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
        cfg["rope_theta"] = cfg.get("rope_theta", 10000.0) * rs["alpha"] ** (hd / (hd - 2))
    return out, cfg


def hf_logits(folder, tokens, config_edit=None):
    """Logits (T, vocab) of the checkpoint for the token ids (config.json's
    keys replaced by config_edit's)."""
    with open(os.path.join(folder, "config.json")) as f:
        cfg = json.load(f)
    cfg.update(config_edit or {})
    if cfg.get("model_type") == "glm4_moe":  # GLM-4.5's router: DeepSeek-V3's, without the keys
        cfg.setdefault("scoring_func", "sigmoid")
        cfg.setdefault("topk_method", "noaux_tc")
    if cfg.get("model_type") == "ernie4_5_moe":  # its router's keys, always renormalised
        cfg["num_experts_per_tok"] = cfg["moe_k"]
        cfg["norm_topk_prob"] = True
    W = read_checkpoint(folder)
    if cfg.get("model_type") == "bailing_moe":
        W, cfg = bailing_as_common(W, cfg)
    if cfg.get("model_type") == "hunyuan_v1_moe":
        W, cfg = hunyuan_as_common(W, cfg)
    if cfg.get("model_type") == "qwen3_5_moe":  # the language model of a multimodal checkpoint
        text = dict(cfg["text_config"])
        rope = text.pop("rope_parameters", {})
        text.setdefault("rope_theta", rope.get("rope_theta", 10000.0))
        text.setdefault("partial_rotary_factor", rope.get("partial_rotary_factor", 0.25))
        text.update(config_edit or {})
        return qwen3next_logits(W, text, tokens, model="model.language_model.", split=True)
    if "text_config" in cfg:  # Llama 4: the language model of a multimodal checkpoint
        text = dict(cfg["text_config"])
        text.update(config_edit or {})
        return llama4_logits(W, text, tokens)
    if cfg.get("model_type") == "qwen3_next":
        return qwen3next_logits(W, cfg, tokens)
    if cfg.get("model_type") == "deepseek_v4":
        return Deepseek4(_Dsv4Checkpoint(W, cfg)).logits(tokens, np.arange(len(tokens), dtype=np.float64))
    eps = cfg["rms_norm_eps"]
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
        if p + "self_attn.kv_a_proj_with_mqa.weight" in W:
            x = x + proj("self_attn.o_proj", latent_attention(W, p, cfg, h, pos))
        else:
            x = x + proj("self_attn.o_proj", mha(W, p, cfg, h, pos, proj))
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        if p + "mlp.router.weight" in W:
            x = x + gpt_oss_moe(W, p, cfg, h)
        elif p + "block_sparse_moe.gate.weight" in W or p + "mlp.gate.weight" in W:
            mixtral = p + "block_sparse_moe.gate.weight" in W
            block = p + ("block_sparse_moe." if mixtral else "mlp.")
            gate, up, down = ("w1", "w3", "w2") if mixtral else ("gate_proj", "up_proj", "down_proj")
            # The selection bias: DeepSeek's in the router, MiniMax-M2's in the
            # block, ERNIE-4.5's in the block's moe_statics (a [1, experts] row).
            bias = W.get(block + "gate.e_score_correction_bias", W.get(block + "e_score_correction_bias",
                                                                        W.get(block + "moe_statics.e_score_correction_bias")))
            bias = None if bias is None else bias.reshape(-1)
            ids, weights = route(cfg, h @ W[block + "gate.weight"].T, bias,
                                 renormalise=mixtral or cfg.get("norm_topk_prob", False))
            out = np.zeros_like(h)
            for t in range(T):
                for e, we in zip(ids[t], weights[t]):
                    e_ = f"{block}experts.{e}."
                    g = W[e_ + gate + ".weight"] @ h[t]
                    u = W[e_ + up + ".weight"] @ h[t]
                    out[t] += we * (W[e_ + down + ".weight"] @ (silu(g) * u))
            if p + "mlp.shared_expert.gate_proj.weight" in W:  # Qwen2-MoE
                out += sigmoid(h @ W[p + "mlp.shared_expert_gate.weight"].T) * mlp(p + "mlp.shared_expert.", h)
            if p + "mlp.shared_experts.gate_proj.weight" in W:  # DeepSeek
                out += mlp(p + "mlp.shared_experts.", h)
            x = x + out
        else:
            x = x + mlp(p + "mlp.", h)
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["lm_head.weight"] if "lm_head.weight" in W else W["model.embed_tokens.weight"]
    return x @ head.T

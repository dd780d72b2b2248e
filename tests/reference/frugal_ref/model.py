"""The forward pass of every architecture frugal serves, in float64 numpy.

Semantics follow each model's definition (paper / Hugging Face modelling):

- Llama / Mixtral: pre-RMSNorm blocks, RoPE on q and k (rotate_half on the
  two halves of each head, as in the HF code), grouped-query attention,
  SwiGLU FFN; Mixtral routes each token to the top-k of softmax(router logits)
  and renormalises their weights to sum to 1.
  GGUF stores Llama's q/k projections with each head's rows permuted so that
  the halves become interleaved pairs (ggml's "normal" RoPE). The reference
  undoes that permutation and applies the HF rotation.
- Qwen2: q/k/v biases, tied LM head when the file has no output.weight.
- Qwen3: RMSNorm of each query/key head (weights of size head_dim) before RoPE.
- Qwen2-MoE: softmax router, top-k without renormalisation, plus a shared
  expert scaled by sigmoid(x . shared_expert_gate).
- Qwen3-MoE: per-head q/k norm, softmax router, top-k renormalised.
- OLMoE: RMSNorm over the whole q and whole k projection, softmax router,
  top-k not renormalised.
- DeepSeek-V2/V3: multi-head latent attention (q directly or through a
  low-rank q_a -> RMSNorm -> q_b; kv through kv_a -> RMSNorm -> kv_b; a
  decoupled RoPE key shared by all heads; RoPE on the interleaved pairs of
  the rope part, as the HF code does by de-interleaving before rotate_half),
  YaRN frequencies and the mscale^2 softmax correction, leading dense layers,
  shared experts, softmax (V2) or sigmoid (V3) scores, V3's selection bias
  (used to choose, not to weigh), group-limited routing (V2: groups scored by
  their best expert; V3: by the sum of their two best), optional
  renormalisation and the routed scaling factor. kv_b joint (attn_kv_b) or
  split as current converters write it (attn_k_b: each head's key rows
  transposed; attn_v_b: its value rows).
- gpt-oss (OpenAI's gpt-oss, as the GGUF converter writes it): q/k/v and
  output biases; each head's softmax denominator also holds exp(sink) for a
  learned per-head logit (its "attention sink", a probability that goes to
  no value); layers 0, 2, 4, ... attend to the last sliding_window positions
  only (the query's own included), the others to all; the FFN's pre-norm is
  named post_attention_norm; the router's logits have a bias, each token
  takes the top-k logits and weighs those experts by a softmax over them;
  each expert computes (with its biases) g = min(W_g x + b_g, 7),
  u = clamp(W_u x + b_u, -7, 7), h = g * sigmoid(1.702 g) * (u + 1),
  y = W_d h + b_d.
- GLM-4.5 / 4.6 / 4.5-Air (glm4moe): q/k/v biases; GLM-4.5 normalises each
  query and key head (RMSNorm over head_dim, after the biases), 4.5-Air has
  no such norm; RoPE on the first rope_dim dimensions of each head only
  (rotate_half over those, the rest passes through); the FFN's pre-norm is
  named post_attention_norm; leading dense layers, then DeepSeek-V3's
  routing (sigmoid scores, the exp_probs_b bias used to choose, top-k
  renormalised, times the routed scaling factor) plus one shared expert;
  the last nextn_predict_layers blocks of block_count are a next-token-
  prediction head that the forward pass does not run.
- Llama 4 (llama4): layers whose index + 1 is a multiple of 4 have no RoPE,
  attend to every earlier position and scale their queries by
  1 + temperature_scale * ln(floor((pos + 1) / temperature_length) + 1); the
  others rotate q and k (pairs (x[2i], x[2i+1]) as the file stores them,
  frequencies divided by rope_freqs.weight where present), normalise each
  head without a weight (Scout; not Maverick's 128 experts) and attend only
  within their chunk of positions; MoE layers (every interleave_moe_layer_step-
  th) send each token to the top-k of the router's logits, the expert's input
  scaled by sigmoid(logit), plus a shared expert on the unscaled input; the
  other layers a dense SwiGLU.
- Qwen3-Next (qwen3next) and Qwen3.5-MoE (qwen35moe): layers whose index + 1
  is a multiple of full_attention_interval (4 when the key is absent) are
  gated attention: attn_q gives per head the query and as many gate logits,
  per-head q/k norm, RoPE (rotate_half) on the first rope_dim dimensions,
  and each head's output times sigmoid(gate); the others are Gated DeltaNet
  (deltanet.py). The FFN's pre-norm is post_attention_norm; softmax routing,
  top-k renormalised, plus the sigmoid-gated shared expert; qwen35moe's
  next-token-prediction block (nextn_predict_layers) does not run.
- MiniMax-M2 / M2.1 (minimax-m2): RMSNorm over the whole q and whole k
  projection (as OLMoE), RoPE (rotate_half) on the first rope_dim dimensions
  of each head, grouped-query attention; each token goes to the top-k of
  sigmoid(router logits) + exp_probs_b (the bias chooses, never weighs),
  the chosen sigmoids renormalised to sum to 1; no shared expert.
- dots.llm1 (dots1): Qwen3's attention (RMSNorm per query and key head,
  rotate_half RoPE, grouped-query attention) with DeepSeek-V3's MoE: leading
  dense layers, then sigmoid(router logits) + exp_probs_b choosing the top-k,
  the chosen sigmoids renormalised (expert_weights_norm) and scaled
  (expert_weights_scale), plus the shared experts' SwiGLU.
- ERNIE-4.5-MoE (ernie4_5-moe): RoPE on the interleaved pairs of each head
  (as the file stores them: no reordering), grouped-query attention without
  q/k norm; dense FFNs on the leading layers and between the MoE layers
  (every interleave_moe_layer_step-th); softmax(router logits) +
  exp_probs_b choosing the top-k, the chosen softmax scores renormalised,
  plus the shared experts' SwiGLU.
- DeepSeek-V4 (deepseek4): hyper-connections, the compressed sliding-window
  attention with its indexer, hash-routed and sqrt-softplus MoE layers
  (deepseek4.py).
- Any architecture whose file has rope_freqs.weight (llama 3.1): each RoPE
  frequency is divided by its factor.
- YaRN (any architecture whose keys ask for it): the frequencies of
  "YaRN: Efficient Context Window Extension" (interpolated below the
  correction range, original above, a linear ramp between), and cos/sin
  scaled by attn_factor * (1 + 0.1 ln factor) (deepseek2 instead scales the
  attention logits, see above).
"""
import math

import numpy as np

from .deltanet import delta_net
from .gguf import GGUFFile

HYBRID_ARCHS = ("qwen3next", "qwen35moe")
NEOX_ARCHS = ("qwen2", "qwen3", "qwen2moe", "qwen3moe", "olmoe", "gpt-oss", "glm4moe", "minimax-m2",
              "dots1", "bailingmoe2", "hunyuan-moe") + HYBRID_ARCHS
# RoPE on the interleaved pairs (x[2i], x[2i+1]) as the file stores them
# (llama's files are instead reordered back to rotate-half at load).
PAIRS_ARCHS = ("ernie4_5-moe",)
# Latent attention and DeepSeek's MoE: DeepSeek-V2/V3, Kimi-K2, Mistral Small 4.
MLA_ARCHS = ("deepseek2", "mistral4")
ARCHS = ("llama", "llama4", "deepseek4") + MLA_ARCHS + NEOX_ARCHS + PAIRS_ARCHS


class Config:
    """Hyperparameters read from the standard GGUF keys."""

    def __init__(self, md, has_tensor):
        arch = md["general.architecture"]
        if arch not in ARCHS:
            raise ValueError(f"reference: unknown architecture {arch}")
        self.arch = arch

        def key(k, default=None):
            full = f"{arch}.{k}"
            if full in md:
                return md[full]
            if default is None:
                raise KeyError(f"reference: missing key {full}")
            return default

        self.n_embd = int(key("embedding_length"))
        # block_count also counts the next-token-prediction blocks (GLM-4.5),
        # which come last and do not run.
        self.n_layer = int(key("block_count")) - int(key("nextn_predict_layers", 0))
        self.n_head = int(key("attention.head_count"))
        self.n_head_kv = int(key("attention.head_count_kv", self.n_head))
        self.eps = float(key("attention.layer_norm_rms_epsilon"))
        self.head_dim = int(key("attention.key_length", self.n_embd // self.n_head))
        self.v_head_dim = int(key("attention.value_length", self.head_dim))
        if arch in MLA_ARCHS:
            self.head_dim = int(key("attention.key_length_mla", self.head_dim))
            self.v_head_dim = int(key("attention.value_length_mla", self.v_head_dim))
        self.n_ff = int(key("feed_forward_length", 0))
        self.n_expert = int(key("expert_count", 0))
        self.n_expert_used = int(key("expert_used_count", 0))
        self.n_ff_exp = int(key("expert_feed_forward_length", self.n_ff))
        self.n_leading_dense = int(key("leading_dense_block_count", 0))
        # Routing: Mixtral and Qwen3-MoE renormalise the top-k weights, Qwen2-MoE
        # and OLMoE do not; a key overrides (DeepSeek always writes it).
        self.norm_topk = bool(key("expert_weights_norm",
                                  arch in ("llama", "qwen3moe", "minimax-m2", "ernie4_5-moe") + HYBRID_ARCHS))
        # gpt-oss: even layers attend to a sliding window.
        self.n_swa = int(key("attention.sliding_window")) if arch == "gpt-oss" else 0
        self.routed_scale = float(key("expert_weights_scale", 1.0)) or 1.0
        self.gating = int(key("expert_gating_func", 2 if arch in ("glm4moe", "minimax-m2", "dots1") else 1))
        self.n_group = int(key("expert_group_count", 0))
        self.n_group_used = int(key("expert_group_used_count", 0))
        self.rope_base = float(key("rope.freq_base", 10000.0))
        self.rope_dim = int(key("rope.dimension_count", self.head_dim))
        self.scaling = key("rope.scaling.type", "none")
        self.factor = float(key("rope.scaling.factor", 1.0)) or 1.0
        self.orig_ctx = int(key("rope.scaling.original_context_length", key("context_length")))
        self.attn_factor = float(key("rope.scaling.attn_factor", 1.0))
        self.yarn_log_mul = float(key("rope.scaling.yarn_log_multiplier", 0.0))
        self.beta_fast = float(key("rope.scaling.yarn_beta_fast", 32.0))
        self.beta_slow = float(key("rope.scaling.yarn_beta_slow", 1.0))
        if arch in MLA_ARCHS:
            self.q_lora_rank = int(key("attention.q_lora_rank", 0))
            self.kv_lora_rank = int(key("attention.kv_lora_rank"))
            self.rope_dim = int(key("rope.dimension_count"))
            self.nope_dim = self.head_dim - self.rope_dim
            self.n_shared = int(key("expert_shared_count", 0))
        if arch == "llama4":
            # Published files carry neither the chunk nor the temperature keys
            # (8192 both); Maverick (128 experts) has no q/k norm, Scout has.
            self.chunk = int(key("attention.chunk_size", 8192))
            self.temp_scale = float(key("attention.temperature_scale", 0.1))
            self.temp_length = int(key("attention.temperature_length", 8192))
            self.l2_qk = self.n_expert != 128
        if arch in HYBRID_ARCHS:
            self.full_attn_interval = int(key("full_attention_interval", 4))
            self.ssm_dk = int(key("ssm.state_size"))
            self.ssm_n_k = int(key("ssm.group_count"))
            self.ssm_n_v = int(key("ssm.time_step_rank"))
            self.ssm_dv = int(key("ssm.inner_size")) // self.ssm_n_v
        self.tied = not has_tensor("output.weight")

    def recurrent(self, il):
        return self.arch in HYBRID_ARCHS and (il + 1) % self.full_attn_interval != 0


def rms_norm(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def silu(x):
    return x / (1.0 + np.exp(-x))


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def rope_inv_freq(cfg, dim):
    """Inverse frequencies of the rotated pairs and the cos/sin magnitude."""
    base_freq = cfg.rope_base ** (-np.arange(0, dim, 2, dtype=np.float64) / dim)
    if cfg.scaling == "linear":
        return base_freq / cfg.factor, 1.0
    if cfg.scaling != "yarn":
        return base_freq, 1.0
    # YaRN: dimensions that turn fewer than beta_slow times over the original
    # context are interpolated (frequency / factor), those that turn more than
    # beta_fast times keep their frequency, with a linear ramp in between.
    def correction_dim(rotations):
        return dim * math.log(cfg.orig_ctx / (rotations * 2 * math.pi)) / (2 * math.log(cfg.rope_base))

    low = max(math.floor(correction_dim(cfg.beta_fast)), 0)
    high = min(math.ceil(correction_dim(cfg.beta_slow)), dim - 1)
    if low == high:
        high += 0.001
    ramp = np.clip((np.arange(dim // 2, dtype=np.float64) - low) / (high - low), 0.0, 1.0)
    keep = 1.0 - ramp  # share of the original (extrapolated) frequency
    inv_freq = base_freq / cfg.factor * (1.0 - keep) + base_freq * keep
    magnitude = cfg.attn_factor * (1.0 + 0.1 * math.log(cfg.factor)) if cfg.factor > 1 else cfg.attn_factor
    return inv_freq, magnitude


def rope_halves(x, positions, inv_freq, magnitude):
    """rotate_half RoPE on the last axis of x (..., T, H, dim): pairs (i, i + dim/2)."""
    ang = positions[:, None] * inv_freq[None, :]           # (T, dim/2)
    cos = np.cos(ang)[:, None, :] * magnitude              # (T, 1, dim/2)
    sin = np.sin(ang)[:, None, :] * magnitude
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=-1)


def deinterleave(t):
    """The pairs (x[2i], x[2i+1]) of the last axis as halves (x[i], x[i + dim/2])."""
    return np.concatenate([t[..., 0::2], t[..., 1::2]], axis=-1)


def attention(q, k, v, scale, window=0, sinks=None, chunk=0):
    """Causal attention. q (T, H, D), k (T, Hkv, D), v (T, Hkv, Dv) -> (T, H*Dv).
    window > 0: query t sees keys s with t - s < window. sinks (H,): a logit
    per head that joins each softmax's denominator without a value. chunk > 0:
    query t sees only keys of its own chunk (s // chunk == t // chunk)."""
    T, H, _ = q.shape
    group = H // k.shape[1]
    k = np.repeat(k, group, axis=1)
    v = np.repeat(v, group, axis=1)
    s = np.einsum("thd,shd->hts", q, k) * scale
    t, j = np.arange(T)[:, None], np.arange(T)[None, :]
    visible = (j <= t) & ((t - j < window) if window > 0 else True) & ((j // chunk == t // chunk) if chunk else True)
    s = np.where(visible[None], s, -np.inf)
    if sinks is not None:
        s = np.concatenate([s, np.broadcast_to(sinks[:, None, None], (H, T, 1))], axis=-1)
    p = softmax(s, axis=-1)[..., :T]
    return np.einsum("hts,shd->thd", p, v).reshape(T, -1)


# Integer dot products (activation rounding, see ReferenceModel): weight type
# -> activation block length; bf16 weights take bf16-rounded activations.
ACT_BLOCK = {2: 32, 8: 32, 20: 32, 39: 32, 10: 256, 11: 256, 12: 256, 13: 256, 14: 256, 23: 256}
BF16_TYPE = 30


def round_activations(x, ttype):
    """x as frugal's integer and bf16 kernels see it: per block of 32 (q4_0,
    q8_0, iq4_nl) or 256 (q2_k, q3_k, q4_k, q5_k, q6_k, iq4_xs) values, int8 codes
    round(x / d) with d = max|x| / 127 in float32 (mxfp4 as q8_0); bf16 weights: x rounded to
    bf16 (nearest even). Other weight types: x unchanged."""
    if ttype == BF16_TYPE:
        u = x.astype(np.float32).view(np.uint32).astype(np.uint64)
        u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
        return u.astype(np.uint32).view(np.float32).astype(np.float64)
    n = ACT_BLOCK.get(ttype)
    if n is None:
        return x
    shape = x.shape
    b = x.astype(np.float32).reshape(-1, shape[-1] // n, n)
    d = np.abs(b).max(-1, keepdims=True) / np.float32(127)
    with np.errstate(divide="ignore"):
        inv = np.where(d > 0, np.float32(1) / d, np.float32(0)).astype(np.float32)
    q = np.clip(np.rint(b * inv), -127, 127)
    return (q.astype(np.float64) * d.astype(np.float64)).reshape(shape)


class ReferenceModel:
    """The model of a GGUF file. act_rounding=True also rounds the input of
    every product with a quantised weight the way frugal's integer kernels
    encode activations (round_activations): the definition of the model is
    act_rounding=False; the option lets a test separate frugal's arithmetic
    from that documented approximation."""

    def __init__(self, path, act_rounding=False):
        self.act_rounding = act_rounding
        self.file = GGUFFile(path)
        self.cfg = Config(self.file.metadata, self.file.has)
        self._cache = {}
        self.routes = {}
        self.route_margins = []
        self.n_vocab = self.file.tensors["token_embd.weight"].dims[1]

    def w(self, name):
        if name not in self._cache:
            t = self.file.tensor(name)
            if self.cfg.arch == "llama" and name.endswith((".attn_q.weight", ".attn_k.weight")):
                t = self._unpermute(t)
            self._cache[name] = t
        return self._cache[name]

    def _unpermute(self, wt):
        # GGUF row h*d + 2i + j holds HF row h*d + j*d/2 + i (pairs interleaved).
        d = self.cfg.head_dim
        if self.cfg.rope_dim != d:
            raise ValueError("reference: llama with partial RoPE is not supported")
        n_out, n_in = wt.shape
        return wt.reshape(n_out // d, d // 2, 2, n_in).swapaxes(1, 2).reshape(n_out, n_in)

    def has(self, name):
        return self.file.has(name)

    def mm(self, x, name, expert=None):
        """x @ W.T for the weight `name` (one expert's slice if given)."""
        w = self.w(name) if expert is None else self.w(name)[expert]
        if self.act_rounding:
            x = round_activations(x, self.file.tensors[name].type)
        return x @ w.T

    def swiglu(self, x, gate, up, down, expert=None):
        return self.mm(silu(self.mm(x, gate, expert)) * self.mm(x, up, expert), down, expert)

    # --- attention -------------------------------------------------------
    def _inv_freq(self, dim):
        """rope_inv_freq, each frequency divided by rope_freqs.weight where the file has it."""
        inv_freq, mag = rope_inv_freq(self.cfg, dim)
        if self.has("rope_freqs.weight"):
            inv_freq = inv_freq / self.w("rope_freqs.weight")
        return inv_freq, mag

    def _llama4_attention(self, il, x, pos):
        cfg = self.cfg
        b = f"blk.{il}."
        T, H, D = x.shape[0], cfg.n_head, cfg.head_dim
        q = self.mm(x, b + "attn_q.weight").reshape(T, H, D)
        k = self.mm(x, b + "attn_k.weight").reshape(T, cfg.n_head_kv, D)
        v = self.mm(x, b + "attn_v.weight").reshape(T, cfg.n_head_kv, cfg.v_head_dim)
        chunk = 0
        if (il + 1) % 4 != 0:
            # RoPE on the pairs (x[2i], x[2i+1]) as the file stores them: de-interleave
            # both q and k the same way (dot products unchanged), then rotate halves.
            inv_freq, _ = self._inv_freq(D)
            q = rope_halves(deinterleave(q), pos, inv_freq, 1.0)
            k = rope_halves(deinterleave(k), pos, inv_freq, 1.0)
            if cfg.l2_qk:  # RMSNorm without a weight, per head
                q = rms_norm(q, 1.0, cfg.eps)
                k = rms_norm(k, 1.0, cfg.eps)
            chunk = cfg.chunk
        else:
            # NoPE layer: all positions, queries tempered by their position.
            t = 1.0 + cfg.temp_scale * np.log(np.floor((pos + 1.0) / cfg.temp_length) + 1.0)
            q = q * t[:, None, None]
        out = attention(q, k, v, 1.0 / math.sqrt(D), chunk=chunk)
        return self.mm(out, b + "attn_output.weight")

    def _attention(self, il, x, pos):
        cfg = self.cfg
        b = f"blk.{il}."
        if cfg.arch in MLA_ARCHS:
            return self._mla(il, x, pos)
        if cfg.arch == "llama4":
            return self._llama4_attention(il, x, pos)
        if cfg.recurrent(il):
            return delta_net(self, il, x)
        T = x.shape[0]
        if self.has(b + "attn_qkv.weight"):  # bailingmoe2: the rows of q, then k, then v
            qkv = self.mm(x, b + "attn_qkv.weight")
            nq, nk = cfg.n_head * cfg.head_dim, cfg.n_head_kv * cfg.head_dim
            q, k, v = qkv[:, :nq], qkv[:, nq:nq + nk], qkv[:, nq + nk:]
        else:
            q = self.mm(x, b + "attn_q.weight")
            k = self.mm(x, b + "attn_k.weight")
            v = self.mm(x, b + "attn_v.weight")
        gate = None
        if cfg.arch in HYBRID_ARCHS:  # per head: the query, then its gate logits
            q = q.reshape(T, cfg.n_head, 2, cfg.head_dim)
            gate = 1.0 / (1.0 + np.exp(-q[:, :, 1].reshape(T, -1)))
            q = q[:, :, 0].reshape(T, -1)
        if self.has(b + "attn_q.bias"):
            q = q + self.w(b + "attn_q.bias")
            k = k + self.w(b + "attn_k.bias")
            v = v + self.w(b + "attn_v.bias")
        if cfg.arch in ("olmoe", "minimax-m2"):  # whole-vector q/k norm
            q = rms_norm(q, self.w(b + "attn_q_norm.weight"), cfg.eps)
            k = rms_norm(k, self.w(b + "attn_k_norm.weight"), cfg.eps)
        q = q.reshape(T, cfg.n_head, cfg.head_dim)
        k = k.reshape(T, cfg.n_head_kv, cfg.head_dim)
        v = v.reshape(T, cfg.n_head_kv, cfg.v_head_dim)
        def head_norm(q, k):
            return (rms_norm(q, self.w(b + "attn_q_norm.weight"), cfg.eps),
                    rms_norm(k, self.w(b + "attn_k_norm.weight"), cfg.eps))
        if cfg.arch in ("qwen3", "qwen3moe", "dots1", "bailingmoe2") + HYBRID_ARCHS or (
                cfg.arch == "glm4moe" and self.has(b + "attn_q_norm.weight")):
            q, k = head_norm(q, k)  # per-head q/k norm
        if cfg.arch in PAIRS_ARCHS:  # de-interleave q and k alike (dot products unchanged)
            q, k = deinterleave(q), deinterleave(k)
        inv_freq, mag = self._inv_freq(cfg.rope_dim)
        rd = cfg.rope_dim
        q = np.concatenate([rope_halves(q[..., :rd], pos, inv_freq, mag), q[..., rd:]], axis=-1)
        k = np.concatenate([rope_halves(k[..., :rd], pos, inv_freq, mag), k[..., rd:]], axis=-1)
        if cfg.arch == "hunyuan-moe":  # per-head q/k norm of the rotated heads
            q, k = head_norm(q, k)
        window = cfg.n_swa if il % 2 == 0 else 0
        sinks = self.w(b + "attn_sinks.weight") if self.has(b + "attn_sinks.weight") else None
        out = attention(q, k, v, 1.0 / math.sqrt(cfg.head_dim), window, sinks)
        if gate is not None:
            out = out * gate
        out = self.mm(out, b + "attn_output.weight")
        if self.has(b + "attn_output.bias"):
            out = out + self.w(b + "attn_output.bias")
        return out

    def _mla(self, il, x, pos):
        cfg = self.cfg
        b = f"blk.{il}."
        T = x.shape[0]
        H, nope, rd, dv, r = cfg.n_head, cfg.nope_dim, cfg.rope_dim, cfg.v_head_dim, cfg.kv_lora_rank
        if cfg.q_lora_rank > 0:
            q = rms_norm(self.mm(x, b + "attn_q_a.weight"), self.w(b + "attn_q_a_norm.weight"), cfg.eps)
            q = self.mm(q, b + "attn_q_b.weight")
        else:
            q = self.mm(x, b + "attn_q.weight")
        q = q.reshape(T, H, nope + rd)
        q_nope, q_pe = q[..., :nope], q[..., nope:]
        ckv = self.mm(x, b + "attn_kv_a_mqa.weight")          # (T, r + rd)
        latent, k_pe = ckv[:, :r], ckv[:, r:].reshape(T, 1, rd)
        latent = rms_norm(latent, self.w(b + "attn_kv_a_norm.weight"), cfg.eps)
        # kv_b maps the latent to each head's key "nope" part and its value;
        # current files split it: attn_k_b (H, r, nope), each head's key rows
        # transposed, and attn_v_b (H, dv, r).
        split = not self.has(b + "attn_kv_b.weight")
        if split:
            w_kn = self.w(b + "attn_k_b.weight").reshape(H, r, nope).transpose(0, 2, 1)
            w_v = self.w(b + "attn_v_b.weight").reshape(H, dv, r)
            v_name = b + "attn_v_b.weight"
        else:
            kv_b = self.w(b + "attn_kv_b.weight").reshape(H, nope + dv, r)
            w_kn, w_v = kv_b[:, :nope], kv_b[:, nope:]
            v_name = b + "attn_kv_b.weight"
        if split and self.act_rounding:
            # frugal absorbs k_b into the query with a product over q_nope, whose
            # input its integer kernels round; q . (W k) = (W^T q) . k.
            q_nope = round_activations(q_nope, self.file.tensors[b + "attn_k_b.weight"].type)
        # Keys: the key rows applied to the latent (joint kv_b: never rounded,
        # frugal folds them into the query in f32).
        k_nope = np.einsum("tr,hnr->thn", latent, w_kn)
        # The rope part holds interleaved pairs (x[2i], x[2i+1]): de-interleave,
        # then rotate halves.
        inv_freq, _ = rope_inv_freq(cfg, rd)
        q_pe = rope_halves(deinterleave(q_pe), pos, inv_freq, 1.0)
        k_pe = rope_halves(deinterleave(k_pe), pos, inv_freq, 1.0)
        qh = np.concatenate([q_nope, q_pe], axis=-1)
        kh = np.concatenate([k_nope, np.broadcast_to(k_pe, (T, H, rd))], axis=-1)
        scale = 1.0 / math.sqrt(nope + rd)
        if cfg.scaling == "yarn" and cfg.factor > 1:
            # DeepSeek's YaRN: cos/sin keep unit magnitude (mscale / mscale_all_dim = 1)
            # and the attention logits take mscale_all_dim's correction squared.
            m = cfg.attn_factor * (1.0 + cfg.yarn_log_mul * math.log(cfg.factor))
            scale *= m * m
        s = np.einsum("thd,shd->hts", qh, kh) * scale
        p = softmax(np.where(np.tril(np.ones((T, T), bool))[None], s, -np.inf), axis=-1)
        # Values: sum_s p_s (W_v latent_s) = W_v (sum_s p_s latent_s); the second
        # form is the product frugal runs (its input rounded with act_rounding).
        ctx = np.einsum("hts,sr->thr", p, latent)
        if self.act_rounding:
            ctx = round_activations(ctx, self.file.tensors[v_name].type)
        out = np.einsum("thr,hvr->thv", ctx, w_v).reshape(T, H * dv)
        return self.mm(out, b + "attn_output.weight")

    # --- feed-forward ----------------------------------------------------
    def _route(self, logits, bias):
        """Expert choice and weights per token: (T, k) ids, (T, k) weights."""
        cfg = self.cfg
        T, E = logits.shape
        k = cfg.n_expert_used
        scores = sigmoid(logits) if cfg.gating == 2 else softmax(logits)
        choice = scores + bias if bias is not None else scores.copy()
        if cfg.n_group > 1:
            g = choice.reshape(T, cfg.n_group, E // cfg.n_group)
            if cfg.gating == 2:  # V3: a group's score is the sum of its two best
                gs = np.sort(g, axis=-1)[..., -2:].sum(-1)
            else:  # V2: its best expert
                gs = g.max(-1)
            order = np.sort(gs, axis=-1)[:, ::-1]
            group_margin = order[:, cfg.n_group_used - 1] - order[:, cfg.n_group_used]
            keep = np.argsort(-gs, axis=-1, kind="stable")[:, :cfg.n_group_used]
            mask = np.zeros((T, cfg.n_group), bool)
            np.put_along_axis(mask, keep, True, axis=-1)
            choice = np.where(np.repeat(mask, E // cfg.n_group, axis=-1), choice, -np.inf)
        ids = np.argsort(-choice, axis=-1, kind="stable")[:, :k]  # ties: lower id first
        # How far each token is from choosing other experts (for callers that
        # must know where a small perturbation could change the routing).
        order = np.sort(choice, axis=-1)[:, ::-1]
        margin = order[:, k - 1] - order[:, k] if k < E else np.full(T, np.inf)
        if cfg.n_group > 1:
            margin = np.minimum(margin, group_margin)
        self.route_margins.append(margin)
        wts = np.take_along_axis(scores, ids, axis=-1)
        if cfg.norm_topk:
            wts = wts / wts.sum(-1, keepdims=True)
        return ids, wts * cfg.routed_scale

    def _route_topk_softmax(self, logits):
        """gpt-oss: the top-k logits, weighed by a softmax over those k."""
        k = self.cfg.n_expert_used
        ids = np.argsort(-logits, axis=-1, kind="stable")[:, :k]  # ties: lower id first
        order = np.sort(logits, axis=-1)[:, ::-1]
        self.route_margins.append(order[:, k - 1] - order[:, k] if k < logits.shape[1] else
                                  np.full(len(logits), np.inf))
        return ids, softmax(np.take_along_axis(logits, ids, axis=-1))

    def _oss_expert(self, x, b, e):
        """gpt-oss's expert e: biases, the clamped SwiGLU (alpha 1.702, limit 7)."""
        g = self.mm(x, b + "ffn_gate_exps.weight", e) + self.w(b + "ffn_gate_exps.bias")[e]
        u = self.mm(x, b + "ffn_up_exps.weight", e) + self.w(b + "ffn_up_exps.bias")[e]
        g = np.minimum(g, 7.0)
        u = np.clip(u, -7.0, 7.0)
        h = g * sigmoid(1.702 * g) * (u + 1.0)
        return self.mm(h, b + "ffn_down_exps.weight", e) + self.w(b + "ffn_down_exps.bias")[e]

    def _ffn(self, il, x):
        b = f"blk.{il}."
        if self.cfg.arch == "gpt-oss":
            ids, wts = self._route_topk_softmax(self.mm(x, b + "ffn_gate_inp.weight") + self.w(b + "ffn_gate_inp.bias"))
            self.routes[il] = ids
            out = np.zeros_like(x)
            for e in np.unique(ids):
                rows, slot = np.nonzero(ids == e)
                out[rows] += wts[rows, slot][:, None] * self._oss_expert(x[rows], b, e)
            return out
        if not self.has(b + "ffn_gate_inp.weight"):
            return self.swiglu(x, b + "ffn_gate.weight", b + "ffn_up.weight", b + "ffn_down.weight")
        if self.cfg.arch == "llama4":
            # The top-k logits; sigmoid(logit) scales the expert's input.
            logits = self.mm(x, b + "ffn_gate_inp.weight")
            k = self.cfg.n_expert_used
            ids = np.argsort(-logits, axis=-1, kind="stable")[:, :k]
            order = np.sort(logits, axis=-1)[:, ::-1]
            self.route_margins.append(order[:, k - 1] - order[:, k])
            self.routes[il] = ids
            wts = sigmoid(np.take_along_axis(logits, ids, axis=-1))
            out = np.zeros_like(x)
            for e in np.unique(ids):
                rows, slot = np.nonzero(ids == e)
                out[rows] += self.swiglu(x[rows] * wts[rows, slot][:, None], b + "ffn_gate_exps.weight",
                                         b + "ffn_up_exps.weight", b + "ffn_down_exps.weight", e)
            return out + self.swiglu(x, b + "ffn_gate_shexp.weight", b + "ffn_up_shexp.weight",
                                     b + "ffn_down_shexp.weight")
        bias = self.w(b + "exp_probs_b.bias") if self.has(b + "exp_probs_b.bias") else None
        ids, wts = self._route(self.mm(x, b + "ffn_gate_inp.weight"), bias)
        self.routes[il] = ids
        out = np.zeros_like(x)
        for e in np.unique(ids):
            rows, slot = np.nonzero(ids == e)
            y = self.swiglu(x[rows], b + "ffn_gate_exps.weight", b + "ffn_up_exps.weight", b + "ffn_down_exps.weight", e)
            out[rows] += wts[rows, slot][:, None] * y
        if self.has(b + "ffn_gate_shexp.weight"):
            sh = self.swiglu(x, b + "ffn_gate_shexp.weight", b + "ffn_up_shexp.weight", b + "ffn_down_shexp.weight")
            if self.has(b + "ffn_gate_inp_shexp.weight"):  # qwen2moe's gated shared expert
                sh = sh * sigmoid(x @ self.w(b + "ffn_gate_inp_shexp.weight"))[:, None]
            out += sh
        return out

    # --- whole model -----------------------------------------------------
    def logits(self, tokens):
        """(n_tokens, n_vocab) float64 logits at every position of `tokens`."""
        tokens = np.asarray(tokens, dtype=np.int64)
        if tokens.ndim != 1 or len(tokens) == 0 or tokens.min() < 0 or tokens.max() >= self.n_vocab:
            raise ValueError("reference: tokens must be a non-empty list of ids below n_vocab")
        cfg = self.cfg
        pos = np.arange(len(tokens), dtype=np.float64)
        self.routes = {}  # layer -> (n_tokens, k) expert ids chosen, for callers comparing routings
        self.route_margins = []  # per MoE layer: (n_tokens,) gap between the k-th and the next choice
        self.n_last = len(tokens)
        if cfg.arch == "deepseek4":
            from .deepseek4 import Deepseek4  # noqa: E402 (it builds on this module)
            return Deepseek4(self).logits(tokens, pos)
        x = self.w("token_embd.weight")[tokens]
        for il in range(cfg.n_layer):
            b = f"blk.{il}."
            x = x + self._attention(il, rms_norm(x, self.w(b + "attn_norm.weight"), cfg.eps), pos)
            norm = b + ("post_attention_norm.weight" if cfg.arch in ("gpt-oss", "glm4moe") + HYBRID_ARCHS
                        else "ffn_norm.weight")
            x = x + self._ffn(il, rms_norm(x, self.w(norm), cfg.eps))
        x = rms_norm(x, self.w("output_norm.weight"), cfg.eps)
        return self.mm(x, "token_embd.weight" if cfg.tied else "output.weight")

    def mean_cross_entropy(self, tokens):
        """Mean over positions t < n-1 of -log p(tokens[t+1] | tokens[..t]), in nats."""
        tokens = np.asarray(tokens, dtype=np.int64)
        if len(tokens) < 2:
            raise ValueError("reference: cross-entropy needs at least two tokens")
        lg = self.logits(tokens)[:-1]
        m = lg.max(-1, keepdims=True)
        logz = (m + np.log(np.exp(lg - m).sum(-1, keepdims=True)))[:, 0]
        return float(np.mean(logz - lg[np.arange(len(lg)), tokens[1:]]))


def routing_changes(a, b):
    """Positions where two models' last logits() calls routed a token to a
    different set of experts in some layer (a boolean per position)."""
    changed = np.zeros(a.n_last, bool)
    for il, ids in a.routes.items():
        changed |= (np.sort(ids, -1) != np.sort(b.routes[il], -1)).any(-1)
    return changed


def stable_prefix(model, margin):
    """Leading positions of the last logits() call whose routing, in every
    layer, is more than `margin` (in router score units) from another choice."""
    ok = np.ones(model.n_last, bool)
    for m in model.route_margins:
        ok &= m > margin
    return int(np.argmin(ok)) if not ok.all() else model.n_last


def load_model(path, act_rounding=False):
    return ReferenceModel(path, act_rounding)


def greedy_continuation(model, prompt, n):
    """n tokens chosen by argmax (lowest id on ties), recomputing the whole
    sequence each step (no cache: the definition, not an optimisation)."""
    seq = list(prompt)
    out = []
    for _ in range(n):
        t = int(np.argmax(model.logits(seq)[-1]))
        out.append(t)
        seq.append(t)
    return out

"""DeepSeek-V4 (deepseek4) in float64 numpy, as its GGUF files describe it.

- Hyper-connections: the residual stream is hc copies of n_embd. Around each
  sublayer the flattened copies, RMS-normalised without a weight, give
  through <p>_fn mix logits m; with scale = <p>_scale (3) and b = <p>_base:
  pre = sigmoid(scale0 m_pre + b_pre) + eps, post = 2 sigmoid(scale1 m_post +
  b_post), comb = Sinkhorn(scale2 m_comb + b_comb) (rows softmaxed plus eps,
  then column and row sums, each plus eps, divided out in turn: columns,
  then iterations - 1 times rows and columns). The sublayer reads
  sum_i pre_i x_i; copy i becomes post_i y + sum_j comb[j, i] x_j. The head
  reads sum_i (sigmoid(scale m_i + b_i) + eps) x_i, then output_norm.
- Attention: q = q_b(RMSNorm(q_a x)) per head RMS-normalised without a
  weight; one shared key/value vector kv = RMSNorm(attn_kv x) that is both
  the key and the value of every head; RoPE on the last rope_dim of each head
  on the pairs (x[2i], x[2i+1]). Query t attends to positions t - window < s
  <= t and, in a compressing layer of ratio r, to compressed entries: block b
  (positions b r .. b r + r - 1) is visible from t >= b r + r - 1. An entry
  pools each channel over its positions with a softmax of gate scores
  (compressor gate x + ape[position in block]); ratio 4 also pools the
  previous block's positions through the first half of the compressor's
  channels (its own positions use the second half). Entries are
  RMS-normalised and rotated to position b r. Ratio 4 layers keep per query
  the top_k entries by the lightning indexer's score sum_h w_h relu(q_h . k)
  (indexer queries from the q_a norm output, rotated; head weights
  proj x / sqrt(heads * dim); keys from the indexer's own compressor).
  One softmax per head over window keys and entries, with exp(sink) in its
  denominator; the output rotated back by -t, then attn_output_a per group
  of heads and attn_output_b. Compressing layers (and compressors, indexer)
  rotate with compress_rope_freq_base and the file's YaRN frequencies at unit
  magnitude, the others with rope.freq_base unscaled.
- MoE: scores sqrt(softplus(router logits)); the first hash_layer_count
  layers take the token's experts from ffn_gate_tid2eid, the others the top-k
  of scores + exp_probs_b; weights are the scores, renormalised, times the
  routed scale; experts and the shared expert compute
  min(silu(g), L) * clip(u, -L, L) with the layer's swiglu_clamp_exp/_shexp.
"""
import math
import types

import numpy as np

from .model import rms_norm, round_activations, rope_inv_freq, sigmoid, silu, softmax


class Dsv4Config:
    def __init__(self, cfg, md):
        arch = "deepseek4"

        def key(k, default=None):
            full = f"{arch}.{k}"
            if full in md:
                return md[full]
            if default is None:
                raise KeyError(f"reference: missing key {full}")
            return default

        n_blocks = int(key("block_count"))

        def per_layer(k, default=None):
            v = key(k, default)
            return [float(x) for x in v] if isinstance(v, (list, tuple)) else [float(v)] * n_blocks

        self.hc = int(key("hyper_connection.count"))
        self.sinkhorn = int(key("hyper_connection.sinkhorn_iterations", 3))
        self.hc_eps = float(key("hyper_connection.epsilon", cfg.eps))
        self.q_lora = int(key("attention.q_lora_rank"))
        self.window = int(key("attention.sliding_window"))
        self.groups = int(key("attention.output_group_count"))
        self.out_lora = int(key("attention.output_lora_rank"))
        self.ratios = [int(r) for r in per_layer("attention.compress_ratios")]
        self.compress_base = float(key("attention.compress_rope_freq_base", cfg.rope_base))
        self.hash_layers = int(key("hash_layer_count", 0))
        if 4 in self.ratios:
            self.idx_heads = int(key("attention.indexer.head_count"))
            self.idx_dim = int(key("attention.indexer.key_length"))
            self.idx_top_k = int(key("attention.indexer.top_k"))
        self.limit_exp = per_layer("swiglu_clamp_exp")
        self.limit_shexp = per_layer("swiglu_clamp_shexp") if f"{arch}.swiglu_clamp_shexp" in md else self.limit_exp
        self.n_shared = int(key("expert_shared_count", 0))
        # RoPE of the plain layers (rope.freq_base, no scaling) and of the
        # compressing ones (compress base, the file's scaling).
        self.rope_plain = types.SimpleNamespace(**{**vars(cfg), "scaling": "none", "factor": 1.0})
        self.rope_comp = types.SimpleNamespace(**{**vars(cfg), "rope_base": self.compress_base})


def rope_pairs(x, positions, inv_freq):
    """RoPE at unit magnitude on the pairs (x[2i], x[2i+1]) of the last axis;
    x (..., T, H, dim), positions (T,)."""
    ang = positions[:, None] * inv_freq[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


def rope_tail(x, positions, inv_freq):
    rd = 2 * len(inv_freq)
    return np.concatenate([x[..., :-rd], rope_pairs(x[..., -rd:], positions, inv_freq)], axis=-1)


class Deepseek4:
    def __init__(self, model):
        self.m = model
        self.cfg = model.cfg
        self.dc = Dsv4Config(model.cfg, model.file.metadata)

    # --- hyper-connections ------------------------------------------------
    def _mix(self, X, fn):
        T = X.shape[0]
        flat = X.reshape(T, -1)
        return self.m.mm(rms_norm(flat, 1.0, self.cfg.eps), fn)

    def _hc(self, X, prefix, sublayer):
        dc, hc = self.dc, self.dc.hc
        m = self._mix(X, prefix + "_fn.weight")
        scale, base = self.m.w(prefix + "_scale.weight"), self.m.w(prefix + "_base.weight")
        pre = sigmoid(m[:, :hc] * scale[0] + base[:hc]) + dc.hc_eps
        post = 2.0 * sigmoid(m[:, hc:2 * hc] * scale[1] + base[hc:2 * hc])
        comb = (m[:, 2 * hc:] * scale[2] + base[2 * hc:]).reshape(-1, hc, hc)  # [t, source j, destination i]
        comb = softmax(comb, axis=-1) + dc.hc_eps
        comb = comb / (comb.sum(1, keepdims=True) + dc.hc_eps)
        for _ in range(dc.sinkhorn - 1):
            comb = comb / (comb.sum(2, keepdims=True) + dc.hc_eps)
            comb = comb / (comb.sum(1, keepdims=True) + dc.hc_eps)
        y = sublayer(np.einsum("ti,tid->td", pre, X))
        return post[:, :, None] * y[:, None, :] + np.einsum("tji,tjd->tid", comb, X)

    # --- attention ---------------------------------------------------------
    def _compress(self, b, x, pos, ratio, prefix, width):
        """Entries (n_blocks, width) of the complete blocks of `ratio` positions."""
        kv = self.m.mm(x, b + prefix + "_kv.weight")
        score = self.m.mm(x, b + prefix + "_gate.weight") + self.m.w(b + prefix + "_ape.weight")[pos.astype(int) % ratio]
        overlap = ratio == 4
        nb = len(pos) // ratio
        out = np.zeros((nb, width))
        for blk in range(nb):
            cur = slice(blk * ratio, blk * ratio + ratio)
            if overlap:
                s_parts, v_parts = [score[cur, width:]], [kv[cur, width:]]
                if blk > 0:
                    prev = slice(blk * ratio - ratio, blk * ratio)
                    s_parts.insert(0, score[prev, :width])
                    v_parts.insert(0, kv[prev, :width])
                s, v = np.concatenate(s_parts), np.concatenate(v_parts)
            else:
                s, v = score[cur], kv[cur]
            out[blk] = (softmax(s, axis=0) * v).sum(0)
        out = rms_norm(out, self.m.w(b + prefix + "_norm.weight"), self.cfg.eps)
        inv_freq, _ = rope_inv_freq(self.dc.rope_comp, self.cfg.rope_dim)
        return rope_tail(out[:, None, :], np.arange(nb, dtype=np.float64) * ratio, inv_freq)[:, 0]

    def _attention(self, il, x, pos):
        cfg, dc, m = self.cfg, self.dc, self.m
        b = f"blk.{il}."
        T, H, hd = x.shape[0], cfg.n_head, cfg.head_dim
        ratio = dc.ratios[il]
        rope_cfg = dc.rope_comp if ratio > 0 else dc.rope_plain
        inv_freq, _ = rope_inv_freq(rope_cfg, cfg.rope_dim)
        qr = rms_norm(m.mm(x, b + "attn_q_a.weight"), m.w(b + "attn_q_a_norm.weight"), cfg.eps)
        q = rms_norm(m.mm(qr, b + "attn_q_b.weight").reshape(T, H, hd), 1.0, cfg.eps)
        q = rope_tail(q, pos, inv_freq)
        kv = rms_norm(m.mm(x, b + "attn_kv.weight"), m.w(b + "attn_kv_a_norm.weight"), cfg.eps)
        kv = rope_tail(kv[:, None, :], pos, inv_freq)[:, 0]
        entries = None
        if ratio > 0:
            entries = self._compress(b, x, pos, ratio, "attn_compressor", hd)
        idx_score = None
        if ratio == 4:
            ik = self._compress(b, x, pos, ratio, "indexer_compressor", dc.idx_dim)
            ci, _ = rope_inv_freq(dc.rope_comp, cfg.rope_dim)
            iq = rope_tail(m.mm(qr, b + "indexer.attn_q_b.weight").reshape(T, dc.idx_heads, dc.idx_dim), pos, ci)
            iw = m.mm(x, b + "indexer.proj.weight") / math.sqrt(dc.idx_heads * dc.idx_dim)
            idx_score = np.einsum("th,thb->tb", iw, np.maximum(np.einsum("thd,bd->thb", iq, ik), 0.0))
        sinks = m.w(b + "attn_sinks.weight")
        out = np.zeros((T, H, hd))
        if idx_score is not None:
            # The indexer's choices count as routing (routing_changes, stable_prefix):
            # another choice is a discontinuity, not an error.
            chosen = np.full((T, dc.idx_top_k), -1)
            margin = np.full(T, np.inf)
        for t in range(T):
            keys = [kv[max(0, t - dc.window + 1):t + 1]]
            if entries is not None:
                visible = np.arange((t + 1) // ratio)
                if idx_score is not None and len(visible) > dc.idx_top_k:
                    order = np.sort(idx_score[t, visible])[::-1]
                    margin[t] = order[dc.idx_top_k - 1] - order[dc.idx_top_k]
                    visible = np.sort(np.argsort(-idx_score[t, visible], kind="stable")[:dc.idx_top_k])
                if idx_score is not None:
                    chosen[t, :len(visible)] = visible
                keys.append(entries[visible])
            k = np.concatenate(keys)
            s = np.einsum("hd,sd->hs", q[t], k) / math.sqrt(hd)
            p = softmax(np.concatenate([s, sinks[:, None]], axis=1), axis=1)[:, :-1]
            out[t] = p @ k
        if idx_score is not None:
            m.routes[("indexer", il)] = chosen
            m.route_margins.append(margin)
        out = rope_tail(out, -pos, inv_freq)
        att = out.reshape(T, H * hd)
        # Each group of heads to out_lora, then all to n_embd.
        G, R = dc.groups, dc.out_lora
        gd = H * hd // G
        wa_name = b + "attn_output_a.weight"
        wa = m.w(wa_name)
        if m.act_rounding:
            att = round_activations(att.reshape(T * G, gd), m.file.tensors[wa_name].type).reshape(T, H * hd)
        oa = np.concatenate([att[:, g * gd:(g + 1) * gd] @ wa[g * R:(g + 1) * R].T for g in range(G)], axis=1)
        return m.mm(oa, b + "attn_output_b.weight")

    # --- feed-forward --------------------------------------------------------
    def _glu(self, x, b, kind, limit, expert=None):
        m = self.m
        g = silu(m.mm(x, b + f"ffn_gate_{kind}.weight", expert))
        u = m.mm(x, b + f"ffn_up_{kind}.weight", expert)
        if limit >= 1e-6:
            g, u = np.minimum(g, limit), np.clip(u, -limit, limit)
        return m.mm(g * u, b + f"ffn_down_{kind}.weight", expert)

    def _ffn(self, il, x, tokens):
        cfg, dc, m = self.cfg, self.dc, self.m
        b = f"blk.{il}."
        logits = m.mm(x, b + "ffn_gate_inp.weight")
        sp = np.where(logits > 0, logits + np.log1p(np.exp(-np.abs(logits))), np.log1p(np.exp(logits)))
        scores = np.sqrt(sp)
        k = cfg.n_expert_used
        if il < dc.hash_layers:
            ids = m.w(b + "ffn_gate_tid2eid.weight")[tokens].astype(np.int64)
            m.route_margins.append(np.full(len(tokens), np.inf))  # a table: no tie to break
        else:
            choice = scores + m.w(b + "exp_probs_b.bias")
            ids = np.argsort(-choice, axis=-1, kind="stable")[:, :k]
            order = np.sort(choice, axis=-1)[:, ::-1]
            m.route_margins.append(order[:, k - 1] - order[:, k])
        m.routes[il] = ids
        wts = np.take_along_axis(scores, ids, axis=-1)
        if cfg.norm_topk:
            wts = wts / wts.sum(-1, keepdims=True)
        wts = wts * cfg.routed_scale
        out = np.zeros_like(x)
        for e in np.unique(ids):
            rows, slot = np.nonzero(ids == e)
            out[rows] += wts[rows, slot][:, None] * self._glu(x[rows], b, "exps", dc.limit_exp[il], e)
        return out + self._glu(x, b, "shexp", dc.limit_shexp[il])

    # --- whole model ----------------------------------------------------------
    def logits(self, tokens, pos):
        cfg, dc, m = self.cfg, self.dc, self.m
        x = m.w("token_embd.weight")[tokens]
        X = np.repeat(x[:, None, :], dc.hc, axis=1)
        for il in range(cfg.n_layer):
            b = f"blk.{il}."
            X = self._hc(X, b + "hc_attn",
                         lambda y: self._attention(il, rms_norm(y, m.w(b + "attn_norm.weight"), cfg.eps), pos))
            X = self._hc(X, b + "hc_ffn", lambda y: self._ffn(il, rms_norm(y, m.w(b + "ffn_norm.weight"), cfg.eps),
                                                              tokens))
        mix = self._mix(X, "output_hc_fn.weight")
        pre = sigmoid(mix * m.w("output_hc_scale.weight")[0] + m.w("output_hc_base.weight")) + dc.hc_eps
        y = rms_norm(np.einsum("ti,tid->td", pre, X), m.w("output_norm.weight"), cfg.eps)
        return m.mm(y, "output.weight")

"""DeepSeek-V4 (deepseek4) in float64 PyTorch, for the LoRA gradient check
(torch_lora_gradient_test.py): the model of frugal_ref/deepseek4.py (its
docstring describes every part) written with autograd's tensors, so that the
gradient of the loss reaches the adapted matrices through the
hyper-connections (Sinkhorn included), the norms, RoPE, the softmax with sinks
over the window and the compressed entries, the compressors' pooling, the
grouped output and the MoE. The lightning indexer's choice of entries is
computed here from the same weights and, as in frugal's trainer, held fixed:
no gradient flows through the choice.
"""
import math

import numpy as np
import torch

from frugal_ref.deepseek4 import Dsv4Config
from frugal_ref.model import Config, rope_inv_freq


def rms(x, w, eps):
    return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rope_tail(x, pos, inv_freq):
    """RoPE on the pairs (x[2i], x[2i+1]) of the last 2 len(inv_freq) values;
    x (T, H, dim), pos (T,)."""
    rd = 2 * len(inv_freq)
    ang = pos[:, None] * torch.tensor(inv_freq)[None, :]
    cos, sin = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
    tail = x[..., -rd:]
    x0, x1 = tail[..., 0::2], tail[..., 1::2]
    rot = torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], -1).reshape(tail.shape)
    return torch.cat([x[..., :-rd], rot], -1)


class Dsv4:
    def __init__(self, md, has, W):
        self.cfg = Config(md, has)
        self.dc = Dsv4Config(self.cfg, md)
        self.W = W

    def w(self, name):
        t = self.W[name]
        return t if not t.is_floating_point() else t.double()

    def mm(self, x, name, expert=None):
        w = self.w(name)
        return x @ (w if expert is None else w[expert]).T

    def hc(self, X, prefix, sublayer):
        dc, n = self.dc, self.dc.hc
        m = self.mm(rms(X.reshape(X.shape[0], -1), 1.0, self.cfg.eps), prefix + "_fn.weight")
        scale, base = self.w(prefix + "_scale.weight"), self.w(prefix + "_base.weight")
        pre = torch.sigmoid(m[:, :n] * scale[0] + base[:n]) + dc.hc_eps
        post = 2.0 * torch.sigmoid(m[:, n:2 * n] * scale[1] + base[n:2 * n])
        comb = torch.softmax((m[:, 2 * n:] * scale[2] + base[2 * n:]).reshape(-1, n, n), -1) + dc.hc_eps
        comb = comb / (comb.sum(1, keepdim=True) + dc.hc_eps)
        for _ in range(dc.sinkhorn - 1):
            comb = comb / (comb.sum(2, keepdim=True) + dc.hc_eps)
            comb = comb / (comb.sum(1, keepdim=True) + dc.hc_eps)
        y = sublayer(torch.einsum("ti,tid->td", pre, X))
        return post[:, :, None] * y[:, None, :] + torch.einsum("tji,tjd->tid", comb, X)

    def compress(self, b, x, pos, ratio, prefix, width):
        kv = self.mm(x, b + prefix + "_kv.weight")
        score = self.mm(x, b + prefix + "_gate.weight") + self.w(b + prefix + "_ape.weight")[pos.long() % ratio]
        overlap = ratio == 4
        out = []
        for blk in range(len(pos) // ratio):
            cur = slice(blk * ratio, blk * ratio + ratio)
            s, v = (score[cur, width:], kv[cur, width:]) if overlap else (score[cur], kv[cur])
            if overlap and blk > 0:
                prev = slice(blk * ratio - ratio, blk * ratio)
                s, v = torch.cat([score[prev, :width], s]), torch.cat([kv[prev, :width], v])
            out.append((torch.softmax(s, 0) * v).sum(0))
        if not out:
            return None
        out = rms(torch.stack(out), self.w(b + prefix + "_norm.weight"), self.cfg.eps)
        inv_freq, _ = rope_inv_freq(self.dc.rope_comp, self.cfg.rope_dim)
        return rope_tail(out[:, None, :], torch.arange(len(out), dtype=torch.float64) * ratio, inv_freq)[:, 0]

    def attention(self, il, x, pos):
        cfg, dc = self.cfg, self.dc
        b = f"blk.{il}."
        T, H, hd = x.shape[0], cfg.n_head, cfg.head_dim
        ratio = dc.ratios[il]
        inv_freq, _ = rope_inv_freq(dc.rope_comp if ratio > 0 else dc.rope_plain, cfg.rope_dim)
        qr = rms(self.mm(x, b + "attn_q_a.weight"), self.w(b + "attn_q_a_norm.weight"), cfg.eps)
        q = rope_tail(rms(self.mm(qr, b + "attn_q_b.weight").reshape(T, H, hd), 1.0, cfg.eps), pos, inv_freq)
        kv = rms(self.mm(x, b + "attn_kv.weight"), self.w(b + "attn_kv_a_norm.weight"), cfg.eps)
        kv = rope_tail(kv[:, None, :], pos, inv_freq)[:, 0]
        entries = self.compress(b, x, pos, ratio, "attn_compressor", hd) if ratio > 0 else None
        idx_score = None
        if ratio == 4:  # the indexer's scores: they choose, no gradient flows through them
            with torch.no_grad():
                ik = self.compress(b, x, pos, ratio, "indexer_compressor", dc.idx_dim)
                ci, _ = rope_inv_freq(dc.rope_comp, cfg.rope_dim)
                iq = rope_tail(self.mm(qr, b + "indexer.attn_q_b.weight").reshape(T, dc.idx_heads, dc.idx_dim), pos, ci)
                iw = self.mm(x, b + "indexer.proj.weight") / math.sqrt(dc.idx_heads * dc.idx_dim)
                if ik is not None:
                    idx_score = torch.einsum("th,thb->tb", iw, torch.relu(torch.einsum("thd,bd->thb", iq, ik)))
        sinks = self.w(b + "attn_sinks.weight")
        rows = []
        for t in range(T):
            keys = [kv[max(0, t - dc.window + 1):t + 1]]
            if entries is not None:
                visible = np.arange((t + 1) // ratio)
                if idx_score is not None and len(visible) > dc.idx_top_k:
                    scores = idx_score[t, :len(visible)].numpy()
                    visible = np.argsort(-scores, kind="stable")[:dc.idx_top_k]
                keys.append(entries[torch.tensor(visible, dtype=torch.long)])
            k = torch.cat(keys)
            s = q[t] @ k.T / math.sqrt(hd)
            p = torch.softmax(torch.cat([s, sinks[:, None]], 1), 1)[:, :-1]
            rows.append(p @ k)
        out = rope_tail(torch.stack(rows), -pos, inv_freq).reshape(T, H * hd)
        G, R = dc.groups, dc.out_lora
        gd = H * hd // G
        wa = self.w(b + "attn_output_a.weight")
        oa = torch.cat([out[:, g * gd:(g + 1) * gd] @ wa[g * R:(g + 1) * R].T for g in range(G)], 1)
        return self.mm(oa, b + "attn_output_b.weight")

    def glu(self, x, b, kind, limit, expert=None):
        g = torch.nn.functional.silu(self.mm(x, b + f"ffn_gate_{kind}.weight", expert))
        u = self.mm(x, b + f"ffn_up_{kind}.weight", expert)
        if limit >= 1e-6:
            g, u = torch.clamp(g, max=limit), torch.clamp(u, -limit, limit)
        return self.mm(g * u, b + f"ffn_down_{kind}.weight", expert)

    def ffn(self, il, x, tokens):
        cfg, dc = self.cfg, self.dc
        b = f"blk.{il}."
        scores = torch.sqrt(torch.nn.functional.softplus(self.mm(x, b + "ffn_gate_inp.weight")))
        k = cfg.n_expert_used
        if il < dc.hash_layers:
            ids = self.w(b + "ffn_gate_tid2eid.weight").long()[torch.tensor(tokens)]
        else:
            choice = (scores + self.w(b + "exp_probs_b.bias")).detach().numpy()
            ids = torch.tensor(np.argsort(-choice, axis=-1, kind="stable")[:, :k])
        wts = torch.gather(scores, 1, ids)
        if cfg.norm_topk:
            wts = wts / wts.sum(-1, keepdim=True)
        wts = wts * cfg.routed_scale
        out = self.glu(x, b, "shexp", dc.limit_shexp[il])
        for e in torch.unique(ids).tolist():
            rows, slot = torch.nonzero(ids == e, as_tuple=True)
            out = out.index_add(0, rows, wts[rows, slot][:, None] * self.glu(x[rows], b, "exps", dc.limit_exp[il], e))
        return out

    def logits(self, tokens):
        cfg, dc = self.cfg, self.dc
        pos = torch.arange(len(tokens), dtype=torch.float64)
        x = self.w("token_embd.weight")[torch.tensor(tokens)]
        X = x[:, None, :].repeat(1, dc.hc, 1)
        for il in range(cfg.n_layer):
            b = f"blk.{il}."
            X = self.hc(X, b + "hc_attn",
                        lambda y: self.attention(il, rms(y, self.w(b + "attn_norm.weight"), cfg.eps), pos))
            X = self.hc(X, b + "hc_ffn", lambda y: self.ffn(il, rms(y, self.w(b + "ffn_norm.weight"), cfg.eps), tokens))
        mix = self.mm(rms(X.reshape(X.shape[0], -1), 1.0, cfg.eps), "output_hc_fn.weight")
        pre = torch.sigmoid(mix * self.w("output_hc_scale.weight")[0] + self.w("output_hc_base.weight")) + dc.hc_eps
        y = rms(torch.einsum("ti,tid->td", pre, X), self.w("output_norm.weight"), cfg.eps)
        return self.mm(y, "output.weight")


def loss(md, has, W, tokens, targets):
    """The mean cross-entropy over the rows whose target is not -100."""
    logits = Dsv4(md, has, W).logits([int(t) for t in tokens])
    return torch.nn.functional.cross_entropy(logits, torch.tensor(targets), ignore_index=-100)

// The adapted attention's forward and backward (see lora_attention.h).
#include "finetune/lora_attention.h"

#include <algorithm>
#include <cmath>

#include "kernels/ops.h"
#include "model/forward_layers.h"
#include "train/layers.h"

namespace frugal::finetune {

namespace {

// q/k RMSNorm over each head's head_dim values (qwen3), or over the whole
// q and k vectors of a token (olmoe): rows of width qn/kn. llama4's is per
// head without a weight (ones), on its RoPE layers only.
struct QkNorm {
  explicit QkNorm(const model::ModelConfig& c)
      : c(c),
        unweighted(c.qk_norm == model::QkNorm::kPerHeadUnweighted),
        ones(static_cast<size_t>(c.head_dim), 1.0f),
        qn(c.qk_norm == model::QkNorm::kWhole ? c.n_head * c.head_dim : c.head_dim),
        kn(c.qk_norm == model::QkNorm::kWhole ? c.n_head_kv * c.head_dim : c.head_dim) {}
  bool in(int64_t il) const {
    return c.qk_norm == model::QkNorm::kPerHead || c.qk_norm == model::QkNorm::kWhole ||
           (unweighted && c.layer_has_rope(il));
  }
  const float* q_weight(const model::LayerWeights& L) const { return unweighted ? ones.data() : L.q_norm.data; }
  const float* k_weight(const model::LayerWeights& L) const { return unweighted ? ones.data() : L.k_norm.data; }
  const model::ModelConfig& c;
  const bool unweighted;
  const F ones;
  const int64_t qn, kn;
};

// llama4's NoPE layers temper each query by its position instead of
// rotating it: t = 1 + scale ln(floor((pos + 1) / length) + 1); backward
// scales d_q by the same t.
void temper(const LoraPass& p, float* x) {
  const model::ModelConfig& c = p.c;
  if (c.attn_temp_scale == 0.0f) return;
  const int64_t nq = c.n_head * c.head_dim;
  for (int64_t i = 0; i < p.T; ++i) {
    const double steps = std::floor((i + 1.0) / static_cast<double>(c.attn_temp_length));
    const float t = static_cast<float>(1.0 + c.attn_temp_scale * std::log(steps + 1.0));
    for (int64_t e = 0; e < nq; ++e) x[i * nq + e] *= t;
  }
}

train::AttentionShape shape_of(const LoraPass& p) {
  const model::ModelConfig& c = p.c;
  return {.n_seq = 1, .t = p.T, .n_head = c.n_head, .n_head_kv = c.n_head_kv, .head_dim = c.head_dim,
          .scale = model::attention_scale(c)};
}

// gpt-oss: a window on its even layers; llama4: chunks on its RoPE layers.
train::AttentionMask mask_of(const model::ModelConfig& c, int64_t il) {
  return {.window = c.layer_window(il), .chunk = c.layer_chunk(il)};
}

// Gated attention: attn_q's rows hold per head the query's head_dim values
// then its gate's; q gets the former, gate their sigmoid.
void split_gated_query(const LoraPass& p, const F& qg, F& q, F& gate) {
  const model::ModelConfig& c = p.c;
  const int64_t hd = c.head_dim, nq = c.n_head * hd;
  q = zeros(p.T * nq);
  gate = zeros(p.T * nq);
  for (int64_t i = 0; i < p.T; ++i)
    for (int64_t h = 0; h < c.n_head; ++h) {
      const float* src = qg.data() + i * 2 * nq + h * 2 * hd;
      std::copy_n(src, hd, q.data() + i * nq + h * hd);
      for (int64_t e = 0; e < hd; ++e) gate[static_cast<size_t>(i * nq + h * hd + e)] = kernels::sigmoid(src[hd + e]);
    }
}

// Its backward: attn_q's row gradients from the query's and the gate
// logits' (d_att times the output before the gate, times sigmoid').
F gated_query_back(const LoraPass& p, const AttentionActs& a, const F& d_q, const F& d_att) {
  const model::ModelConfig& c = p.c;
  const int64_t hd = c.head_dim, nq = c.n_head * hd;
  F d_qg = zeros(p.T * 2 * nq);
  for (int64_t i = 0; i < p.T; ++i)
    for (int64_t h = 0; h < c.n_head; ++h) {
      float* dst = d_qg.data() + i * 2 * nq + h * 2 * hd;
      const int64_t at = i * nq + h * hd;
      std::copy_n(d_q.data() + at, hd, dst);
      for (int64_t e = 0; e < hd; ++e) {
        const size_t u = static_cast<size_t>(at + e);
        dst[hd + e] = d_att[u] * a.att_raw[u] * a.gate[u] * (1.0f - a.gate[u]);
      }
    }
  return d_qg;
}

// bailingmoe2: the adapter of the fused attn_qkv, its term's columns added
// to q's, k's and v's products (rows of q, then k, then v).
void fused_qkv_forward(const LoraPass& p, int64_t il, const F& xn1, AttentionActs& a, F& ax) {
  const model::ModelConfig& c = p.c;
  const int64_t T = p.T, nq = c.n_embd_q(), nk = c.n_embd_k(), nv = c.n_embd_v(), n = nq + nk + nv;
  const LoraWeights lw = p.slot(il, kDnQkv).at(p.params, p.scale);
  F y = zeros(T * n);
  ax = zeros(T * p.r);
  lora_forward(lw, xn1.data(), T, ax.data(), y.data());
  for (int64_t i = 0; i < T; ++i) {
    const float* row = y.data() + i * n;
    kernels::add(row, a.q_raw.data() + i * nq, nq);
    kernels::add(row + nq, a.k_raw.data() + i * nk, nk);
    kernels::add(row + nq + nk, a.v.data() + i * nv, nv);
  }
}

// Its backward: the three products' gradients side by side as the fused
// matrix's, through the adapter (the factors' gradients added).
void fused_qkv_backward(const LoraPass& p, int64_t il, const F& xn1, const F& ax, const F& d_q, const F& d_k,
                        const F& d_v, F& d_xn1) {
  const model::ModelConfig& c = p.c;
  const int64_t T = p.T, nq = c.n_embd_q(), nk = c.n_embd_k(), nv = c.n_embd_v(), n = nq + nk + nv;
  F d_y = zeros(T * n);
  for (int64_t i = 0; i < T; ++i) {
    std::copy_n(d_q.data() + i * nq, nq, d_y.data() + i * n);
    std::copy_n(d_k.data() + i * nk, nk, d_y.data() + i * n + nq);
    std::copy_n(d_v.data() + i * nv, nv, d_y.data() + i * n + nq + nk);
  }
  const LoraWeights lw = p.slot(il, kDnQkv).at(p.params, p.scale);
  lora_backward(lw, xn1.data(), ax.data(), d_y.data(), T, p.grad_of(lw.a), p.grad_of(lw.b), d_xn1.data());
}

}  // namespace

void attention_forward(const LoraPass& p, int64_t il, const F& xn1, AttentionActs& a, Kept& ax, F& x) {
  const model::ModelConfig& c = p.c;
  const model::LayerWeights& L = p.W.layers[static_cast<size_t>(il)];
  const int64_t T = p.T, D = c.n_embd, H = c.n_head, HK = c.n_head_kv, nq = H * c.head_dim, nk = HK * c.head_dim;
  if (c.attn_output_gate) {
    F qg;
    p.linear(il, kQ, xn1.data(), qg, ax[kQ]);
    split_gated_query(p, qg, a.q_raw, a.gate);
  } else {
    p.linear(il, kQ, xn1.data(), a.q_raw, ax[kQ]);
  }
  p.linear(il, kK, xn1.data(), a.k_raw, ax[kK]);
  p.linear(il, kV, xn1.data(), a.v, ax[kV]);
  if (p.slot(il, kDnQkv).adapted) fused_qkv_forward(p, il, xn1, a, ax[kDnQkv]);
  if (L.bq)  // frozen q/k/v biases (qwen2, qwen2moe, glm4moe): the gradient passes them unchanged
    for (int64_t i = 0; i < T; ++i) {
      kernels::add(L.bq.data, a.q_raw.data() + i * nq, nq);
      kernels::add(L.bk.data, a.k_raw.data() + i * nk, nk);
      kernels::add(L.bv.data, a.v.data() + i * nk, nk);
    }
  const QkNorm qk(c);
  // hunyuan-moe rotates, then normalises: q_raw and k_raw are then the
  // rotated heads, the norm's inputs (backward's too).
  if (c.qk_norm_after_rope && c.layer_has_rope(il)) {
    p.rotate(a.q_raw.data(), H, p.rope);
    p.rotate(a.k_raw.data(), HK, p.rope);
  }
  if (qk.in(il)) {
    p.rmsnorm(a.q_raw.data(), qk.q_weight(L), T * nq / qk.qn, qk.qn, a.q, a.rstd_q);
    p.rmsnorm(a.k_raw.data(), qk.k_weight(L), T * nk / qk.kn, qk.kn, a.k, a.rstd_k);
  } else {
    a.q = a.q_raw;
    a.k = a.k_raw;
  }
  if (c.layer_has_rope(il)) {
    if (!c.qk_norm_after_rope) {
      p.rotate(a.q.data(), H, p.rope);
      p.rotate(a.k.data(), HK, p.rope);
    }
  } else {
    temper(p, a.q.data());
  }
  a.lse = zeros(H * T);
  a.att = zeros(T * nq);
  // gpt-oss: each head's sink logit too.
  train::attention_forward(shape_of(p), a.q.data(), a.k.data(), a.v.data(), a.lse.data(), a.att.data(), nullptr,
                           mask_of(c, il), L.sinks.data);
  if (c.attn_output_gate) {
    a.att_raw = a.att;
    for (size_t i = 0; i < a.att.size(); ++i) a.att[i] *= a.gate[i];
  }
  F o;
  p.linear(il, kO, a.att.data(), o, ax[kO]);
  if (L.bo)  // gpt-oss: attn_output's frozen bias
    for (int64_t i = 0; i < T; ++i) kernels::add(L.bo.data, o.data() + i * D, D);
  for (size_t i = 0; i < x.size(); ++i) x[i] += o[i];
}

void attention_backward(const LoraPass& p, int64_t il, const F& xn1, const AttentionActs& a, const Kept& ax,
                        const F& d_x, F& d_xn1) {
  const model::ModelConfig& c = p.c;
  const model::LayerWeights& L = p.W.layers[static_cast<size_t>(il)];
  const int64_t T = p.T, H = c.n_head, HK = c.n_head_kv, nq = H * c.head_dim, nk = HK * c.head_dim;
  F d_w = zeros(std::max(nq, nk));  // q/k norm weights are frozen: their gradients are dropped here
  F d_att = zeros(T * nq), d_q = zeros(T * nq), d_k = zeros(T * nk), d_v = zeros(T * nk);
  p.linear_back(il, kO, a.att.data(), ax[kO], d_x.data(), d_att.data());
  F d_raw = d_att;  // the gradient of the output before the gate
  if (c.attn_output_gate)
    for (size_t i = 0; i < d_raw.size(); ++i) d_raw[i] *= a.gate[i];
  // The attention's own output: before the gate where there is one.
  const F& att = c.attn_output_gate ? a.att_raw : a.att;
  train::attention_backward(shape_of(p), d_raw.data(), a.q.data(), a.k.data(), a.v.data(), att.data(), a.lse.data(),
                            d_q.data(), d_k.data(), d_v.data(), nullptr, mask_of(c, il));
  const bool rotate_first = c.qk_norm_after_rope && c.layer_has_rope(il);
  if (c.layer_has_rope(il)) {
    if (!rotate_first) {
      p.rotate(d_q.data(), H, p.rope_back);
      p.rotate(d_k.data(), HK, p.rope_back);
    }
  } else {
    temper(p, d_q.data());
  }
  F d_qr = d_q, d_kr = d_k;
  const QkNorm qk(c);
  if (qk.in(il)) {
    std::fill(d_qr.begin(), d_qr.end(), 0.0f);
    std::fill(d_kr.begin(), d_kr.end(), 0.0f);
    train::rmsnorm_backward(d_q.data(), a.q_raw.data(), qk.q_weight(L), a.rstd_q.data(), d_qr.data(), d_w.data(),
                            T * nq / qk.qn, qk.qn);
    train::rmsnorm_backward(d_k.data(), a.k_raw.data(), qk.k_weight(L), a.rstd_k.data(), d_kr.data(), d_w.data(),
                            T * nk / qk.kn, qk.kn);
  }
  if (rotate_first) {  // back through the rotation before the norm
    p.rotate(d_qr.data(), H, p.rope_back);
    p.rotate(d_kr.data(), HK, p.rope_back);
  }
  if (c.attn_output_gate) {
    const F d_qg = gated_query_back(p, a, d_qr, d_att);
    p.linear_back(il, kQ, xn1.data(), ax[kQ], d_qg.data(), d_xn1.data());
  } else {
    p.linear_back(il, kQ, xn1.data(), ax[kQ], d_qr.data(), d_xn1.data());
  }
  p.linear_back(il, kK, xn1.data(), ax[kK], d_kr.data(), d_xn1.data());
  p.linear_back(il, kV, xn1.data(), ax[kV], d_v.data(), d_xn1.data());
  if (p.slot(il, kDnQkv).adapted) fused_qkv_backward(p, il, xn1, ax[kDnQkv], d_qr, d_kr, d_v, d_xn1);
}

}  // namespace frugal::finetune

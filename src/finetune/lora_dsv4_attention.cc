// DeepSeek-V4's attention under LoRA (see lora_dsv4_attention.h).
#include "finetune/lora_dsv4_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/ffn.h"
#include "kernels/matmul.h"
#include "model/forward_layers.h"
#include "train/layers.h"

namespace frugal::finetune {

namespace {

// Rotates the last rope.n_dims values of v (width values) by position pos
// (pos < 0: back by -pos; the transpose of a rotation by pos).
void rope_tail(const kernels::RopeParams& rope, int64_t pos, float* v, int64_t width) {
  F angles(static_cast<size_t>(rope.n_dims));
  kernels::rope_angles(rope, pos, angles.data());
  kernels::rope_apply(rope, angles.data(), v + (width - rope.n_dims));
}

// One compressor of a layer: its projections, the gate's position
// embedding, the entries' norm, its blocks and entry width.
struct Compressor {
  const kernels::WeightMatrix& kv;
  const kernels::WeightMatrix& gate;
  const float* ape;
  const float* norm;
  int64_t ratio, width;
};

// The positions pooled into block b's entry and the channel offset each
// reads from: ratio 4 pools the previous block through the first `width`
// channels and its own through the second; other ratios their own block.
struct Source {
  int64_t pos, half;
};
std::vector<Source> block_sources(const Compressor& k, int64_t b) {
  const bool overlap = k.ratio == 4;
  const int64_t start = b * k.ratio;
  std::vector<Source> out;
  if (overlap && b > 0)
    for (int64_t i = 0; i < k.ratio; ++i) out.push_back({start - k.ratio + i, 0});
  for (int64_t i = 0; i < k.ratio; ++i) out.push_back({start + i, overlap ? k.width : 0});
  return out;
}

// Channel j's pooling weights of block b (a softmax of the gate scores over its sources).
std::vector<float> pooling_weights(const Compressor& k, const CompressorActs& a, const std::vector<Source>& src,
                                   int64_t j) {
  const int64_t in_w = k.kv.n_out;
  float mx = -std::numeric_limits<float>::infinity();
  for (const Source& s : src) mx = std::max(mx, a.score[s.pos * in_w + s.half + j]);
  std::vector<float> w(src.size());
  float sum = 0;
  for (size_t i = 0; i < src.size(); ++i) sum += w[i] = std::exp(a.score[src[i].pos * in_w + src[i].half + j] - mx);
  for (float& v : w) v /= sum;
  return w;
}

// The entries of the example's complete blocks.
void compressor_forward(const LoraPass& p, const Compressor& k, const F& xa, const kernels::RopeParams& rope,
                        CompressorActs& a) {
  const int64_t T = p.T, D = p.c.n_embd, in_w = k.kv.n_out, nb = T / k.ratio;
  a.kv = zeros(T * in_w);
  a.score = zeros(T * in_w);
  kernels::matmul(k.kv, xa.data(), D, T, a.kv.data(), in_w, nullptr);
  kernels::matmul(k.gate, xa.data(), D, T, a.score.data(), in_w, nullptr);
  for (int64_t t = 0; t < T; ++t) kernels::add(k.ape + (t % k.ratio) * in_w, a.score.data() + t * in_w, in_w);
  a.pooled = zeros(nb * k.width);
  for (int64_t b = 0; b < nb; ++b) {
    const std::vector<Source> src = block_sources(k, b);
    for (int64_t j = 0; j < k.width; ++j) {
      const std::vector<float> w = pooling_weights(k, a, src, j);
      float v = 0;
      for (size_t i = 0; i < src.size(); ++i) v += w[i] * a.kv[src[i].pos * in_w + src[i].half + j];
      a.pooled[b * k.width + j] = v;
    }
  }
  p.rmsnorm(a.pooled.data(), k.norm, nb, k.width, a.entry, a.rstd);
  for (int64_t b = 0; b < nb; ++b) rope_tail(rope, b * k.ratio, a.entry.data() + b * k.width, k.width);
}

// d_xa += the gradient of the entries d_entry (changed: rotated back) through the compressor.
void compressor_backward(const LoraPass& p, const Compressor& k, const CompressorActs& a,
                         const kernels::RopeParams& rope, F& d_entry, F& d_xa) {
  const int64_t T = p.T, in_w = k.kv.n_out, nb = T / k.ratio;
  if (nb == 0) return;
  for (int64_t b = 0; b < nb; ++b) rope_tail(rope, -b * k.ratio, d_entry.data() + b * k.width, k.width);
  F d_pooled = zeros(nb * k.width), d_norm = zeros(k.width);
  train::rmsnorm_backward(d_entry.data(), a.pooled.data(), k.norm, a.rstd.data(), d_pooled.data(), d_norm.data(), nb,
                          k.width);
  F d_kv = zeros(T * in_w), d_score = zeros(T * in_w);
  for (int64_t b = 0; b < nb; ++b) {
    const std::vector<Source> src = block_sources(k, b);
    for (int64_t j = 0; j < k.width; ++j) {
      // v = sum_i w_i kv_i, w = softmax(s): d_kv_i = w_i d_v, d_s_i = w_i (kv_i - v) d_v.
      const std::vector<float> w = pooling_weights(k, a, src, j);
      const float dv = d_pooled[b * k.width + j], v = a.pooled[b * k.width + j];
      for (size_t i = 0; i < src.size(); ++i) {
        const int64_t at = src[i].pos * in_w + src[i].half + j;
        d_kv[at] += w[i] * dv;
        d_score[at] += w[i] * (a.kv[at] - v) * dv;
      }
    }
  }
  frozen_linear_backward(k.kv, d_kv.data(), T, d_xa.data());
  frozen_linear_backward(k.gate, d_score.data(), T, d_xa.data());
}

Compressor attention_compressor(const model::ModelConfig& c, const model::LayerWeights& L, int64_t ratio) {
  return {L.comp_kv, L.comp_gate, L.comp_ape.data, L.comp_norm.data, ratio, c.head_dim};
}

// Per row, the compressed entries it attends to: those of the blocks
// complete at its position, or on ratio-4 layers the indexer's top-k of
// them (the choice only: no gradient flows through the indexer).
void choose_entries(const LoraPass& p, int64_t il, const F& xa, Dsv4AttentionActs& a) {
  const model::ModelConfig& c = p.c;
  const model::LayerWeights& L = p.W.layers[static_cast<size_t>(il)];
  const int64_t T = p.T, D = c.n_embd, ratio = c.layer_compress_ratio(il);
  a.entries.assign(static_cast<size_t>(T), {});
  if (ratio == 0) return;
  const bool csa = c.layer_has_indexer(il);
  const int64_t nI = c.n_indexer_head, dI = c.indexer_head_dim, qlr = c.q_lora_rank;
  const kernels::RopeParams crope = model::dsv4_rope(c, true);
  CompressorActs ik;
  F iq, iw;
  if (csa) {
    compressor_forward(p, {L.idx_comp_kv, L.idx_comp_gate, L.idx_comp_ape.data, L.idx_comp_norm.data, ratio, dI}, xa,
                       crope, ik);
    iq = zeros(T * nI * dI);
    iw = zeros(T * nI);
    kernels::matmul(L.idx_q_b, a.qan.data(), qlr, T, iq.data(), nI * dI, nullptr);
    kernels::matmul(L.idx_proj, xa.data(), D, T, iw.data(), nI, nullptr);
    const float wscale = 1.0f / std::sqrt(static_cast<float>(nI * dI));
    for (int64_t t = 0; t < T; ++t)
      for (int64_t h = 0; h < nI; ++h) {
        rope_tail(crope, t, iq.data() + (t * nI + h) * dI, dI);
        iw[t * nI + h] *= wscale;
      }
  }
  for (int64_t t = 0; t < T; ++t) {
    const int64_t n_visible = (t + 1) / ratio;
    std::vector<float> score(static_cast<size_t>(n_visible));
    if (csa && n_visible > c.indexer_top_k)
      for (int64_t b = 0; b < n_visible; ++b)
        for (int64_t h = 0; h < nI; ++h)
          score[static_cast<size_t>(b)] +=
              iw[t * nI + h] *
              std::max(0.0f, kernels::dot(iq.data() + (t * nI + h) * dI, ik.entry.data() + b * dI, dI));
    model::dsv4_top_entries(score, csa ? c.indexer_top_k : n_visible, a.entries[static_cast<size_t>(t)]);
  }
}

// Key j of row t: its window's keys, then its entries.
const float* key_of(const Dsv4AttentionActs& a, int64_t t, int64_t j, int64_t hd) {
  const int64_t n_win = t - a.first[static_cast<size_t>(t)] + 1;
  return j < n_win ? a.key.data() + (a.first[static_cast<size_t>(t)] + j) * hd
                   : a.comp.entry.data() + a.entries[static_cast<size_t>(t)][static_cast<size_t>(j - n_win)] * hd;
}

// Group g's LoRA factors of attn_output_a: A whole, its rows of B.
LoraWeights output_a_group(const LoraPass& p, int64_t il, int64_t g) {
  LoraWeights lw = p.slot(il, kOA).at(p.params, p.scale);
  const int64_t R = p.c.out_lora_rank;
  lw.b += g * R * lw.rank;
  lw.n_out = R;
  return lw;
}

}  // namespace

void dsv4_attention_forward(const LoraPass& p, int64_t il, const F& xa, Dsv4AttentionActs& a, Kept& ax, F& out) {
  const model::ModelConfig& c = p.c;
  const model::LayerWeights& L = p.W.layers[static_cast<size_t>(il)];
  const int64_t T = p.T, H = c.n_head, hd = c.head_dim, qlr = c.q_lora_rank, ratio = c.layer_compress_ratio(il);
  const kernels::RopeParams rope = model::dsv4_rope(c, ratio > 0);
  const F ones(static_cast<size_t>(hd), 1.0f);
  // Queries and keys.
  p.linear(il, kQA, xa.data(), a.qa, ax[kQA]);
  p.rmsnorm(a.qa.data(), L.q_a_norm.data, T, qlr, a.qan, a.qa_rstd);
  p.linear(il, kQB, a.qan.data(), a.qb, ax[kQB]);
  p.rmsnorm(a.qb.data(), ones.data(), T * H, hd, a.q, a.q_rstd);
  p.linear(il, kKv, xa.data(), a.kv, ax[kKv]);
  p.rmsnorm(a.kv.data(), L.kv_a_norm.data, T, hd, a.key, a.kv_rstd);
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t h = 0; h < H; ++h) rope_tail(rope, t, a.q.data() + (t * H + h) * hd, hd);
    rope_tail(rope, t, a.key.data() + t * hd, hd);
  }
  if (ratio > 0) compressor_forward(p, attention_compressor(c, L, ratio), xa, model::dsv4_rope(c, true), a.comp);
  choose_entries(p, il, xa, a);

  // One softmax per head over the row's keys and the head's sink.
  a.first.assign(static_cast<size_t>(T), 0);
  a.prob_at.assign(static_cast<size_t>(T + 1), 0);
  for (int64_t t = 0; t < T; ++t) {
    a.first[static_cast<size_t>(t)] = std::max<int64_t>(0, t - c.n_swa + 1);
    const int64_t n_keys = t - a.first[static_cast<size_t>(t)] + 1 + int64_t(a.entries[static_cast<size_t>(t)].size());
    a.prob_at[static_cast<size_t>(t + 1)] = a.prob_at[static_cast<size_t>(t)] + H * n_keys;
  }
  a.probs = zeros(a.prob_at.back());
  a.att = zeros(T * H * hd);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (int64_t t = 0; t < T; ++t) {
    const int64_t n_keys = (a.prob_at[static_cast<size_t>(t + 1)] - a.prob_at[static_cast<size_t>(t)]) / H;
    F logits(static_cast<size_t>(n_keys + 1));
    for (int64_t h = 0; h < H; ++h) {
      const float* qh = a.q.data() + (t * H + h) * hd;
      for (int64_t j = 0; j < n_keys; ++j)
        logits[static_cast<size_t>(j)] = scale * kernels::dot(qh, key_of(a, t, j, hd), hd);
      logits[static_cast<size_t>(n_keys)] = L.sinks.data[h];  // the sink: a logit without a value
      kernels::softmax(logits.data(), n_keys + 1);
      std::copy_n(logits.data(), n_keys, a.probs.data() + a.prob_at[static_cast<size_t>(t)] + h * n_keys);
      float* o = a.att.data() + (t * H + h) * hd;
      for (int64_t j = 0; j < n_keys; ++j) kernels::axpy(logits[static_cast<size_t>(j)], key_of(a, t, j, hd), o, hd);
      rope_tail(rope, -t, o, hd);  // the values' rotation taken back to the query's frame
    }
  }

  // Output: each group of heads to out_lora_rank, then all to n_embd.
  const int64_t G = c.n_out_groups, R = c.out_lora_rank, gd = H * hd / G, r = p.r;
  a.oa = zeros(T * G * R);
  const bool adapted = p.slot(il, kOA).adapted;
  if (adapted) a.oa_ax = zeros(G * T * r);
  F xg(static_cast<size_t>(T * gd)), yg(static_cast<size_t>(T * R));
  for (int64_t g = 0; g < G; ++g) {
    kernels::matmul(kernels::weight_rows(L.wo_a, g * R, (g + 1) * R), a.att.data() + g * gd, H * hd, T,
                    a.oa.data() + g * R, G * R, nullptr);
    if (!adapted) continue;
    for (int64_t t = 0; t < T; ++t) std::copy_n(a.att.data() + t * H * hd + g * gd, gd, xg.data() + t * gd);
    std::fill(yg.begin(), yg.end(), 0.0f);
    lora_forward(output_a_group(p, il, g), xg.data(), T, a.oa_ax.data() + g * T * r, yg.data());
    for (int64_t t = 0; t < T; ++t) kernels::add(yg.data() + t * R, a.oa.data() + t * G * R + g * R, R);
  }
  F o;
  p.linear(il, kOB, a.oa.data(), o, ax[kOB]);
  out = std::move(o);
}

void dsv4_attention_backward(const LoraPass& p, int64_t il, const F& xa, const Dsv4AttentionActs& a, const Kept& ax,
                             const F& d_out, F& d_xa) {
  const model::ModelConfig& c = p.c;
  const model::LayerWeights& L = p.W.layers[static_cast<size_t>(il)];
  const int64_t T = p.T, H = c.n_head, hd = c.head_dim, qlr = c.q_lora_rank, ratio = c.layer_compress_ratio(il);
  const int64_t G = c.n_out_groups, R = c.out_lora_rank, gd = H * hd / G, r = p.r;
  const kernels::RopeParams rope = model::dsv4_rope(c, ratio > 0);
  // The output projections.
  F d_oa = zeros(T * G * R), d_att = zeros(T * H * hd);
  p.linear_back(il, kOB, a.oa.data(), ax[kOB], d_out.data(), d_oa.data());
  const bool adapted = p.slot(il, kOA).adapted;
  F xg(static_cast<size_t>(T * gd)), dyg(static_cast<size_t>(T * R)), dxg(static_cast<size_t>(T * gd));
  for (int64_t g = 0; g < G; ++g) {
    for (int64_t t = 0; t < T; ++t) std::copy_n(d_oa.data() + t * G * R + g * R, R, dyg.data() + t * R);
    std::fill(dxg.begin(), dxg.end(), 0.0f);
    frozen_linear_backward(kernels::weight_rows(L.wo_a, g * R, (g + 1) * R), dyg.data(), T, dxg.data());
    if (adapted) {
      for (int64_t t = 0; t < T; ++t) std::copy_n(a.att.data() + t * H * hd + g * gd, gd, xg.data() + t * gd);
      const LoraWeights lw = output_a_group(p, il, g);
      lora_backward(lw, xg.data(), a.oa_ax.data() + g * T * r, dyg.data(), T, p.grad_of(lw.a), p.grad_of(lw.b),
                    dxg.data());
    }
    for (int64_t t = 0; t < T; ++t) kernels::add(dxg.data() + t * gd, d_att.data() + t * H * hd + g * gd, gd);
  }

  // The softmax over keys and sink: d_s_j = p_j (d_p_j - sum_k p_k d_p_k)
  // (the sink's d_p is zero), d_q += scale sum_j d_s_j key_j, d_key_j +=
  // p_j d_o + scale d_s_j q.
  const int64_t nb = ratio > 0 ? T / ratio : 0;
  F d_q = zeros(T * H * hd), d_key = zeros(T * hd), d_entry = zeros(nb * hd);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  auto d_key_of = [&](int64_t t, int64_t j) {
    const int64_t n_win = t - a.first[static_cast<size_t>(t)] + 1;
    return j < n_win ? d_key.data() + (a.first[static_cast<size_t>(t)] + j) * hd
                     : d_entry.data() + a.entries[static_cast<size_t>(t)][static_cast<size_t>(j - n_win)] * hd;
  };
  F d_o(static_cast<size_t>(hd)), d_p;
  for (int64_t t = 0; t < T; ++t) {
    const int64_t n_keys = (a.prob_at[static_cast<size_t>(t + 1)] - a.prob_at[static_cast<size_t>(t)]) / H;
    d_p.assign(static_cast<size_t>(n_keys), 0.0f);
    for (int64_t h = 0; h < H; ++h) {
      const float* pr = a.probs.data() + a.prob_at[static_cast<size_t>(t)] + h * n_keys;
      const float* qh = a.q.data() + (t * H + h) * hd;
      std::copy_n(d_att.data() + (t * H + h) * hd, hd, d_o.data());
      rope_tail(rope, t, d_o.data(), hd);
      double mean = 0;
      for (int64_t j = 0; j < n_keys; ++j) {
        d_p[static_cast<size_t>(j)] = kernels::dot(d_o.data(), key_of(a, t, j, hd), hd);
        mean += double(pr[j]) * d_p[static_cast<size_t>(j)];
        kernels::axpy(pr[j], d_o.data(), d_key_of(t, j), hd);
      }
      for (int64_t j = 0; j < n_keys; ++j) {
        const float ds = scale * static_cast<float>(pr[j] * (d_p[static_cast<size_t>(j)] - mean));
        kernels::axpy(ds, key_of(a, t, j, hd), d_q.data() + (t * H + h) * hd, hd);
        kernels::axpy(ds, qh, d_key_of(t, j), hd);
      }
    }
  }
  if (nb > 0)
    compressor_backward(p, attention_compressor(c, L, ratio), a.comp, model::dsv4_rope(c, true), d_entry, d_xa);

  // The key: RoPE, its norm, attn_kv.
  F d_kv = zeros(T * hd), d_w = zeros(std::max(qlr, hd));
  for (int64_t t = 0; t < T; ++t) rope_tail(rope, -t, d_key.data() + t * hd, hd);
  train::rmsnorm_backward(d_key.data(), a.kv.data(), L.kv_a_norm.data, a.kv_rstd.data(), d_kv.data(), d_w.data(), T,
                          hd);
  p.linear_back(il, kKv, xa.data(), ax[kKv], d_kv.data(), d_xa.data());
  // The queries: RoPE, each head's norm, q_b, q_a's norm, q_a.
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < H; ++h) rope_tail(rope, -t, d_q.data() + (t * H + h) * hd, hd);
  const F ones(static_cast<size_t>(hd), 1.0f);
  F d_qb = zeros(T * H * hd), d_qan = zeros(T * qlr), d_qa = zeros(T * qlr);
  train::rmsnorm_backward(d_q.data(), a.qb.data(), ones.data(), a.q_rstd.data(), d_qb.data(), d_w.data(), T * H, hd);
  p.linear_back(il, kQB, a.qan.data(), ax[kQB], d_qb.data(), d_qan.data());
  train::rmsnorm_backward(d_qan.data(), a.qa.data(), L.q_a_norm.data, a.qa_rstd.data(), d_qa.data(), d_w.data(), T,
                          qlr);
  p.linear_back(il, kQA, xa.data(), ax[kQA], d_qa.data(), d_xa.data());
}

}  // namespace frugal::finetune

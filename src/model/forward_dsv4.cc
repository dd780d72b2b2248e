// DeepSeek-V4's forward pass (deepseek4), as its GGUF files describe it.
//
// Hyper-connections. The residual stream is n_hc copies ("streams") of
// n_embd. Before a sublayer (attention, FFN) the streams of a row, flattened
// and RMS-normalised without a weight, are projected by fn to n_hc pre
// logits, n_hc post logits and an n_hc x n_hc mixing matrix; with the three
// scales and the base b:
//   pre_i  = sigmoid(scale0 * m_i + b_i) + eps      (the sublayer reads sum_i pre_i x_i)
//   post_i = 2 sigmoid(scale1 * m_{n+i} + b_{n+i})
//   comb   = Sinkhorn(scale2 * m_comb + b_comb): rows softmaxed (+ eps), then
//            columns and rows normalised in turn (sums + eps), iterations - 1 more times
// and afterwards stream i becomes post_i * y + sum_j comb[j][i] x_j. The
// head reads sum_i (sigmoid(scale * m_i + b_i) + eps) x_i.
//
// Attention. Low-rank queries (q_a, its norm, q_b), each head RMS-normalised
// without a weight; one key/value head (attn_kv, its norm) that is both key
// and value; RoPE (pairs (x[2i], x[2i+1])) on the last rope_dim of each
// head. A row at position p attends to the keys of the last n_swa positions
// (p included) and, in compressing layers of ratio r, to the compressed
// entries of the blocks of r positions that end at or before p, all in one
// softmax whose denominator also holds exp(sink) of the head. A compressed
// entry pools each channel over its block by a softmax of gate scores
// (gate projection plus a position-in-block embedding); ratio 4 (CSA)
// pools the previous block's positions through the first half of the
// compressor's channels together with its own through the second half, and
// lets each query keep only the indexer_top_k entries its lightning indexer
// scores highest (sum over indexer heads of weight * relu(q . k)); the
// entry is normalised and rotated to its block's first position. The head
// outputs are rotated back by the query's position (the values carry their
// rotation), then projected per group (attn_output_a) and together
// (attn_output_b). Compressing layers rotate with compress_rope_freq_base
// and the file's YaRN scaling (unit magnitude); the others with
// rope.freq_base unscaled.
//
// LoRA adapters (model/lora.h) add their products to q_a, q_b, kv, each
// group's part of output_a (its rows of B) and output_b, and to the MoE's.
//
// The cache row of a position (dsv4_row_layout) holds its key, its
// compressor inputs and, at a block's last position, the block's entry, so
// a batch, a chunk or one row at a time compute the same values.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "base/error.h"
#include "kernels/attention.h"
#include "kernels/ffn.h"
#include "model/forward_layers.h"
#include "model/lora.h"

namespace frugal::model {

using kernels::matmul;

Dsv4RowLayout dsv4_row_layout(const ModelConfig& c) {
  bool csa = false, hca = false;
  for (int64_t r : c.compress_ratios) {
    csa = csa || r == 4;
    hca = hca || (r > 0 && r != 4);
  }
  Dsv4RowLayout l;
  const int64_t hd = c.head_dim;
  l.comp_width = csa ? 2 * hd : hca ? hd : 0;
  l.idx_width = csa ? 2 * c.indexer_head_dim : 0;
  int64_t o = 0;
  l.kv = o, o += hd;
  l.comp_kv = o, o += l.comp_width;
  l.comp_score = o, o += l.comp_width;
  l.comp_entry = o, o += csa || hca ? hd : 0;
  l.idx_kv = o, o += l.idx_width;
  l.idx_score = o, o += l.idx_width;
  l.idx_entry = o, o += csa ? c.indexer_head_dim : 0;
  l.width = o;
  return l;
}

kernels::RopeParams dsv4_rope(const ModelConfig& c, bool compressed) {
  kernels::RopeParams p = rope_params(c);
  if (!compressed) {
    p.freq_scale = 1.0f;
    p.ext_factor = 0.0f;
    p.attn_factor = 1.0f;
    return p;
  }
  p.freq_base = c.compress_rope_base;
  p.attn_factor = p.ext_factor != 0.0f ? 1.0f / (1.0f + 0.1f * std::log(1.0f / p.freq_scale)) : 1.0f;
  return p;
}

void dsv4_hc_weights(const ModelConfig& c, const float* m, const float* scale, const float* base, float* pre,
                     float* post, float* comb, float* states) {
  const int64_t n = c.n_hc;
  const float eps = c.hc_eps;
  for (int64_t i = 0; i < n; ++i) {
    pre[i] = kernels::sigmoid(m[i] * scale[0] + base[i]) + eps;
    post[i] = 2.0f * kernels::sigmoid(m[n + i] * scale[1] + base[n + i]);
  }
  for (int64_t i = 0; i < n * n; ++i) comb[i] = m[2 * n + i] * scale[2] + base[2 * n + i];
  for (int64_t r = 0; r < n; ++r) {
    kernels::softmax(comb + r * n, n);
    for (int64_t j = 0; j < n; ++j) comb[r * n + j] += eps;
  }
  if (states) std::copy_n(comb, n * n, states);
  for (int64_t k = 1; k < 2 * c.hc_sinkhorn_iters; ++k) {
    const bool columns = dsv4_sinkhorn_normalises_columns(k);
    for (int64_t l = 0; l < n; ++l) {  // line l: column l or row l, divided by eps + its sum
      auto at = [&](int64_t e) -> float& { return columns ? comb[e * n + l] : comb[l * n + e]; };
      float sum = eps;
      for (int64_t e = 0; e < n; ++e) sum += at(e);
      for (int64_t e = 0; e < n; ++e) at(e) /= sum;
    }
    if (states) std::copy_n(comb, n * n, states + k * n * n);
  }
}

void dsv4_top_entries(const std::vector<float>& score, int64_t top_k, std::vector<int64_t>& entries) {
  entries.resize(score.size());
  std::iota(entries.begin(), entries.end(), int64_t{0});
  if (static_cast<int64_t>(score.size()) <= top_k) return;
  // Highest scores first; ties to the earlier entry.
  std::stable_sort(entries.begin(), entries.end(), [&](int64_t a, int64_t b) {
    return score[static_cast<size_t>(a)] > score[static_cast<size_t>(b)];
  });
  entries.resize(static_cast<size_t>(top_k));
}

namespace {

// Rotates the last rope_dim entries of a head of width `width` by position pos
// (pos < 0: back by -pos).
void rope_tail(const kernels::RopeParams& p, int64_t pos, float* head, int64_t width, float* angles) {
  kernels::rope_angles(p, pos, angles);
  kernels::rope_apply(p, angles, head + (width - p.n_dims));
}

// The normalised flattened streams of every row projected by fn.
float* hc_mix(const ModelConfig& c, const kernels::WeightMatrix& fn, const float* x, int64_t n_rows,
              Forward::Scratch& s, ThreadPool* pool) {
  const int64_t w = c.n_hc * c.n_embd;
  float* normed = s.hc_normed.get(n_rows * w);
  for (int64_t r = 0; r < n_rows; ++r) kernels::rmsnorm(x + r * w, nullptr, normed + r * w, w, c.norm_eps);
  float* mix = s.hc_mix.get(n_rows * fn.n_out);
  matmul(fn, normed, w, n_rows, mix, fn.n_out, pool);
  return mix;
}

// Before a sublayer: y (n_rows x n_embd) = sum_i pre_i x_i; post and comb kept in the scratch.
void hc_pre(const ModelConfig& c, const kernels::WeightMatrix& fn, const ParamVector& scale, const ParamVector& base,
            const float* x, int64_t n_rows, Forward::Scratch& s, ThreadPool* pool, float* y) {
  const int64_t n = c.n_hc, d = c.n_embd, n_mix = n * n + 2 * n;
  const float* mix = hc_mix(c, fn, x, n_rows, s, pool);
  float* post = s.hc_post.get(n_rows * n);
  float* comb = s.hc_comb.get(n_rows * n * n);
  std::vector<float> pre(static_cast<size_t>(n));
  for (int64_t r = 0; r < n_rows; ++r) {
    dsv4_hc_weights(c, mix + r * n_mix, scale.data, base.data, pre.data(), post + r * n, comb + r * n * n);
    float* yr = y + r * d;
    std::fill(yr, yr + d, 0.0f);
    for (int64_t i = 0; i < n; ++i) kernels::axpy(pre[static_cast<size_t>(i)], x + (r * n + i) * d, yr, d);
  }
}

// After a sublayer with output out (n_rows x n_embd): stream i = post_i out + sum_j comb[j][i] x_j.
void hc_post(const ModelConfig& c, const float* out, int64_t n_rows, Forward::Scratch& s, float* x) {
  const int64_t n = c.n_hc, d = c.n_embd;
  const float* post = s.hc_post.v.data();
  const float* comb = s.hc_comb.v.data();
  std::vector<float> old(static_cast<size_t>(n * d));
  for (int64_t r = 0; r < n_rows; ++r) {
    float* xr = x + r * n * d;
    std::copy_n(xr, n * d, old.data());
    for (int64_t i = 0; i < n; ++i) {
      float* xi = xr + i * d;
      for (int64_t e = 0; e < d; ++e) xi[e] = post[r * n + i] * out[r * d + e];
      for (int64_t j = 0; j < n; ++j) kernels::axpy(comb[(r * n + j) * n + i], old.data() + j * d, xi, d);
    }
  }
}

// One cache row of a sequence: element `at` of position pos in layer il.
struct RowCache {
  KvType type;
  void* base;
  int64_t stride;
  void* at(int64_t pos, int64_t offset) const { return kv_at(type, base, pos * stride + offset); }
  void load(int64_t pos, int64_t offset, float* dst, int64_t n) const { kernels::cache_load(type, at(pos, offset), dst, n); }
  void store(int64_t pos, int64_t offset, const float* src, int64_t n) const {
    kv_store_row(type, at(pos, offset), src, n);
  }
};

// The compressed entry of the block of `ratio` positions ending at `last`:
// per channel a softmax over the gate scores of the pooled positions of the
// kv inputs (ratio 4: the previous block through the first `width` channels,
// this block through the second), normalised and rotated to the block's
// first position.
void compress_block(const RowCache& rc, int64_t last, int64_t ratio, int64_t kv_off, int64_t score_off,
                    int64_t width, const ParamVector& norm, const kernels::RopeParams& rope, float norm_eps,
                    float* entry) {
  const bool overlap = ratio == 4;
  const int64_t start = last + 1 - ratio, in_width = overlap ? 2 * width : width;
  std::vector<float> kv(static_cast<size_t>(in_width)), score(static_cast<size_t>(in_width));
  struct Source {
    int64_t first, half;
  };
  std::vector<Source> sources;
  if (overlap && start > 0) sources.push_back({start - ratio, 0});
  sources.push_back({start, overlap ? width : 0});
  std::vector<float> mx(static_cast<size_t>(width), -std::numeric_limits<float>::infinity());
  for (const Source& src : sources)
    for (int64_t p = src.first; p < src.first + ratio; ++p) {
      rc.load(p, score_off, score.data(), in_width);
      for (int64_t j = 0; j < width; ++j) mx[j] = std::max(mx[j], score[src.half + j]);
    }
  std::vector<float> sum(static_cast<size_t>(width), 0.0f);
  std::fill(entry, entry + width, 0.0f);
  for (const Source& src : sources)
    for (int64_t p = src.first; p < src.first + ratio; ++p) {
      rc.load(p, score_off, score.data(), in_width);
      rc.load(p, kv_off, kv.data(), in_width);
      for (int64_t j = 0; j < width; ++j) {
        const float wgt = std::exp(score[src.half + j] - mx[j]);
        sum[j] += wgt;
        entry[j] += wgt * kv[src.half + j];
      }
    }
  for (int64_t j = 0; j < width; ++j) entry[j] /= sum[j];
  kernels::rmsnorm(entry, norm.data, entry, width, norm_eps);
  std::vector<float> angles(static_cast<size_t>(rope.n_dims));
  rope_tail(rope, start, entry, width, angles.data());
}

// The attention sublayer: reads s.xn (the normalised input), writes out.
void dsv4_attention(const Model& m, int64_t il, std::span<const BatchRow> rows, KvStore& kv, Forward::Scratch& s,
                    ThreadPool* pool, float* out) {
  const ModelConfig& c = m.config();
  const LayerWeights& L = m.weights().layers[static_cast<size_t>(il)];
  const Dsv4RowLayout lay = dsv4_row_layout(c);
  const int64_t n = static_cast<int64_t>(rows.size()), d = c.n_embd, H = c.n_head, hd = c.head_dim;
  const int64_t qlr = c.q_lora_rank, ratio = c.layer_compress_ratio(il);
  const bool csa = c.layer_has_indexer(il);
  const int64_t nI = c.n_indexer_head, dI = c.indexer_head_dim;
  const kernels::RopeParams rope = dsv4_rope(c, ratio > 0), crope = dsv4_rope(c, true);
  const float* xa = s.xn.v.data();
  const KvType kt = kv.type();
  FRUGAL_CHECK(kv_type_unsupported(c, kt).empty());
  const int64_t stride = kernels::cache_row_stride(kt, lay.width);
  auto cache_of = [&](int64_t r) {
    KvSlice sl = kv.slice(il, rows[r].seq);
    FRUGAL_CHECK(rows[r].pos < sl.capacity);
    return RowCache{kt, sl.k, stride};
  };
  std::vector<float> angles(static_cast<size_t>(c.rope_dim));

  // Queries and the key of every row.
  float* qr = s.q_a.get(n * qlr);
  matmul(L.wq_a, xa, d, n, qr, qlr, pool);
  for_each_lora_run(s, il, n, [&](const LayerLora& LL, float sc, int64_t b, int64_t cnt) {
    if (LL.wq_a) lora_apply(LL.wq_a, sc, xa + b * d, d, cnt, qr + b * qlr, qlr, pool);
  });
  for (int64_t r = 0; r < n; ++r) kernels::rmsnorm(qr + r * qlr, L.q_a_norm.data, qr + r * qlr, qlr, c.norm_eps);
  float* q = s.q.get(n * H * hd);
  matmul(L.wq_b, qr, qlr, n, q, H * hd, pool);
  float* k = s.k.get(n * hd);
  matmul(L.wkv, xa, d, n, k, hd, pool);
  for_each_lora_run(s, il, n, [&](const LayerLora& LL, float sc, int64_t b, int64_t cnt) {
    if (LL.wq_b) lora_apply(LL.wq_b, sc, qr + b * qlr, qlr, cnt, q + b * H * hd, H * hd, pool);
    if (LL.wkv) lora_apply(LL.wkv, sc, xa + b * d, d, cnt, k + b * hd, hd, pool);
  });
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t h = 0; h < H; ++h) {
      float* qh = q + (r * H + h) * hd;
      kernels::rmsnorm(qh, nullptr, qh, hd, c.norm_eps);
      rope_tail(rope, rows[r].pos, qh, hd, angles.data());
    }
    float* kr = k + r * hd;
    kernels::rmsnorm(kr, L.kv_a_norm.data, kr, hd, c.norm_eps);
    rope_tail(rope, rows[r].pos, kr, hd, angles.data());
    cache_of(r).store(rows[r].pos, lay.kv, kr, hd);
  }

  // The compressors' inputs of every row, then the entries of the blocks
  // that rows of this batch complete (their earlier positions are cached).
  auto compressor_inputs = [&](const kernels::WeightMatrix& wkv, const kernels::WeightMatrix& wgate,
                               const ParamVector& ape, int64_t kv_off, int64_t score_off) {
    const int64_t w = wkv.n_out;
    std::vector<float> ckv(static_cast<size_t>(n * w)), cs(static_cast<size_t>(n * w));
    matmul(wkv, xa, d, n, ckv.data(), w, pool);
    matmul(wgate, xa, d, n, cs.data(), w, pool);
    for (int64_t r = 0; r < n; ++r) {
      kernels::add(ape.data + (rows[r].pos % ratio) * w, cs.data() + r * w, w);
      const RowCache rc = cache_of(r);
      rc.store(rows[r].pos, kv_off, ckv.data() + r * w, w);
      rc.store(rows[r].pos, score_off, cs.data() + r * w, w);
    }
  };
  if (ratio > 0) {
    compressor_inputs(L.comp_kv, L.comp_gate, L.comp_ape, lay.comp_kv, lay.comp_score);
    if (csa) compressor_inputs(L.idx_comp_kv, L.idx_comp_gate, L.idx_comp_ape, lay.idx_kv, lay.idx_score);
    std::vector<float> entry(static_cast<size_t>(std::max(hd, dI)));
    for (int64_t r = 0; r < n; ++r) {
      const int64_t pos = rows[r].pos;
      if ((pos + 1) % ratio != 0) continue;
      const RowCache rc = cache_of(r);
      compress_block(rc, pos, ratio, lay.comp_kv, lay.comp_score, hd, L.comp_norm, crope, c.norm_eps, entry.data());
      rc.store(pos, lay.comp_entry, entry.data(), hd);
      if (csa) {
        compress_block(rc, pos, ratio, lay.idx_kv, lay.idx_score, dI, L.idx_comp_norm, crope, c.norm_eps,
                       entry.data());
        rc.store(pos, lay.idx_entry, entry.data(), dI);
      }
    }
  }

  // The indexer's queries and head weights.
  std::vector<float> iq, iw;
  if (csa) {
    iq.resize(static_cast<size_t>(n * nI * dI));
    iw.resize(static_cast<size_t>(n * nI));
    matmul(L.idx_q_b, qr, qlr, n, iq.data(), nI * dI, pool);
    matmul(L.idx_proj, xa, d, n, iw.data(), nI, pool);
    const float wscale = 1.0f / std::sqrt(static_cast<float>(nI * dI));
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t h = 0; h < nI; ++h) rope_tail(crope, rows[r].pos, iq.data() + (r * nI + h) * dI, dI, angles.data());
      for (int64_t h = 0; h < nI; ++h) iw[static_cast<size_t>(r * nI + h)] *= wscale;
    }
  }

  // Attention, one task per row.
  float* att = s.att.get(n * H * hd);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  auto attend = [&](int64_t r, int) {
    const int64_t pos = rows[r].pos;
    const RowCache rc = cache_of(r);
    // The keys: the window's, then the compressed entries chosen.
    std::vector<int64_t> entries;
    if (ratio > 0) {
      const int64_t n_visible = (pos + 1) / ratio;
      std::vector<float> score(static_cast<size_t>(n_visible));
      if (csa && n_visible > c.indexer_top_k) {
        std::vector<float> ik(static_cast<size_t>(dI));
        for (int64_t b = 0; b < n_visible; ++b) {
          rc.load(b * ratio + ratio - 1, lay.idx_entry, ik.data(), dI);
          float sc = 0;
          for (int64_t h = 0; h < nI; ++h)
            sc += iw[static_cast<size_t>(r * nI + h)] *
                  std::max(0.0f, kernels::dot(iq.data() + (r * nI + h) * dI, ik.data(), dI));
          score[static_cast<size_t>(b)] = sc;
        }
      }
      dsv4_top_entries(score, csa ? c.indexer_top_k : n_visible, entries);
    }
    const int64_t first = std::max<int64_t>(0, pos - c.n_swa + 1), n_win = pos - first + 1;
    const int64_t n_keys = n_win + static_cast<int64_t>(entries.size());
    std::vector<float> keys(static_cast<size_t>(n_keys * hd)), p(static_cast<size_t>(n_keys + 1));
    for (int64_t j = 0; j < n_win; ++j) rc.load(first + j, lay.kv, keys.data() + j * hd, hd);
    for (size_t e = 0; e < entries.size(); ++e)
      rc.load(entries[e] * ratio + ratio - 1, lay.comp_entry, keys.data() + (n_win + int64_t(e)) * hd, hd);
    std::vector<float> ang(static_cast<size_t>(c.rope_dim));
    for (int64_t h = 0; h < H; ++h) {
      const float* qh = q + (r * H + h) * hd;
      for (int64_t j = 0; j < n_keys; ++j) p[static_cast<size_t>(j)] = scale * kernels::dot(qh, keys.data() + j * hd, hd);
      p[static_cast<size_t>(n_keys)] = L.sinks.data[h];  // the sink: a logit without a value
      kernels::softmax(p.data(), n_keys + 1);
      float* o = att + (r * H + h) * hd;
      std::fill(o, o + hd, 0.0f);
      for (int64_t j = 0; j < n_keys; ++j) kernels::axpy(p[static_cast<size_t>(j)], keys.data() + j * hd, o, hd);
      rope_tail(rope, -pos, o, hd, ang.data());  // the values' rotation taken back to the query's frame
    }
  };
  if (pool && n > 1) {
    pool->run(n, attend);
  } else {
    for (int64_t r = 0; r < n; ++r) attend(r, 0);
  }

  // Output: each group of heads to out_lora_rank, then all to n_embd.
  const int64_t G = c.n_out_groups, R = c.out_lora_rank, gd = H * hd / G;
  float* oa = s.v.get(n * G * R);
  for (int64_t g = 0; g < G; ++g)
    matmul(kernels::weight_rows(L.wo_a, g * R, (g + 1) * R), att + g * gd, H * hd, n, oa + g * R, G * R, pool);
  for_each_lora_run(s, il, n, [&](const LayerLora& LL, float sc, int64_t b, int64_t cnt) {
    if (!LL.wo_a) return;
    for (int64_t g = 0; g < G; ++g)
      lora_apply(lora_rows(LL.wo_a, g * R, R), sc, att + b * H * hd + g * gd, H * hd, cnt, oa + b * G * R + g * R,
                 G * R, pool);
  });
  matmul(L.wo_b, oa, G * R, n, out, d, pool);
  for_each_lora_run(s, il, n, [&](const LayerLora& LL, float sc, int64_t b, int64_t cnt) {
    if (LL.wo_b) lora_apply(LL.wo_b, sc, oa + b * G * R, G * R, cnt, out + b * d, d, pool);
  });
}

}  // namespace

void dsv4_forward(const Model& m, std::span<const BatchRow> rows, KvStore& kv, Forward::Scratch& s, ThreadPool* pool,
                  std::vector<float>& logits) {
  const ModelConfig& c = m.config();
  const ModelWeights& w = m.weights();
  const int64_t n = static_cast<int64_t>(rows.size()), d = c.n_embd, nh = c.n_hc;
  float* x = s.x.get(n * nh * d);  // row r's stream i at x + (r * n_hc + i) * n_embd
  float* xn = s.xn.get(n * d);
  float* out = s.out.get(n * d);
  s.row_tokens.resize(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    s.row_tokens[static_cast<size_t>(r)] = rows[r].token;
    m.embed(rows[r].token, x + r * nh * d);
    for (int64_t i = 1; i < nh; ++i) std::copy_n(x + r * nh * d, d, x + (r * nh + i) * d);
  }

  for (int64_t il = 0; il < c.n_layer; ++il) {
    const LayerWeights& L = w.layers[static_cast<size_t>(il)];
    hc_pre(c, L.hc_attn_fn, L.hc_attn_scale, L.hc_attn_base, x, n, s, pool, xn);
    for (int64_t r = 0; r < n; ++r) kernels::rmsnorm(xn + r * d, L.attn_norm.data, xn + r * d, d, c.norm_eps);
    dsv4_attention(m, il, rows, kv, s, pool, out);
    hc_post(c, out, n, s, x);

    hc_pre(c, L.hc_ffn_fn, L.hc_ffn_scale, L.hc_ffn_base, x, n, s, pool, xn);
    for (int64_t r = 0; r < n; ++r) kernels::rmsnorm(xn + r * d, L.ffn_norm.data, xn + r * d, d, c.norm_eps);
    moe_ffn(m, il, n, s, pool, out);
    hc_post(c, out, n, s, x);
  }

  // The head: the streams of the rows that want logits, weighed, normalised.
  std::vector<int64_t> want;
  for (int64_t r = 0; r < n; ++r)
    if (rows[r].want_logits) want.push_back(r);
  const int64_t n_out = static_cast<int64_t>(want.size());
  logits.resize(static_cast<size_t>(n_out * c.n_vocab));
  if (n_out == 0) return;
  std::vector<float> streams(static_cast<size_t>(n_out * nh * d));
  for (int64_t i = 0; i < n_out; ++i) std::copy_n(x + want[i] * nh * d, nh * d, streams.data() + i * nh * d);
  const float* mix = hc_mix(c, w.hc_head_fn, streams.data(), n_out, s, pool);
  for (int64_t i = 0; i < n_out; ++i) {
    float* y = xn + i * d;
    std::fill(y, y + d, 0.0f);
    for (int64_t j = 0; j < nh; ++j) {
      const float pre = kernels::sigmoid(mix[i * nh + j] * w.hc_head_scale.data[0] + w.hc_head_base.data[j]) + c.hc_eps;
      kernels::axpy(pre, streams.data() + (i * nh + j) * d, y, d);
    }
    kernels::rmsnorm(y, w.output_norm.data, y, d, c.norm_eps);
  }
  matmul(w.output, xn, d, n_out, logits.data(), c.n_vocab, pool);
}

}  // namespace frugal::model

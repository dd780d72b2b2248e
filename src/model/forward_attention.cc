// Self-attention of the standard architectures (llama, qwen2/3, qwen2moe,
// qwen3moe, olmoe): q/k/v projections over all rows, optional biases and q/k
// RMSNorm, RoPE, then each row's keys and values go into its sequence's cache
// and each (row, head) attends causally over positions 0..pos.
#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "kernels/attention.h"
#include "model/forward_layers.h"

namespace frugal::model {

using kernels::matmul;

kernels::RopeParams rope_params(const ModelConfig& c) {
  kernels::RopeParams p;
  p.n_dims = c.rope_dim;
  p.freq_base = c.rope_freq_base;
  p.pairing = c.rope_layout == RopeLayout::kNeox ? kernels::RopePairing::kHalves : kernels::RopePairing::kAdjacent;
  p.freq_scale = c.rope_scaling == RopeScaling::kNone ? 1.0f : 1.0f / c.rope_scaling_factor;
  p.ext_factor = c.rope_scaling == RopeScaling::kYarn ? 1.0f : 0.0f;
  p.attn_factor = c.yarn_attn_factor;
  p.beta_fast = c.yarn_beta_fast;
  p.beta_slow = c.yarn_beta_slow;
  p.n_ctx_orig = c.rope_orig_ctx > 0 ? c.rope_orig_ctx : c.n_ctx_train;
  if (c.arch == "deepseek2") {
    // DeepSeek puts YaRN's magnitude correction into the softmax scale
    // (attention_scale), so the rotation itself must not scale: this factor
    // cancels the 1 + 0.1 ln(1/freq_scale) that YaRN applies to cos/sin.
    p.attn_factor = 1.0f / (1.0f + 0.1f * std::log(1.0f / p.freq_scale));
  }
  return p;
}

float attention_scale(const ModelConfig& c) {
  const float base = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  if (c.arch != "deepseek2") return base;
  const float freq_scale = c.rope_scaling == RopeScaling::kNone ? 1.0f : 1.0f / c.rope_scaling_factor;
  const float mscale = c.yarn_attn_factor * (1.0f + c.yarn_log_multiplier * std::log(1.0f / freq_scale));
  return base * mscale * mscale;
}

void* kv_at(KvType t, void* base, int64_t i) {
  return static_cast<uint8_t*>(base) + static_cast<size_t>(i) * kv_type_size(t);
}

void kv_store_row(KvType t, void* dst, const float* src, int64_t n) {
  if (t == KvType::kF32) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
  } else {
    uint16_t* d = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = f32_to_fp16(src[i]);
  }
}

void run_attention_tasks(std::span<const BatchRow> rows, int64_t n_head, Forward::Scratch& s, ThreadPool* pool,
                         const std::function<void(int64_t r, int64_t h, float* scores)>& task) {
  int32_t max_pos = 0;
  for (const BatchRow& r : rows) max_pos = std::max(max_pos, r.pos);
  const int n_threads = pool ? pool->size() : 1;
  if (s.thread_scores.size() < static_cast<size_t>(n_threads)) s.thread_scores.resize(n_threads);
  for (int t = 0; t < n_threads; ++t) s.thread_scores[t].get(max_pos + 1);
  const int64_t n_tasks = static_cast<int64_t>(rows.size()) * n_head;
  auto body = [&](int64_t i, int thread) { task(i / n_head, i % n_head, s.thread_scores[thread].v.data()); };
  if (pool && n_tasks > 1) {
    pool->run(n_tasks, body);
  } else {
    for (int64_t i = 0; i < n_tasks; ++i) body(i, 0);
  }
}

void attention_layer(const Model& m, int64_t il, std::span<const BatchRow> rows, KvStore& kv,
                     Forward::Scratch& s, ThreadPool* pool, float* out) {
  const ModelConfig& c = m.config();
  const LayerWeights& L = m.weights().layers[static_cast<size_t>(il)];
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t hd = c.head_dim, vhd = c.v_head_dim;
  const int64_t nq = c.n_embd_q(), nk = c.n_embd_k(), nv = c.n_embd_v();
  const int64_t n_att = c.n_head * vhd;
  float* xn = s.xn.v.data();
  float* q = s.q.get(n * nq);
  float* k = s.k.get(n * nk);
  float* v = s.v.get(n * nv);
  float* att = s.att.get(n * n_att);

  matmul(L.wq, xn, c.n_embd, n, q, nq, pool);
  matmul(L.wk, xn, c.n_embd, n, k, nk, pool);
  matmul(L.wv, xn, c.n_embd, n, v, nv, pool);

  const kernels::RopeParams rp = rope_params(c);
  const KvType kt = kv.type();
  s.slices.resize(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    float* qr = q + r * nq;
    float* kr = k + r * nk;
    float* vr = v + r * nv;
    if (L.bq) {
      kernels::add(L.bq.data, qr, nq);
      kernels::add(L.bk.data, kr, nk);
      kernels::add(L.bv.data, vr, nv);
    }
    if (c.qk_norm == QkNorm::kPerHead) {
      for (int64_t h = 0; h < c.n_head; ++h) kernels::rmsnorm(qr + h * hd, L.q_norm.data, qr + h * hd, hd, c.norm_eps);
      for (int64_t h = 0; h < c.n_head_kv; ++h)
        kernels::rmsnorm(kr + h * hd, L.k_norm.data, kr + h * hd, hd, c.norm_eps);
    } else if (c.qk_norm == QkNorm::kWhole) {
      kernels::rmsnorm(qr, L.q_norm.data, qr, nq, c.norm_eps);
      kernels::rmsnorm(kr, L.k_norm.data, kr, nk, c.norm_eps);
    }
    const float* cs = s.rope.v.data() + r * c.rope_dim;
    for (int64_t h = 0; h < c.n_head; ++h) kernels::rope_apply(rp, cs, qr + h * hd);
    for (int64_t h = 0; h < c.n_head_kv; ++h) kernels::rope_apply(rp, cs, kr + h * hd);

    const BatchRow& row = rows[static_cast<size_t>(r)];
    const KvSlice sl = kv.slice(il, row.seq);
    s.slices[static_cast<size_t>(r)] = sl;
    kv_store_row(kt, kv_at(kt, sl.k, int64_t{row.pos} * nk), kr, nk);
    kv_store_row(kt, kv_at(kt, sl.v, int64_t{row.pos} * nv), vr, nv);
  }

  const int64_t group = c.n_head / c.n_head_kv;
  const float scale = attention_scale(c);
  run_attention_tasks(rows, c.n_head, s, pool, [&](int64_t r, int64_t h, float* scores) {
    const KvSlice& sl = s.slices[static_cast<size_t>(r)];
    const int64_t kvh = h / group;
    kernels::AttentionRows ar;
    ar.type = kt;
    ar.k = kv_at(kt, sl.k, kvh * hd);
    ar.v = kv_at(kt, sl.v, kvh * vhd);
    ar.k_stride = nk;
    ar.v_stride = nv;
    ar.n = int64_t{rows[static_cast<size_t>(r)].pos} + 1;
    kernels::attend(q + r * nq + h * hd, hd, ar, vhd, scale, scores, att + r * n_att + h * vhd);
  });

  matmul(L.wo, att, n_att, n, out, c.n_embd, pool);
}

}  // namespace frugal::model

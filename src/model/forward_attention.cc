// Self-attention of the standard architectures (llama, qwen2/3, qwen2moe,
// qwen3moe, olmoe): q/k/v projections over all rows, optional biases and q/k
// RMSNorm, RoPE, then each row's keys and values go into its sequence's cache
// and each (row, head) attends causally over positions 0..pos, through the
// flash kernel (kernels/attention.h) in tiles of consecutive rows.
#include <cmath>
#include <algorithm>
#include <cstring>
#include <vector>

#include "base/error.h"
#include "kernels/attention.h"
#include "model/forward_layers.h"
#include "model/lora.h"

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
  if (c.yarn_scale_in_softmax) {
    // DeepSeek puts YaRN's magnitude correction into the softmax scale
    // (attention_scale), so the rotation itself must not scale: this factor
    // cancels the 1 + 0.1 ln(1/freq_scale) that YaRN applies to cos/sin.
    p.attn_factor = 1.0f / (1.0f + 0.1f * std::log(1.0f / p.freq_scale));
  }
  return p;
}

float attention_scale(const ModelConfig& c) {
  const float base = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  if (!c.yarn_scale_in_softmax) return base;
  const float freq_scale = c.rope_scaling == RopeScaling::kNone ? 1.0f : 1.0f / c.rope_scaling_factor;
  const float mscale = c.yarn_attn_factor * (1.0f + c.yarn_log_multiplier * std::log(1.0f / freq_scale));
  return base * mscale * mscale;
}

void* kv_at(KvType t, void* base, int64_t i) { return kernels::cache_at(t, base, i); }

void kv_store_row(KvType t, void* dst, const float* src, int64_t n) { kernels::cache_store(t, dst, src, n); }

namespace {

// Rows per tile: enough queries per cache block to amortise its conversion,
// few enough that a long prefill makes many tasks.
constexpr int64_t kTileRows = 16;

struct Tile {
  int64_t first = 0, n_rows = 0;  // batch rows [first, first + n_rows)
  int32_t last_pos = 0;
};

}  // namespace

void flash_attention(const AttentionLayout& a, KvType type, std::span<const BatchRow> rows, Forward::Scratch& s,
                     ThreadPool* pool) {
  const int64_t n = static_cast<int64_t>(rows.size());
  std::vector<Tile> tiles;
  for (int64_t r = 0; r < n; ++r) {
    const BatchRow& row = rows[static_cast<size_t>(r)];
    if (!tiles.empty()) {
      Tile& t = tiles.back();
      const BatchRow& prev = rows[static_cast<size_t>(t.first + t.n_rows - 1)];
      if (t.n_rows < kTileRows && prev.seq == row.seq && prev.pos + 1 == row.pos) {
        ++t.n_rows;
        t.last_pos = row.pos;
        continue;
      }
    }
    tiles.push_back({r, 1, row.pos});
  }
  // The longest tiles first, so the short ones fill the gaps at the end.
  std::stable_sort(tiles.begin(), tiles.end(), [](const Tile& x, const Tile& y) { return x.last_pos > y.last_pos; });

  // Split the heads of each tile so that there are a few tasks per thread.
  const int n_threads = pool ? pool->size() : 1;
  const int64_t n_tiles = static_cast<int64_t>(tiles.size());
  const int64_t per_tile = std::clamp<int64_t>((4 * n_threads + n_tiles - 1) / n_tiles, 1, a.n_head);
  const int64_t head_chunk = (a.n_head + per_tile - 1) / per_tile;
  const int64_t chunks = (a.n_head + head_chunk - 1) / head_chunk;
  const int64_t group = a.n_head / a.n_kv_head;

  if (s.thread_scores.size() < static_cast<size_t>(n_threads)) s.thread_scores.resize(static_cast<size_t>(n_threads));
  const size_t scratch = kernels::flash_scratch_floats(kTileRows * std::min(group, head_chunk), a.dk, a.dv);
  for (int t = 0; t < n_threads; ++t) s.thread_scores[static_cast<size_t>(t)].get(static_cast<int64_t>(scratch));

  auto task = [&](int64_t i, int thread) {
    const Tile& t = tiles[static_cast<size_t>(i / chunks)];
    const int64_t h0 = (i % chunks) * head_chunk, h1 = std::min(a.n_head, h0 + head_chunk);
    const KvSlice& sl = s.slices[static_cast<size_t>(t.first)];  // one sequence per tile
    std::vector<kernels::AttentionQuery> qs;
    for (int64_t g = h0 / group; g * group < h1; ++g) {
      qs.clear();
      for (int64_t h = std::max(h0, g * group); h < std::min(h1, (g + 1) * group); ++h)
        for (int64_t r = t.first; r < t.first + t.n_rows; ++r) {
          const int64_t n_keys = int64_t{rows[static_cast<size_t>(r)].pos} + 1;
          kernels::AttentionQuery query{a.q + r * a.q_row + h * a.q_head, a.out + r * a.out_row + h * a.out_head,
                                        n_keys};
          if (a.window > 0) query.first = std::max<int64_t>(0, n_keys - a.window);
          if (a.chunk > 0) query.first = (n_keys - 1) / a.chunk * a.chunk;
          if (a.sinks) query.sink = a.sinks[h];
          qs.push_back(query);
        }
      kernels::AttentionRows ar;
      ar.type = type;
      ar.k = kv_at(type, sl.k, g * a.k_head);
      ar.v = a.values_in_keys ? ar.k : kv_at(type, sl.v, g * a.v_head);
      ar.k_stride = a.k_row;
      ar.v_stride = a.v_row;
      kernels::attend_flash(qs, a.dk, ar, a.dv, a.scale, s.thread_scores[static_cast<size_t>(thread)].v.data());
    }
  };
  const int64_t n_tasks = n_tiles * chunks;
  if (pool && n_tasks > 1) {
    pool->run(n_tasks, task);
  } else {
    for (int64_t i = 0; i < n_tasks; ++i) task(i, 0);
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

  // Gated attention: attn_q gives per head the query then its gate logits,
  // split apart below.
  const int64_t nq_proj = c.attn_output_gate ? 2 * nq : nq;
  float* q_proj = c.attn_output_gate ? s.q_a.get(n * nq_proj) : q;
  const kernels::MatmulOut qkv[] = {{L.wq, q_proj, nq_proj}, {L.wk, k, nk}, {L.wv, v, nv}};
  kernels::matmul_group(qkv, xn, c.n_embd, n, pool);
  // Each run of rows with one adapter gets its adapter's products.
  auto lora_runs = [&](auto apply) { for_each_lora_run(s, il, n, apply); };
  lora_runs([&](const LayerLora& LL, float scale, int64_t b, int64_t cnt) {
    const float* x = xn + b * c.n_embd;
    if (LL.wq) lora_apply(LL.wq, scale, x, c.n_embd, cnt, q_proj + b * nq_proj, nq_proj, pool);
    if (LL.wk) lora_apply(LL.wk, scale, x, c.n_embd, cnt, k + b * nk, nk, pool);
    if (LL.wv) lora_apply(LL.wv, scale, x, c.n_embd, cnt, v + b * nv, nv, pool);
  });

  float* gate = nullptr;
  if (c.attn_output_gate) {
    FRUGAL_CHECK(hd == vhd);
    gate = s.attn_gate.get(n * nq);
    for (int64_t r = 0; r < n; ++r)
      for (int64_t h = 0; h < c.n_head; ++h) {
        const float* src = q_proj + r * nq_proj + h * 2 * hd;
        std::memcpy(q + r * nq + h * hd, src, sizeof(float) * size_t(hd));
        float* g = gate + r * nq + h * hd;
        for (int64_t i = 0; i < hd; ++i) g[i] = kernels::sigmoid(src[hd + i]);
      }
  }

  const kernels::RopeParams rp = rope_params(c);
  const bool rope = c.layer_has_rope(il);
  const KvType kt = kv.type();
  FRUGAL_CHECK(kv_type_unsupported(c, kt).empty());
  const int64_t k_row = kernels::cache_row_stride(kt, nk), v_row = kernels::cache_row_stride(kt, nv);
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
    auto qk_norm = [&] {
      if (c.qk_norm == QkNorm::kPerHead) {
        for (int64_t h = 0; h < c.n_head; ++h)
          kernels::rmsnorm(qr + h * hd, L.q_norm.data, qr + h * hd, hd, c.norm_eps);
        for (int64_t h = 0; h < c.n_head_kv; ++h)
          kernels::rmsnorm(kr + h * hd, L.k_norm.data, kr + h * hd, hd, c.norm_eps);
      } else if (c.qk_norm == QkNorm::kWhole) {
        kernels::rmsnorm(qr, L.q_norm.data, qr, nq, c.norm_eps);
        kernels::rmsnorm(kr, L.k_norm.data, kr, nk, c.norm_eps);
      } else if (c.qk_norm == QkNorm::kPerHeadUnweighted && rope) {
        // A rotation keeps each head's norm: before or after RoPE is the same.
        for (int64_t h = 0; h < c.n_head; ++h) kernels::rmsnorm(qr + h * hd, nullptr, qr + h * hd, hd, c.norm_eps);
        for (int64_t h = 0; h < c.n_head_kv; ++h)
          kernels::rmsnorm(kr + h * hd, nullptr, kr + h * hd, hd, c.norm_eps);
      }
    };
    // hunyuan-moe normalises the rotated heads (a weighted norm does not
    // commute with the rotation); the others the projections.
    if (!c.qk_norm_after_rope) qk_norm();
    const BatchRow& row = rows[static_cast<size_t>(r)];
    if (rope) {
      const float* cs = s.rope.v.data() + r * c.rope_dim;
      for (int64_t h = 0; h < c.n_head; ++h) kernels::rope_apply(rp, cs, qr + h * hd);
      for (int64_t h = 0; h < c.n_head_kv; ++h) kernels::rope_apply(rp, cs, kr + h * hd);
    }
    if (c.qk_norm_after_rope) qk_norm();
    if (!rope && c.attn_temp_scale != 0.0f) {
      // llama4's NoPE layers sharpen attention further into a long context.
      const double steps = std::floor((row.pos + 1.0) / static_cast<double>(c.attn_temp_length));
      const float t = static_cast<float>(1.0 + c.attn_temp_scale * std::log(steps + 1.0));
      for (int64_t i = 0; i < nq; ++i) qr[i] *= t;
    }

    const KvSlice sl = kv.slice(il, row.seq);
    s.slices[static_cast<size_t>(r)] = sl;
    kv_store_row(kt, kv_at(kt, sl.k, int64_t{row.pos} * k_row), kr, nk);
    kv_store_row(kt, kv_at(kt, sl.v, int64_t{row.pos} * v_row), vr, nv);
  }

  AttentionLayout al;
  al.n_head = c.n_head;
  al.n_kv_head = c.n_head_kv;
  al.dk = hd;
  al.dv = vhd;
  al.scale = attention_scale(c);
  al.q = q;
  al.q_row = nq;
  al.q_head = hd;
  al.out = att;
  al.out_row = n_att;
  al.out_head = vhd;
  al.k_row = k_row;
  al.v_row = v_row;
  al.k_head = hd;
  al.v_head = vhd;
  al.window = c.layer_window(il);
  al.chunk = c.layer_chunk(il);
  al.sinks = L.sinks.data;
  flash_attention(al, kt, rows, s, pool);
  if (gate)
    for (int64_t i = 0; i < n * n_att; ++i) att[i] *= gate[i];

  matmul(L.wo, att, n_att, n, out, c.n_embd, pool);
  lora_runs([&](const LayerLora& LL, float scale, int64_t b, int64_t cnt) {
    if (LL.wo) lora_apply(LL.wo, scale, att + b * n_att, n_att, cnt, out + b * c.n_embd, c.n_embd, pool);
  });
  if (L.bo)
    for (int64_t r = 0; r < n; ++r) kernels::add(L.bo.data, out + r * c.n_embd, c.n_embd);
}

}  // namespace frugal::model

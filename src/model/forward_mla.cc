// Multi-head latent attention (DeepSeek-V2/V3). Keys and values of all heads
// come from one compressed latent per position: kv_a_mqa projects a row to
// the latent (kv_lora_rank) and a shared rope key part (qk_rope_head_dim);
// kv_b expands the normalised latent to each head's key "nope" part and value.
// Only the latent and the roped key part are cached. Current converters store
// kv_b split per head (attn_k_b with the key rows transposed, attn_v_b).
//
// Attention runs in latent space (kv_b absorbed): for head h with key
// expansion Wk_h (nope x rank) and value expansion Wv_h (v_head_dim x rank),
//   q . k_j = q_nope . (Wk_h c_j) + q_pe . kpe_j = (Wk_h^T q_nope) . c_j + q_pe . kpe_j
//   out_h   = sum_j p_j Wv_h c_j = Wv_h (sum_j p_j c_j)
// so a cached row [c_j, kpe_j] serves as the key against [Wk_h^T q_nope, q_pe]
// and its first kv_lora_rank entries as the value; the cost per cached
// position is independent of the number of heads' full K/V widths.
//
// LoRA adapters (model/lora.h) add their products to q (or q_a and q_b),
// kv_a_mqa and output, to each head's k_b and v_b products of a split file,
// and a joint kv_b's W + s B A is absorbed as W is: its key rows' part
// s A^T (B_hk^T q_nope) added to each head's latent query, its value rows'
// part to each head's value; so an adapter trained on this form (finetune)
// is applied as it was trained.
#include <algorithm>

#include "kernels/attention.h"
#include "model/lora.h"
#include "model/forward_layers.h"
#include "quant/quant.h"

namespace frugal::model {

using kernels::matmul;

namespace {

// q_latent[r, h, 0:rank] = Wk_h^T q_nope[r, h]: each of the head's nope rows
// of kv_b is dequantised once and accumulated into every batch row.
void absorb_queries(const ModelConfig& c, const kernels::WeightMatrix& kv_b, const float* q, int64_t n_rows,
                    float* q_latent, Forward::Scratch& s, ThreadPool* pool) {
  const int64_t rank = c.kv_lora_rank, nope = c.qk_nope_head_dim, rdim = c.qk_rope_head_dim;
  const int64_t hd = c.head_dim, lw = rank + rdim, H = c.n_head;
  const size_t rb = row_bytes(kv_b.type, static_cast<uint64_t>(rank));
  const int n_threads = pool ? pool->size() : 1;
  if (s.thread_row.size() < static_cast<size_t>(n_threads)) s.thread_row.resize(n_threads);
  auto head = [&](int64_t h, int thread) {
    float* w = s.thread_row[thread].get(rank);
    for (int64_t r = 0; r < n_rows; ++r) {
      float* ql = q_latent + (r * H + h) * lw;
      for (int64_t i = 0; i < rank; ++i) ql[i] = 0;
      // The rope part of the query is used as is against the cached rope key.
      const float* qpe = q + r * H * hd + h * hd + nope;
      for (int64_t i = 0; i < rdim; ++i) ql[rank + i] = qpe[i];
    }
    for (int64_t j = 0; j < nope; ++j) {
      const int64_t o = h * (nope + c.v_head_dim) + j;
      quant::dequantize_row(kv_b.type, static_cast<const uint8_t*>(kv_b.data) + static_cast<size_t>(o) * rb, w, rank);
      for (int64_t r = 0; r < n_rows; ++r)
        kernels::axpy(q[r * H * hd + h * hd + j], w, q_latent + (r * H + h) * lw, rank);
    }
  };
  if (pool && H > 1) {
    pool->run(H, head);
  } else {
    for (int64_t h = 0; h < H; ++h) head(h, 0);
  }
}

// q_latent[r, h, 0:rank] += scale (q_nope[r, h] . B_hk) A: the adapter of a
// joint kv_b (B's rows as kv_b's) on head h's key rows, absorbed as they are.
void absorb_query_adapter(const ModelConfig& c, const LoraPair& p, float scale, const float* q, int64_t n_rows,
                          float* q_latent) {
  const int64_t rank = c.kv_lora_rank, nope = c.qk_nope_head_dim, lw = rank + c.qk_rope_head_dim;
  const int64_t hd = c.head_dim, H = c.n_head, kvw = nope + c.v_head_dim, r = p.a.n_out;
  std::vector<float> a(static_cast<size_t>(r * rank)), b_hk(static_cast<size_t>(nope * r)), t(static_cast<size_t>(r));
  quant::dequantize_rows(p.a.type, p.a.data, a.data(), r, rank);
  const size_t rb = row_bytes(p.b.type, static_cast<uint64_t>(r));
  for (int64_t h = 0; h < H; ++h) {
    quant::dequantize_rows(p.b.type, static_cast<const uint8_t*>(p.b.data) + static_cast<size_t>(h * kvw) * rb,
                           b_hk.data(), nope, r);
    for (int64_t row = 0; row < n_rows; ++row) {
      const float* qn = q + row * H * hd + h * hd;
      std::fill(t.begin(), t.end(), 0.0f);
      for (int64_t j = 0; j < nope; ++j) kernels::axpy(qn[j], b_hk.data() + j * r, t.data(), r);
      for (int64_t k = 0; k < r; ++k)
        kernels::axpy(scale * t[static_cast<size_t>(k)], a.data() + k * rank, q_latent + (row * H + h) * lw, rank);
    }
  }
}

}  // namespace

void mla_attention_layer(const Model& m, int64_t il, std::span<const BatchRow> rows, KvStore& kv,
                         Forward::Scratch& s, ThreadPool* pool, float* out) {
  const ModelConfig& c = m.config();
  const LayerWeights& L = m.weights().layers[static_cast<size_t>(il)];
  const int64_t n = static_cast<int64_t>(rows.size());
  const int64_t H = c.n_head, hd = c.head_dim, nope = c.qk_nope_head_dim, vhd = c.v_head_dim;
  const int64_t rank = c.kv_lora_rank, lw = rank + c.qk_rope_head_dim;
  float* xn = s.xn.v.data();
  const int64_t D = c.n_embd, qr = c.q_lora_rank;
  // Each run of rows with one adapter gets its adapter's products.
  auto lora_runs = [&](auto apply) {
    if (!s.any_lora) return;
    for_each_run(n, [&](int64_t r) { return s.row_lora[static_cast<size_t>(r)]; },
                 [&](const LoraAdapter* a, int64_t b, int64_t cnt) {
                   if (a) apply(a->layers()[static_cast<size_t>(il)], a->scale(), b, cnt);
                 });
  };

  // Queries: directly, or through the low-rank q_a -> norm -> q_b.
  float* q = s.q.get(n * H * hd);
  if (c.q_lora_rank > 0) {
    float* qa = s.q_a.get(n * c.q_lora_rank);
    matmul(L.wq_a, xn, c.n_embd, n, qa, c.q_lora_rank, pool);
    lora_runs([&](const LayerLora& LL, float scale, int64_t b, int64_t cnt) {
      if (LL.wq_a) lora_apply(LL.wq_a, scale, xn + b * D, D, cnt, qa + b * qr, qr, pool);
    });
    for (int64_t r = 0; r < n; ++r)
      kernels::rmsnorm(qa + r * c.q_lora_rank, L.q_a_norm.data, qa + r * c.q_lora_rank, c.q_lora_rank, c.norm_eps);
    matmul(L.wq_b, qa, c.q_lora_rank, n, q, H * hd, pool);
    lora_runs([&](const LayerLora& LL, float scale, int64_t b, int64_t cnt) {
      if (LL.wq_b) lora_apply(LL.wq_b, scale, qa + b * qr, qr, cnt, q + b * H * hd, H * hd, pool);
    });
  } else {
    matmul(L.wq, xn, c.n_embd, n, q, H * hd, pool);
    lora_runs([&](const LayerLora& LL, float scale, int64_t b, int64_t cnt) {
      if (LL.wq) lora_apply(LL.wq, scale, xn + b * D, D, cnt, q + b * H * hd, H * hd, pool);
    });
  }

  // The compressed latent and the shared rope key part, normalised and roped:
  // exactly the row the cache keeps.
  float* kva = s.k.get(n * lw);
  matmul(L.wkv_a_mqa, xn, c.n_embd, n, kva, lw, pool);
  lora_runs([&](const LayerLora& LL, float scale, int64_t b, int64_t cnt) {
    if (LL.wkv_a) lora_apply(LL.wkv_a, scale, xn + b * D, D, cnt, kva + b * lw, lw, pool);
  });
  const kernels::RopeParams rp = rope_params(c);
  const KvType kt = kv.type();
  const int64_t k_row = kernels::cache_row_stride(kt, lw);
  s.slices.resize(static_cast<size_t>(n));
  for (int64_t r = 0; r < n; ++r) {
    float* kr = kva + r * lw;
    kernels::rmsnorm(kr, L.kv_a_norm.data, kr, rank, c.norm_eps);
    const float* cs = s.rope.v.data() + r * c.rope_dim;
    kernels::rope_apply(rp, cs, kr + rank);
    for (int64_t h = 0; h < H; ++h) kernels::rope_apply(rp, cs, q + r * H * hd + h * hd + nope);
    const BatchRow& row = rows[static_cast<size_t>(r)];
    const KvSlice sl = kv.slice(il, row.seq);
    s.slices[static_cast<size_t>(r)] = sl;
    kv_store_row(kt, kv_at(kt, sl.k, int64_t{row.pos} * k_row), kr, lw);
  }

  float* q_latent = s.q_latent.get(n * H * lw);
  if (c.mla_split_kv_b) {
    // k_b holds each head's key rows already transposed: one product per head.
    for (int64_t h = 0; h < H; ++h) {
      matmul(L.wk_b.expert(h), q + h * hd, H * hd, n, q_latent + h * lw, H * lw, pool);
      lora_runs([&](const LayerLora& LL, float scale, int64_t b, int64_t cnt) {
        if (LL.wk_b)
          lora_apply(LL.wk_b.expert(h), scale, q + b * H * hd + h * hd, H * hd, cnt, q_latent + b * H * lw + h * lw,
                     H * lw, pool);
      });
      for (int64_t r = 0; r < n; ++r)
        std::copy_n(q + r * H * hd + h * hd + nope, c.qk_rope_head_dim, q_latent + (r * H + h) * lw + rank);
    }
  } else {
    absorb_queries(c, L.wkv_b, q, n, q_latent, s, pool);
    lora_runs([&](const LayerLora& LL, float scale, int64_t b, int64_t cnt) {
      if (LL.wkv_b) absorb_query_adapter(c, LL.wkv_b, scale, q + b * H * hd, cnt, q_latent + b * H * lw);
    });
  }

  float* att_latent = s.att_latent.get(n * H * rank);
  // Every head attends to the same latent rows: one kv head for all.
  AttentionLayout al;
  al.n_head = H;
  al.n_kv_head = 1;
  al.dk = lw;
  al.dv = rank;
  al.scale = attention_scale(c);
  al.q = q_latent;
  al.q_row = H * lw;
  al.q_head = lw;
  al.out = att_latent;
  al.out_row = H * rank;
  al.out_head = rank;
  al.k_row = k_row;
  al.v_row = k_row;
  al.values_in_keys = true;
  flash_attention(al, kt, rows, s, pool);

  // Expand each head's latent output through its value rows (of kv_b, or v_b).
  float* att = s.att.get(n * H * vhd);
  const size_t rb = c.mla_split_kv_b ? 0 : row_bytes(L.wkv_b.type, static_cast<uint64_t>(rank));
  for (int64_t h = 0; h < H; ++h) {
    const kernels::WeightMatrix wv =
        c.mla_split_kv_b ? L.wv_b.expert(h)
                         : kernels::WeightMatrix{L.wkv_b.type,
                                                 static_cast<const uint8_t*>(L.wkv_b.data) +
                                                     static_cast<size_t>(h * (nope + vhd) + nope) * rb,
                                                 vhd, rank};
    matmul(wv, att_latent + h * rank, H * rank, n, att + h * vhd, H * vhd, pool);
    lora_runs([&](const LayerLora& LL, float scale, int64_t b, int64_t cnt) {
      LoraPair vp = c.mla_split_kv_b ? LL.wv_b.expert(h) : LL.wkv_b;
      if (!vp) return;
      if (!c.mla_split_kv_b) {  // a joint kv_b's adapter: the rows of B for head h's values
        const size_t b_row = row_bytes(vp.b.type, static_cast<uint64_t>(vp.b.n_in));
        vp.b.data = static_cast<const uint8_t*>(vp.b.data) + static_cast<size_t>(h * (nope + vhd) + nope) * b_row;
        vp.b.n_out = vhd;
      }
      lora_apply(vp, scale, att_latent + b * H * rank + h * rank, H * rank, cnt, att + b * H * vhd + h * vhd,
                 H * vhd, pool);
    });
  }
  matmul(L.wo, att, H * vhd, n, out, c.n_embd, pool);
  lora_runs([&](const LayerLora& LL, float scale, int64_t b, int64_t cnt) {
    if (LL.wo) lora_apply(LL.wo, scale, att + b * H * vhd, H * vhd, cnt, out + b * D, D, pool);
  });
}

}  // namespace frugal::model

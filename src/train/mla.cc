#include "train/mla.h"

#include <cblas.h>

#include <algorithm>

#include "base/error.h"
#include "model/forward_layers.h"
#include "train/layers.h"

namespace frugal::train {

namespace {
size_t sz(int64_t n) { return static_cast<size_t>(n); }

struct Dims {
  int64_t N, D, H, hd, nope, rdim, vhd, rank, q_rank;
};
Dims dims(const model::ModelConfig& c, const MlaShape& s) {
  return {s.n_seq * s.t, c.n_embd, c.n_head, c.head_dim, c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim,
          c.kv_lora_rank, c.q_lora_rank};
}
void resize(std::vector<float>& b, int64_t n) { b.assign(sz(n), 0.0f); }

// C (m x n, row stride ldc) = A (m x k, stride lda) . B, B as stored (k x n)
// or transposed (n x k), both contiguous; accumulate adds to C.
void gemm(bool trans_b, const float* a, int64_t lda, const float* b, float* c_, int64_t ldc, int64_t m, int64_t n,
          int64_t k, bool accumulate) {
  if (m == 0) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(m),
              static_cast<int>(n), static_cast<int>(k), 1.0f, a, static_cast<int>(lda), b,
              static_cast<int>(trans_b ? k : n), accumulate ? 1.0f : 0.0f, c_, static_cast<int>(ldc));
}
// W += A^T (k x m, stride lda) . B (m x n, stride ldb) into W (k x n) or, with
// trans_w, W^T (W n x k).
void gemm_grad(bool trans_w, const float* a, int64_t lda, const float* b, int64_t ldb, float* w, int64_t m,
               int64_t n, int64_t k) {
  if (m == 0) return;
  if (trans_w) {  // W (n x k) += B^T A
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(n), static_cast<int>(k), static_cast<int>(m),
                1.0f, b, static_cast<int>(ldb), a, static_cast<int>(lda), 1.0f, w, static_cast<int>(k));
  } else {  // W (k x n) += A^T B
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(k), static_cast<int>(n), static_cast<int>(m),
                1.0f, a, static_cast<int>(lda), b, static_cast<int>(ldb), 1.0f, w, static_cast<int>(n));
  }
}
}  // namespace

void mla_forward(const model::ModelConfig& c, const LayerView& P, const MlaShape& s, const float* xn, MlaActs& a,
                 float* out, ThreadPool* pool) {
  const auto [N, D, H, hd, nope, rdim, vhd, rank, q_rank] = dims(c, s);
  const bool neox = c.rope_layout == model::RopeLayout::kNeox;
  // Queries, and their rope parts rotated in place (gathered to rows of rdim).
  resize(a.q, N * H * hd);
  if (q_rank > 0) {
    resize(a.q_a, N * q_rank);
    resize(a.q_a_rstd, N);
    resize(a.q_a_normed, N * q_rank);
    linear_forward(xn, P.wq_a, a.q_a.data(), N, D, q_rank);
    rmsnorm_forward(a.q_a.data(), P.q_a_norm, a.q_a_normed.data(), a.q_a_rstd.data(), N, q_rank, c.norm_eps);
    linear_forward(a.q_a_normed.data(), P.wq_b, a.q.data(), N, q_rank, H * hd);
  } else {
    linear_forward(xn, P.wq, a.q.data(), N, D, H * hd);
  }
  std::vector<float> pe(sz(N * H * rdim));
  for (int64_t r = 0; r < N * H; ++r) std::copy_n(a.q.data() + r * hd + nope, rdim, pe.data() + r * rdim);
  rope_forward(pe.data(), s.pos, s.rope, N, H, rdim, neox);
  for (int64_t r = 0; r < N * H; ++r) std::copy_n(pe.data() + r * rdim, rdim, a.q.data() + r * hd + nope);

  // The latent and the shared rope key part.
  const int64_t lw = rank + rdim;
  std::vector<float> kva(sz(N * lw));
  linear_forward(xn, P.wkv_a, kva.data(), N, D, lw);
  resize(a.c_pre, N * rank);
  resize(a.k_pe, N * rdim);
  for (int64_t r = 0; r < N; ++r) {
    std::copy_n(kva.data() + r * lw, rank, a.c_pre.data() + r * rank);
    std::copy_n(kva.data() + r * lw + rank, rdim, a.k_pe.data() + r * rdim);
  }
  resize(a.c_rstd, N);
  resize(a.c_normed, N * rank);
  rmsnorm_forward(a.c_pre.data(), P.kv_a_norm, a.c_normed.data(), a.c_rstd.data(), N, rank, c.norm_eps);
  rope_forward(a.k_pe.data(), s.pos, s.rope, N, 1, rdim, neox);
  const int64_t kvw = nope + vhd;
  resize(a.kv, N * H * kvw);
  if (P.wkv_b) {
    linear_forward(a.c_normed.data(), P.wkv_b, a.kv.data(), N, rank, H * kvw);
  } else {  // split: head h's key part c . Kb_h (Kb_h: rank x nope), its value c . Vb_h^T
    for (int64_t h = 0; h < H; ++h) {
      gemm(false, a.c_normed.data(), rank, P.wk_b + h * rank * nope, a.kv.data() + h * kvw, H * kvw, N, nope, rank,
           false);
      gemm(true, a.c_normed.data(), rank, P.wv_b + h * vhd * rank, a.kv.data() + h * kvw + nope, H * kvw, N, vhd, rank,
           false);
    }
  }

  // Each head's key [k_nope_h | k_pe] and value (padded to hd).
  resize(a.k, N * H * hd);
  resize(a.v, N * H * hd);
  for (int64_t r = 0; r < N; ++r)
    for (int64_t h = 0; h < H; ++h) {
      const float* kvh = a.kv.data() + (r * H + h) * kvw;
      std::copy_n(kvh, nope, a.k.data() + (r * H + h) * hd);
      std::copy_n(a.k_pe.data() + r * rdim, rdim, a.k.data() + (r * H + h) * hd + nope);
      std::copy_n(kvh + nope, vhd, a.v.data() + (r * H + h) * hd);
    }
  const AttentionShape as{s.n_seq, s.t, H, H, hd, model::attention_scale(c)};
  resize(a.probs, s.n_seq * H * s.t * s.t);
  resize(a.att, N * H * hd);
  attention_forward(as, a.q.data(), a.k.data(), a.v.data(), a.probs.data(), a.att.data(), pool);
  resize(a.att_v, N * H * vhd);
  for (int64_t r = 0; r < N * H; ++r) std::copy_n(a.att.data() + r * hd, vhd, a.att_v.data() + r * vhd);
  linear_forward(a.att_v.data(), P.wo, out, N, H * vhd, D);
}

void mla_backward(const model::ModelConfig& c, const LayerView& P, const LayerView& GP, const MlaShape& s,
                  const float* xn, const MlaActs& a, const float* d_out, float* d_xn, ThreadPool* pool) {
  const auto [N, D, H, hd, nope, rdim, vhd, rank, q_rank] = dims(c, s);
  const bool neox = c.rope_layout == model::RopeLayout::kNeox;
  const int64_t kvw = nope + vhd, lw = rank + rdim;
  std::vector<float> d_att_v(sz(N * H * vhd), 0.0f), d_att(sz(N * H * hd), 0.0f);
  linear_backward(d_out, a.att_v.data(), P.wo, d_att_v.data(), GP.wo, N, H * vhd, D);
  for (int64_t r = 0; r < N * H; ++r) std::copy_n(d_att_v.data() + r * vhd, vhd, d_att.data() + r * hd);
  std::vector<float> d_q(sz(N * H * hd), 0.0f), d_k(sz(N * H * hd), 0.0f), d_v(sz(N * H * hd), 0.0f);
  const AttentionShape as{s.n_seq, s.t, H, H, hd, model::attention_scale(c)};
  attention_backward(as, d_att.data(), a.q.data(), a.k.data(), a.v.data(), a.probs.data(), d_q.data(), d_k.data(),
                     d_v.data(), pool);

  // Keys and values back to kv_b's expansion and the shared rope key part.
  std::vector<float> d_kv(sz(N * H * kvw)), d_kpe(sz(N * rdim), 0.0f);
  for (int64_t r = 0; r < N; ++r)
    for (int64_t h = 0; h < H; ++h) {
      const float* dk = d_k.data() + (r * H + h) * hd;
      float* dkv = d_kv.data() + (r * H + h) * kvw;
      std::copy_n(dk, nope, dkv);
      std::copy_n(d_v.data() + (r * H + h) * hd, vhd, dkv + nope);
      for (int64_t i = 0; i < rdim; ++i) d_kpe[sz(r * rdim + i)] += dk[nope + i];
    }
  std::vector<float> d_c_normed(sz(N * rank), 0.0f), d_c(sz(N * rank), 0.0f);
  if (P.wkv_b) {
    linear_backward(d_kv.data(), a.c_normed.data(), P.wkv_b, d_c_normed.data(), GP.wkv_b, N, rank, H * kvw);
  } else {
    for (int64_t h = 0; h < H; ++h) {
      const float* dk = d_kv.data() + h * kvw;
      const float* dv = dk + nope;
      // d c += d k_h . Kb_h^T + d v_h . Vb_h; d Kb_h += c^T d k_h; d Vb_h += d v_h^T c.
      gemm(true, dk, H * kvw, P.wk_b + h * rank * nope, d_c_normed.data(), rank, N, rank, nope, true);
      gemm(false, dv, H * kvw, P.wv_b + h * vhd * rank, d_c_normed.data(), rank, N, rank, vhd, true);
      gemm_grad(false, a.c_normed.data(), rank, dk, H * kvw, GP.wk_b + h * rank * nope, N, nope, rank);
      gemm_grad(true, a.c_normed.data(), rank, dv, H * kvw, GP.wv_b + h * vhd * rank, N, vhd, rank);
    }
  }
  rmsnorm_backward(d_c_normed.data(), a.c_pre.data(), P.kv_a_norm, a.c_rstd.data(), d_c.data(), GP.kv_a_norm, N,
                   rank);
  rope_backward(d_kpe.data(), s.pos, s.rope, N, 1, rdim, neox);
  std::vector<float> d_kva(sz(N * lw));
  for (int64_t r = 0; r < N; ++r) {
    std::copy_n(d_c.data() + r * rank, rank, d_kva.data() + r * lw);
    std::copy_n(d_kpe.data() + r * rdim, rdim, d_kva.data() + r * lw + rank);
  }
  // xn is the input of the kv_a product; the latent row was [c_pre | k_pe before rope].
  linear_backward(d_kva.data(), xn, P.wkv_a, d_xn, GP.wkv_a, N, D, lw);

  // Queries: the rope parts turned back, then the projections.
  std::vector<float> pe(sz(N * H * rdim));
  for (int64_t r = 0; r < N * H; ++r) std::copy_n(d_q.data() + r * hd + nope, rdim, pe.data() + r * rdim);
  rope_backward(pe.data(), s.pos, s.rope, N, H, rdim, neox);
  for (int64_t r = 0; r < N * H; ++r) std::copy_n(pe.data() + r * rdim, rdim, d_q.data() + r * hd + nope);
  if (q_rank > 0) {
    std::vector<float> d_qa_n(sz(N * q_rank), 0.0f), d_qa(sz(N * q_rank), 0.0f);
    linear_backward(d_q.data(), a.q_a_normed.data(), P.wq_b, d_qa_n.data(), GP.wq_b, N, q_rank, H * hd);
    rmsnorm_backward(d_qa_n.data(), a.q_a.data(), P.q_a_norm, a.q_a_rstd.data(), d_qa.data(), GP.q_a_norm, N, q_rank);
    linear_backward(d_qa.data(), xn, P.wq_a, d_xn, GP.wq_a, N, D, q_rank);
  } else {
    linear_backward(d_q.data(), xn, P.wq, d_xn, GP.wq, N, D, H * hd);
  }
}

}  // namespace frugal::train

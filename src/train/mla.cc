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
Dims dims(const model::ModelConfig& c, int64_t N) {
  return {N, c.n_embd, c.n_head, c.head_dim, c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim, c.kv_lora_rank,
          c.q_lora_rank};
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

// Columns [col, col + width) of n rows of stride ld, to and from n
// contiguous rows of width (a head's part of a row).
void gather(const float* src, int64_t ld, int64_t col, int64_t width, int64_t n, float* dst) {
  for (int64_t r = 0; r < n; ++r) std::copy_n(src + r * ld + col, width, dst + r * width);
}
void scatter(const float* src, int64_t width, int64_t n, float* dst, int64_t ld, int64_t col) {
  for (int64_t r = 0; r < n; ++r) std::copy_n(src + r * width, width, dst + r * ld + col);
}
}  // namespace

MlaMatrixShape mla_matrix_shape(const model::ModelConfig& c, MlaMatrix m) {
  const int64_t D = c.n_embd, q = c.n_head * c.head_dim, rank = c.kv_lora_rank;
  switch (m) {
    case MlaMatrix::kQ: return {D, q};
    case MlaMatrix::kQA: return {D, c.q_lora_rank};
    case MlaMatrix::kQB: return {c.q_lora_rank, q};
    case MlaMatrix::kKvA: return {D, rank + c.qk_rope_head_dim};
    case MlaMatrix::kKB: return {c.qk_nope_head_dim, rank};
    case MlaMatrix::kVB: return {rank, c.v_head_dim};
    case MlaMatrix::kO: return {c.n_head * c.v_head_dim, D};
  }
  fail("train: unknown latent attention matrix");
}

MlaProducts f32_mla_products(const model::ModelConfig& c, const LayerView& P, const LayerView* GP) {
  const int64_t nope = c.qk_nope_head_dim, vhd = c.v_head_dim, rank = c.kv_lora_rank, kvw = nope + vhd;
  // The matrix's rows (head h's for kKB, kVB) in a layer view; joint:
  // whether they are kv_b's key rows (nope rows of rank), used transposed.
  struct Rows {
    float* w;
    bool joint_keys;
  };
  auto rows = [=](const LayerView& V, MlaMatrix m, int64_t h) -> Rows {
    switch (m) {
      case MlaMatrix::kQ: return {V.wq, false};
      case MlaMatrix::kQA: return {V.wq_a, false};
      case MlaMatrix::kQB: return {V.wq_b, false};
      case MlaMatrix::kKvA: return {V.wkv_a, false};
      case MlaMatrix::kO: return {V.wo, false};
      case MlaMatrix::kKB:
        return P.wkv_b ? Rows{V.wkv_b + h * kvw * rank, true} : Rows{V.wk_b + h * rank * nope, false};
      case MlaMatrix::kVB: return {P.wkv_b ? V.wkv_b + (h * kvw + nope) * rank : V.wv_b + h * vhd * rank, false};
    }
    fail("train: unknown latent attention matrix");
  };
  MlaProducts w;
  w.forward = [=](MlaMatrix m, int64_t h, const float* x, int64_t n, float* y) {
    const auto [n_in, n_out] = mla_matrix_shape(c, m);
    const Rows r = rows(P, m, h);
    if (r.joint_keys) {  // y = x Wk_h, Wk_h nope x rank
      gemm(false, x, n_in, r.w, y, n_out, n, n_out, n_in, false);
    } else {
      linear_forward(x, r.w, y, n, n_in, n_out);
    }
  };
  w.backward = [=](MlaMatrix m, int64_t h, const float* x, const float* d_y, int64_t n, float* d_x) {
    const auto [n_in, n_out] = mla_matrix_shape(c, m);
    const Rows r = rows(P, m, h), g = rows(*GP, m, h);
    if (r.joint_keys) {  // d_x += d_y Wk_h^T; d_Wk_h += x^T d_y
      gemm(true, d_y, n_out, r.w, d_x, n_in, n, n_in, n_out, true);
      if (n > 0)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(n_in), static_cast<int>(n_out),
                    static_cast<int>(n), 1.0f, x, static_cast<int>(n_in), d_y, static_cast<int>(n_out), 1.0f, g.w,
                    static_cast<int>(n_out));
    } else {
      linear_backward(d_y, x, r.w, d_x, g.w, n, n_in, n_out);
    }
  };
  w.q_a_norm = P.q_a_norm;
  w.kv_a_norm = P.kv_a_norm;
  w.d_q_a_norm = GP ? GP->q_a_norm : nullptr;
  w.d_kv_a_norm = GP ? GP->kv_a_norm : nullptr;
  return w;
}

void mla_forward(const model::ModelConfig& c, const MlaProducts& w, const MlaShape& s, const float* xn, MlaActs& a,
                 float* out, ThreadPool* pool) {
  const auto [N, D, H, hd, nope, rdim, vhd, rank, q_rank] = dims(c, s.n_seq * s.t);
  const bool neox = c.rope_layout == model::RopeLayout::kNeox;
  const int64_t lw = rank + rdim;
  // Queries, and their rope parts rotated in place (gathered to rows of rdim).
  resize(a.q, N * H * hd);
  if (q_rank > 0) {
    resize(a.q_a, N * q_rank);
    resize(a.q_a_rstd, N);
    resize(a.q_a_normed, N * q_rank);
    w.forward(MlaMatrix::kQA, 0, xn, N, a.q_a.data());
    rmsnorm_forward(a.q_a.data(), w.q_a_norm, a.q_a_normed.data(), a.q_a_rstd.data(), N, q_rank, c.norm_eps);
    w.forward(MlaMatrix::kQB, 0, a.q_a_normed.data(), N, a.q.data());
  } else {
    w.forward(MlaMatrix::kQ, 0, xn, N, a.q.data());
  }
  std::vector<float> pe(sz(N * H * rdim));
  gather(a.q.data(), hd, nope, rdim, N * H, pe.data());
  rope_forward(pe.data(), s.pos, s.rope, N, H, rdim, neox);
  scatter(pe.data(), rdim, N * H, a.q.data(), hd, nope);

  // The key row of each position, [c | k_pe] normed and rotated (what
  // inference caches), and its value row [c | 0] (padded to the key width
  // for the shared attention kernel).
  std::vector<float> kva(sz(N * lw)), k_pe(sz(N * rdim)), c_normed(sz(N * rank));
  w.forward(MlaMatrix::kKvA, 0, xn, N, kva.data());
  resize(a.c_pre, N * rank);
  resize(a.c_rstd, N);
  gather(kva.data(), lw, 0, rank, N, a.c_pre.data());
  gather(kva.data(), lw, rank, rdim, N, k_pe.data());
  rmsnorm_forward(a.c_pre.data(), w.kv_a_norm, c_normed.data(), a.c_rstd.data(), N, rank, c.norm_eps);
  rope_forward(k_pe.data(), s.pos, s.rope, N, 1, rdim, neox);
  resize(a.k, N * lw);
  resize(a.v, N * lw);
  scatter(c_normed.data(), rank, N, a.k.data(), lw, 0);
  scatter(k_pe.data(), rdim, N, a.k.data(), lw, rank);
  scatter(c_normed.data(), rank, N, a.v.data(), lw, 0);

  // Each head's query in latent space: [Wk_h^T q_nope_h | q_pe_h].
  resize(a.q_full, N * H * lw);
  std::vector<float> qn(sz(N * nope)), ql(sz(N * rank));
  for (int64_t h = 0; h < H; ++h) {
    gather(a.q.data(), H * hd, h * hd, nope, N, qn.data());
    w.forward(MlaMatrix::kKB, h, qn.data(), N, ql.data());
    scatter(ql.data(), rank, N, a.q_full.data(), H * lw, h * lw);
    gather(a.q.data(), H * hd, h * hd + nope, rdim, N, pe.data());
    scatter(pe.data(), rdim, N, a.q_full.data(), H * lw, h * lw + rank);
  }
  const AttentionShape as{s.n_seq, s.t, H, 1, lw, model::attention_scale(c)};
  resize(a.lse, s.n_seq * H * s.t);
  resize(a.att, N * H * lw);
  attention_forward(as, a.q_full.data(), a.k.data(), a.v.data(), a.lse.data(), a.att.data(), pool);

  // Each head's latent output expanded to its value, then attn_output.
  resize(a.att_v, N * H * vhd);
  std::vector<float> vo(sz(N * vhd));
  for (int64_t h = 0; h < H; ++h) {
    gather(a.att.data(), H * lw, h * lw, rank, N, ql.data());
    w.forward(MlaMatrix::kVB, h, ql.data(), N, vo.data());
    scatter(vo.data(), vhd, N, a.att_v.data(), H * vhd, h * vhd);
  }
  w.forward(MlaMatrix::kO, 0, a.att_v.data(), N, out);
}

void mla_backward(const model::ModelConfig& c, const MlaProducts& w, const MlaShape& s, const float* xn,
                  const MlaActs& a, const float* d_out, float* d_xn, ThreadPool* pool) {
  const auto [N, D, H, hd, nope, rdim, vhd, rank, q_rank] = dims(c, s.n_seq * s.t);
  const bool neox = c.rope_layout == model::RopeLayout::kNeox;
  const int64_t lw = rank + rdim;
  std::vector<float> d_att_v(sz(N * H * vhd), 0.0f), d_att(sz(N * H * lw), 0.0f);
  w.backward(MlaMatrix::kO, 0, a.att_v.data(), d_out, N, d_att_v.data());
  std::vector<float> lat(sz(N * rank)), d_lat(sz(N * rank)), d_vo(sz(N * vhd));
  for (int64_t h = 0; h < H; ++h) {
    gather(a.att.data(), H * lw, h * lw, rank, N, lat.data());
    gather(d_att_v.data(), H * vhd, h * vhd, vhd, N, d_vo.data());
    std::fill(d_lat.begin(), d_lat.end(), 0.0f);
    w.backward(MlaMatrix::kVB, h, lat.data(), d_vo.data(), N, d_lat.data());
    scatter(d_lat.data(), rank, N, d_att.data(), H * lw, h * lw);
  }
  std::vector<float> d_qf(sz(N * H * lw), 0.0f), d_k(sz(N * lw), 0.0f), d_v(sz(N * lw), 0.0f);
  const AttentionShape as{s.n_seq, s.t, H, 1, lw, model::attention_scale(c)};
  attention_backward(as, d_att.data(), a.q_full.data(), a.k.data(), a.v.data(), a.att.data(), a.lse.data(), d_qf.data(),
                     d_k.data(), d_v.data(), pool);

  // The key and value rows back to the latent and the shared rope key part.
  std::vector<float> d_kva(sz(N * lw), 0.0f), d_c_normed(sz(N * rank)), d_c(sz(N * rank), 0.0f),
      d_kpe(sz(N * rdim));
  for (int64_t r = 0; r < N; ++r)
    for (int64_t i = 0; i < rank; ++i) d_c_normed[sz(r * rank + i)] = d_k[sz(r * lw + i)] + d_v[sz(r * lw + i)];
  gather(d_k.data(), lw, rank, rdim, N, d_kpe.data());
  rmsnorm_backward(d_c_normed.data(), a.c_pre.data(), w.kv_a_norm, a.c_rstd.data(), d_c.data(), w.d_kv_a_norm, N,
                   rank);
  rope_backward(d_kpe.data(), s.pos, s.rope, N, 1, rdim, neox);
  scatter(d_c.data(), rank, N, d_kva.data(), lw, 0);
  scatter(d_kpe.data(), rdim, N, d_kva.data(), lw, rank);
  w.backward(MlaMatrix::kKvA, 0, xn, d_kva.data(), N, d_xn);

  // Queries: each head's latent part back through Wk_h^T, its rope part
  // turned back, then the projections.
  std::vector<float> d_q(sz(N * H * hd), 0.0f), qn(sz(N * nope)), d_qn(sz(N * nope)), pe(sz(N * rdim));
  for (int64_t h = 0; h < H; ++h) {
    gather(a.q.data(), H * hd, h * hd, nope, N, qn.data());
    gather(d_qf.data(), H * lw, h * lw, rank, N, d_lat.data());
    std::fill(d_qn.begin(), d_qn.end(), 0.0f);
    w.backward(MlaMatrix::kKB, h, qn.data(), d_lat.data(), N, d_qn.data());
    scatter(d_qn.data(), nope, N, d_q.data(), H * hd, h * hd);
    gather(d_qf.data(), H * lw, h * lw + rank, rdim, N, pe.data());
    scatter(pe.data(), rdim, N, d_q.data(), H * hd, h * hd + nope);
  }
  std::vector<float> d_pe(sz(N * H * rdim));
  gather(d_q.data(), hd, nope, rdim, N * H, d_pe.data());
  rope_backward(d_pe.data(), s.pos, s.rope, N, H, rdim, neox);
  scatter(d_pe.data(), rdim, N * H, d_q.data(), hd, nope);
  if (q_rank > 0) {
    std::vector<float> d_qa_n(sz(N * q_rank), 0.0f), d_qa(sz(N * q_rank), 0.0f);
    w.backward(MlaMatrix::kQB, 0, a.q_a_normed.data(), d_q.data(), N, d_qa_n.data());
    rmsnorm_backward(d_qa_n.data(), a.q_a.data(), w.q_a_norm, a.q_a_rstd.data(), d_qa.data(), w.d_q_a_norm, N,
                     q_rank);
    w.backward(MlaMatrix::kQA, 0, xn, d_qa.data(), N, d_xn);
  } else {
    w.backward(MlaMatrix::kQ, 0, xn, d_q.data(), N, d_xn);
  }
}

}  // namespace frugal::train

// LoRA's products and the gradient through a frozen quantised matrix (see
// lora_grad.h). Products go through OpenBLAS, as the training layers do.
#include "finetune/lora_grad.h"

#include <cblas.h>

#include <algorithm>
#include <vector>

#include "quant/quant.h"

namespace frugal::finetune {

namespace {
// Rows of W dequantised at a time: a few hundred KB of f32 for real widths.
constexpr int64_t kRowBlock = 64;

// fn(o, rows, block) for each block of up to kRowBlock rows of W from row
// o, dequantised to f32 (rows x n_in).
template <class Fn>
void for_each_row_block(const kernels::WeightMatrix& w, Fn&& fn) {
  const int64_t n_in = w.n_in, n_out = w.n_out;
  const size_t row = row_bytes(w.type, static_cast<uint64_t>(n_in));
  std::vector<float> block(static_cast<size_t>(kRowBlock * n_in));
  for (int64_t o = 0; o < n_out; o += kRowBlock) {
    const int64_t rows = std::min(kRowBlock, n_out - o);
    quant::dequantize_rows(w.type, static_cast<const uint8_t*>(w.data) + static_cast<size_t>(o) * row, block.data(),
                           rows, n_in);
    fn(o, rows, block.data());
  }
}
}  // namespace

void frozen_linear_backward(const kernels::WeightMatrix& w, const float* d_y, int64_t n, float* d_x) {
  const int n_in = static_cast<int>(w.n_in), n_out = static_cast<int>(w.n_out);
  for_each_row_block(w, [&](int64_t o, int64_t rows, const float* block) {
    // d_x (n x n_in) += d_y[:, o:o+rows] (n x rows) . block (rows x n_in)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(n), n_in, static_cast<int>(rows), 1.0f,
                d_y + o, n_out, block, n_in, 1.0f, d_x, n_in);
  });
}

void frozen_linear_f32(const kernels::WeightMatrix& w, const float* x, int64_t n, float* y) {
  const int n_in = static_cast<int>(w.n_in), n_out = static_cast<int>(w.n_out);
  for_each_row_block(w, [&](int64_t o, int64_t rows, const float* block) {
    // y[:, o:o+rows] (n x rows) += x (n x n_in) . block^T
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(n), static_cast<int>(rows), n_in, 1.0f, x,
                n_in, block, n_in, 1.0f, y + o, n_out);
  });
}

void lora_forward(const LoraWeights& l, const float* x, int64_t n, float* ax, float* y) {
  const int N = static_cast<int>(n), in = static_cast<int>(l.n_in), out = static_cast<int>(l.n_out),
            r = static_cast<int>(l.rank);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, r, in, 1.0f, x, in, l.a, in, 0.0f, ax, r);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out, r, l.scale, ax, r, l.b, r, 1.0f, y, out);
}

void lora_backward(const LoraWeights& l, const float* x, const float* ax, const float* d_y, int64_t n, float* d_a,
                   float* d_b, float* d_x) {
  const int N = static_cast<int>(n), in = static_cast<int>(l.n_in), out = static_cast<int>(l.n_out),
            r = static_cast<int>(l.rank);
  // d_ax = scale * d_y B (n x rank)
  std::vector<float> d_ax(static_cast<size_t>(n * l.rank));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, r, out, l.scale, d_y, out, l.b, r, 0.0f, d_ax.data(), r);
  // d_b += scale * d_y^T ax (n_out x rank)
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, r, N, l.scale, d_y, out, ax, r, 1.0f, d_b, r);
  // d_a += d_ax^T x (rank x n_in)
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, in, N, 1.0f, d_ax.data(), r, x, in, 1.0f, d_a, in);
  // d_x += d_ax A (n x n_in)
  if (d_x)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, r, 1.0f, d_ax.data(), r, l.a, in, 1.0f, d_x, in);
}

void lora_forward_transposed(const LoraWeights& l, const float* x, int64_t n, float* xb, float* y) {
  const int N = static_cast<int>(n), in = static_cast<int>(l.n_in), out = static_cast<int>(l.n_out),
            r = static_cast<int>(l.rank);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, r, out, 1.0f, x, out, l.b, r, 0.0f, xb, r);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, in, r, l.scale, xb, r, l.a, in, 1.0f, y, in);
}

void lora_backward_transposed(const LoraWeights& l, const float* x, const float* xb, const float* d_y, int64_t n,
                              float* d_a, float* d_b, float* d_x) {
  const int N = static_cast<int>(n), in = static_cast<int>(l.n_in), out = static_cast<int>(l.n_out),
            r = static_cast<int>(l.rank);
  // u = scale * d_y A^T (n x rank)
  std::vector<float> u(static_cast<size_t>(n * l.rank));
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, r, in, l.scale, d_y, in, l.a, in, 0.0f, u.data(), r);
  // d_a += scale * xb^T d_y (rank x n_in)
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r, in, N, l.scale, xb, r, d_y, in, 1.0f, d_a, in);
  // d_b += x^T u (n_out x rank)
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, r, N, 1.0f, x, out, u.data(), r, 1.0f, d_b, r);
  // d_x += u B^T (n x n_out)
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, out, r, 1.0f, u.data(), r, l.b, r, 1.0f, d_x, out);
}

}  // namespace frugal::finetune

// The two products LoRA fine-tuning needs around each adapted matrix of a
// frozen base, on row-major f32 rows:
//  - the gradient through the frozen matrix, d_x += d_y W, with W left in
//    its file's (quantised) type and dequantised a block of rows at a time,
//    never whole;
//  - the adapter's forward y += scale * B (A x) and its backward, which
//    gives the gradients of A and B and adds the adapter's part of d_x.
// Backward functions ADD into the gradients they are given.
#pragma once
#include <cstdint>

#include "kernels/matmul.h"

namespace frugal::finetune {

// d_x (n x W.n_in) += d_y (n x W.n_out) . W. W must be unrepacked (a type
// quant::dequantize_row reads).
void frozen_linear_backward(const kernels::WeightMatrix& w, const float* d_y, int64_t n, float* d_x);

// y (n x W.n_out) += x (n x W.n_in) . W^T in f32, W dequantised a block of
// rows at a time: the product without the activation rounding of the
// inference kernels (the gradient through a matrix used transposed).
void frozen_linear_f32(const kernels::WeightMatrix& w, const float* x, int64_t n, float* y);

// One adapter's f32 factors: a is rank rows of n_in, b n_out rows of rank.
struct LoraWeights {
  const float* a = nullptr;
  const float* b = nullptr;
  int64_t n_in = 0, n_out = 0, rank = 0;
  float scale = 1.0f;
};

// y (n x n_out) += scale * (x A^T) B^T; ax (n x rank) keeps x A^T for backward.
void lora_forward(const LoraWeights& l, const float* x, int64_t n, float* ax, float* y);
// d_a (rank x n_in) += scale * (d_y B)^T x; d_b (n_out x rank) += scale * d_y^T ax;
// d_x (n x n_in, may be null) += scale * (d_y B) A.
void lora_backward(const LoraWeights& l, const float* x, const float* ax, const float* d_y, int64_t n, float* d_a,
                   float* d_b, float* d_x);

// The adapted matrix used transposed, y = x (W + scale B A) over rows x of
// n_out (deepseek2's kv_b key rows, folded into the queries): y (n x n_in)
// += scale * (x B) A; xb (n x rank) keeps x B for backward.
void lora_forward_transposed(const LoraWeights& l, const float* x, int64_t n, float* xb, float* y);
// d_a += scale * xb^T d_y; d_b += scale * x^T (d_y A^T); d_x (n x n_out) +=
// scale * (d_y A^T) B^T.
void lora_backward_transposed(const LoraWeights& l, const float* x, const float* xb, const float* d_y, int64_t n,
                              float* d_a, float* d_b, float* d_x);

}  // namespace frugal::finetune

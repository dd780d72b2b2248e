// Matrix products between quantised weights and f32 activations: the
// operation that decides MoE speed. One entry point for every weight type;
// the implementation picks the fastest kernel the CPU supports at run time.
#pragma once
#include <cstdint>

#include "base/thread_pool.h"
#include "gguf/tensor_type.h"

namespace frugal::kernels {

// A weight matrix as stored in GGUF: n_out rows of n_in elements of `type`,
// row r starting at data + r * row_bytes(type, n_in).
struct WeightMatrix {
  TensorType type = TensorType::F32;
  const void* data = nullptr;
  int64_t n_out = 0;
  int64_t n_in = 0;
};

// Y[r, o] = sum_i W[o, i] * X[r, i] for r < n_rows, o < W.n_out.
// X: n_rows rows of W.n_in floats, row stride ldx; Y: row stride ldy.
// pool may be null (runs on the calling thread).
void matmul(const WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows, float* Y, int64_t ldy,
            ThreadPool* pool);

// The plain scalar definition: each weight row dequantised to f32, then a
// float dot product accumulated in double. Tests compare every fast path to it.
void matmul_reference(const WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows, float* Y, int64_t ldy);

}  // namespace frugal::kernels

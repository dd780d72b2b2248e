// A general matrix product in bf16 for training's mixed precision
// (train/linear.h): C (m x n) = A (m x k) . B^T, B holding n rows of k,
// both factors rounded to bf16 (round to nearest even) and multiplied with
// f32 sums. A and B are read through strides, so either may be a transpose
// in memory: element (i, t) of A is a[i * a.row + t * a.col]. Both are packed
// once a call into bf16 pairs (B in panels of 32 columns), then a tile
// kernel of 8 rows x 32 columns runs vdpbf16ps where the CPU has
// AVX512_BF16, and a scalar twin of the same packed loop elsewhere.
#pragma once
#include <cstdint>

#include "base/thread_pool.h"

namespace frugal::kernels {

struct StridedMatrix {
  const float* data = nullptr;
  int64_t row = 0;  // elements from (i, t) to (i + 1, t)
  int64_t col = 1;  // elements from (i, t) to (i, t + 1)
};

// C[i * ldc + j] = (accumulate ? C[i * ldc + j] : 0) + sum_t A(i, t) B(j, t).
// pool may be null; from inside a pool task it runs inline (ThreadPool).
void gemm_bf16(const StridedMatrix& a, const StridedMatrix& b, float* c, int64_t ldc, int64_t m, int64_t n, int64_t k,
               bool accumulate, ThreadPool* pool);

// The same with the scalar twin of the tile kernel whatever the CPU, for tests.
void gemm_bf16_scalar(const StridedMatrix& a, const StridedMatrix& b, float* c, int64_t ldc, int64_t m, int64_t n,
                      int64_t k, bool accumulate);

}  // namespace frugal::kernels

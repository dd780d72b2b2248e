// Matrix products between quantised weights and f32 activations: the
// operation that decides MoE speed. One entry point for every weight type;
// the implementation picks the fastest kernel the CPU supports at run time.
#pragma once
#include <cstdint>

#include "base/thread_pool.h"
#include "gguf/tensor_type.h"
#include "kernels/cpu_features.h"

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

// The same product with the kernels of a given SIMD level (at most
// detected_simd_level()), for tests and benchmarks that compare levels.
// matmul() is matmul_at_level(active_simd_level(), ...). Weight types that
// have no kernel at that level go through the portable path (each weight row
// dequantised to f32, then float dot products).
void matmul_at_level(SimdLevel level, const WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows, float* Y,
                     int64_t ldy, ThreadPool* pool);

// How far matmul() may be from matmul_reference() in output o for the
// activation row x (n_in floats): the weight types with integer kernels
// round each activation to int8 with the step max|x| / 127 of its block (32
// values for Q8_0/Q4_0/IQ4_NL, 256 for the k-quants and IQ4_XS), moving the
// output by at most sum_b step_b / 2 * sum_{i in b} |w_oi|; bf16 weights
// round activations to bf16 (2^-8 |x_i| each); and f32 sums add at most
// (n_in + 8) * 2^-24 * sum_i |w_oi x_i|. For tests of layers built on matmul.
double matmul_tolerance(const WeightMatrix& W, int64_t o, const float* x);

// The plain scalar definition: each weight row dequantised to f32, then a
// float dot product accumulated in double. Tests compare every fast path to it.
void matmul_reference(const WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows, float* Y, int64_t ldy);

}  // namespace frugal::kernels

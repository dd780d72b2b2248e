// Matrix products between quantised weights and f32 activations: the
// operation that decides MoE speed. One entry point for every weight type;
// the implementation picks the fastest kernel the CPU supports at run time.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

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

struct TypeKernel;

// Activation rows encoded once for the kernels of one weight type (int8
// blocks, bf16, or the f32 rows themselves), to be multiplied with several
// matrices of that type or with many row slices of one matrix: the MoE
// layer's gate and up slices all share one encoding of their rows.
// matmul() encodes into a per-thread EncodedRows itself.
class EncodedRows {
 public:
  // X: n_rows rows of n_in floats, row stride ldx. For f32 and f16 weights,
  // and types without a kernel at the level, X is used in place and must
  // outlive this object (and stay unchanged while it is in use).
  void encode(TensorType weight_type, const float* X, int64_t ldx, int64_t n_rows, int64_t n_in,
              ThreadPool* pool = nullptr, SimdLevel level = active_simd_level());

  int64_t n_rows() const { return n_rows_; }
  int64_t n_in() const { return n_in_; }
  // The f32 rows given to encode() and their stride.
  const float* f32_rows() const { return x_; }
  int64_t f32_stride() const { return ldx_; }

 private:
  friend void matmul_encoded(const WeightMatrix& W, const EncodedRows& X, float* Y, int64_t ldy, ThreadPool* pool);
  TensorType type_ = TensorType::F32;
  const TypeKernel* kernel_ = nullptr;  // null: the portable path over the f32 rows
  const float* x_ = nullptr;            // the f32 rows
  int64_t ldx_ = 0, n_rows_ = 0, n_in_ = 0;
  const uint8_t* rows_ = nullptr;  // the encoded rows (x_ itself for f32 ones)
  size_t stride_ = 0;              // bytes from one encoded row to the next
  std::vector<uint8_t> storage_;
};

// Y[r, o] = W[o] . X[r] for the encoded rows X (encoded for W.type and
// W.n_in; anything else is a frugal::Error).
void matmul_encoded(const WeightMatrix& W, const EncodedRows& X, float* Y, int64_t ldy, ThreadPool* pool);

// Y[r, o] = sum_i W[o, i] * X[r, i] for r < n_rows, o < W.n_out.
// X: n_rows rows of W.n_in floats, row stride ldx; Y: row stride ldy.
// pool may be null (runs on the calling thread).
void matmul(const WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows, float* Y, int64_t ldy,
            ThreadPool* pool);

// Several products over the same input rows (attention's q, k and v): the
// rows encoded once per weight type, and the output rows of every matrix
// split over the pool in one parallel region, instead of an encoding and a
// dispatch (with its idle tail) per matrix. Each Y gets what matmul() gives.
struct MatmulOut {
  WeightMatrix W;
  float* Y = nullptr;
  int64_t ldy = 0;
};
void matmul_group(std::span<const MatmulOut> outs, const float* X, int64_t ldx, int64_t n_rows, ThreadPool* pool);

// The same product with the kernels of a given SIMD level (at most
// detected_simd_level()), for tests and benchmarks that compare levels.
// matmul() is matmul_at_level(active_simd_level(), ...). Weight types that
// have no kernel at that level go through the portable path (each weight row
// dequantised to f32, then float dot products).
void matmul_at_level(SimdLevel level, const WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows, float* Y,
                     int64_t ldy, ThreadPool* pool);

// How far matmul() may be from matmul_reference() in the output of weight
// row w (dequantised to n floats, of weights of type t) and activation row x
// (n floats): the weight types with integer kernels
// round each activation to int8 with the step max|x| / 127 of its block (32
// values for Q8_0/Q4_0/IQ4_NL, 256 for the k-quants and IQ4_XS), moving the
// output by at most sum_b step_b / 2 * sum_{i in b} |w_i|; bf16 weights
// round activations to bf16 (2^-8 |x_i| each); and f32 sums add at most
// (n + 8) * 2^-24 * sum_i |w_i x_i|. For tests of layers built on matmul.
double matmul_tolerance(TensorType t, const float* w, const float* x, int64_t n);

// The plain scalar definition: each weight row dequantised to f32, then a
// float dot product accumulated in double. Tests compare every fast path to it.
void matmul_reference(const WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows, float* Y, int64_t ldy);

}  // namespace frugal::kernels

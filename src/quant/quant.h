// Scalar reference quantisation and dequantisation of every supported tensor
// type. These are the definitions the SIMD kernels are tested against:
// dequantisation is bit-exact to the format; quantisation from f32 is at
// reference quality (k-quants with their scale search).
#pragma once
#include <cstddef>
#include <cstdint>

#include "gguf/tensor_type.h"

namespace frugal::quant {

// True for the types this module can dequantise (and quantise): F32, F16, BF16,
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, Q8_K, IQ4_NL, IQ4_XS,
// MXFP4.
bool can_dequantize(TensorType t);
bool can_quantize(TensorType t);

// n elements from `src` (row_bytes(t, n) bytes) to f32. n must be a multiple
// of the block size (frugal::Error otherwise).
void dequantize_row(TensorType t, const void* src, float* dst, int64_t n);

// n f32 values to `dst` (row_bytes(t, n) bytes). `importance` (may be null)
// weights the error of each element in the scale search of the k-quants and
// IQ4 types (the 32-value legacy types round to nearest and ignore it).
// frugal::Error for a row length that is not a multiple of the block, and for
// NaN, infinity or a value beyond what the type's fp16 scales can reach.
void quantize_row(TensorType t, const float* src, void* dst, int64_t n, const float* importance = nullptr);

// Options of the scale search. search = false sets every scale naively (the
// largest value to the end of the integer range) and rounds to nearest: the
// baseline the tests and the error table measure the search against.
struct QuantizeOptions {
  const float* importance = nullptr;  // n weights, or null
  bool search = true;
};
void quantize_row(TensorType t, const float* src, void* dst, int64_t n, const QuantizeOptions& options);

// Whole tensors of rows x n: rows are quantised independently (in parallel).
void quantize_rows(TensorType t, const float* src, void* dst, int64_t rows, int64_t n);
void dequantize_rows(TensorType t, const void* src, float* dst, int64_t rows, int64_t n);

}  // namespace frugal::quant

// The CUDA kernels as host functions (plain C++: no CUDA header needed). All
// pointers named d_* are device memory (runtime.h's DeviceBuffer); the calls
// are asynchronous on the default stream and check their launch. Bad
// arguments (a type outside block_types.h, a row length that is not a whole
// number of blocks, no activation rows, too little scratch, a weight or
// activation pointer that is not 16-byte aligned) throw frugal::Error.
#pragma once
#include <cstddef>
#include <cstdint>

#include "gguf/tensor_type.h"

namespace frugal::cuda {

bool kernel_supports(TensorType t);
// Whether matvec takes Accumulation::Int8 for t (the quantised types).
bool supports_int8(TensorType t);

// rows x n values of type t (rows of row_bytes(t, n) bytes, back to back)
// to rows x n f32, bit for bit what quant::dequantize_rows gives.
void dequantize(TensorType t, const void* d_src, float* d_dst, int64_t rows, int64_t n);

enum class Accumulation {
  F32,   // f32 activations times the decoded codes
  Int8,  // activations quantised to int8 blocks of 32 first, integer dot products (dp4a)
};

// y[b][r] = sum_i W[r][i] x[b][i] for b < batch, r < rows: W rows x n of type
// `type`, x batch x n f32 (row stride n), y batch x rows f32 (row stride rows).
// One warp per output row; each launch takes up to 8 activation rows
// (matvec_row.h's kMaxBatch) and reads every weight once for all of them.
struct MatvecArgs {
  TensorType type = TensorType::F32;
  const void* d_weights = nullptr;
  int64_t rows = 0, n = 0;
  const float* d_x = nullptr;
  int batch = 1;
  float* d_y = nullptr;
  Accumulation accumulation = Accumulation::F32;
  // Int8 only: device memory of scratch_bytes >= matvec_scratch_bytes(batch,
  // n) for the quantised activations.
  void* d_scratch = nullptr;
  size_t scratch_bytes = 0;
};
size_t matvec_scratch_bytes(int batch, int64_t n);
void matvec(const MatvecArgs& args);

// batch x n f32 activations to int8 blocks of 32 (batch x n/32 blocks of 36
// bytes), bit for bit kernels::quantize_act_q8_32; n a multiple of 32.
void quantize_activations(const float* d_x, void* d_blocks, int batch, int64_t n);

}  // namespace frugal::cuda

// The per-type dot-product kernels behind matmul(), one table per SIMD level.
// Internal to the kernels layer (and its tests and benchmarks).
//
// A kernel multiplies ONE weight row with up to kMaxActRows activation rows,
// so each weight block is loaded and unpacked once for all of them: decode
// (1-4 rows) streams the weights exactly once, and prefill calls it for each
// group of 4 rows while the weight rows of a tile stay in cache.
#pragma once
#include <cstddef>
#include <cstdint>

#include "gguf/tensor_type.h"
#include "kernels/cpu_features.h"

namespace frugal::kernels {

inline constexpr int kMaxActRows = 4;
// The row-interleaved kernels take up to 8: their weight codes, unpacked
// once per call, then serve twice as many rows of a prompt.
inline constexpr int kMaxActRows16 = 8;

// How activation rows are encoded for a weight type (quantize_activations.h).
enum class ActFormat {
  kF32,    // the rows of X as they are
  kQ8_32,  // ActBlock32 per 32 values
  kQ8_K,   // quant::BlockQ8_K per 256 values
  kBF16,   // uint16_t bf16 per value
};

// Bytes of one encoded activation row of n values (n a multiple of the block).
size_t act_row_bytes(ActFormat f, int64_t n);
// Encodes one row of n floats (scalar code; for kF32 nothing to do).
void encode_act_row(ActFormat f, const float* x, void* dst, int64_t n);
using EncodeFn = void (*)(ActFormat f, const float* x, void* dst, int64_t n);
// The encoder of a level: the same bytes as encode_act_row, faster.
EncodeFn act_encoder(SimdLevel level);

// y[r * y_stride] = dot(weight row w, activation row r) for r < n_act
// (1 <= n_act <= kMaxActRows). w holds n_in / block_size blocks of the
// weight type; activation row r starts at act + r * act_stride bytes.
using RowDotFn = void (*)(const void* w, const void* act, size_t act_stride, int n_act, int64_t n_in, float* y,
                          int64_t y_stride);

// Prefill: n_out consecutive weight rows (a multiple of kGemmTile, row
// stride w_stride bytes) times all n_rows activation rows, y[r * ldy + k] for
// k < n_out. Each kGemmTile weight rows are unpacked once into a
// cache-resident tile, interleaved so that one int8 dot-product instruction
// serves all 8 outputs; what the activations need (e.g. a sign flip) is done
// once per call for all the tiles.
inline constexpr int kGemmTile = 8;
using GemmTileFn = void (*)(const void* w, size_t w_stride, int64_t n_out, const void* act, size_t act_stride,
                            int64_t n_rows, int64_t n_in, float* y, int64_t ldy);

// y[r * ldy + k] = dot(weight row k, activation row r) for k < 4 and
// r < n_act (1 <= n_act <= kMaxActRows); weight row k starts at
// w + k * w_stride bytes, activation row r at act + r * act_stride. Decode:
// one row per sequence, or the few rows that chose one expert in a step.
using Rows4Fn = void (*)(const void* w, size_t w_stride, const void* act, size_t act_stride, int n_act, int64_t n_in,
                         float* y, int64_t ldy);

// y[r * ldy + k] = dot(row k of n_groups consecutive 16-row groups,
// activation row r) for k < 16 n_groups and r < n_act (1 <= n_act <=
// kMaxActRows16, n_groups 1 or 2): the kernels of the row-interleaved types
// (quant/repack.h), w pointing at the first group's first super-block.
using Rows16Fn = void (*)(const void* w, const void* act, size_t act_stride, int n_act, int n_groups, int64_t n_in,
                          float* y, int64_t ldy);

struct TypeKernel {
  ActFormat act = ActFormat::kF32;
  RowDotFn dot = nullptr;
  GemmTileFn gemm_tile = nullptr;  // optional
  // Rows from which gemm_tile beats the row kernel (unpacking a tile costs
  // more for the k-quants, so they need more rows to pay it back).
  int64_t gemm_min_rows = 0;
  // Optional: 4 consecutive weight rows times one activation row, the same
  // bits as 4 calls of dot (decode; see rows4 in matmul_rows4_x86-inl.h).
  Rows4Fn dot4 = nullptr;
  // The row-interleaved types have this kernel only (no dot, gemm_tile).
  Rows16Fn dot16 = nullptr;
};

// The kernel for a weight type at a level, or nullptr where that level has
// none for the type (matmul then uses the portable dequantising path).
const TypeKernel* find_kernel(TensorType t, SimdLevel level);

// Each level's table (nullptr for types it lacks).
const TypeKernel* scalar_kernel(TensorType t);
const TypeKernel* avx2_kernel(TensorType t);
const TypeKernel* avx512_kernel(TensorType t);
const TypeKernel* avx512_repacked_kernel(TensorType t);  // the row-interleaved types
EncodeFn avx2_encoder();
// MXFP4 at each level (matmul_mxfp4_x86.cc), which the level tables return.
const TypeKernel* mxfp4_kernel(SimdLevel level);
// The lattice types' scalar kernels (matmul_iq_scalar.cc), which the scalar table returns.
const TypeKernel* iq_scalar_kernel(TensorType t);
// The lattice types (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M) at the avx512
// and avx2 levels (matmul_iq_avx512.cc, matmul_iq_avx2.cc), which their tables return.
const TypeKernel* iq_avx512_kernel(TensorType t);
const TypeKernel* iq_avx2_kernel(TensorType t);
EncodeFn avx512_encoder();

}  // namespace frugal::kernels

// Activation rows re-encoded for the integer and bf16 dot products. A weight
// type decides the encoding (matmul_kernels.h: ActFormat); each row of X is
// encoded once per matmul and then multiplied with every weight row.
//   ActBlock32       32 values as int8 with one f32 scale (for Q8_0, Q4_0,
//                    IQ4_NL): the weight's block shares the activation's
//   quant::BlockQ8_K 256 values as int8, one f32 scale, and the sums of each
//                    16 (for the k-quants and IQ4_XS, whose sub-block minima
//                    and offsets multiply those sums)
//   bf16             for bf16 weights (vdpbf16ps multiplies bf16 pairs)
// Rounding to int8 moves each value by at most half its block's step
// (max|x| / 127 / 2), which bounds the error the tests allow.
#pragma once
#include <cstdint>

#include "quant/blocks.h"

namespace frugal::kernels {

struct ActBlock32 {
  float d;         // scale: value = d * qs[i]
  int8_t qs[32];
};
static_assert(sizeof(ActBlock32) == 36);

// n must be a multiple of 32 (resp. 256); scalar code, exact round to nearest.
void quantize_act_q8_32(const float* x, ActBlock32* y, int64_t n);
void quantize_act_q8_k(const float* x, quant::BlockQ8_K* y, int64_t n);
void convert_act_bf16(const float* x, uint16_t* y, int64_t n);

}  // namespace frugal::kernels

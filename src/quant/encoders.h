// The block encoders behind quantize_row, one family per file. Each encodes
// nb whole blocks of x into dst; `importance` (if any) covers the same values.
#pragma once
#include <cstdint>

#include "quant/blocks.h"
#include "quant/quant.h"

namespace frugal::quant {

// The nibble packing of every 32-value group (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL,
// each IQ4_XS sub-block): value j in the low nibble of byte j, value j + 16
// in its high nibble.
inline void pack_nibble_halves(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>((L[j] & 0xF) | ((L[j + 16] & 0xF) << 4));
}

// quantize_legacy.cc: 32-value blocks with one scale (and min).
void encode_q4_0(const float* x, BlockQ4_0* y, int64_t nb);
void encode_q4_1(const float* x, BlockQ4_1* y, int64_t nb);
void encode_q5_0(const float* x, BlockQ5_0* y, int64_t nb);
void encode_q5_1(const float* x, BlockQ5_1* y, int64_t nb);
void encode_q8_0(const float* x, BlockQ8_0* y, int64_t nb);

// quantize_kquants.cc: 256-value super-blocks of 16 or 32 value sub-blocks.
void encode_q2_k(const float* x, BlockQ2_K* y, int64_t nb, const QuantizeOptions& o);
void encode_q3_k(const float* x, BlockQ3_K* y, int64_t nb, const QuantizeOptions& o);
void encode_q4_k(const float* x, BlockQ4_K* y, int64_t nb, const QuantizeOptions& o);
void encode_q5_k(const float* x, BlockQ5_K* y, int64_t nb, const QuantizeOptions& o);
void encode_q6_k(const float* x, BlockQ6_K* y, int64_t nb, const QuantizeOptions& o);
void encode_q8_k(const float* x, BlockQ8_K* y, int64_t nb);

// quantize_iq4.cc: the non-linear 16-value grid.
void encode_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t nb, const QuantizeOptions& o);
void encode_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t nb, const QuantizeOptions& o);

// quantize_mxfp4.cc: E2M1 values under a power-of-two scale.
void encode_mxfp4(const float* x, BlockMXFP4* y, int64_t nb, const QuantizeOptions& o);

}  // namespace frugal::quant

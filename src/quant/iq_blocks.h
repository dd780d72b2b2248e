// Block layouts of the GGUF lattice types (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS,
// IQ3_S), byte
// for byte as the format stores them, and their scalar decoders and
// encoders (dequantize_iq.cc, quantize_iq.cc). Values come in groups of 8,
// each a grid point (iq_grids.h) of magnitudes with 8 signs of which 7 are
// stored (an even count of negatives; IQ2_S and IQ3_S store all 8); 32 (or
// 16) values share a 4-bit scale on top of the super-block's fp16 d.
#pragma once
#include <cstdint>

#include "quant/blocks.h"
#include "quant/quant.h"

namespace frugal::quant {

// 2.0625 bits per weight. Per 32 values, two little-endian u32: the first
// holds four 8-bit grid indices, the second four 7-bit sign indices (bits
// 7l..7l+6) and the scale ls in bits 28-31: value = d * (0.5 + ls) / 4 *
// grid byte * sign.
struct BlockIQ2_XXS { uint16_t d; uint16_t qs[QK_K / 8]; };
// 2.3125 bits per weight. Per 8 values a u16: grid index (9 bits) | sign
// index << 9; per 32 values a byte of two 4-bit scales, one per 16 values.
struct BlockIQ2_XS { uint16_t d; uint16_t qs[QK_K / 8]; uint8_t scales[QK_K / 32]; };
// 3.0625 bits per weight. qs: 64 grid indices (two 4-value points per 8
// values), then per 32 values a little-endian u32 of four 7-bit sign
// indices and the scale in bits 28-31: value = d * (0.5 + ls) / 2 * grid byte * sign.
struct BlockIQ3_XXS { uint16_t d; uint8_t qs[3 * QK_K / 8]; };

// 2.5625 bits per weight. Per 8 values a 10-bit grid index (low 8 bits in
// qs[0..31], the high 2 in qh, 2 bits per group) and an explicit sign byte
// (qs[32..63]); per 16 values a 4-bit scale as IQ2_XS.
struct BlockIQ2_S { uint16_t d; uint8_t qs[QK_K / 4]; uint8_t qh[QK_K / 32]; uint8_t scales[QK_K / 32]; };
// 3.4375 bits per weight. Per 4 values a 9-bit index into the 512-point grid
// (low 8 bits in qs, the 9th in qh, one byte per 32 values); an explicit
// sign byte per 8; per 32 values a 4-bit scale: value = d * (1 + 2 ls) *
// grid byte * sign.
struct BlockIQ3_S {
  uint16_t d;
  uint8_t qs[QK_K / 4];
  uint8_t qh[QK_K / 32];
  uint8_t signs[QK_K / 8];
  uint8_t scales[QK_K / 64];
};

// 1.5625 bits per weight. Per 8 values an 11-bit index into the 2048-point
// grid of values -1, 0, 1 (low 8 bits in qs, high 3 in qh); per 32 values
// a u16 qh: four 3-bit high parts, a 3-bit scale ls (bits 12-14) and the
// sign of the shift (bit 15): value = d * (2 ls + 1) * (grid + delta),
// delta = +-kIQ1Delta.
inline constexpr float kIQ1Delta = 0.125f;
struct BlockIQ1_S { uint16_t d; uint8_t qs[QK_K / 8]; uint16_t qh[QK_K / 32]; };

// 1.75 bits per weight, no separate d: per 8 values an 11-bit index (low 8
// bits in qs, high 3 in a nibble of qh whose 4th bit is the sign of that
// group's shift); per 16 values a 3-bit scale, packed four to a u16 of
// `scales` (bits 3k..3k+2), whose top nibbles together hold the fp16 d.
struct BlockIQ1_M { uint8_t qs[QK_K / 8]; uint8_t qh[QK_K / 16]; uint8_t scales[QK_K / 32]; };

static_assert(sizeof(BlockIQ1_S) == 50 && sizeof(BlockIQ1_M) == 56);
static_assert(sizeof(BlockIQ2_XXS) == 66 && sizeof(BlockIQ2_XS) == 74 && sizeof(BlockIQ3_XXS) == 98);
static_assert(sizeof(BlockIQ2_S) == 82 && sizeof(BlockIQ3_S) == 110);

void deq_iq2_xxs(const BlockIQ2_XXS* b, float* y, int64_t nb);
void deq_iq2_xs(const BlockIQ2_XS* b, float* y, int64_t nb);
void deq_iq3_xxs(const BlockIQ3_XXS* b, float* y, int64_t nb);
void deq_iq2_s(const BlockIQ2_S* b, float* y, int64_t nb);
void deq_iq3_s(const BlockIQ3_S* b, float* y, int64_t nb);
void deq_iq1_s(const BlockIQ1_S* b, float* y, int64_t nb);
void deq_iq1_m(const BlockIQ1_M* b, float* y, int64_t nb);
// IQ1_M's d and the 3-bit scale of each of its 16 units.
float iq1_m_d(const BlockIQ1_M& b);
int iq1_m_scale(const BlockIQ1_M& b, int unit);

void encode_iq2_xxs(const float* x, BlockIQ2_XXS* y, int64_t nb, const QuantizeOptions& o);
void encode_iq2_xs(const float* x, BlockIQ2_XS* y, int64_t nb, const QuantizeOptions& o);
void encode_iq3_xxs(const float* x, BlockIQ3_XXS* y, int64_t nb, const QuantizeOptions& o);
void encode_iq2_s(const float* x, BlockIQ2_S* y, int64_t nb, const QuantizeOptions& o);
void encode_iq3_s(const float* x, BlockIQ3_S* y, int64_t nb, const QuantizeOptions& o);
void encode_iq1_s(const float* x, BlockIQ1_S* y, int64_t nb, const QuantizeOptions& o);  // quantize_iq1.cc
void encode_iq1_m(const float* x, BlockIQ1_M* y, int64_t nb, const QuantizeOptions& o);  // quantize_iq1.cc

}  // namespace frugal::quant

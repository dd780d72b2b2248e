// Encoders of the 32-value block types with one scale (and min): the scale
// comes straight from the block's extremes and values round to nearest, as
// the formats were defined.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "quant/encoders.h"
#include "quant/scale_search.h"

namespace frugal::quant {
namespace {

// Fifth bits of Q5_0 / Q5_1: bit j of the 32-bit qh is the top bit of value j.
void pack_fifth_bits(const uint8_t* L, uint8_t* qh) {
  uint32_t bits = 0;
  for (int j = 0; j < 32; ++j) bits |= static_cast<uint32_t>(L[j] >> 4) << j;
  std::memcpy(qh, &bits, 4);
}

// Symmetric block: the largest-magnitude value maps to -half (the end of the
// range [-half, half - 1] that exists). Returns the stored fp16 scale.
uint16_t round_symmetric(const float* x, int half, uint8_t* L) {
  const float m = signed_absmax(x, 32);
  const float d = m / -half;
  const float inv = d != 0 ? 1 / d : 0.0f;
  for (int j = 0; j < 32; ++j) L[j] = static_cast<uint8_t>(round_clamp(x[j] * inv, -half, half - 1) + half);
  return f32_to_fp16(d);
}

// Affine block: [min, max] spread over [0, nmax].
void round_affine(const float* x, int nmax, uint8_t* L, uint16_t& d_bits, uint16_t& m_bits) {
  const float lo = *std::min_element(x, x + 32), hi = *std::max_element(x, x + 32);
  const float d = (hi - lo) / nmax;
  const float inv = d != 0 ? 1 / d : 0.0f;
  for (int j = 0; j < 32; ++j) L[j] = static_cast<uint8_t>(round_clamp((x[j] - lo) * inv, 0, nmax));
  d_bits = f32_to_fp16(d);
  m_bits = f32_to_fp16(lo);
}

}  // namespace

void encode_q4_0(const float* x, BlockQ4_0* y, int64_t nb) {
  uint8_t L[32];
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    y[i].d = round_symmetric(x, 8, L);
    pack_nibble_halves(L, y[i].qs);
  }
}

void encode_q4_1(const float* x, BlockQ4_1* y, int64_t nb) {
  uint8_t L[32];
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    round_affine(x, 15, L, y[i].d, y[i].m);
    pack_nibble_halves(L, y[i].qs);
  }
}

void encode_q5_0(const float* x, BlockQ5_0* y, int64_t nb) {
  uint8_t L[32];
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    y[i].d = round_symmetric(x, 16, L);
    pack_nibble_halves(L, y[i].qs);
    pack_fifth_bits(L, y[i].qh);
  }
}

void encode_q5_1(const float* x, BlockQ5_1* y, int64_t nb) {
  uint8_t L[32];
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    round_affine(x, 31, L, y[i].d, y[i].m);
    pack_nibble_halves(L, y[i].qs);
    pack_fifth_bits(L, y[i].qh);
  }
}

void encode_q8_0(const float* x, BlockQ8_0* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += 32) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float inv = d != 0 ? 1 / d : 0.0f;
    y[i].d = f32_to_fp16(d);
    for (int j = 0; j < 32; ++j) y[i].qs[j] = static_cast<int8_t>(round_clamp(x[j] * inv, -127, 127));
  }
}

}  // namespace frugal::quant

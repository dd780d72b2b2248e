// Encoders of the non-linear 4-bit types: each value is an index into the
// 16-entry grid kIQ4NLValues times a scale. IQ4_NL has one fp16 scale per 32
// values; IQ4_XS packs 256 values with a 6-bit signed scale per 32 against
// one fp16 factor.
#include <cstring>

#include "base/fp16.h"
#include "quant/encoders.h"
#include "quant/scale_search.h"

namespace frugal::quant {
namespace {

constexpr int kSearchSteps = 7;

// Fits one 32-value group (weights: element_weights with the given sigma2).
float fit_group(const float* x, const float* importance, float sigma2, bool search, uint8_t* q) {
  float w[32];
  element_weights(x, importance, 32, sigma2, w);
  return fit_iq4(x, w, 32, search ? kSearchSteps : 0, q);
}

// Rounds each value of a group to the grid under scale d.
void round_to_grid(const float* x, float d, uint8_t* q) {
  const float inv = d != 0 ? 1 / d : 0.0f;
  for (int j = 0; j < 32; ++j) q[j] = static_cast<uint8_t>(nearest_iq4_index(x[j] * inv));
}

}  // namespace

void encode_iq4_nl(const float* x, BlockIQ4_NL* y, int64_t nb, const QuantizeOptions& o) {
  uint8_t q[32];
  for (int64_t i = 0; i < nb; ++i, x += QK4_NL) {
    const float* imp = o.importance ? o.importance + i * QK4_NL : nullptr;
    const float d = fit_group(x, imp, 2 * mean_square(x, QK4_NL), o.search, q);
    y[i].d = f32_to_fp16(d);
    // Re-round under the stored (fp16) scale.
    round_to_grid(x, fp16_to_f32(y[i].d), q);
    pack_nibble_halves(q, y[i].qs);
  }
}

void encode_iq4_xs(const float* x, BlockIQ4_XS* y, int64_t nb, const QuantizeOptions& o) {
  constexpr int kSub = QK_K / 32;
  uint8_t q[32];
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    const float* imp = o.importance ? o.importance + i * QK_K : nullptr;
    const float sigma2 = 2 * mean_square(x, QK_K);
    float scales[kSub];
    for (int ib = 0; ib < kSub; ++ib)
      scales[ib] = fit_group(x + 32 * ib, imp ? imp + 32 * ib : nullptr, sigma2, o.search, q);
    const float m = signed_absmax(scales, kSub);
    // The largest sub-block scale goes to -32, the end of [-32, 31].
    y[i].d = f32_to_fp16(m / -32);
    const float d = fp16_to_f32(y[i].d);
    y[i].scales_h = 0;
    std::memset(y[i].scales_l, 0, sizeof y[i].scales_l);
    for (int ib = 0; ib < kSub; ++ib) {
      const int ls = d != 0 ? round_clamp(scales[ib] / d, -32, 31) : 0;
      const int v = ls + 32;
      y[i].scales_l[ib / 2] |= static_cast<uint8_t>((v & 0xF) << (4 * (ib % 2)));
      y[i].scales_h = static_cast<uint16_t>(y[i].scales_h | ((v >> 4) << (2 * ib)));
      round_to_grid(x + 32 * ib, d * ls, q);
      pack_nibble_halves(q, y[i].qs + 16 * ib);
    }
  }
}

}  // namespace frugal::quant

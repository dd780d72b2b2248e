// The MXFP4 encoder. A block is 32 values x ~ d * v with v one of the 16
// doubled E2M1 values (kMXFP4Values, -12..12) and d = 2^(e - 128) a power of
// two. The naive exponent is the one of the OCP microscaling definition: the
// largest magnitude's binary exponent minus E2M1's largest (2), so that the
// largest value lands in [4, 8) E2M1 units, values above 6 clamping to 6.
// The search also tries one exponent up (nothing clamps) and one down
// (small values get finer steps, the largest clamps harder), rounding each
// value to the nearest representable one, and keeps the least weighted
// squared error.
#include <algorithm>
#include <cmath>

#include "quant/encoders.h"
#include "quant/scale_search.h"

namespace frugal::quant {
namespace {

// Index into kMXFP4Values of the entry nearest v (v in doubled units). Ties
// go to the entry of smaller magnitude (the even E2M1 code), as the OCP
// conversion rounds half to even.
int nearest_mxfp4_index(float v) {
  constexpr float kMagnitude[8] = {0, 1, 2, 3, 4, 6, 8, 12};
  const float a = std::fabs(v);
  int best = 0;
  for (int i = 1; i < 8; ++i) {
    const float mid = 0.5f * (kMagnitude[i - 1] + kMagnitude[i]);
    if (a > mid || (a == mid && (i % 2) == 0)) best = i;
  }
  return v < 0 && best != 0 ? best + 8 : best;
}

// Weighted squared error of the block under exponent e; fills q.
float block_error(const float* x, const float* w, int e, uint8_t* q) {
  const float d = mxfp4_scale(static_cast<uint8_t>(e));
  const float inv = 1.0f / d;
  float err = 0;
  for (int j = 0; j < QK_MXFP4; ++j) {
    q[j] = static_cast<uint8_t>(nearest_mxfp4_index(x[j] * inv));
    const float diff = x[j] - d * kMXFP4Values[q[j]];
    err += w[j] * diff * diff;
  }
  return err;
}

}  // namespace

void encode_mxfp4(const float* x, BlockMXFP4* y, int64_t nb, const QuantizeOptions& o) {
  uint8_t q[QK_MXFP4], best_q[QK_MXFP4];
  float w[QK_MXFP4];
  for (int64_t i = 0; i < nb; ++i, x += QK_MXFP4) {
    float amax = 0;
    for (int j = 0; j < QK_MXFP4; ++j) amax = std::fmax(amax, std::fabs(x[j]));
    // frexp: amax = m * 2^k with m in [0.5, 1), so floor(log2(amax)) = k - 1.
    int k = 0;
    std::frexp(amax, &k);
    const int naive = amax > 0 ? std::clamp(k - 1 - 2 + 127, 0, 254) : 0;
    const float* imp = o.importance ? o.importance + i * QK_MXFP4 : nullptr;
    element_weights(x, imp, QK_MXFP4, 2 * mean_square(x, QK_MXFP4), w);
    int best_e = naive;
    float best = block_error(x, w, naive, best_q);
    if (o.search && amax > 0) {
      for (int e : {naive - 1, naive + 1}) {
        if (e < 0 || e > 254) continue;
        const float err = block_error(x, w, e, q);
        if (err < best) {
          best = err;
          best_e = e;
          std::copy(q, q + QK_MXFP4, best_q);
        }
      }
    }
    y[i].e = static_cast<uint8_t>(best_e);
    pack_nibble_halves(best_q, y[i].qs);
  }
}

}  // namespace frugal::quant

#include "kernels/quantize_activations.h"

#include <cmath>

#include "base/fp16.h"

namespace frugal::kernels {
namespace {

// int8 codes of n values with the symmetric scale max|x| / 127; returns it.
float quantize_block(const float* x, int8_t* q, int n) {
  float amax = 0;
  for (int i = 0; i < n; ++i) amax = std::fmax(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const float id = d > 0 ? 1.0f / d : 0.0f;
  for (int i = 0; i < n; ++i) {
    // |x * id| <= 127 up to rounding of id; the clamp keeps a NaN-free row in range.
    const float v = std::nearbyint(x[i] * id);
    q[i] = static_cast<int8_t>(std::fmin(127.0f, std::fmax(-127.0f, v)));
  }
  return d;
}

}  // namespace

void quantize_act_q8_32(const float* x, ActBlock32* y, int64_t n) {
  for (int64_t b = 0; b < n / 32; ++b) y[b].d = quantize_block(x + b * 32, y[b].qs, 32);
}

void quantize_act_q8_k(const float* x, quant::BlockQ8_K* y, int64_t n) {
  for (int64_t b = 0; b < n / quant::QK_K; ++b) {
    y[b].d = quantize_block(x + b * quant::QK_K, y[b].qs, quant::QK_K);
    for (int j = 0; j < quant::QK_K / 16; ++j) {
      int sum = 0;
      for (int i = 0; i < 16; ++i) sum += y[b].qs[j * 16 + i];
      y[b].bsums[j] = static_cast<int16_t>(sum);
    }
  }
}

void convert_act_bf16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(x[i]);
}

}  // namespace frugal::kernels

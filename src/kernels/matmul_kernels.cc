#include "kernels/matmul_kernels.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"
#include "kernels/matmul.h"
#include "kernels/quantize_activations.h"
#include "quant/repack.h"

namespace frugal::kernels {

size_t act_row_bytes(ActFormat f, int64_t n) {
  const auto un = static_cast<size_t>(n);
  switch (f) {
    case ActFormat::kF32: return un * sizeof(float);
    case ActFormat::kQ8_32: return un / 32 * sizeof(ActBlock32);
    case ActFormat::kQ8_K: return un / quant::QK_K * sizeof(quant::BlockQ8_K);
    case ActFormat::kBF16: return un * sizeof(uint16_t);
  }
  return 0;
}

void encode_act_row(ActFormat f, const float* x, void* dst, int64_t n) {
  switch (f) {
    case ActFormat::kF32: FRUGAL_CHECK(false && "f32 rows are used in place"); return;
    case ActFormat::kQ8_32: return quantize_act_q8_32(x, static_cast<ActBlock32*>(dst), n);
    case ActFormat::kQ8_K: return quantize_act_q8_k(x, static_cast<quant::BlockQ8_K*>(dst), n);
    case ActFormat::kBF16: return convert_act_bf16(x, static_cast<uint16_t*>(dst), n);
  }
}

EncodeFn act_encoder(SimdLevel level) {
  EncodeFn f = nullptr;
  if (level == SimdLevel::kAvx512) f = avx512_encoder();
  if (level == SimdLevel::kAvx2) f = avx2_encoder();
  return f ? f : encode_act_row;
}

const TypeKernel* find_kernel(TensorType t, SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx512: return avx512_kernel(t);
    case SimdLevel::kAvx2: return avx2_kernel(t);
    case SimdLevel::kScalar: return scalar_kernel(t);
  }
  return nullptr;
}

double matmul_tolerance(TensorType t, const float* w, const float* x, int64_t n) {
  double abs_dot = 0, act_err = 0;
  for (int64_t i = 0; i < n; ++i) abs_dot += std::fabs(static_cast<double>(w[i]) * x[i]);
  const TypeKernel* k = scalar_kernel(quant::base_type(t));
  const ActFormat f = k ? k->act : ActFormat::kF32;
  if (f == ActFormat::kQ8_32 || f == ActFormat::kQ8_K) {
    const int64_t block = f == ActFormat::kQ8_32 ? 32 : quant::QK_K;
    for (int64_t b = 0; b < n; b += block) {
      double amax = 0, wsum = 0;
      for (int64_t i = b; i < b + block; ++i) {
        amax = std::max(amax, std::fabs(static_cast<double>(x[i])));
        wsum += std::fabs(static_cast<double>(w[i]));
      }
      act_err += amax / 127.0 / 2.0 * wsum;
    }
  } else if (f == ActFormat::kBF16) {
    act_err = abs_dot * std::ldexp(1.0, -8);
  }
  // 1.001: the int8 step is computed in f32 (max|x| / 127 and its inverse).
  return act_err * 1.001 + abs_dot * (static_cast<double>(n) + 8) * std::ldexp(1.0, -24);
}

}  // namespace frugal::kernels

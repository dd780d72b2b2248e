// Scalar dot kernels of the lattice types (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) against
// Q8_K activations. A 256-value block is unpacked once into int8 (grid
// magnitude times sign) for all activation rows; each scale unit's integer
// sum is weighted by 2 * ls + 1 (the format's 0.5 + ls, doubled), and the
// block's sum is scaled by d * a.d / 8 (IQ2: (0.5 + ls) / 4), / 4 (IQ3_XXS:
// (0.5 + ls) / 2) or / 1 (IQ3_S: 1 + 2 ls). Integer sums stay below 2^31: at most 32 * 62 * 127 * 31 * 8.
#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "kernels/matmul_kernels.h"
#include "quant/iq_blocks.h"
#include "quant/iq_grids.h"

namespace frugal::kernels {
namespace {

using quant::BlockQ8_K;
using quant::QK_K;

void put8(uint64_t g, uint8_t signs, int8_t* q) {
  for (int j = 0; j < 8; ++j) {
    const int v = quant::grid_byte(g, j);
    q[j] = static_cast<int8_t>((signs >> j) & 1 ? -v : v);
  }
}

uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Unpacks a block: q[256] and the doubled-plus-one scale of each unit of
// `unit` values (mult[256 / unit]).
void unpack(const quant::BlockIQ2_XXS& b, int8_t* q, int* mult) {
  for (int ib = 0; ib < 8; ++ib) {
    const uint32_t idx = load_u32(b.qs + 4 * ib), sg = load_u32(b.qs + 4 * ib + 2);
    mult[ib] = 2 * static_cast<int>(sg >> 28) + 1;
    for (int l = 0; l < 4; ++l)
      put8(quant::kIQ2XXSGrid[(idx >> (8 * l)) & 255], quant::iq_sign_byte(sg >> (7 * l)), q + 32 * ib + 8 * l);
  }
}
void unpack(const quant::BlockIQ2_XS& b, int8_t* q, int* mult) {
  for (int ib = 0; ib < 8; ++ib) {
    mult[2 * ib] = 2 * (b.scales[ib] & 0xF) + 1;
    mult[2 * ib + 1] = 2 * (b.scales[ib] >> 4) + 1;
    for (int l = 0; l < 4; ++l) {
      const uint16_t v = b.qs[4 * ib + l];
      put8(quant::kIQ2XSGrid[v & 511], quant::iq_sign_byte(v >> 9), q + 32 * ib + 8 * l);
    }
  }
}
void unpack(const quant::BlockIQ3_XXS& b, int8_t* q, int* mult) {
  for (int ib = 0; ib < 8; ++ib) {
    const uint32_t sg = load_u32(b.qs + QK_K / 4 + 4 * ib);
    mult[ib] = 2 * static_cast<int>(sg >> 28) + 1;
    for (int l = 0; l < 4; ++l) {
      const uint8_t* i2 = b.qs + 8 * ib + 2 * l;
      const uint64_t g = quant::kIQ3XXSGrid[i2[0]] | static_cast<uint64_t>(quant::kIQ3XXSGrid[i2[1]]) << 32;
      put8(g, quant::iq_sign_byte(sg >> (7 * l)), q + 32 * ib + 8 * l);
    }
  }
}

void unpack(const quant::BlockIQ2_S& b, int8_t* q, int* mult) {
  for (int ib = 0; ib < 8; ++ib) {
    mult[2 * ib] = 2 * (b.scales[ib] & 0xF) + 1;
    mult[2 * ib + 1] = 2 * (b.scales[ib] >> 4) + 1;
    for (int l = 0; l < 4; ++l) {
      const unsigned idx = b.qs[4 * ib + l] | ((b.qh[ib] >> (2 * l)) & 3u) << 8;
      put8(quant::kIQ2SGrid[idx], b.qs[QK_K / 8 + 4 * ib + l], q + 32 * ib + 8 * l);
    }
  }
}
void unpack(const quant::BlockIQ3_S& b, int8_t* q, int* mult) {
  for (int ib = 0; ib < 8; ++ib) {
    mult[ib] = 2 * ((b.scales[ib / 2] >> (4 * (ib % 2))) & 0xF) + 1;
    for (int l = 0; l < 4; ++l) {
      const int k = 2 * l;
      const unsigned i0 = b.qs[8 * ib + k] | ((b.qh[ib] >> k) & 1u) << 8;
      const unsigned i1 = b.qs[8 * ib + k + 1] | ((b.qh[ib] >> (k + 1)) & 1u) << 8;
      put8(quant::kIQ3SGrid[i0] | static_cast<uint64_t>(quant::kIQ3SGrid[i1]) << 32, b.signs[4 * ib + l],
           q + 32 * ib + 8 * l);
    }
  }
}

// IQ1_S: per 32 values (2 ls + 1) * (sum g q + delta * sum q), delta =
// +-1/8: as integers (2 ls + 1) * (8 sum g q +- sum q), the block scaled by d * a.d / 8.
void dot_iq1s(const void* w, const void* act, size_t act_stride, int n_act, int64_t n_in, float* y,
              int64_t y_stride) {
  const auto* wb = static_cast<const quant::BlockIQ1_S*>(w);
  float acc[kMaxActRows] = {};
  for (int64_t b = 0; b < n_in / QK_K; ++b) {
    int8_t q[QK_K];
    for (int ib = 0; ib < 8; ++ib)
      for (int l = 0; l < 4; ++l) {
        const uint64_t g = quant::kIQ1SGrid[wb[b].qs[4 * ib + l] | ((wb[b].qh[ib] >> (3 * l)) & 7u) << 8];
        std::memcpy(q + 32 * ib + 8 * l, &g, 8);
      }
    const float d = fp16_to_f32(wb[b].d) * 0.125f;
    for (int r = 0; r < n_act; ++r) {
      const auto& a = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(act) + r * act_stride)[b];
      int32_t isum = 0;
      for (int ib = 0; ib < 8; ++ib) {
        int32_t s = 0;
        for (int l = 0; l < 32; ++l) s += q[32 * ib + l] * a.qs[32 * ib + l];
        const int32_t qsum = a.bsums[2 * ib] + a.bsums[2 * ib + 1];
        const unsigned qh = wb[b].qh[ib];
        isum += (2 * static_cast<int>((qh >> 12) & 7) + 1) * (8 * s + (qh & 0x8000 ? -qsum : qsum));
      }
      acc[r] = std::fma(static_cast<float>(isum), d * a.d, acc[r]);
    }
  }
  for (int r = 0; r < n_act; ++r) y[r * y_stride] = acc[r];
}

// IQ1_M: the same per 8 values, with a shift sign per 8 and a scale per 16.
void dot_iq1m(const void* w, const void* act, size_t act_stride, int n_act, int64_t n_in, float* y,
              int64_t y_stride) {
  const auto* wb = static_cast<const quant::BlockIQ1_M*>(w);
  float acc[kMaxActRows] = {};
  for (int64_t b = 0; b < n_in / QK_K; ++b) {
    int8_t q[QK_K];
    int neg[QK_K / 8], mult[QK_K / 16];
    for (int g = 0; g < QK_K / 8; ++g) {
      const unsigned nib = (wb[b].qh[g / 2] >> (4 * (g % 2))) & 0xF;
      const uint64_t grid = quant::kIQ1SGrid[wb[b].qs[g] | (nib & 7u) << 8];
      std::memcpy(q + 8 * g, &grid, 8);
      neg[g] = nib & 8 ? 1 : 0;
    }
    for (int u = 0; u < QK_K / 16; ++u) mult[u] = 2 * quant::iq1_m_scale(wb[b], u) + 1;
    const float d = quant::iq1_m_d(wb[b]) * 0.125f;
    for (int r = 0; r < n_act; ++r) {
      const auto& a = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(act) + r * act_stride)[b];
      int32_t isum = 0;
      for (int u = 0; u < QK_K / 16; ++u) {
        int32_t s = 0;
        for (int h = 0; h < 2; ++h) {
          const int g = 2 * u + h;
          int32_t gs = 0, qs = 0;
          for (int l = 0; l < 8; ++l) {
            gs += q[8 * g + l] * a.qs[8 * g + l];
            qs += a.qs[8 * g + l];
          }
          s += 8 * gs + (neg[g] ? -qs : qs);
        }
        isum += mult[u] * s;
      }
      acc[r] = std::fma(static_cast<float>(isum), d * a.d, acc[r]);
    }
  }
  for (int r = 0; r < n_act; ++r) y[r * y_stride] = acc[r];
}

template <class Block, int kUnit, int kDiv>
void dot_iq(const void* w, const void* act, size_t act_stride, int n_act, int64_t n_in, float* y, int64_t y_stride) {
  const auto* wb = static_cast<const Block*>(w);
  float acc[kMaxActRows] = {};
  for (int64_t b = 0; b < n_in / QK_K; ++b) {
    int8_t q[QK_K];
    int mult[QK_K / kUnit];
    unpack(wb[b], q, mult);
    const float d = fp16_to_f32(wb[b].d) * (1.0f / kDiv);
    for (int r = 0; r < n_act; ++r) {
      const auto& a = reinterpret_cast<const BlockQ8_K*>(static_cast<const uint8_t*>(act) + r * act_stride)[b];
      int32_t isum = 0;
      for (int u = 0; u < QK_K / kUnit; ++u) {
        int32_t s = 0;
        for (int l = 0; l < kUnit; ++l) s += q[u * kUnit + l] * a.qs[u * kUnit + l];
        isum += mult[u] * s;
      }
      acc[r] = std::fma(static_cast<float>(isum), d * a.d, acc[r]);
    }
  }
  for (int r = 0; r < n_act; ++r) y[r * y_stride] = acc[r];
}

const TypeKernel kIQ2_XXS{ActFormat::kQ8_K, dot_iq<quant::BlockIQ2_XXS, 32, 8>};
const TypeKernel kIQ2_XS{ActFormat::kQ8_K, dot_iq<quant::BlockIQ2_XS, 16, 8>};
const TypeKernel kIQ3_XXS{ActFormat::kQ8_K, dot_iq<quant::BlockIQ3_XXS, 32, 4>};
const TypeKernel kIQ2_S{ActFormat::kQ8_K, dot_iq<quant::BlockIQ2_S, 16, 8>};
const TypeKernel kIQ3_S{ActFormat::kQ8_K, dot_iq<quant::BlockIQ3_S, 32, 1>};
const TypeKernel kIQ1_S{ActFormat::kQ8_K, dot_iq1s};
const TypeKernel kIQ1_M{ActFormat::kQ8_K, dot_iq1m};

}  // namespace

const TypeKernel* iq_scalar_kernel(TensorType t) {
  switch (t) {
    case TensorType::IQ2_XXS: return &kIQ2_XXS;
    case TensorType::IQ2_XS: return &kIQ2_XS;
    case TensorType::IQ3_XXS: return &kIQ3_XXS;
    case TensorType::IQ2_S: return &kIQ2_S;
    case TensorType::IQ3_S: return &kIQ3_S;
    case TensorType::IQ1_S: return &kIQ1_S;
    case TensorType::IQ1_M: return &kIQ1_M;
    default: return nullptr;
  }
}

}  // namespace frugal::kernels

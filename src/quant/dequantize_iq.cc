// Scalar dequantisation of the lattice types, following the GGUF block
// definitions: each value is (d * (0.5 + ls) * step) * grid byte * sign,
// evaluated in float in that order, so that results are bit-exact.
#include <cstring>

#include "base/fp16.h"
#include "quant/iq_blocks.h"
#include "quant/iq_grids.h"

namespace frugal::quant {
namespace {

uint32_t load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// 8 values of grid entry `g` (bytes) under scale db with sign byte s.
void put8(float db, uint64_t g, uint8_t s, float* y) {
  for (int j = 0; j < 8; ++j) y[j] = db * static_cast<float>(grid_byte(g, j)) * ((s >> j) & 1 ? -1.f : 1.f);
}

}  // namespace

void deq_iq2_xxs(const BlockIQ2_XXS* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(b[i].d);
    for (int ib = 0; ib < QK_K / 32; ++ib) {
      const uint32_t idx = load_u32(b[i].qs + 4 * ib), sg = load_u32(b[i].qs + 4 * ib + 2);
      const float db = d * (0.5f + static_cast<float>(sg >> 28)) * 0.25f;
      for (int l = 0; l < 4; ++l, y += 8) put8(db, kIQ2XXSGrid[(idx >> (8 * l)) & 255], iq_sign_byte(sg >> (7 * l)), y);
    }
  }
}

void deq_iq2_xs(const BlockIQ2_XS* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(b[i].d);
    for (int ib = 0; ib < QK_K / 32; ++ib) {
      const float db[2] = {d * (0.5f + static_cast<float>(b[i].scales[ib] & 0xF)) * 0.25f,
                           d * (0.5f + static_cast<float>(b[i].scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint16_t q = b[i].qs[4 * ib + l];
        put8(db[l / 2], kIQ2XSGrid[q & 511], iq_sign_byte(q >> 9), y);
      }
    }
  }
}

void deq_iq3_xxs(const BlockIQ3_XXS* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(b[i].d);
    const uint8_t* q = b[i].qs;
    const uint8_t* ss = b[i].qs + QK_K / 4;
    for (int ib = 0; ib < QK_K / 32; ++ib, q += 8) {
      const uint32_t sg = load_u32(ss + 4 * ib);
      const float db = d * (0.5f + static_cast<float>(sg >> 28)) * 0.5f;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint64_t g = kIQ3XXSGrid[q[2 * l]] | static_cast<uint64_t>(kIQ3XXSGrid[q[2 * l + 1]]) << 32;
        put8(db, g, iq_sign_byte(sg >> (7 * l)), y);
      }
    }
  }
}

void deq_iq2_s(const BlockIQ2_S* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(b[i].d);
    for (int ib = 0; ib < QK_K / 32; ++ib) {
      const float db[2] = {d * (0.5f + static_cast<float>(b[i].scales[ib] & 0xF)) * 0.25f,
                           d * (0.5f + static_cast<float>(b[i].scales[ib] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const unsigned idx = b[i].qs[4 * ib + l] | ((b[i].qh[ib] >> (2 * l)) & 3u) << 8;
        put8(db[l / 2], kIQ2SGrid[idx], b[i].qs[QK_K / 8 + 4 * ib + l], y);
      }
    }
  }
}

void deq_iq1_s(const BlockIQ1_S* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(b[i].d);
    for (int ib = 0; ib < QK_K / 32; ++ib) {
      const unsigned qh = b[i].qh[ib];
      const float dl = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1);
      const float delta = qh & 0x8000 ? -kIQ1Delta : kIQ1Delta;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint64_t g = kIQ1SGrid[b[i].qs[4 * ib + l] | ((qh >> (3 * l)) & 7u) << 8];
        for (int j = 0; j < 8; ++j) y[j] = dl * (static_cast<float>(static_cast<int8_t>(grid_byte(g, j))) + delta);
      }
    }
  }
}

uint16_t iq1_m_word(const BlockIQ1_M& b, int k) {
  uint16_t v;
  std::memcpy(&v, b.scales + 2 * k, 2);
  return v;
}

float iq1_m_d(const BlockIQ1_M& b) {
  uint16_t bits = 0;
  for (int k = 0; k < 4; ++k) bits = static_cast<uint16_t>(bits | (iq1_m_word(b, k) >> 12) << (4 * k));
  return fp16_to_f32(bits);
}

int iq1_m_scale(const BlockIQ1_M& b, int unit) { return (iq1_m_word(b, unit / 4) >> (3 * (unit % 4))) & 7; }

void deq_iq1_m(const BlockIQ1_M* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = iq1_m_d(b[i]);
    for (int g = 0; g < QK_K / 8; ++g, y += 8) {
      const float dl = d * static_cast<float>(2 * iq1_m_scale(b[i], g / 2) + 1);
      const unsigned nib = (b[i].qh[g / 2] >> (4 * (g % 2))) & 0xF;
      const float delta = nib & 8 ? -kIQ1Delta : kIQ1Delta;
      const uint64_t grid = kIQ1SGrid[b[i].qs[g] | (nib & 7u) << 8];
      for (int j = 0; j < 8; ++j) y[j] = dl * (static_cast<float>(static_cast<int8_t>(grid_byte(grid, j))) + delta);
    }
  }
}

void deq_iq3_s(const BlockIQ3_S* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_f32(b[i].d);
    for (int ib = 0; ib < QK_K / 32; ++ib) {
      const int ls = (b[i].scales[ib / 2] >> (4 * (ib % 2))) & 0xF;
      const float db = d * static_cast<float>(1 + 2 * ls);
      for (int l = 0; l < 4; ++l, y += 8) {
        const int k = 2 * l;
        const unsigned i0 = b[i].qs[8 * ib + k] | ((b[i].qh[ib] >> k) & 1u) << 8;
        const unsigned i1 = b[i].qs[8 * ib + k + 1] | ((b[i].qh[ib] >> (k + 1)) & 1u) << 8;
        put8(db, kIQ3SGrid[i0] | static_cast<uint64_t>(kIQ3SGrid[i1]) << 32, b[i].signs[4 * ib + l], y);
      }
    }
  }
}

}  // namespace frugal::quant

// Small scalar helpers that every level's kernels share: the packed scales
// of the k-quant and IQ4_XS super-blocks.
#pragma once
#include <cstdint>

#include "quant/blocks.h"

namespace frugal::kernels {

// Q4_K / Q5_K: the eight 6-bit scales and minima packed in 12 bytes.
inline void unpack_q4k_scales(const uint8_t* q, uint8_t sc[8], uint8_t mn[8]) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = q[j] & 63;
    mn[j] = q[j + 4] & 63;
    sc[j + 4] = (q[j + 8] & 0xF) | ((q[j] >> 6) << 4);
    mn[j + 4] = (q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4);
  }
}

// Q3_K's sixteen 6-bit scales, less their bias of 32 (-32..31): the low 4
// bits of scale s in byte s % 8 (s < 8 low nibble, else high), its top 2
// bits in byte 8 + s % 4 at bit 2 (s / 4).
inline void unpack_q3k_scales(const uint8_t* q, int8_t sc[16]) {
  for (int s = 0; s < 16; ++s)
    sc[s] = static_cast<int8_t>((((q[s % 8] >> 4 * (s / 8)) & 0xF) | (((q[8 + s % 4] >> 2 * (s / 4)) & 3) << 4)) - 32);
}

// IQ4_XS: the signed scale (-32..31) of 32-value sub-block j.
inline int iq4xs_scale(const quant::BlockIQ4_XS& b, int j) {
  return (((b.scales_l[j / 2] >> 4 * (j % 2)) & 0xF) | (((b.scales_h >> 2 * j) & 3) << 4)) - 32;
}

}  // namespace frugal::kernels

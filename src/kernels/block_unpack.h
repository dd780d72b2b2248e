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

// IQ4_XS: the signed scale (-32..31) of 32-value sub-block j.
inline int iq4xs_scale(const quant::BlockIQ4_XS& b, int j) {
  return (((b.scales_l[j / 2] >> 4 * (j % 2)) & 0xF) | (((b.scales_h >> 2 * j) & 3) << 4)) - 32;
}

}  // namespace frugal::kernels

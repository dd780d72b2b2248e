// The sign bits of the lattice types (IQ2_XXS, IQ2_XS, IQ3_XXS store 7 of
// every 8; the 8th makes the count of negatives even), for their SIMD kernels
// (matmul_iq_avx512.cc, matmul_iq_avx2.cc): plain integer code, no target.
#pragma once
#include <array>
#include <cstdint>
#include <cstring>

#include "quant/iq_grids.h"

namespace frugal::kernels {

// The sign byte of each 7-bit sign index (quant::iq_sign_byte), as a table.
inline constexpr std::array<uint8_t, 128> kIqSignBytes = [] {
  std::array<uint8_t, 128> t{};
  for (unsigned i = 0; i < 128; ++i) t[i] = quant::iq_sign_byte(i);
  return t;
}();

inline uint32_t iq_load_u32(const void* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Four 7-bit sign indices (bits 0..27 of a word) as 32 sign bits, bit i for
// value i of the 32 they cover.
inline uint64_t iq_signs32(uint32_t word) {
  return uint64_t{kIqSignBytes[word & 127]} | uint64_t{kIqSignBytes[(word >> 7) & 127]} << 8 |
         uint64_t{kIqSignBytes[(word >> 14) & 127]} << 16 | uint64_t{kIqSignBytes[(word >> 21) & 127]} << 24;
}

}  // namespace frugal::kernels

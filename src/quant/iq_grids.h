// The lattice grids of the GGUF "IQ" types (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS,
// IQ2_S, IQ3_XXS, IQ3_S): constants of the file format, which chose a few
// hundred to a few thousand points of 8 (or 4) small magnitudes each. A
// block stores indices into them, plus signs and scales.
//
// Entry k of a grid is a little-endian word whose byte j is element j of
// point k, as the format defines the tables (an 8-byte grid's entry read as
// uint8_t[8]). They are stored compactly in iq_grids.cc (2 or 3 bits per
// element) and expanded once at start-up.
#pragma once
#include <array>
#include <cstdint>

namespace frugal::quant {

extern const std::array<uint64_t, 256> kIQ2XXSGrid;  // magnitudes 8, 25, 43
extern const std::array<uint64_t, 512> kIQ2XSGrid;   // magnitudes 8, 25, 43
extern const std::array<uint64_t, 1024> kIQ2SGrid;   // magnitudes 8, 25, 43
extern const std::array<uint32_t, 256> kIQ3XXSGrid;  // magnitudes 4, 12, ..., 52, 62
extern const std::array<uint32_t, 512> kIQ3SGrid;    // magnitudes 1, 3, ..., 15
extern const std::array<uint64_t, 2048> kIQ1SGrid;   // int8 values -1, 0, 1

// The IQ2/IQ3 sign byte of a 7-bit sign index: the 8th sign makes the count
// of negative values even (bit 7 = parity of the other seven).
inline constexpr uint8_t iq_sign_byte(unsigned index7) {
  unsigned p = index7 & 127, v = p;
  v ^= v >> 4;
  v ^= v >> 2;
  v ^= v >> 1;
  return static_cast<uint8_t>(p | ((v & 1) << 7));
}

// Element j (byte j) of a grid entry.
inline uint8_t grid_byte(uint64_t entry, int j) { return static_cast<uint8_t>(entry >> (8 * j)); }

}  // namespace frugal::quant

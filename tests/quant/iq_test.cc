// The lattice types IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S: their grids against the
// published tables (hash and entries), sign bytes, blocks built by hand from
// the format's description decoded to the expected values, and the encoders
// (round-trip error bounds, search against the naive scale, importance,
// zeros, grid-exact data, bad rows).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/error.h"
#include "base/fp16.h"
#include "quant/iq_blocks.h"
#include "quant/iq_grids.h"
#include "quant/quant.h"

namespace frugal::quant {
namespace {

// FNV-1a over the little-endian bytes of a table, as computed from the
// tables the GGUF format publishes (ggml-common.h's iq*_grid).
template <class Word, size_t N>
uint64_t fnv(const std::array<Word, N>& t) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (Word w : t)
    for (size_t i = 0; i < sizeof(Word); ++i) {
      h ^= (static_cast<uint64_t>(w) >> (8 * i)) & 0xFF;
      h *= 0x100000001b3ull;
    }
  return h;
}

TEST(IqGrids, MatchThePublishedTables) {
  EXPECT_EQ(fnv(kIQ2XXSGrid), 0xbb4ee025b5ac6e8eull);
  EXPECT_EQ(fnv(kIQ2XSGrid), 0xc9b1ee61e79909bdull);
  EXPECT_EQ(fnv(kIQ2SGrid), 0x123edd38a3b62b90ull);
  EXPECT_EQ(fnv(kIQ3XXSGrid), 0xdfa5dc83d6a155d5ull);
  EXPECT_EQ(fnv(kIQ3SGrid), 0xfa37020c25b44829ull);
  EXPECT_EQ(fnv(kIQ1SGrid), 0x6703ed863501ae2eull);
  EXPECT_EQ(kIQ2XXSGrid[0], 0x0808080808080808ull);
  EXPECT_EQ(kIQ2XXSGrid[1], 0x080808080808082bull);
  EXPECT_EQ(kIQ2XXSGrid[255], 0x2b2b2b1908081908ull);
  EXPECT_EQ(kIQ2XSGrid[511], 0x2b2b2b2b2b2b2b2bull);
  EXPECT_EQ(kIQ3XXSGrid[1], 0x04040414u);
  EXPECT_EQ(kIQ3XXSGrid[255], 0x3e341c04u);
  EXPECT_EQ(kIQ1SGrid[1], 0xffffffffffffff01ull);
}

TEST(IqGrids, SignBytesHaveEvenParity) {
  EXPECT_EQ(iq_sign_byte(0), 0);
  EXPECT_EQ(iq_sign_byte(1), 129);
  EXPECT_EQ(iq_sign_byte(3), 3);
  EXPECT_EQ(iq_sign_byte(127), 255);
  for (unsigned i = 0; i < 128; ++i) EXPECT_EQ(std::popcount(static_cast<unsigned>(iq_sign_byte(i))) % 2, 0);
}

// IQ2_XXS: d = 1, first 32 values: grid indices 1, 0, 255, 0; sign indices 1,
// 0, 0, 127; ls = 15 -> db = 15.5 / 4 = 3.875. Second 32: ls = 0 (db 0.125),
// all zero indices.
TEST(IqDequantize, IQ2_XXSKnownBlock) {
  BlockIQ2_XXS b{};
  b.d = f32_to_fp16(1.0f);
  const uint32_t idx = 1u | 0u << 8 | 255u << 16 | 0u << 24;
  const uint32_t sg = 1u | 0u << 7 | 0u << 14 | 127u << 21 | 15u << 28;
  std::memcpy(b.qs, &idx, 4);
  std::memcpy(b.qs + 2, &sg, 4);
  float y[256];
  dequantize_row(TensorType::IQ2_XXS, &b, y, 256);
  const float db = 3.875f;
  // group 0: point 1 = 0x080808080808082b, element 0 in the low byte: {43, 8 x7};
  // sign byte 129: elements 0 and 7 negative
  EXPECT_EQ(y[0], -43 * db);
  EXPECT_EQ(y[1], 8 * db);
  EXPECT_EQ(y[7], -8 * db);
  // group 1: all 8 positive
  for (int j = 8; j < 16; ++j) EXPECT_EQ(y[j], 8 * db);
  // group 2: point 255 = bytes 08 19 08 08 19 2b 2b 2b (low byte first)
  const float g255[8] = {8, 25, 8, 8, 25, 43, 43, 43};
  for (int j = 0; j < 8; ++j) EXPECT_EQ(y[16 + j], g255[j] * db);
  // group 3: sign byte 255, all negative
  for (int j = 24; j < 32; ++j) EXPECT_EQ(y[j], -8 * db);
  for (int j = 32; j < 256; ++j) EXPECT_EQ(y[j], 8 * 0.125f);
}

// IQ2_XS: per 8 values a u16 (index | signs << 9), two scales per 32.
TEST(IqDequantize, IQ2_XSKnownBlock) {
  BlockIQ2_XS b{};
  b.d = f32_to_fp16(2.0f);
  b.qs[0] = static_cast<uint16_t>(511 | 1 << 9);   // all 43, sign byte 129
  b.qs[2] = static_cast<uint16_t>(1);              // {43, 8 x7}
  b.scales[0] = 3 | 7 << 4;                         // db 2*3.5/4 = 1.75 for values 0-15, 2*7.5/4 = 3.75 for 16-31
  float y[256];
  dequantize_row(TensorType::IQ2_XS, &b, y, 256);
  EXPECT_EQ(y[0], -43 * 1.75f);
  EXPECT_EQ(y[1], 43 * 1.75f);
  EXPECT_EQ(y[7], -43 * 1.75f);
  EXPECT_EQ(y[8], 8 * 1.75f);
  EXPECT_EQ(y[16], 43 * 3.75f);
  EXPECT_EQ(y[23], 8 * 3.75f);
  EXPECT_EQ(y[32], 8 * 0.25f);  // scale nibble 0: 2 * 0.5 / 4
}

// IQ3_XXS: 64 index bytes (two 4-value points per 8), then a u32 per 32:
// signs and ls (db = d * (0.5 + ls) / 2).
TEST(IqDequantize, IQ3_XXSKnownBlock) {
  BlockIQ3_XXS b{};
  b.d = f32_to_fp16(1.0f);
  b.qs[0] = 1;    // {20, 4, 4, 4}
  b.qs[1] = 255;  // {4, 28, 52, 62}
  const uint32_t sg = 1u | 5u << 28;  // sign byte 129, db = 5.5 / 2 = 2.75
  std::memcpy(b.qs + 64, &sg, 4);
  float y[256];
  dequantize_row(TensorType::IQ3_XXS, &b, y, 256);
  const float want[8] = {-20, 4, 4, 4, 4, 28, 52, -62};
  for (int j = 0; j < 8; ++j) EXPECT_EQ(y[j], want[j] * 2.75f) << j;
  EXPECT_EQ(y[8], 4 * 2.75f);
  EXPECT_EQ(y[32], 4 * 0.25f);
}

// IQ2_S: 10-bit indices (high bits in qh), explicit sign bytes after the 32 index bytes.
TEST(IqDequantize, IQ2_SKnownBlock) {
  BlockIQ2_S b{};
  b.d = f32_to_fp16(1.0f);
  b.qs[1] = 0xFF;          // group 1: index 0x3FF with qh bits 2-3 = 3
  b.qh[0] = 3 << 2;
  b.qs[32 + 1] = 0x80;     // group 1: only element 7 negative (no parity rule)
  b.scales[0] = 1 | 2 << 4;  // db 1.5/4 for values 0-15, 2.5/4 for 16-31
  float y[256];
  dequantize_row(TensorType::IQ2_S, &b, y, 256);
  const uint64_t g = kIQ2SGrid[1023];
  for (int j = 0; j < 8; ++j) EXPECT_EQ(y[j], 8 * 0.375f) << j;  // index 0: all 8
  for (int j = 0; j < 8; ++j) EXPECT_EQ(y[8 + j], grid_byte(g, j) * 0.375f * (j == 7 ? -1 : 1)) << j;
  EXPECT_EQ(y[16], 8 * 0.625f);
}

// IQ3_S: 9-bit indices (the 9th in qh), explicit signs, db = d * (1 + 2 ls).
TEST(IqDequantize, IQ3_SKnownBlock) {
  BlockIQ3_S b{};
  b.d = f32_to_fp16(0.5f);
  b.qs[0] = 1;            // index 1 + 256 (qh bit 0)
  b.qh[0] = 1;
  b.signs[0] = 0x01;      // element 0 negative
  b.scales[0] = 3 | 1 << 4;  // db 0.5 * 7 = 3.5 for values 0-31, 0.5 * 3 = 1.5 for 32-63
  float y[256];
  dequantize_row(TensorType::IQ3_S, &b, y, 256);
  const uint32_t g = kIQ3SGrid[257];
  EXPECT_EQ(y[0], -static_cast<float>(grid_byte(g, 0)) * 3.5f);
  for (int j = 1; j < 4; ++j) EXPECT_EQ(y[j], grid_byte(g, j) * 3.5f) << j;
  EXPECT_EQ(y[4], grid_byte(kIQ3SGrid[0], 0) * 3.5f);
  EXPECT_EQ(y[32], grid_byte(kIQ3SGrid[0], 0) * 1.5f);
}

// IQ1_S: 11-bit indices (high 3 bits in qh), value = d * (2 ls + 1) * (grid + delta).
TEST(IqDequantize, IQ1_SKnownBlock) {
  BlockIQ1_S b{};
  b.d = f32_to_fp16(0.5f);
  b.qs[0] = 1;
  b.qh[0] = static_cast<uint16_t>(7 << 0 | 2 << 12);               // index 1 + 7*256, ls 2: dl 2.5, delta +1/8
  b.qh[1] = static_cast<uint16_t>(0x8000);                         // ls 0, delta -1/8
  float y[256];
  dequantize_row(TensorType::IQ1_S, &b, y, 256);
  const uint64_t g = kIQ1SGrid[1 + 7 * 256];
  for (int j = 0; j < 8; ++j) EXPECT_EQ(y[j], 2.5f * (static_cast<int8_t>(grid_byte(g, j)) + 0.125f)) << j;
  const uint64_t g0 = kIQ1SGrid[0];
  for (int j = 0; j < 8; ++j) EXPECT_EQ(y[32 + j], 0.5f * (static_cast<int8_t>(grid_byte(g0, j)) - 0.125f)) << j;
}

// IQ1_M (GGUF layout): qs = low 8 bits of each group's index; per group a
// nibble of qh (low nibble: the even group) = high 3 bits | 8 for a shift of
// -1/8; per 16 values a 3-bit ls in the u16 words of `scales` (bits 3k..3k+2
// of word unit/4), whose top nibbles (word k: bits 4k..4k+3) form the fp16 d.
TEST(IqDequantize, IQ1_MKnownBlock) {
  BlockIQ1_M b{};
  // d = 0.5 (fp16 0x3800); unit 0 ls 2, unit 1 ls 5, unit 4 ls 7, others 0.
  const uint16_t words[4] = {2 | 5 << 3, 7, 0x8 << 12, 0x3 << 12};
  std::memcpy(b.scales, words, sizeof words);
  b.qs[0] = 1;
  b.qh[0] = 7 | 8 << 4;  // group 0: index 1 + 7*256, +1/8; group 1: index 0, -1/8
  b.qs[2] = 3;
  b.qh[1] = 2 | 8;       // group 2: index 3 + 2*256, -1/8
  float y[256];
  dequantize_row(TensorType::IQ1_M, &b, y, 256);
  auto v = [](uint64_t g, int j) { return static_cast<float>(static_cast<int8_t>(grid_byte(g, j))); };
  const uint64_t g0 = kIQ1SGrid[0], g1 = kIQ1SGrid[1 + 7 * 256], g2 = kIQ1SGrid[3 + 2 * 256];
  for (int j = 0; j < 8; ++j) {
    EXPECT_EQ(y[j], 2.5f * (v(g1, j) + 0.125f)) << j;
    EXPECT_EQ(y[8 + j], 2.5f * (v(g0, j) - 0.125f)) << j;
    EXPECT_EQ(y[16 + j], 5.5f * (v(g2, j) - 0.125f)) << j;
    EXPECT_EQ(y[32 + j], 0.5f * (v(g0, j) + 0.125f)) << j;
    EXPECT_EQ(y[64 + j], 7.5f * (v(g0, j) + 0.125f)) << j;
  }
}

const TensorType kTypes[] = {TensorType::IQ2_XXS, TensorType::IQ2_XS, TensorType::IQ3_XXS, TensorType::IQ2_S,
                             TensorType::IQ3_S,   TensorType::IQ1_S,  TensorType::IQ1_M};

std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> x(n);
  for (auto& v : x) v = g(rng);
  return x;
}

double rel_rms(TensorType t, const std::vector<float>& x, const QuantizeOptions& o) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(row_bytes(t, static_cast<uint64_t>(n)));
  quantize_row(t, x.data(), q.data(), n, o);
  std::vector<float> y(x.size());
  dequantize_row(t, q.data(), y.data(), n);
  double e = 0, s = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    e += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
    s += double(x[i]) * x[i];
  }
  return std::sqrt(e / s);
}

// Relative RMS error bounds on Gaussian data (measured 0.33 / 0.29 / 0.18 /
// 0.24 / 0.13 / 0.45 / 0.42 with the search) and the search against the naive scale.
TEST(IqQuantize, RoundTripErrorAndSearch) {
  const double bound[] = {0.42, 0.36, 0.22, 0.29, 0.16, 0.54, 0.50};
  const auto x = gaussian(4096, 7);
  for (size_t k = 0; k < std::size(kTypes); ++k) {
    QuantizeOptions searched, plain;
    plain.search = false;
    const double es = rel_rms(kTypes[k], x, searched), ep = rel_rms(kTypes[k], x, plain);
    std::printf("  %-8s search %.4f, naive scale %.4f\n", tensor_type_name(kTypes[k]), es, ep);
    EXPECT_LT(es, bound[k]) << tensor_type_name(kTypes[k]);
    EXPECT_LT(es, ep) << tensor_type_name(kTypes[k]);
  }
}

// Importance: weighting the first half of each 16 values heavily lowers its
// error. Halves of 16 within each 32 would not do for IQ1_M: it fits one
// scale per 16 values, and an importance constant over them scales its
// search's weights without changing them (the same bytes), now that its
// weights have the same form with and without importance.
TEST(IqQuantize, ImportanceWeightsTheError) {
  const auto x = gaussian(2048, 11);
  std::vector<float> imp(x.size());
  for (size_t i = 0; i < imp.size(); ++i) imp[i] = (i % 16) < 8 ? 100.0f : 1.0f;
  for (TensorType t : kTypes) {
    auto half_err = [&](const float* importance) {
      std::vector<uint8_t> q(row_bytes(t, x.size()));
      quantize_row(t, x.data(), q.data(), static_cast<int64_t>(x.size()), importance);
      std::vector<float> y(x.size());
      dequantize_row(t, q.data(), y.data(), static_cast<int64_t>(x.size()));
      double e = 0;
      for (size_t i = 0; i < x.size(); ++i)
        if ((i % 16) < 8) e += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
      return e;
    };
    EXPECT_LT(half_err(imp.data()), half_err(nullptr)) << tensor_type_name(t);
  }
}

// An all-zero row comes back zero; a row that is not whole blocks, or holds
// a NaN, is refused.
void expect_zeros_and_bad_rows(TensorType t) {
  std::vector<float> z(256, 0.0f), y(256, 1.0f);
  std::vector<uint8_t> q(row_bytes(t, 256));
  quantize_row(t, z.data(), q.data(), 256);
  dequantize_row(t, q.data(), y.data(), 256);
  for (float v : y) EXPECT_EQ(v, 0.0f) << tensor_type_name(t);
  EXPECT_THROW(quantize_row(t, z.data(), q.data(), 128), Error);
  z[5] = NAN;
  EXPECT_THROW(quantize_row(t, z.data(), q.data(), 256), Error);
}

// Data made of grid points under one scale comes back closely (the scale
// search finds the lattice), zeros stay zero, bad rows are refused.
TEST(IqQuantize, GridDataZerosAndBadRows) {
  std::mt19937 rng(3);
  for (TensorType t : kTypes) {
    std::vector<float> x(512);
    if (t == TensorType::IQ1_S || t == TensorType::IQ1_M) continue;  // not magnitudes and signs: own test below
    for (size_t g = 0; g < x.size() / 8; ++g) {
      uint64_t p = 0;
      switch (t) {
        case TensorType::IQ3_XXS:
          p = kIQ3XXSGrid[rng() % 256] | static_cast<uint64_t>(kIQ3XXSGrid[rng() % 256]) << 32;
          break;
        case TensorType::IQ3_S: p = kIQ3SGrid[rng() % 512] | static_cast<uint64_t>(kIQ3SGrid[rng() % 512]) << 32; break;
        case TensorType::IQ2_XS: p = kIQ2XSGrid[rng() % 512]; break;
        case TensorType::IQ2_S: p = kIQ2SGrid[rng() % 1024]; break;
        default: p = kIQ2XXSGrid[rng() % 256];
      }
      const unsigned s = iq_sign_byte(rng() % 128);
      for (int j = 0; j < 8; ++j) x[8 * g + j] = 0.01f * grid_byte(p, j) * ((s >> j) & 1 ? -1.f : 1.f);
    }
    EXPECT_LT(rel_rms(t, x, QuantizeOptions{}), 0.02) << tensor_type_name(t);
    expect_zeros_and_bad_rows(t);
  }
}

// IQ1_S and IQ1_M: values drawn from the grid's -1/0/1 with the shift (one
// sign per 32 values for IQ1_S, a random sign per group of 8 for IQ1_M) come
// back closely; zeros stay zero; bad rows (NaN included) are refused.
TEST(IqQuantize, IQ1GridDataZerosAndBadRows) {
  for (TensorType t : {TensorType::IQ1_S, TensorType::IQ1_M}) {
    std::mt19937 rng(5);
    std::vector<float> x(512);
    float delta = 0.125f;
    for (size_t g = 0; g < x.size() / 8; ++g) {
      const uint64_t p = kIQ1SGrid[rng() % 2048];
      if (t == TensorType::IQ1_M) delta = rng() % 2 ? 0.125f : -0.125f;
      for (int j = 0; j < 8; ++j) x[8 * g + j] = 0.02f * (static_cast<int8_t>(grid_byte(p, j)) + delta);
    }
    EXPECT_LT(rel_rms(t, x, QuantizeOptions{}), 0.02) << tensor_type_name(t);
    expect_zeros_and_bad_rows(t);
  }
}

}  // namespace
}  // namespace frugal::quant

// Known-answer blocks for the types dequantize_test.cc does not cover: each
// block is filled byte by byte from the format's definition (written out here
// independently of the encoders), and every decoded value is compared exactly
// with the value the definition gives.
#include <gtest/gtest.h>

#include <cstring>

#include "base/fp16.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace frugal::quant {
namespace {

// The IQ4 code book as the format defines it.
constexpr int kGrid[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

TEST(DequantizeKnownAnswer, F32IsCopied) {
  const float x[4] = {1.5f, -0.0f, 3.0e-38f, -65504.0f};
  float y[4];
  dequantize_row(TensorType::F32, x, y, 4);
  EXPECT_EQ(std::memcmp(x, y, sizeof x), 0);
}

// Q4_1: y = d * q + m, q the low nibble of byte j (value j) or its high nibble (value j + 16).
TEST(DequantizeKnownAnswer, Q4_1) {
  BlockQ4_1 b{};
  b.d = f32_to_fp16(0.5f);
  b.m = f32_to_fp16(-3.0f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  dequantize_row(TensorType::Q4_1, &b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * j - 3.0f) << j;
    EXPECT_EQ(y[j + 16], 0.5f * (15 - j) - 3.0f) << j;
  }
}

// Q5_0 / Q5_1: the fifth bit of value i is bit i of the little-endian 32-bit qh.
constexpr uint32_t kFifthBits = 0xA5C3F00Fu;
void fill_q5(uint8_t* qh, uint8_t* qs) {
  const uint8_t le[4] = {uint8_t(kFifthBits), uint8_t(kFifthBits >> 8), uint8_t(kFifthBits >> 16),
                         uint8_t(kFifthBits >> 24)};
  std::memcpy(qh, le, 4);
  for (int j = 0; j < 16; ++j) qs[j] = static_cast<uint8_t>(((3 * j) % 16) | ((15 - j) << 4));
}
int q5_value(int i) {
  const int low = i < 16 ? (3 * i) % 16 : 15 - (i - 16);
  return low | static_cast<int>(((kFifthBits >> i) & 1) << 4);
}

TEST(DequantizeKnownAnswer, Q5_0) {
  BlockQ5_0 b{};
  b.d = f32_to_fp16(0.25f);
  fill_q5(b.qh, b.qs);
  float y[32];
  dequantize_row(TensorType::Q5_0, &b, y, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], 0.25f * (q5_value(i) - 16)) << i;
}

TEST(DequantizeKnownAnswer, Q5_1) {
  BlockQ5_1 b{};
  b.d = f32_to_fp16(0.5f);
  b.m = f32_to_fp16(1.0f);
  fill_q5(b.qh, b.qs);
  float y[32];
  dequantize_row(TensorType::Q5_1, &b, y, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], 0.5f * q5_value(i) + 1.0f) << i;
}

// Q2_K / Q3_K low bits: the 256 values are two halves of 128; in half h,
// shift group g (bits 2g..2g+1) holds values 128h + 32g + l (l < 32) in byte 32h + l.
template <class Fn>
void for_each_two_bit_slot(Fn fn) {
  for (int h = 0; h < 2; ++h)
    for (int g = 0; g < 4; ++g)
      for (int l = 0; l < 32; ++l) fn(128 * h + 32 * g + l, 32 * h + l, 2 * g);
}

// Q2_K: 16 sub-blocks of 16; scales[s] low nibble = scale, high nibble = min;
// y = d * scale * q - dmin * min.
TEST(DequantizeKnownAnswer, Q2_K) {
  BlockQ2_K b{};
  b.d = f32_to_fp16(1.0f);
  b.dmin = f32_to_fp16(0.5f);
  for (int s = 0; s < 16; ++s) b.scales[s] = static_cast<uint8_t>(s | ((15 - s) << 4));
  auto q = [](int e) { return (e / 3) % 4; };
  for_each_two_bit_slot([&](int e, int byte, int shift) { b.qs[byte] |= static_cast<uint8_t>(q(e) << shift); });
  float y[256];
  dequantize_row(TensorType::Q2_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 1.0f * (e / 16) * q(e) - 0.5f * (15 - e / 16)) << e;
}

// Q3_K: value q in [-4, 3] stored as u = q + 4: low 2 bits as in Q2_K, the
// third bit in hmask byte e % 32 at bit e / 32. Sixteen signed 6-bit scales
// stored + 32: low nibble in byte s % 8 (low half for s < 8, high half
// otherwise), top 2 bits in byte 8 + s % 4 at bits 2 (s / 4).
TEST(DequantizeKnownAnswer, Q3_K) {
  BlockQ3_K b{};
  b.d = f32_to_fp16(0.5f);
  const int sc[16] = {-32, -17, -8, -1, 0, 1, 2, 3, 5, 8, 13, 21, 31, -5, -20, 7};
  for (int s = 0; s < 16; ++s) {
    const int v = sc[s] + 32;
    b.scales[s % 8] |= static_cast<uint8_t>((v & 0xF) << (s < 8 ? 0 : 4));
    b.scales[8 + s % 4] |= static_cast<uint8_t>((v >> 4) << (2 * (s / 4)));
  }
  auto q = [](int e) { return (e * 5) % 8 - 4; };
  for_each_two_bit_slot([&](int e, int byte, int shift) {
    const int u = q(e) + 4;
    b.qs[byte] |= static_cast<uint8_t>((u & 3) << shift);
    b.hmask[e % 32] |= static_cast<uint8_t>((u >> 2) << (e / 32));
  });
  float y[256];
  dequantize_row(TensorType::Q3_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 0.5f * sc[e / 16] * q(e)) << e;
}

// Q5_K: the Q4_K scales and nibbles, plus a fifth bit for value e in qh byte
// e % 32 at bit e / 32.
TEST(DequantizeKnownAnswer, Q5_K) {
  BlockQ5_K b{};
  b.d = f32_to_fp16(0.5f);
  b.dmin = f32_to_fp16(0.25f);
  const int sc[8] = {63, 1, 17, 40, 5, 33, 62, 16};
  const int mn[8] = {0, 63, 2, 31, 48, 7, 19, 32};
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    b.scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
  }
  auto q = [](int e) { return (e * 7 + 3) % 32; };
  for (int e = 0; e < 256; ++e) {
    // 64-value chunk c: its first 32 in the low nibbles of bytes 32c.., the next 32 in the high nibbles.
    const int c = e / 64, r = e % 64;
    b.qs[32 * c + r % 32] |= static_cast<uint8_t>((q(e) & 0xF) << (r < 32 ? 0 : 4));
    b.qh[e % 32] |= static_cast<uint8_t>((q(e) >> 4) << (e / 32));
  }
  float y[256];
  dequantize_row(TensorType::Q5_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 0.5f * sc[e / 32] * q(e) - 0.25f * mn[e / 32]) << e;
}

// Q8_K: an f32 scale times int8 values; bsums (sums of 16) do not enter.
TEST(DequantizeKnownAnswer, Q8_K) {
  BlockQ8_K b{};
  b.d = 0.125f;
  for (int j = 0; j < 256; ++j) b.qs[j] = static_cast<int8_t>(j - 128);
  for (int g = 0; g < 16; ++g) b.bsums[g] = 12345;
  float y[256];
  dequantize_row(TensorType::Q8_K, &b, y, 256);
  for (int j = 0; j < 256; ++j) EXPECT_EQ(y[j], 0.125f * (j - 128)) << j;
}

// IQ4_NL: y = d * grid[index], indices packed as in Q4_0.
TEST(DequantizeKnownAnswer, IQ4_NL) {
  BlockIQ4_NL b{};
  b.d = f32_to_fp16(0.5f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  dequantize_row(TensorType::IQ4_NL, &b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * kGrid[j]) << j;
    EXPECT_EQ(y[j + 16], 0.5f * kGrid[15 - j]) << j;
  }
}

// IQ4_XS: eight sub-blocks of 32, each with a 6-bit scale ls (stored value
// ls: low nibble in scales_l[ib / 2] (low half for even ib), top 2 bits in
// scales_h at bits 2 ib), y = d * (ls - 32) * grid[index]; sub-block ib's
// indices packed as IQ4_NL in qs[16 ib ..].
TEST(DequantizeKnownAnswer, IQ4_XS) {
  BlockIQ4_XS b{};
  b.d = f32_to_fp16(0.25f);
  const int ls[8] = {0, 1, 31, 32, 33, 40, 63, 17};
  for (int ib = 0; ib < 8; ++ib) {
    b.scales_l[ib / 2] |= static_cast<uint8_t>((ls[ib] & 0xF) << (ib % 2 ? 4 : 0));
    b.scales_h = static_cast<uint16_t>(b.scales_h | ((ls[ib] >> 4) << (2 * ib)));
    for (int j = 0; j < 16; ++j) b.qs[16 * ib + j] = static_cast<uint8_t>(((j + ib) % 16) | (((3 * j) % 16) << 4));
  }
  float y[256];
  dequantize_row(TensorType::IQ4_XS, &b, y, 256);
  for (int ib = 0; ib < 8; ++ib)
    for (int j = 0; j < 16; ++j) {
      EXPECT_EQ(y[32 * ib + j], 0.25f * (ls[ib] - 32) * kGrid[(j + ib) % 16]) << ib << " " << j;
      EXPECT_EQ(y[32 * ib + 16 + j], 0.25f * (ls[ib] - 32) * kGrid[(3 * j) % 16]) << ib << " " << j;
    }
}

}  // namespace
}  // namespace frugal::quant

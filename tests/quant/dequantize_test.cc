// Known-answer blocks built by hand from the format definitions (the other
// types: dequantize_kat_test.cc) and rejection of bad row lengths.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "base/error.h"
#include "base/fp16.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace frugal::quant {
namespace {

TEST(Dequantize, Q8_0KnownBlock) {
  BlockQ8_0 b{};
  b.d = f32_to_fp16(0.5f);
  for (int j = 0; j < 32; ++j) b.qs[j] = static_cast<int8_t>(j - 16);
  float y[32];
  dequantize_row(TensorType::Q8_0, &b, y, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 0.5f * (j - 16));
}

TEST(Dequantize, Q4_0KnownBlock) {
  BlockQ4_0 b{};
  b.d = f32_to_fp16(2.0f);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  dequantize_row(TensorType::Q4_0, &b, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 2.0f * (j - 8));           // low nibbles: first half
    EXPECT_EQ(y[j + 16], 2.0f * (15 - j - 8));  // high nibbles: second half
  }
}

TEST(Dequantize, Q4_KKnownBlock) {
  BlockQ4_K b{};
  b.d = f32_to_fp16(1.0f);
  b.dmin = f32_to_fp16(0.5f);
  // Sub-blocks 0..3: scale in low 6 bits of bytes 0..3, min in bytes 4..7.
  // Sub-blocks 4..7: low 4 bits in bytes 8..11, high 2 bits in the top of bytes 0..7.
  const int sc[8] = {1, 2, 3, 4, 17, 33, 49, 63};
  const int mn[8] = {0, 1, 2, 3, 20, 36, 52, 60};
  for (int j = 0; j < 4; ++j) {
    b.scales[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    b.scales[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    b.scales[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
  }
  for (int j = 0; j < 128; ++j) b.qs[j] = static_cast<uint8_t>((j % 16) | (((j + 3) % 16) << 4));
  float y[256];
  dequantize_row(TensorType::Q4_K, &b, y, 256);
  for (int chunk = 0; chunk < 4; ++chunk)
    for (int l = 0; l < 32; ++l) {
      const int byte = chunk * 32 + l;
      EXPECT_EQ(y[chunk * 64 + l], 1.0f * sc[2 * chunk] * (byte % 16) - 0.5f * mn[2 * chunk]);
      EXPECT_EQ(y[chunk * 64 + 32 + l], 1.0f * sc[2 * chunk + 1] * ((byte + 3) % 16) - 0.5f * mn[2 * chunk + 1]);
    }
}

TEST(Dequantize, Q6_KKnownBlock) {
  BlockQ6_K b{};
  b.d = f32_to_fp16(0.25f);
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(j - 8);
  // Element e of the block: half = e/128, r = e%128, quarter = r/32, l = r%32.
  // Choose q(e) = e % 64; pack its low 4 bits in ql and high 2 bits in qh.
  for (int e = 0; e < 256; ++e) {
    const int q = e % 64, half = e / 128, r = e % 128, quarter = r / 32, l = r % 32;
    uint8_t& lo = b.ql[half * 64 + l + (quarter & 1) * 32];
    lo = static_cast<uint8_t>(lo | ((q & 0xF) << ((quarter >> 1) * 4)));
    uint8_t& hi = b.qh[half * 32 + l];
    hi = static_cast<uint8_t>(hi | ((q >> 4) << (quarter * 2)));
  }
  float y[256];
  dequantize_row(TensorType::Q6_K, &b, y, 256);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 0.25f * (e / 16 - 8) * (e % 64 - 32)) << e;
}

TEST(Dequantize, F16AndBF16) {
  const uint16_t h[2] = {0x3c00, 0xc000};  // 1, -2
  const uint16_t bf[2] = {0x3f80, 0x4040};  // 1, 3
  float y[2];
  dequantize_row(TensorType::F16, h, y, 2);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], -2.0f);
  dequantize_row(TensorType::BF16, bf, y, 2);
  EXPECT_EQ(y[0], 1.0f);
  EXPECT_EQ(y[1], 3.0f);
}

TEST(Dequantize, RejectsRowsNotAMultipleOfTheBlock) {
  std::vector<uint8_t> buf(1024);
  std::vector<float> y(300);
  EXPECT_THROW(dequantize_row(TensorType::Q8_0, buf.data(), y.data(), 33), Error);
  EXPECT_THROW(dequantize_row(TensorType::Q4_K, buf.data(), y.data(), 288), Error);
  std::vector<float> x(33, 1.0f);
  EXPECT_THROW(quantize_row(TensorType::Q4_0, x.data(), buf.data(), 33), Error);
}

// Round trips of quantize_row are in quantize_test.cc.

}  // namespace
}  // namespace frugal::quant

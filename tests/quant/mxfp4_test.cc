// MXFP4: dequantisation of every code under every scale byte against the OCP
// definition spelled independently (sign, two exponent bits, one mantissa
// bit; scale 2^(e - 127)), and quantisation: representable values come back
// exactly, every value lands on a nearest representable one under the block's
// scale, the exponent search never loses to the naive exponent, and the
// round-trip error on Gaussian data.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "base/error.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace frugal::quant {
namespace {

// E2M1 code c as a real number: (-1)^s * 2^(exp - 1) * (1 + m / 2), and
// m / 2 for exp == 0 (subnormal).
double e2m1(int c) {
  const int s = c >> 3, exp = (c >> 1) & 3, m = c & 1;
  const double mag = exp == 0 ? m * 0.5 : std::ldexp(1.0 + m * 0.5, exp - 1);
  return s ? -mag : mag;
}

TEST(Mxfp4, DequantisesEveryCodeUnderEveryScale) {
  for (int e = 0; e < 256; ++e) {
    BlockMXFP4 b{};
    b.e = static_cast<uint8_t>(e);
    for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
    float y[32];
    dequantize_row(TensorType::MXFP4, &b, y, 32);
    for (int j = 0; j < 16; ++j) {
      // As floats: the largest scales overflow to infinity, as in every engine.
      ASSERT_EQ(y[j], static_cast<float>(std::ldexp(e2m1(j), e - 127))) << "e " << e << " code " << j;
      ASSERT_EQ(y[j + 16], static_cast<float>(std::ldexp(e2m1(15 - j), e - 127))) << "e " << e << " code " << 15 - j;
    }
  }
}

std::vector<float> roundtrip(const std::vector<float>& x, bool search = true) {
  std::vector<uint8_t> q(row_bytes(TensorType::MXFP4, x.size()));
  QuantizeOptions o;
  o.search = search;
  quantize_row(TensorType::MXFP4, x.data(), q.data(), static_cast<int64_t>(x.size()), o);
  std::vector<float> y(x.size());
  dequantize_row(TensorType::MXFP4, q.data(), y.data(), static_cast<int64_t>(x.size()));
  return y;
}

TEST(Mxfp4, RepresentableValuesComeBackExactly) {
  std::mt19937 rng(5);
  for (int e : {1, 100, 127, 140}) {
    std::vector<float> x(64);
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(std::ldexp(e2m1(static_cast<int>(rng() % 16)), e - 127));
    x[3] = static_cast<float>(std::ldexp(6.0, e - 127));  // each block's largest magnitude on the grid's end
    x[40] = static_cast<float>(std::ldexp(-6.0, e - 127));
    const auto y = roundtrip(x);
    for (size_t i = 0; i < x.size(); ++i) ASSERT_EQ(y[i], x[i]) << "e " << e << " i " << i;
  }
}

TEST(Mxfp4, EveryValueIsANearestRepresentableOne) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> x(32);
    const float scale = std::ldexp(1.0f, static_cast<int>(rng() % 40) - 20);
    for (float& v : x) v = normal(rng) * scale;
    const auto y = roundtrip(x);
    // The block's step: y's scale is the power of two that divides all of
    // them; recover it from the stored byte instead.
    std::vector<uint8_t> q(17);
    quantize_row(TensorType::MXFP4, x.data(), q.data(), 32);
    const double d = std::ldexp(1.0, q[0] - 127);
    for (int i = 0; i < 32; ++i) {
      double best = INFINITY;
      for (int c = 0; c < 16; ++c) best = std::min(best, std::fabs(x[i] - d * e2m1(c)));
      ASSERT_NEAR(std::fabs(x[i] - y[i]), best, 1e-12 * scale) << "trial " << trial << " i " << i;
    }
  }
}

TEST(Mxfp4, SearchNeverLosesAndErrorIsBounded) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(32 * 4096);
  for (float& v : x) v = normal(rng);
  const auto ys = roundtrip(x, true), yp = roundtrip(x, false);
  double signal = 0, es = 0, ep = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    signal += double(x[i]) * x[i];
    es += (double(x[i]) - ys[i]) * (double(x[i]) - ys[i]);
    ep += (double(x[i]) - yp[i]) * (double(x[i]) - yp[i]);
  }
  const double rs = std::sqrt(es / signal), rp = std::sqrt(ep / signal);
  std::printf("  mxfp4 gaussian relative rms: search %.4f, naive exponent %.4f\n", rs, rp);
  EXPECT_LE(rs, rp);
  EXPECT_LT(rs, 0.13);
}

TEST(Mxfp4, ZerosAndBadInput) {
  std::vector<float> zeros(32, 0.0f);
  for (float v : roundtrip(zeros)) EXPECT_EQ(v, 0.0f);
  std::vector<float> x(32, 1.0f);
  x[5] = NAN;
  std::vector<uint8_t> q(17);
  EXPECT_THROW(quantize_row(TensorType::MXFP4, x.data(), q.data(), 32), Error);
  EXPECT_THROW(quantize_row(TensorType::MXFP4, x.data(), q.data(), 31), Error);
}

}  // namespace
}  // namespace frugal::quant

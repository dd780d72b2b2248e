// The layer operations against their textbook definitions in double
// precision, on fresh random inputs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <complex>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "kernels/attention.h"
#include "kernels/ops.h"

namespace frugal::kernels {
namespace {

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

TEST(Ops, RmsNormMatchesDefinition) {
  for (int64_t n : {1, 7, 64, 1000}) {
    const auto x = randn(n, 1 + n, 3.0f), w = randn(n, 2 + n);
    std::vector<float> y(n);
    rmsnorm(x.data(), w.data(), y.data(), n, 1e-6f);
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    const double inv = 1.0 / std::sqrt(ss / n + 1e-6);
    for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(y[i], x[i] * inv * w[i], 1e-5 * (1 + std::abs(x[i] * inv * w[i])));
    // In place and without weights.
    std::vector<float> z = x;
    rmsnorm(z.data(), nullptr, z.data(), n, 1e-6f);
    for (int64_t i = 0; i < n; ++i) EXPECT_NEAR(z[i], x[i] * inv, 1e-5 * (1 + std::abs(x[i] * inv)));
  }
}

TEST(Ops, SoftmaxMatchesDefinition) {
  auto x = randn(100, 5, 10.0f);
  x[3] = 80.0f;  // large values must not overflow
  std::vector<float> y = x;
  softmax(y.data(), int64_t(y.size()));
  double mx = -1e300, sum = 0;
  for (float v : x) mx = std::max(mx, double(v));
  for (float v : x) sum += std::exp(v - mx);
  double total = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    EXPECT_NEAR(y[i], std::exp(x[i] - mx) / sum, 1e-6);
    total += y[i];
  }
  EXPECT_NEAR(total, 1.0, 1e-5);
}

TEST(Ops, SwigluAndSigmoid) {
  const auto g = randn(50, 7, 4.0f), u = randn(50, 8);
  std::vector<float> y(50);
  swiglu(g.data(), u.data(), y.data(), 50);
  for (int i = 0; i < 50; ++i) {
    const double s = 1.0 / (1.0 + std::exp(-double(g[i])));
    EXPECT_NEAR(y[i], g[i] * s * u[i], 1e-5 * (1 + std::abs(g[i] * s * u[i])));
    EXPECT_NEAR(sigmoid(g[i]), s, 1e-6);
  }
}

// RoPE as a rotation of complex pairs by pos * base^(-2i/n_dims).
std::vector<float> rope_definition(const std::vector<float>& x, int64_t n_dims, int64_t pos, double base,
                                   bool adjacent) {
  std::vector<float> y = x;
  const int64_t half = n_dims / 2;
  for (int64_t i = 0; i < half; ++i) {
    const int64_t a = adjacent ? 2 * i : i, b = adjacent ? 2 * i + 1 : i + half;
    const std::complex<double> z(x[a], x[b]);
    const std::complex<double> r = z * std::polar(1.0, double(pos) * std::pow(base, -2.0 * i / n_dims));
    y[a] = float(r.real());
    y[b] = float(r.imag());
  }
  return y;
}

TEST(Ops, RopeRotatesPairsAdjacentAndHalves) {
  for (bool adjacent : {true, false}) {
    for (int64_t pos : {0, 1, 17, 4000}) {
      RopeParams p;
      p.n_dims = 32;
      p.freq_base = 10000.0f;
      p.pairing = adjacent ? RopePairing::kAdjacent : RopePairing::kHalves;
      const auto x = randn(48, uint32_t(pos + 3));  // head of 48, 32 rotated
      std::vector<float> cs(p.n_dims), y = x;
      rope_angles(p, pos, cs.data());
      rope_apply(p, cs.data(), y.data());
      const auto want = rope_definition(x, 32, pos, 10000.0, adjacent);
      for (int i = 0; i < 48; ++i) EXPECT_NEAR(y[i], want[i], 2e-5) << "i " << i << " pos " << pos;
    }
  }
}

TEST(Ops, RopeLinearScalingDividesPositions) {
  RopeParams p;
  p.n_dims = 16;
  p.freq_scale = 0.25f;
  const auto x = randn(16, 9);
  std::vector<float> cs(16), y = x;
  rope_angles(p, 40, cs.data());
  rope_apply(p, cs.data(), y.data());
  const auto want = rope_definition(x, 16, 10, 10000.0, true);  // 40 * 0.25
  for (int i = 0; i < 16; ++i) EXPECT_NEAR(y[i], want[i], 2e-5);
}

TEST(Ops, RopeFreqFactorsDivideEachPairsAngle) {
  // rope_freqs.weight (llama 3.1, llama4 Scout): pair i turns at theta_i / factor_i.
  RopeParams p;
  p.n_dims = 8;
  const float factors[4] = {1.0f, 2.0f, 4.0f, 0.5f};
  p.freq_factors = factors;
  std::vector<float> cs(8);
  rope_angles(p, 7, cs.data());
  for (int i = 0; i < 4; ++i) {
    const double theta = 7.0 * std::pow(10000.0, -2.0 * i / 8) / factors[i];
    EXPECT_NEAR(cs[2 * i], std::cos(theta), 1e-6) << i;
    EXPECT_NEAR(cs[2 * i + 1], std::sin(theta), 1e-6) << i;
  }
}

TEST(Ops, RopeYarnMixesInterpolationAndExtrapolation) {
  // YaRN: dims below the fast correction dim keep the original frequency,
  // dims above the slow one are interpolated by freq_scale, cos/sin get the
  // magnitude 1 + 0.1 ln(1/freq_scale).
  RopeParams p;
  p.n_dims = 64;
  p.freq_base = 10000.0f;
  p.freq_scale = 0.25f;
  p.ext_factor = 1.0f;
  p.n_ctx_orig = 64;
  const int64_t pos = 9;
  std::vector<float> cs(64);
  rope_angles(p, pos, cs.data());
  auto corr = [&](double n_rot) { return 64 * std::log(64 / (n_rot * 2 * M_PI)) / (2 * std::log(10000.0)); };
  const double lo = std::max(0.0, std::floor(corr(32))), hi = std::min(63.0, std::ceil(corr(1)));
  const double mscale = 1 + 0.1 * std::log(4.0);
  for (int i = 0; i < 32; ++i) {
    const double te = pos * std::pow(10000.0, -2.0 * i / 64), ti = 0.25 * te;
    const double ramp = 1 - std::clamp((i - lo) / std::max(0.001, hi - lo), 0.0, 1.0);
    const double th = ti * (1 - ramp) + te * ramp;
    EXPECT_NEAR(cs[2 * i], std::cos(th) * mscale, 1e-5) << i;
    EXPECT_NEAR(cs[2 * i + 1], std::sin(th) * mscale, 1e-5) << i;
    if (i < lo) {
      EXPECT_NEAR(th, te, 1e-9);
    }
    if (i > hi) {
      EXPECT_NEAR(th, ti, 1e-9);
    }
  }
}

TEST(Ops, AttentionMatchesReferenceF32AndF16) {
  const int64_t dk = 40, dv = 24, n = 37, k_stride = 3 * dk, v_stride = 2 * dv;
  const auto q = randn(dk, 11);
  const auto kf = randn(n * k_stride, 12, 2.0f), vf = randn(n * v_stride, 13);
  std::vector<uint16_t> kh(kf.size()), vh(vf.size());
  for (size_t i = 0; i < kf.size(); ++i) kh[i] = f32_to_fp16(kf[i]);
  for (size_t i = 0; i < vf.size(); ++i) vh[i] = f32_to_fp16(vf[i]);
  for (CacheType t : {CacheType::kF32, CacheType::kF16}) {
    for (int64_t len : {int64_t{1}, int64_t{2}, n}) {
      AttentionRows rows;
      rows.type = t;
      rows.k = t == CacheType::kF32 ? static_cast<const void*>(kf.data() + dk) : kh.data() + dk;  // a later head
      rows.v = t == CacheType::kF32 ? static_cast<const void*>(vf.data()) : vh.data();
      rows.k_stride = k_stride;
      rows.v_stride = v_stride;
      rows.n = len;
      std::vector<float> scores(len), out(dv), want(dv);
      attend(q.data(), dk, rows, dv, 0.125f, scores.data(), out.data());
      attend_reference(q.data(), dk, rows, dv, 0.125f, want.data());
      for (int64_t i = 0; i < dv; ++i) EXPECT_NEAR(out[i], want[i], 1e-5) << "len " << len;
      if (len == 1) {
        for (int64_t i = 0; i < dv; ++i) {  // one position: the output is its value row
          EXPECT_NEAR(out[i], t == CacheType::kF32 ? vf[i] : fp16_to_f32(vh[i]), 1e-6);
        }
      }
    }
  }
}

TEST(Ops, ArgmaxTakesTheFirstLargestAndSkipsNaN) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  for (int64_t n : {1, 7, 8, 9, 50304}) {
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = normal(rng);
    const int64_t want = std::max_element(x.begin(), x.end()) - x.begin();
    EXPECT_EQ(argmax(x.data(), n), want) << n;
    // A tie later than the first maximum, and NaNs anywhere, change nothing.
    x.push_back(x[static_cast<size_t>(want)]);
    x[0] = std::numeric_limits<float>::quiet_NaN();
    if (want != 0) {
      EXPECT_EQ(argmax(x.data(), n + 1), want) << n;
    }
  }
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const float all_nan[3] = {nan, nan, nan}, minus_inf[3] = {nan, -inf, -inf};
  EXPECT_EQ(argmax(all_nan, 3), -1);
  EXPECT_EQ(argmax(minus_inf, 3), 1);
  EXPECT_EQ(argmax(all_nan, 0), -1);
}

}  // namespace
}  // namespace frugal::kernels

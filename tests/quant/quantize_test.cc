// Quantisation of every type from f32: round-trip error bounds per bit width
// on Gaussian and heavy-tailed data, the scale search against plain
// round-to-nearest, stability of re-quantisation, and rejected inputs.
// Inputs are drawn from a fresh seed each run (printed, to replay a failure
// set FRUGAL_QUANT_SEED).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "base/error.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant/scale_search.h"

namespace frugal::quant {
namespace {

uint32_t test_seed() {
  static const uint32_t seed = [] {
    const char* env = std::getenv("FRUGAL_QUANT_SEED");
    const uint32_t s = env ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10)) : std::random_device{}();
    std::printf("quantize_test seed = %u (FRUGAL_QUANT_SEED=%u replays it)\n", s, s);
    return s;
  }();
  return seed;
}

enum class Dist { Gaussian, StudentT3 };

std::vector<float> draw(Dist dist, size_t n, uint32_t salt) {
  std::mt19937 rng(test_seed() + salt);
  std::vector<float> x(n);
  if (dist == Dist::Gaussian) {
    std::normal_distribution<float> g;
    for (auto& v : x) v = g(rng);
  } else {
    std::student_t_distribution<float> t(3.0f);
    for (auto& v : x) v = t(rng);
  }
  return x;
}

double relative_rms(const std::vector<float>& a, const std::vector<float>& b) {
  double e = 0, s = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    e += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    s += double(a[i]) * a[i];
  }
  return std::sqrt(e / s);
}

constexpr int64_t kRows = 16, kCols = 1024;

std::vector<uint8_t> quantise(TensorType t, const std::vector<float>& x, bool search = true) {
  const size_t rb = row_bytes(t, kCols);
  std::vector<uint8_t> q(kRows * rb);
  QuantizeOptions o;
  o.search = search;
  for (int64_t r = 0; r < kRows; ++r) quantize_row(t, x.data() + r * kCols, q.data() + r * rb, kCols, o);
  return q;
}

std::vector<float> dequantise(TensorType t, const std::vector<uint8_t>& q) {
  std::vector<float> y(kRows * kCols);
  dequantize_rows(t, q.data(), y.data(), kRows, kCols);
  return y;
}

// Upper bounds of the relative RMS error (|x - x'| / |x|) per type, about
// 1.25 times the worst of 30 random draws. Each bit less roughly doubles the
// error (the step halves per bit; the error is step / sqrt(12)); heavy tails
// cost more since a block's extreme value stretches the step for the rest.
struct Case {
  TensorType t;
  double gaussian, student_t;
};
const Case kCases[] = {
    {TensorType::F16, 4e-4, 4e-4},     {TensorType::BF16, 3e-3, 3e-3},    {TensorType::Q8_0, 7e-3, 1.4e-2},
    {TensorType::Q8_K, 1e-2, 3e-2},    {TensorType::Q6_K, 2.3e-2, 3.6e-2}, {TensorType::Q5_1, 4.8e-2, 6.5e-2},
    {TensorType::Q5_0, 5.5e-2, 8.5e-2}, {TensorType::Q5_K, 4.6e-2, 6.2e-2}, {TensorType::Q4_1, 0.10, 0.13},
    {TensorType::Q4_0, 0.11, 0.17},    {TensorType::Q4_K, 0.09, 0.12},    {TensorType::IQ4_NL, 0.095, 0.13},
    {TensorType::IQ4_XS, 0.095, 0.13}, {TensorType::Q3_K, 0.20, 0.26},    {TensorType::Q2_K, 0.38, 0.45},
};

TEST(Quantize, RoundTripErrorWithinBoundsPerType) {
  for (const Dist dist : {Dist::Gaussian, Dist::StudentT3}) {
    const auto x = draw(dist, kRows * kCols, 1);
    for (const Case& c : kCases) {
      const double err = relative_rms(x, dequantise(c.t, quantise(c.t, x)));
      const double bound = dist == Dist::Gaussian ? c.gaussian : c.student_t;
      std::printf("  %-7s %-9s relative rms %.5f (bound %.4f)\n", tensor_type_name(c.t),
                  dist == Dist::Gaussian ? "gaussian" : "student-t", err, bound);
      EXPECT_LT(err, bound) << tensor_type_name(c.t);
    }
  }
}

// The scale search must beat the naive scale (largest value to the end of
// the range, round to nearest) for every searched type. Heavy tails make the
// total error of one draw noisy, so the errors are summed over four draws.
TEST(Quantize, ScaleSearchBeatsRoundToNearest) {
  const TensorType searched[] = {TensorType::Q2_K, TensorType::Q3_K,   TensorType::Q4_K,  TensorType::Q5_K,
                                 TensorType::Q6_K, TensorType::IQ4_NL, TensorType::IQ4_XS};
  for (const Dist dist : {Dist::Gaussian, Dist::StudentT3}) {
    std::vector<std::vector<float>> draws;
    for (uint32_t salt = 10; salt < 14; ++salt) draws.push_back(draw(dist, kRows * kCols, salt));
    for (const TensorType t : searched) {
      double signal = 0, err_search = 0, err_plain = 0;
      for (const auto& x : draws) {
        const auto ys = dequantise(t, quantise(t, x, true)), yp = dequantise(t, quantise(t, x, false));
        for (size_t i = 0; i < x.size(); ++i) {
          signal += double(x[i]) * x[i];
          err_search += (double(x[i]) - ys[i]) * (double(x[i]) - ys[i]);
          err_plain += (double(x[i]) - yp[i]) * (double(x[i]) - yp[i]);
        }
      }
      const double searched_err = std::sqrt(err_search / signal), plain_err = std::sqrt(err_plain / signal);
      std::printf("  %-7s %-9s search %.5f, round-to-nearest %.5f\n", tensor_type_name(t),
                  dist == Dist::Gaussian ? "gaussian" : "student-t", searched_err, plain_err);
      EXPECT_LT(searched_err, plain_err) << tensor_type_name(t);
    }
  }
}

// Quantising what was dequantised: the plain-rounding types give back the
// same bytes; the searched types may move to another equally good encoding,
// but never drift by more than a small part of the first round trip's error.
TEST(Quantize, RequantisingDequantisedValuesIsStable) {
  const auto x = draw(Dist::Gaussian, kRows * kCols, 3);
  for (const Case& c : kCases) {
    const auto q = quantise(c.t, x);
    const auto y = dequantise(c.t, q);
    const auto q2 = quantise(c.t, y);
    const bool exact = c.t == TensorType::F16 || c.t == TensorType::BF16 || c.t == TensorType::Q8_0 ||
                       c.t == TensorType::Q4_0 || c.t == TensorType::Q5_0 || c.t == TensorType::Q8_K;
    if (exact) {
      EXPECT_EQ(q, q2) << tensor_type_name(c.t);
    } else {
      const double drift = relative_rms(y, dequantise(c.t, q2));
      EXPECT_LT(drift, 0.5 * relative_rms(x, y)) << tensor_type_name(c.t);
    }
  }
}

// An importance vector steers the search: values marked important come out
// closer than without it, for every type that takes one.
TEST(Quantize, ImportanceWeightsTheError) {
  const TensorType typed[] = {TensorType::Q2_K, TensorType::Q3_K,   TensorType::Q4_K,  TensorType::Q5_K,
                              TensorType::Q6_K, TensorType::IQ4_NL, TensorType::IQ4_XS};
  const int64_t n = 256 * 16;
  const auto x = draw(Dist::Gaussian, n, 4);
  std::vector<float> importance(n);
  for (int64_t i = 0; i < n; ++i) importance[i] = (i / 4) % 4 == 0 ? 50.0f : 1.0f;  // every fourth quad
  auto important_error = [&](const std::vector<float>& y) {
    double e = 0;
    for (int64_t i = 0; i < n; ++i) e += importance[i] * (x[i] - y[i]) * (x[i] - y[i]);
    return e;
  };
  for (const TensorType t : typed) {
    std::vector<uint8_t> q(row_bytes(t, n));
    std::vector<float> plain(n), weighted(n);
    quantize_row(t, x.data(), q.data(), n);
    dequantize_row(t, q.data(), plain.data(), n);
    quantize_row(t, x.data(), q.data(), n, importance.data());
    dequantize_row(t, q.data(), weighted.data(), n);
    EXPECT_LT(important_error(weighted), important_error(plain)) << tensor_type_name(t);
  }
}

// Each type weighs its search's errors in one form with an importance
// vector and in one without (quant/scale_search.h: ErrorWeights). Where the
// forms are the same an importance of 1 everywhere changes no byte; where
// they differ it does. Q4_K weighs sqrt(sigma2 + x^2) either way, Q2_K and
// the IQ1 types rms + |x| either way (docs/QUANTIZATION.md has the KL
// divergences that chose them); the others change form with the importance.
TEST(Quantize, UniformImportanceIsNoImportanceWhereTheFormIsShared) {
  struct Case {
    TensorType t;
    bool same;
  };
  const Case cases[] = {{TensorType::Q2_K, true},  {TensorType::Q4_K, true},   {TensorType::IQ1_S, true},
                        {TensorType::IQ1_M, true}, {TensorType::Q3_K, false},  {TensorType::Q5_K, false},
                        {TensorType::Q6_K, false}, {TensorType::IQ2_XXS, false}};
  const int64_t n = 256 * 8;
  const auto x = draw(Dist::Gaussian, n, 6);
  const std::vector<float> ones(n, 1.0f);
  for (const Case& c : cases) {
    std::vector<uint8_t> plain(row_bytes(c.t, n)), uniform(row_bytes(c.t, n));
    quantize_row(c.t, x.data(), plain.data(), n);
    quantize_row(c.t, x.data(), uniform.data(), n, ones.data());
    EXPECT_EQ(plain == uniform, c.same) << tensor_type_name(c.t);
  }
}

// The table lookup behind IQ4 rounding against a plain scan of the grid, on
// random values and on every half-integer (where the midpoints lie).
TEST(Quantize, NearestIQ4IndexMatchesAScan) {
  auto scan = [](float v) {
    int best = 0;
    for (int j = 1; j < 16; ++j)
      if (std::fabs(v - kIQ4NLValues[j]) <= std::fabs(v - kIQ4NLValues[best])) best = j;
    return best;
  };
  std::mt19937 rng(test_seed() + 5);
  std::uniform_real_distribution<float> u(-200.0f, 200.0f);
  for (int i = 0; i < 100000; ++i) {
    const float v = u(rng);
    ASSERT_EQ(nearest_iq4_index(v), scan(v)) << v;
  }
  for (int k = -400; k <= 400; ++k) ASSERT_EQ(nearest_iq4_index(k / 2.0f), scan(k / 2.0f)) << k / 2.0f;
  EXPECT_EQ(nearest_iq4_index(std::nanf("")), 0);
}

TEST(Quantize, ZeroRowsStayZero) {
  std::vector<float> x(kRows * kCols, 0.0f);
  for (const Case& c : kCases) EXPECT_EQ(dequantise(c.t, quantise(c.t, x)), x) << tensor_type_name(c.t);
}

// Subnormal and mixed-magnitude rows: the searches' inverse scales may
// overflow; every type must still give finite values and never grow them.
TEST(Quantize, TinyValuesStayFiniteAndSmall) {
  std::vector<float> x(kRows * kCols);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (i % 7 == 0 ? 3e-41f : 1e-44f) * (i % 2 ? 1.0f : -1.0f);
  x[1] = 1e-38f;
  for (const Case& c : kCases) {
    const auto y = dequantise(c.t, quantise(c.t, x));
    for (size_t i = 0; i < y.size(); ++i) {
      ASSERT_TRUE(std::isfinite(y[i])) << tensor_type_name(c.t) << " " << i;
      ASSERT_LE(std::fabs(y[i]), 1e-37f) << tensor_type_name(c.t) << " " << i;
    }
  }
}

TEST(Quantize, RejectsBadRowsAndValues) {
  std::vector<uint8_t> buf(4096);
  std::vector<float> x(600, 1.0f);
  for (const Case& c : kCases) {
    const int64_t bs = tensor_type_info(c.t).block_size;
    if (bs == 1) continue;
    EXPECT_THROW(quantize_row(c.t, x.data(), buf.data(), bs + 8), Error) << tensor_type_name(c.t);
  }
  try {
    quantize_row(TensorType::Q4_K, x.data(), buf.data(), 300);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("300"), std::string::npos) << e.what();
  }
  x[5] = std::nanf("");
  EXPECT_THROW(quantize_row(TensorType::Q4_K, x.data(), buf.data(), 256), Error);
  x[5] = INFINITY;
  EXPECT_THROW(quantize_row(TensorType::IQ4_NL, x.data(), buf.data(), 32), Error);
  x[5] = 1e6f;  // beyond what the fp16 scales reach
  EXPECT_THROW(quantize_row(TensorType::Q4_K, x.data(), buf.data(), 256), Error);
  EXPECT_NO_THROW(quantize_row(TensorType::Q8_0, x.data(), buf.data(), 32));  // d = 1e6 / 127 fits
  x[5] = 1e8f;
  EXPECT_THROW(quantize_row(TensorType::Q8_0, x.data(), buf.data(), 32), Error);
  EXPECT_THROW(quantize_row(TensorType::F16, x.data(), buf.data(), 32), Error);
  EXPECT_NO_THROW(quantize_row(TensorType::BF16, x.data(), buf.data(), 32));
  EXPECT_NO_THROW(quantize_row(TensorType::Q8_K, x.data(), buf.data(), 256));
  EXPECT_THROW(quantize_row(TensorType::IQ2_XXS, x.data(), buf.data(), 256), Error);
}

}  // namespace
}  // namespace frugal::quant

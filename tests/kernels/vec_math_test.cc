// The vector exponential and SwiGLU of kernels/vec_math.h against the
// definitions in double precision, over the whole float range and its edges.
#include "kernels/vec_math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/ops.h"

// The 32-byte vectors stay inside inlined code (see vec_math.h).
#pragma GCC diagnostic ignored "-Wpsabi"

namespace frugal::kernels {
namespace {

float exp1(float x) {
  float in[8] = {x, x, x, x, x, x, x, x}, out[8];
  vec::store8(out, vec::exp8(vec::load8(in)));
  return out[3];
}

// Units in the last place between a float and the exact value.
double ulps(float got, double want) {
  const double ulp = std::ldexp(1.0, std::ilogb(static_cast<float>(want)) - 23);
  return std::abs(got - want) / ulp;
}

TEST(VecMath, ExpWithinTwoUlpsEverywhereItIsNormal) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> any(-87.3f, 88.7f), small(-1.0f, 1.0f);
  double worst = 0;
  for (int i = 0; i < 200000; ++i) {
    const float x = i % 2 ? any(rng) : small(rng);
    worst = std::max(worst, ulps(exp1(x), std::exp(static_cast<double>(x))));
  }
  // Every step of 1/64 over the range too, so the ends of n's intervals are hit.
  for (float x = -87.3f; x < 88.7f; x += 1.0f / 64)
    worst = std::max(worst, ulps(exp1(x), std::exp(static_cast<double>(x))));
  EXPECT_LE(worst, 2.0);
  EXPECT_EQ(exp1(0.0f), 1.0f);
  EXPECT_EQ(exp1(-0.0f), 1.0f);
}

TEST(VecMath, ExpEdges) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(exp1(-inf), 0.0f);  // masked attention scores weigh exactly nothing
  EXPECT_EQ(exp1(-100.0f), 0.0f);
  EXPECT_EQ(exp1(inf), inf);
  EXPECT_EQ(exp1(89.0f), inf);
  EXPECT_TRUE(std::isnan(exp1(std::numeric_limits<float>::quiet_NaN())));
  // The top of the range: e^88.7 is finite (2^128 would overflow one step of scaling).
  EXPECT_TRUE(std::isfinite(exp1(88.72f)));
  EXPECT_LE(ulps(exp1(88.72f), std::exp(static_cast<double>(88.72f))), 2.0);
}

TEST(VecMath, LanesAreIndependent) {
  // A value's result does not depend on its lane or its neighbours.
  const float xs[8] = {-3.5f, 0.25f, 10.0f, -80.0f, 1.0f, -std::numeric_limits<float>::infinity(), 42.0f, -0.5f};
  float out[8];
  vec::store8(out, vec::exp8(vec::load8(xs)));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(out[i], exp1(xs[i])) << i;
}

TEST(VecMath, SwigluSameBitsWhereverTheTailFalls) {
  std::mt19937 rng(9);
  std::normal_distribution<float> normal(0.0f, 4.0f);
  std::vector<float> g(37), u(37), whole(37);
  for (size_t i = 0; i < g.size(); ++i) g[i] = normal(rng), u[i] = normal(rng);
  swiglu(g.data(), u.data(), whole.data(), 37);
  for (int64_t cut : {1, 5, 8, 13, 30}) {
    std::vector<float> parts(37);
    swiglu(g.data(), u.data(), parts.data(), cut);
    swiglu(g.data() + cut, u.data() + cut, parts.data() + cut, 37 - cut);
    for (int i = 0; i < 37; ++i) EXPECT_EQ(parts[i], whole[i]) << "cut " << cut << " at " << i;
  }
  for (int i = 0; i < 37; ++i) {
    const double s = g[i] / (1.0 + std::exp(-static_cast<double>(g[i]))) * u[i];
    EXPECT_NEAR(whole[i], s, 1e-6 * (1 + std::abs(s)));
  }
}

}  // namespace
}  // namespace frugal::kernels

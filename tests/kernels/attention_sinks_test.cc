// Flash attention with a sliding window and attention sinks (gpt-oss)
// against the double-precision definition: the softmax runs over positions
// [first, n) and one extra logit per query (the sink) that takes probability
// without giving a value; and a query's result does not depend on the others
// in its call. Also the clamped SwiGLU against its definition.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

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

TEST(AttentionSinks, WindowAndSinkMatchTheDefinition) {
  const int64_t n_pos = 150, dk = 40, dv = 24;
  const auto K = randn(size_t(n_pos * dk), 1, 1.5f), V = randn(size_t(n_pos * dv), 2);
  AttentionRows rows;
  rows.k = K.data();
  rows.v = V.data();
  rows.k_stride = dk;
  rows.v_stride = dv;
  struct Case {
    int64_t n, first;
    float sink;
  };
  // Windows inside one block, across block edges, of one position, the
  // whole prefix; sinks small, dominant and absent.
  const std::vector<Case> cases = {{1, 0, 0.5f},    {10, 2, -1.0f},  {64, 56, 3.0f},  {65, 57, 0.0f},
                                   {130, 2, 20.0f}, {150, 149, 1.0f}, {150, 0, -INFINITY}, {129, 1, -30.0f},
                                   {80, 72, -INFINITY}};
  const int64_t nq = int64_t(cases.size());
  const auto q = randn(size_t(nq * dk), 3);
  std::vector<float> out(size_t(nq * dv), 9.0f);
  std::vector<AttentionQuery> qs;
  for (int64_t i = 0; i < nq; ++i)
    qs.push_back({q.data() + i * dk, out.data() + i * dv, cases[i].n, cases[i].first, cases[i].sink});
  std::vector<float> scratch(flash_scratch_floats(nq, dk, dv));
  attend_flash(qs, dk, rows, dv, 0.2f, scratch.data());
  for (int64_t i = 0; i < nq; ++i) {
    const Case& c = cases[size_t(i)];
    std::vector<double> s;
    double mx = c.sink;
    for (int64_t j = c.first; j < c.n; ++j) {
      double acc = 0;
      for (int64_t d = 0; d < dk; ++d) acc += double(q[i * dk + d]) * K[j * dk + d];
      s.push_back(acc * 0.2);
      mx = std::max(mx, s.back());
    }
    double denom = std::isinf(c.sink) ? 0.0 : std::exp(c.sink - mx);
    for (double& x : s) denom += (x = std::exp(x - mx));
    for (int64_t d = 0; d < dv; ++d) {
      double want = 0;
      for (size_t j = 0; j < s.size(); ++j) want += s[j] / denom * V[(c.first + int64_t(j)) * dv + d];
      ASSERT_NEAR(out[i * dv + d], want, 2e-5 * (1 + std::fabs(want))) << "case " << i << " col " << d;
    }
    std::vector<float> alone(static_cast<size_t>(dv));
    const AttentionQuery one{q.data() + i * dk, alone.data(), c.n, c.first, c.sink};
    attend_flash({&one, 1}, dk, rows, dv, 0.2f, scratch.data());
    for (int64_t d = 0; d < dv; ++d) ASSERT_EQ(alone[d], out[i * dv + d]) << "case " << i << " alone";
  }
}

TEST(AttentionSinks, ClampedSwigluMatchesItsDefinition) {
  const std::vector<float> gate = {-20.0f, -7.5f, -1.0f, 0.0f, 0.3f, 6.9f, 7.0f, 7.1f, 50.0f, 2.0f};
  const std::vector<float> up = {3.0f, -9.0f, 0.5f, 1.0f, -7.2f, 7.5f, 0.0f, -0.5f, 100.0f, -100.0f};
  std::vector<float> out(gate.size());
  swiglu_oai(gate.data(), up.data(), out.data(), int64_t(gate.size()));
  for (size_t i = 0; i < gate.size(); ++i) {
    const double g = std::min<double>(gate[i], 7.0), u = std::clamp<double>(up[i], -7.0, 7.0);
    const double want = g / (1.0 + std::exp(-1.702 * g)) * (u + 1.0);
    EXPECT_NEAR(out[i], want, 1e-6 * (1 + std::fabs(want))) << i;
  }
  // In place (out aliasing gate) gives the same.
  std::vector<float> g2 = gate;
  swiglu_oai(g2.data(), up.data(), g2.data(), int64_t(g2.size()));
  EXPECT_EQ(g2, out);
}

}  // namespace
}  // namespace frugal::kernels

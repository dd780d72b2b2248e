// kernels::gemm_bf16 against the double-precision product of the
// bf16-rounded factors, for the vdpbf16ps tile kernel and its scalar twin:
// sizes off every tile edge (rows of 8, columns of 32, k odd and past a k
// block), factors read as transposes, accumulation, a pool, and NaN and
// infinity passing through as IEEE arithmetic says.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "base/fp16.h"
#include "base/mix64.h"
#include "kernels/cpu_features.h"
#include "kernels/gemm_bf16.h"

namespace frugal::kernels {
namespace {

std::vector<float> random_values(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i)
    v[i] = static_cast<float>(static_cast<double>(mix64(seed * 0x9E3779B97F4A7C15ull + i) >> 11) / 0x1p53 * 2.0 - 1.0);
  return v;
}

double rounded(float x) { return bf16_to_f32(f32_to_bf16(x)); }

struct Case {
  int64_t m, n, k;
  bool a_transposed, b_transposed, accumulate;
};

void check(const Case& t, bool scalar, ThreadPool* pool) {
  SCOPED_TRACE(testing::Message() << "m " << t.m << " n " << t.n << " k " << t.k << " aT " << t.a_transposed << " bT "
                                  << t.b_transposed << " acc " << t.accumulate << (scalar ? " scalar" : " native"));
  const auto a = random_values(size_t(t.m * t.k), 11), b = random_values(size_t(t.n * t.k), 12);
  // Element (i, p) of A stored at i * k + p, or transposed at p * m + i (likewise B).
  const StridedMatrix am = t.a_transposed ? StridedMatrix{.data = a.data(), .row = 1, .col = t.m}
                                          : StridedMatrix{.data = a.data(), .row = t.k, .col = 1};
  const StridedMatrix bm = t.b_transposed ? StridedMatrix{.data = b.data(), .row = 1, .col = t.n}
                                          : StridedMatrix{.data = b.data(), .row = t.k, .col = 1};
  const int64_t ldc = t.n + 3;  // a row stride wider than the row
  std::vector<float> c(size_t(t.m * ldc), 0.75f);
  if (scalar) gemm_bf16_scalar(am, bm, c.data(), ldc, t.m, t.n, t.k, t.accumulate);
  else gemm_bf16(am, bm, c.data(), ldc, t.m, t.n, t.k, t.accumulate, pool);
  for (int64_t i = 0; i < t.m; ++i) {
    for (int64_t j = 0; j < t.n; ++j) {
      double sum = 0.0, abs_sum = 0.0;
      for (int64_t p = 0; p < t.k; ++p) {
        const double x = rounded(a[size_t(i * am.row + p * am.col)]) * rounded(b[size_t(j * bm.row + p * bm.col)]);
        sum += x;
        abs_sum += std::abs(x);
      }
      const double want = (t.accumulate ? 0.75 : 0.0) + sum;
      ASSERT_NEAR(c[size_t(i * ldc + j)], want, double(t.k + 8) * 0x1p-24 * (abs_sum + 0.75)) << i << "," << j;
    }
    for (int64_t j = t.n; j < ldc; ++j) ASSERT_EQ(c[size_t(i * ldc + j)], 0.75f) << "wrote past the row";
  }
}

TEST(GemmBf16, MatchesTheRoundedProduct) {
  ThreadPool pool(3);
  const Case cases[] = {
      {.m = 1, .n = 1, .k = 1, .a_transposed = false, .b_transposed = false, .accumulate = false},
      {.m = 8, .n = 32, .k = 64, .a_transposed = false, .b_transposed = false, .accumulate = false},
      {.m = 9, .n = 33, .k = 7, .a_transposed = false, .b_transposed = true, .accumulate = true},
      {.m = 137, .n = 47, .k = 515, .a_transposed = false, .b_transposed = false, .accumulate = false},
      {.m = 13, .n = 70, .k = 1029, .a_transposed = true, .b_transposed = true, .accumulate = true},
      {.m = 200, .n = 16, .k = 33, .a_transposed = true, .b_transposed = false, .accumulate = false},
      {.m = 3, .n = 5, .k = 0, .a_transposed = false, .b_transposed = false, .accumulate = true},
      {.m = 3, .n = 5, .k = 0, .a_transposed = false, .b_transposed = false, .accumulate = false},
  };
  for (const Case& t : cases) {
    check(t, true, nullptr);
    if (cpu_has_avx512_bf16()) {
      check(t, false, nullptr);
      check(t, false, &pool);
    }
  }
}

TEST(GemmBf16, NonFiniteValuesFollowIeee) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  // Row 0 meets an infinity, row 1 a NaN, row 2 only finite values.
  const std::vector<float> a = {inf, 1.0f, 2.0f, nan, 1.0f, 2.0f}, b = {1.0f, 0.5f, 0.25f, 1.0f, 1.0f, 1.0f};
  for (bool scalar : {true, false}) {
    if (!scalar && !cpu_has_avx512_bf16()) continue;
    std::vector<float> c(3 * 2);
    const StridedMatrix am{.data = a.data(), .row = 2, .col = 1}, bm{.data = b.data(), .row = 3, .col = 1};
    // A is 3 x 2 here: rows (inf, 1), (2, nan), (1, 2); B is 2 x 2: (1, 0.5), (1, 1) (row stride 3).
    if (scalar) gemm_bf16_scalar(am, bm, c.data(), 2, 3, 2, 2, false);
    else gemm_bf16(am, bm, c.data(), 2, 3, 2, 2, false, nullptr);
    EXPECT_EQ(c[0], inf);
    EXPECT_EQ(c[1], inf);
    EXPECT_TRUE(std::isnan(c[2]));
    EXPECT_TRUE(std::isnan(c[3]));
    EXPECT_EQ(c[4], 2.0f);
    EXPECT_EQ(c[5], 3.0f);
  }
}

}  // namespace
}  // namespace frugal::kernels

// The IQ1 grid search (iq1_nearest.h) against a scan of all 2048 points on
// random groups, and the IQ1 encoders' output the same whether a tensor's
// rows are encoded on the thread pool or one after another.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <vector>

#include "base/thread_pool.h"
#include "gguf/tensor_type.h"
#include "quant/iq1_nearest.h"
#include "quant/iq_grids.h"
#include "quant/quant.h"

namespace frugal::quant {
namespace {

// Base-3 codes (element + 1 per position) of the grid's points.
const std::set<int>& grid_codes() {
  static const std::set<int> codes = [] {
    std::set<int> c;
    for (uint64_t g : kIQ1SGrid) {
      int code = 0;
      for (int j = 0, mul = 1; j < 8; ++j, mul *= 3) code += (static_cast<int8_t>(grid_byte(g, j)) + 1) * mul;
      c.insert(code);
    }
    return c;
  }();
  return codes;
}

float scan_least_error(const float* x, const float* w, float s, float delta) {
  float best = INFINITY;
  for (int k = 0; k < static_cast<int>(kIQ1SGrid.size()); ++k) best = std::fmin(best, iq1_point_error(x, w, s, delta, k));
  return best;
}

// Gaussian values (most groups' per-value nearest combination is no grid
// point), grid points with noise, a zero weight now and then, shifts of both
// signs and scales from far too small to far too large: the search's point
// has the least error of all points (to float rounding of the sums).
TEST(Iq1Nearest, LeastErrorOfAllPoints) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
  int off_grid = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    float x[8], w[8];
    const bool near_point = trial % 3 == 0;
    const uint64_t p = kIQ1SGrid[rng() % 2048];
    for (int j = 0; j < 8; ++j) {
      x[j] = near_point ? static_cast<int8_t>(grid_byte(p, j)) + 0.3f * normal(rng) : normal(rng);
      w[j] = trial % 7 == 0 && j == 3 ? 0.0f : 0.1f + uniform(rng);
    }
    const float s = std::exp(2.0f * normal(rng)) * (trial % 11 == 0 ? 0.0f : 1.0f);
    const float delta = trial % 2 ? 0.125f : -0.125f;
    float err = -1;
    const int k = iq1_nearest_point(x, w, s, delta, &err);
    ASSERT_GE(k, 0);
    ASSERT_LT(k, 2048);
    EXPECT_EQ(err, iq1_point_error(x, w, s, delta, k));
    const float least = scan_least_error(x, w, s, delta);
    EXPECT_LE(err, least * (1 + 1e-5f) + 1e-30f) << "trial " << trial << " s " << s;
    if (s > 0) {  // is the per-value nearest combination a grid point?
      int code = 0;
      for (int j = 0, mul = 1; j < 8; ++j, mul *= 3) {
        const float v = x[j] / s - delta;
        code += (v < -0.5f ? 0 : v < 0.5f ? 1 : 2) * mul;
      }
      off_grid += grid_codes().count(code) ? 0 : 1;
    }
  }
  EXPECT_GT(off_grid, 500);  // the pruned walk, not only the direct hit, was tested
}

// Rows are independent: the IQ1 encoders give the same bytes for a matrix
// whether its rows run on the thread pool (quantize_rows) or one by one.
TEST(Iq1Nearest, ThreadedRowsEqualRowByRow) {
  ASSERT_GT(ThreadPool::global().size(), 0);
  constexpr int64_t kRows = 24, kCols = 512;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> x(kRows * kCols);
  for (float& v : x) v = normal(rng);
  for (TensorType t : {TensorType::IQ1_S, TensorType::IQ1_M}) {
    const size_t rb = row_bytes(t, kCols);
    std::vector<uint8_t> threaded(rb * kRows), serial(rb * kRows);
    quantize_rows(t, x.data(), threaded.data(), kRows, kCols);
    for (int64_t r = 0; r < kRows; ++r) quantize_row(t, x.data() + r * kCols, serial.data() + r * rb, kCols);
    EXPECT_EQ(threaded, serial) << tensor_type_name(t);
  }
}

}  // namespace
}  // namespace frugal::quant

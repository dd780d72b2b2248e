// Helpers shared by the engine tests: feeding a prompt in batches and
// comparing logits.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/engine.h"

namespace frugal::runtime::testing {

// Logits of every token of `ids` (sequence `seq`), fed in batches of `step`.
inline std::vector<float> run_steps(Engine& e, const std::vector<int32_t>& ids, size_t step, int32_t seq = 0) {
  std::vector<float> all, logits;
  for (size_t b = 0; b < ids.size(); b += step) {
    std::vector<BatchRow> rows;
    for (size_t i = b; i < std::min(ids.size(), b + step); ++i)
      rows.push_back({seq, e.sequence_length(seq) + int32_t(i - b), ids[i], true});
    e.forward(rows, logits);
    all.insert(all.end(), logits.begin(), logits.end());
  }
  return all;
}

// max|a - b| / max|a|.
inline double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double mx = 0, scale = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    mx = std::max(mx, double(std::abs(a[i] - b[i])));
    scale = std::max(scale, double(std::abs(a[i])));
  }
  return mx / std::max(scale, 1e-30);
}

}  // namespace frugal::runtime::testing

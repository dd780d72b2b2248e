// The scale searches of scale_search.h. Groups are small (16 or 32 values),
// so each candidate is a full pass over the group.
#include "quant/scale_search.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/error.h"

namespace frugal::quant {
namespace {

constexpr int kMaxGroup = 256;

// Weighted squared error of x against scale * L - min.
float affine_error(const float* x, const float* w, int n, const uint8_t* L, float scale, float min) {
  float e = 0;
  for (int i = 0; i < n; ++i) {
    const float d = scale * L[i] - min - x[i];
    e += w[i] * d * d;
  }
  return e;
}

// Value of largest magnitude, with its sign (0 for an all-zero group).
float signed_absmax(const float* x, int n) {
  float amax = 0, m = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      m = x[i];
    }
  return m;
}

}  // namespace

AffineFit fit_affine(const float* x, const float* w, int n, int nmax, const AffineSearch& search, uint8_t* L) {
  FRUGAL_CHECK(n > 0 && n <= kMaxGroup);
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; ++i) {
    lo = std::min(lo, x[i]);
    hi = std::max(hi, x[i]);
  }
  lo = std::min(lo, 0.0f);  // the format subtracts a min >= 0: zero stays reachable
  if (!(hi > lo)) {
    std::memset(L, 0, static_cast<size_t>(n));
    return {0.0f, -lo};
  }
  // Baseline: the range [lo, hi] spread evenly over [0, nmax].
  const float range = hi - lo;
  float inv = nmax / range;
  for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(round_clamp(inv * (x[i] - lo), 0, nmax));
  AffineFit best{range / nmax, -lo};
  if (search.steps <= 0) return best;
  float best_err = affine_error(x, w, n, L, best.scale, best.min);

  uint8_t trial[kMaxGroup];
  for (int s = 0; s <= search.steps; ++s) {
    inv = (nmax + search.first + search.step * s) / range;
    float sw = 0, swl = 0, swl2 = 0, swx = 0, swlx = 0;
    for (int i = 0; i < n; ++i) {
      const int l = round_clamp(inv * (x[i] - lo), 0, nmax);
      trial[i] = static_cast<uint8_t>(l);
      sw += w[i];
      swl += w[i] * l;
      swl2 += w[i] * l * l;
      swx += w[i] * x[i];
      swlx += w[i] * l * x[i];
    }
    // Least squares for x ~ a * l + b, with b <= 0 enforced by refitting a alone.
    const float det = sw * swl2 - swl * swl;
    if (!(det > 0)) continue;
    float a = (sw * swlx - swl * swx) / det;
    float b = (swl2 * swx - swl * swlx) / det;
    if (b > 0) {
      b = 0;
      a = swlx / swl2;
    }
    if (!(a >= 0)) continue;
    const float err = affine_error(x, w, n, trial, a, -b);
    if (err < best_err) {
      best_err = err;
      best = {a, -b};
      std::memcpy(L, trial, static_cast<size_t>(n));
    }
  }
  return best;
}

float fit_symmetric(const float* x, const float* w, int n, int nmax, int steps, int8_t* L) {
  FRUGAL_CHECK(n > 0 && n <= kMaxGroup);
  const float m = signed_absmax(x, n);
  if (m == 0) {
    std::memset(L, 0, static_cast<size_t>(n));
    return 0.0f;
  }
  float inv = -nmax / m;
  for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(round_clamp(inv * x[i], -nmax, nmax - 1));
  float best = 1.0f / inv;
  if (steps <= 0) return best;
  // With the least-squares scale swlx / swl2, the weighted error is
  // sum(w x^2) - swlx^2 / swl2: the best candidate maximises swlx^2 / swl2.
  float best_score = -1;
  int8_t trial[kMaxGroup];
  for (int s = -steps; s <= steps; ++s) {
    inv = -(nmax + 0.1f * s) / m;
    float swlx = 0, swl2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = round_clamp(inv * x[i], -nmax, nmax - 1);
      trial[i] = static_cast<int8_t>(l);
      swlx += w[i] * l * x[i];
      swl2 += w[i] * l * l;
    }
    if (!(swl2 > 0)) continue;
    const float score = swlx * swlx / swl2;
    if (score > best_score) {
      best_score = score;
      best = swlx / swl2;
      std::memcpy(L, trial, static_cast<size_t>(n));
    }
  }
  return best;
}

int nearest_grid_index(const int8_t* grid, float v) {
  if (v <= grid[0]) return 0;
  if (v >= grid[15]) return 15;
  int lo = 0, hi = 15;
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (v < grid[mid]) hi = mid;
    else lo = mid;
  }
  return v - grid[lo] < grid[hi] - v ? lo : hi;
}

float fit_grid(const float* x, const float* w, int n, const int8_t* grid, int steps, uint8_t* q) {
  FRUGAL_CHECK(n > 0 && n <= kMaxGroup);
  const float m = signed_absmax(x, n);
  if (m == 0) {
    const auto zero = static_cast<uint8_t>(nearest_grid_index(grid, 0.0f));
    std::memset(q, zero, static_cast<size_t>(n));
    return 0.0f;
  }
  float inv = grid[0] / m;
  for (int i = 0; i < n; ++i) q[i] = static_cast<uint8_t>(nearest_grid_index(grid, inv * x[i]));
  float best = 1.0f / inv;
  if (steps <= 0) return best;
  float best_score = -1;
  uint8_t trial[kMaxGroup];
  for (int s = -steps; s <= steps; ++s) {
    inv = (grid[0] + s) / m;
    float swgx = 0, swg2 = 0;
    for (int i = 0; i < n; ++i) {
      const int k = nearest_grid_index(grid, inv * x[i]);
      trial[i] = static_cast<uint8_t>(k);
      swgx += w[i] * grid[k] * x[i];
      swg2 += w[i] * grid[k] * grid[k];
    }
    if (!(swg2 > 0)) continue;
    const float score = swgx * swgx / swg2;
    if (score > best_score) {
      best_score = score;
      best = swgx / swg2;
      std::memcpy(q, trial, static_cast<size_t>(n));
    }
  }
  return best;
}

float mean_square(const float* x, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += x[i] * x[i];
  return n > 0 ? s / n : 0.0f;
}

void element_weights(const float* x, const float* importance, int n, float sigma2, float* w) {
  if (importance) {
    for (int i = 0; i < n; ++i) w[i] = importance[i] * std::sqrt(sigma2 + x[i] * x[i]);
    return;
  }
  const float rms = std::sqrt(mean_square(x, n));
  for (int i = 0; i < n; ++i) w[i] = rms + std::fabs(x[i]);
}

}  // namespace frugal::quant

// The scale searches of scale_search.h. Groups are small (16 or 32 values),
// so each candidate is a full pass over the group.
#include "quant/scale_search.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>

#include "base/error.h"
#include "quant/blocks.h"

namespace frugal::quant {
namespace {

constexpr int kMaxGroup = 256;
constexpr int kLanes = 8;

// Weighted squared error of x against scale * L - min (the baseline's; the
// candidates' errors come from their sums).
float affine_error(const float* x, const float* w, int n, const uint8_t* L, float scale, float min) {
  float e = 0;
  for (int i = 0; i < n; ++i) {
    const float d = scale * L[i] - min - x[i];
    e += w[i] * d * d;
  }
  return e;
}

}  // namespace

float signed_absmax(const float* x, int n) {
  float amax = 0, m = 0;
  for (int i = 0; i < n; ++i)
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      m = x[i];
    }
  return m;
}

AffineFit fit_affine(const float* x, const float* w, int n, int nmax, const AffineSearch& search, uint8_t* L) {
  FRUGAL_CHECK(n > 0 && n <= kMaxGroup && n % kLanes == 0);
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

  // The sums that do not depend on l are the same for every candidate.
  float sw = 0, swx = 0;
  for (int i = 0; i < n; ++i) {
    sw += w[i];
    swx += w[i] * x[i];
  }
  const float top = static_cast<float>(nmax);
  float trial[kMaxGroup];
  for (int s = 0; s <= search.steps; ++s) {
    inv = (nmax + search.first + search.step * s) / range;
    // Eight independent accumulators per sum, so the compiler can keep them
    // in vector registers (this loop is nearly all of a k-quant's encoding
    // time). Groups are multiples of 8 values.
    float swl[kLanes] = {}, swl2[kLanes] = {}, swlx[kLanes] = {};
    for (int i = 0; i < n; i += kLanes)
      for (int k = 0; k < kLanes; ++k) {
        // x >= lo, so the scaled value is >= 0 up to rounding: clamp, round half up.
        const float t = std::min(top, std::max(0.0f, inv * (x[i + k] - lo)));  // NaN -> 0
        const float l = static_cast<float>(static_cast<int>(t + 0.5f));
        trial[i + k] = l;
        const float wl = w[i + k] * l;
        swl[k] += wl;
        swl2[k] += wl * l;
        swlx[k] += wl * x[i + k];
      }
    float sl = 0, sl2 = 0, slx = 0;
    for (int k = 0; k < kLanes; ++k) {
      sl += swl[k];
      sl2 += swl2[k];
      slx += swlx[k];
    }
    // Least squares for x ~ a * l + b, with b <= 0 enforced by refitting a alone.
    const float det = sw * sl2 - sl * sl;
    if (!(det > 0)) continue;
    float a = (sw * slx - sl * swx) / det;
    float b = (sl2 * swx - sl * slx) / det;
    if (b > 0) {
      b = 0;
      a = slx / sl2;
    }
    if (!(a >= 0)) continue;
    // The error summed directly: from the expanded sums it is a small
    // difference of large float terms, whose rounding can pick the worse of
    // two close candidates.
    float err = 0;
    for (int i = 0; i < n; ++i) {
      const float d = a * trial[i] + b - x[i];
      err += w[i] * d * d;
    }
    if (err < best_err) {
      best_err = err;
      best = {a, -b};
      for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(trial[i]);
    }
  }
  // Polish the winner: round every value again under its refitted scale and
  // min (some now sit nearer another integer) and refit, while that lowers
  // the error. Each round can only keep or lower it.
  for (int round = 0; round < 4 && best.scale > 0; ++round) {
    float sl = 0, sl2 = 0, slx = 0;
    for (int i = 0; i < n; ++i) {
      const float l = static_cast<float>(round_clamp((x[i] + best.min) / best.scale, 0, nmax));
      trial[i] = l;
      sl += w[i] * l;
      sl2 += w[i] * l * l;
      slx += w[i] * l * x[i];
    }
    const float det = sw * sl2 - sl * sl;
    if (!(det > 0)) break;
    float a = (sw * slx - sl * swx) / det;
    float b = (sl2 * swx - sl * slx) / det;
    if (b > 0) {
      b = 0;
      a = slx / sl2;
    }
    if (!(a > 0)) break;
    float err = 0;
    for (int i = 0; i < n; ++i) {
      const float d = a * trial[i] + b - x[i];
      err += w[i] * d * d;
    }
    if (!(err < best_err)) break;
    best_err = err;
    best = {a, -b};
    for (int i = 0; i < n; ++i) L[i] = static_cast<uint8_t>(trial[i]);
  }
  return best;
}

float fit_symmetric(const float* x, const float* w, int n, int nmax, int steps, int8_t* L) {
  FRUGAL_CHECK(n > 0 && n <= kMaxGroup && n % kLanes == 0);
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
  float trial[kMaxGroup];
  const float lo = static_cast<float>(-nmax), hi = static_cast<float>(nmax - 1), shift = nmax + 0.5f;
  for (int s = -steps; s <= steps; ++s) {
    inv = -(nmax + 0.1f * s) / m;
    // Laned sums as in fit_affine; rounding shifted to non-negative values so
    // a truncating conversion rounds (halves up).
    float lx[kLanes] = {}, l2[kLanes] = {};
    for (int i = 0; i < n; i += kLanes)
      for (int k = 0; k < kLanes; ++k) {
        const float t = std::min(hi, std::max(lo, inv * x[i + k]));  // NaN -> lo
        const float l = static_cast<float>(static_cast<int>(t + shift) - nmax);
        trial[i + k] = l;
        const float wl = w[i + k] * l;
        lx[k] += wl * x[i + k];
        l2[k] += wl * l;
      }
    float swlx = 0, swl2 = 0;
    for (int k = 0; k < kLanes; ++k) {
      swlx += lx[k];
      swl2 += l2[k];
    }
    if (!(swl2 > 0)) continue;
    const float score = swlx * swlx / swl2;
    if (score > best_score) {
      best_score = score;
      best = swlx / swl2;
      for (int i = 0; i < n; ++i) L[i] = static_cast<int8_t>(trial[i]);
    }
  }
  return best;
}

int nearest_iq4_index(float v) {
  // Every midpoint between neighbouring grid entries is a multiple of 1/2, so
  // the nearest entry is constant on each [k/2, (k+1)/2): a table indexed by
  // floor(2 v) over the span where the answer is not simply an end.
  constexpr int kLow = -256, kHigh = 228;  // floor(2 v) for v in [-128, 114)
  static const auto table = [] {
    std::array<uint8_t, kHigh - kLow> t{};
    for (int k = kLow; k < kHigh; ++k) {
      int best = 0;
      for (int j = 1; j < 16; ++j)  // ties: the later (larger) entry
        if (std::fabs(k / 2.0f - kIQ4NLValues[j]) <= std::fabs(k / 2.0f - kIQ4NLValues[best])) best = j;
      t[static_cast<size_t>(k - kLow)] = static_cast<uint8_t>(best);
    }
    return t;
  }();
  if (!(v > -128.0f)) return 0;  // NaN too
  if (v >= 114.0f) return 15;
  int k = static_cast<int>(2 * v);  // truncates toward zero: step down for negative non-integers
  if (static_cast<float>(k) > 2 * v) --k;
  return table[static_cast<size_t>(k - kLow)];
}

float fit_iq4(const float* x, const float* w, int n, int steps, uint8_t* q) {
  FRUGAL_CHECK(n > 0 && n <= kMaxGroup);
  const int8_t* grid = kIQ4NLValues;
  const float m = signed_absmax(x, n);
  if (m == 0) {
    std::memset(q, nearest_iq4_index(0.0f), static_cast<size_t>(n));
    return 0.0f;
  }
  float inv = grid[0] / m;
  for (int i = 0; i < n; ++i) q[i] = static_cast<uint8_t>(nearest_iq4_index(inv * x[i]));
  float best = 1.0f / inv;
  if (steps <= 0) return best;
  float best_score = -1;
  uint8_t trial[kMaxGroup];
  for (int s = -steps; s <= steps; ++s) {
    inv = (grid[0] + s) / m;
    float swgx = 0, swg2 = 0;
    for (int i = 0; i < n; ++i) {
      const int k = nearest_iq4_index(inv * x[i]);
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

void element_weights(const float* x, const float* importance, int n, float sigma2, ErrorWeights form, float* w) {
  if (form == ErrorWeights::kSigma) {
    for (int i = 0; i < n; ++i) w[i] = std::sqrt(sigma2 + x[i] * x[i]);
  } else {
    const float rms = std::sqrt(mean_square(x, n));
    for (int i = 0; i < n; ++i) w[i] = rms + std::fabs(x[i]);
  }
  if (importance)
    for (int i = 0; i < n; ++i) w[i] *= importance[i];
}

}  // namespace frugal::quant

// Weighted least-squares search of the scale (and min) of one small group of
// values, shared by the block encoders. Each search tries a range of candidate
// scales around the naive one (largest value -> end of the integer range),
// rounds the values to integers under each, refits the scale (and min) by
// weighted least squares for those integers, and keeps the fit with the least
// weighted squared error. steps == 0 turns the search off: the naive scale and
// plain round-to-nearest, the baseline the search is measured against.
#pragma once
#include <cstdint>

namespace frugal::quant {

// Affine fit x ~ scale * L - min with L in [0, nmax], scale >= 0, min >= 0
// (the group's minimum is never above zero). Candidate inverse scales are
// (nmax + first + step * s) / (max - min) for s in [0, steps].
struct AffineFit {
  float scale = 0;
  float min = 0;
};
struct AffineSearch {
  int steps = 20;
  float first = -1.0f;
  float step = 0.1f;
};
AffineFit fit_affine(const float* x, const float* w, int n, int nmax, const AffineSearch& search, uint8_t* L);

// Symmetric fit x ~ scale * L with L in [-nmax, nmax - 1]: the value of
// largest magnitude goes to -nmax (the end of the range that exists), and
// candidates (nmax + 0.1 s) for s in [-steps, steps] are tried around it.
// The returned scale carries the sign that makes that mapping work.
float fit_symmetric(const float* x, const float* w, int n, int nmax, int steps, int8_t* L);

// Fit x ~ scale * kIQ4NLValues[q]: candidates map the largest-magnitude value
// to kIQ4NLValues[0] + s (the grid's most negative entry, moved) for s in
// [-steps, steps].
float fit_iq4(const float* x, const float* w, int n, int steps, uint8_t* q);

// Index of the kIQ4NLValues entry nearest v (ties go to the larger entry).
int nearest_iq4_index(float v);

// Round to nearest (halves away from zero), clamped to [lo, hi]; NaN gives
// lo. Inline arithmetic: a libm round() call per candidate per value would
// dominate the scale searches.
inline int round_clamp(float v, int lo, int hi) {
  if (!(v > static_cast<float>(lo))) return lo;
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v >= 0 ? v + 0.5f : v - 0.5f);
}

// How the values of a group weigh against each other in a scale search.
enum class ErrorWeights {
  kMagnitude,  // rms + |x|, rms over the group: large values count more, small ones still count
  kSigma,      // sqrt(sigma2 + x^2), sigma2 twice the mean square of the surrounding super-block
};

// Per-element error weights for a group of n values: the form's weight times
// the value's importance (1 without an importance vector).
void element_weights(const float* x, const float* importance, int n, float sigma2, ErrorWeights form, float* w);

// The form most types use: kMagnitude without an importance vector
// (measured: a lower plain RMS error than |x| or x^2 weights for every
// type), kSigma with one (llama.cpp's weighting of the importance matrix).
// Some types choose their own (quantize_kquants.cc, quantize_iq1.cc), by
// the KL divergence each gives on a trained model (docs/QUANTIZATION.md).
inline ErrorWeights default_error_weights(const float* importance) {
  return importance ? ErrorWeights::kSigma : ErrorWeights::kMagnitude;
}
inline void element_weights(const float* x, const float* importance, int n, float sigma2, float* w) {
  element_weights(x, importance, n, sigma2, default_error_weights(importance), w);
}

// The value of largest magnitude, with its sign (0 for an all-zero group).
float signed_absmax(const float* x, int n);

// Mean of x^2 over n values.
float mean_square(const float* x, int n);

}  // namespace frugal::quant

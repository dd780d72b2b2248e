#include "kernels/ops.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/vec_math.h"

// GCC function multiversioning by instruction set (see attention.cc for why
// not by "arch=").
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FRUGAL_OPS_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FRUGAL_OPS_CLONES
#endif

// vec_math.h's 32-byte vectors pass between always-inlined functions only,
// never across an ABI boundary: GCC's note about the AVX ABI does not apply.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace frugal::kernels {

void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; ++i) ss += static_cast<double>(x[i]) * x[i];
  const float scale = static_cast<float>(1.0 / std::sqrt(ss / static_cast<double>(n) + eps));
  if (w) {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale * w[i];
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
  }
}

void softmax(float* x, int64_t n) {
  if (n <= 0) return;
  const float mx = *std::max_element(x, x + n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

// Eight values at a time through the vector exponential (vec_math.h), the
// tail padded into one more vector: a value's result is the same wherever a
// slice boundary puts it. Compiled for AVX-512, AVX2 and baseline x86.
FRUGAL_OPS_CLONES void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vec::store8(out + i, vec::swiglu8(vec::load8(gate + i), vec::load8(up + i)));
  if (i < n)
    vec::store_part(out + i, vec::swiglu8(vec::load_part(gate + i, n - i, 0.0f), vec::load_part(up + i, n - i, 0.0f)),
                    n - i);
}

void swiglu_oai(const float* gate, const float* up, float* out, int64_t n, float alpha, float limit) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = std::min(gate[i], limit);
    const float u = std::max(std::min(up[i], limit), -limit);
    out[i] = g / (1.0f + __builtin_expf(-alpha * g)) * (u + 1.0f);
  }
}

// Element-wise loops in eight-lane vectors: GCC's -O2 leaves loops whose
// pointers may alias scalar. Each element gets the same multiply and add
// in the vector part and the scalar tail.
FRUGAL_OPS_CLONES void axpy(float a, const float* x, float* y, int64_t n) {
  const vec::v8f av = vec::splat(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vec::store8(y + i, vec::load8(y + i) + av * vec::load8(x + i));
  for (; i < n; ++i) y[i] += a * x[i];
}

FRUGAL_OPS_CLONES void add_scaled_biased(float a, const float* x, const float* bias, float* y, int64_t n) {
  const vec::v8f av = vec::splat(a);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    vec::store8(y + i, vec::load8(y + i) + av * (vec::load8(x + i) + vec::load8(bias + i)));
  for (; i < n; ++i) y[i] += a * (x[i] + bias[i]);
}

FRUGAL_OPS_CLONES int64_t argmax(const float* x, int64_t n) {
  // The largest value first (a NaN never compares greater), then where it
  // first is: the same answer as a scalar scan keeping the first maximum.
  float m = -std::numeric_limits<float>::infinity();
  vec::v8f mv = vec::splat(m);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const vec::v8f v = vec::load8(x + i);
    mv = v > mv ? v : mv;
  }
  for (int l = 0; l < 8; ++l) m = mv[l] > m ? mv[l] : m;
  for (; i < n; ++i) m = x[i] > m ? x[i] : m;
  for (int64_t j = 0; j < n; ++j)
    if (x[j] == m) return j;
  return -1;
}

FRUGAL_OPS_CLONES void add(const float* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vec::store8(y + i, vec::load8(y + i) + vec::load8(x + i));
  for (; i < n; ++i) y[i] += x[i];
}

float dot(const float* a, const float* b, int64_t n) {
  double acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(a[i]) * b[i];
  return static_cast<float>(acc);
}

namespace {

// The YaRN correction dimension: the dimension whose wavelength fits n_rot
// rotations in the original context.
double yarn_corr_dim(int64_t n_dims, int64_t n_ctx_orig, double n_rot, double base) {
  return static_cast<double>(n_dims) * std::log(static_cast<double>(n_ctx_orig) / (n_rot * 2 * M_PI)) /
         (2 * std::log(base));
}

}  // namespace

void rope_angles(const RopeParams& p, int64_t pos, float* cos_sin) {
  const int64_t half = p.n_dims / 2;
  double corr_lo = 0, corr_hi = 0;
  double mscale = p.attn_factor;
  if (p.ext_factor != 0.0f) {
    corr_lo = std::max(0.0, std::floor(yarn_corr_dim(p.n_dims, p.n_ctx_orig, p.beta_fast, p.freq_base)));
    corr_hi = std::min(static_cast<double>(p.n_dims - 1),
                       std::ceil(yarn_corr_dim(p.n_dims, p.n_ctx_orig, p.beta_slow, p.freq_base)));
    mscale *= 1.0 + 0.1 * std::log(1.0 / p.freq_scale);
  }
  for (int64_t i = 0; i < half; ++i) {
    double theta_extrap = static_cast<double>(pos) * std::pow(static_cast<double>(p.freq_base), -2.0 * i / p.n_dims);
    if (p.freq_factors) theta_extrap /= static_cast<double>(p.freq_factors[i]);
    const double theta_interp = p.freq_scale * theta_extrap;
    double theta = theta_interp;
    if (p.ext_factor != 0.0f) {
      const double y = (static_cast<double>(i) - corr_lo) / std::max(0.001, corr_hi - corr_lo);
      const double ramp = (1.0 - std::min(1.0, std::max(0.0, y))) * p.ext_factor;
      theta = theta_interp * (1 - ramp) + theta_extrap * ramp;
    }
    cos_sin[2 * i] = static_cast<float>(std::cos(theta) * mscale);
    cos_sin[2 * i + 1] = static_cast<float>(std::sin(theta) * mscale);
  }
}

void rope_apply(const RopeParams& p, const float* cos_sin, float* x) {
  const int64_t half = p.n_dims / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float c = cos_sin[2 * i], s = cos_sin[2 * i + 1];
    float* a = p.pairing == RopePairing::kAdjacent ? x + 2 * i : x + i;
    float* b = p.pairing == RopePairing::kAdjacent ? x + 2 * i + 1 : x + i + half;
    const float x0 = *a, x1 = *b;
    *a = x0 * c - x1 * s;
    *b = x0 * s + x1 * c;
  }
}

}  // namespace frugal::kernels

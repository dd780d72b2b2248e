#include "kernels/ops.h"

#include <algorithm>
#include <cmath>

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

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) out[i] = silu(gate[i]) * up[i];
}

void swiglu_oai(const float* gate, const float* up, float* out, int64_t n, float alpha, float limit) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = std::min(gate[i], limit);
    const float u = std::max(std::min(up[i], limit), -limit);
    out[i] = g / (1.0f + __builtin_expf(-alpha * g)) * (u + 1.0f);
  }
}

void axpy(float a, const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void add(const float* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
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
    const double theta_extrap =
        static_cast<double>(pos) * std::pow(static_cast<double>(p.freq_base), -2.0 * i / p.n_dims);
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

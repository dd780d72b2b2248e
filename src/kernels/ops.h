// The small element-wise and row-wise operations of a transformer layer:
// RMSNorm, rotary position embedding (plain, linear-scaled and YaRN), softmax,
// SiLU/SwiGLU, sigmoid. Plain loops the compiler vectorises; each is tested
// against its textbook definition in double precision.
#pragma once
#include <cstdint>

namespace frugal::kernels {

// y[i] = x[i] / sqrt(mean(x^2) + eps) * w[i]  (w may be null: no scale).
// y may alias x.
void rmsnorm(const float* x, const float* w, float* y, int64_t n, float eps);

// In place: x = softmax(x) over n values (max-subtracted).
void softmax(float* x, int64_t n);

inline float silu(float x) { return x / (1.0f + __builtin_expf(-x)); }
inline float sigmoid(float x) { return 1.0f / (1.0f + __builtin_expf(-x)); }

// out[i] = silu(gate[i]) * up[i], the exponential within 2 ulp (vec_math.h).
// out may alias gate or up.
void swiglu(const float* gate, const float* up, float* out, int64_t n);

// gpt-oss's clamped SwiGLU: with g = min(gate[i], limit) and
// u = clamp(up[i], -limit, limit), out[i] = g * sigmoid(alpha * g) * (u + 1).
// The model's constants are alpha 1.702 and limit 7. out may alias gate or up.
inline constexpr float kSwigluOaiAlpha = 1.702f, kSwigluOaiLimit = 7.0f;
void swiglu_oai(const float* gate, const float* up, float* out, int64_t n, float alpha = kSwigluOaiAlpha,
                float limit = kSwigluOaiLimit);

// y[i] += a * x[i]
void axpy(float a, const float* x, float* y, int64_t n);
// y[i] += x[i]
void add(const float* x, float* y, int64_t n);

// y[i] += a * (x[i] + bias[i])
void add_scaled_biased(float a, const float* x, const float* bias, float* y, int64_t n);
float dot(const float* a, const float* b, int64_t n);

// The first index of the largest value of x[0..n), NaNs skipped; -1 when
// every value is NaN (or n is 0). Greedy decoding's pick, in vectors.
int64_t argmax(const float* x, int64_t n);

// How RoPE pairs the rotated dimensions of a head.
enum class RopePairing {
  kAdjacent,  // (x[2i], x[2i+1]): llama's "normal" rope, deepseek2
  kHalves,    // (x[i], x[i + n_dims/2]): GPT-NeoX style, qwen*, olmoe
};

// The rotation angles as ggml defines them (including YaRN): for pair i of
// n_dims/2, theta_extrap = pos * freq_base^(-2i/n_dims), theta_interp =
// freq_scale * theta_extrap; with ext_factor != 0 the two are mixed by the
// YaRN ramp over the correction dimensions and the magnitude is multiplied
// by 1 + 0.1 ln(1/freq_scale). cos and sin are scaled by attn_factor.
struct RopeParams {
  int64_t n_dims = 0;           // dimensions rotated per head (even)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;      // 1 / scaling factor (linear and YaRN)
  float ext_factor = 0.0f;      // 1 for YaRN, 0 otherwise
  float attn_factor = 1.0f;     // magnitude scale of cos/sin
  float beta_fast = 32.0f;
  float beta_slow = 1.0f;
  int64_t n_ctx_orig = 0;       // YaRN: original training context
  RopePairing pairing = RopePairing::kAdjacent;
  // n_dims/2 divisors of each pair's frequency (rope_freqs.weight of llama
  // 3.1 and llama4 files), or none.
  const float* freq_factors = nullptr;
};

// cos_sin gets n_dims/2 (cos, sin) pairs for position pos: cos_sin[2i], cos_sin[2i+1].
// Angles are computed in double, so large positions keep their precision.
void rope_angles(const RopeParams& p, int64_t pos, float* cos_sin);

// Rotates the first p.n_dims entries of one head vector x in place with the
// angles from rope_angles; entries past n_dims are left alone.
void rope_apply(const RopeParams& p, const float* cos_sin, float* x);

}  // namespace frugal::kernels

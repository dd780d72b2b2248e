// Encoders of the k-quant super-blocks (256 values). Every type works the
// same way: fit a scale (and min) to each sub-block with the weighted search
// of scale_search.h, quantise those per-sub-block scales to a few bits
// against one or two fp16 super-block factors, then round every value again
// under its final, quantised scale so the stored integers fit what the
// decoder will really multiply them by.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "quant/encoders.h"
#include "quant/scale_search.h"

namespace frugal::quant {
namespace {

// Super-block scale factor rounded the way it is stored.
struct Factor {
  uint16_t bits;
  float value;
};
Factor fp16_factor(float v) {
  const uint16_t b = f32_to_fp16(v);
  return {b, fp16_to_f32(b)};
}

// Largest of non-negative values.
float max_of(const float* v, int n) { return *std::max_element(v, v + n); }

// An integer multiple of `unit` nearest v, as an integer in [lo, hi]; 0 when
// the unit is 0 (the whole super-block is zero there).
int quantise_scale(float v, float unit, int lo, int hi) {
  return unit != 0 ? round_clamp(v / unit, lo, hi) : 0;
}

// The importance slice of super-block i, or null.
const float* importance_at(const QuantizeOptions& o, int64_t i) {
  return o.importance ? o.importance + i * QK_K : nullptr;
}

// ---- Affine super-blocks: Q2_K (16 x 16, 4-bit scales), Q4_K and Q5_K (8 x 32, 6-bit scales).

struct AffineSuperBlock {
  Factor d, dmin;
  int scale[16];
  int min[16];
  uint8_t L[QK_K];
};

// Sub-block scales (or mins) v as integers q in [0, smax] times one fp16
// factor. wt[j] is what an error e in v[j] costs the super-block's weighted
// squared error, per e^2 (for a scale: the sum of w L^2 over its values; for
// a min: the sum of w). The plain factor maps the largest value to smax;
// factors up to 10% either side are tried, each refitted by weighted least
// squares to the integers it gives and rounded to fp16, and the one with the
// least weighted error is kept. A plain rounding wastes the few scale bits
// on whichever value happens to be largest.
Factor quantise_sub_scales(const float* v, const float* wt, int n, int smax, bool use_search, int* q) {
  const float mx = max_of(v, n);
  Factor best = fp16_factor(mx / smax);
  for (int j = 0; j < n; ++j) q[j] = quantise_scale(v[j], best.value, 0, smax);
  if (!use_search || !(mx > 0)) return best;
  auto error_of = [&](float d, int* qj) {
    float e = 0;
    for (int j = 0; j < n; ++j) {
      qj[j] = quantise_scale(v[j], d, 0, smax);
      const float r = v[j] - d * qj[j];
      e += wt[j] * r * r;
    }
    return e;
  };
  int trial[16];
  float best_err = error_of(best.value, q);
  for (int k = -10; k <= 10; ++k) {
    const float inv = smax * (1.0f + 0.01f * k) / mx;
    float sqv = 0, sqq = 0;
    for (int j = 0; j < n; ++j) {
      const int l = round_clamp(inv * v[j], 0, smax);
      sqv += wt[j] * l * v[j];
      sqq += wt[j] * l * l;
    }
    if (!(sqq > 0)) continue;
    const Factor f = fp16_factor(sqv / sqq);
    if (!(f.value > 0)) continue;
    const float err = error_of(f.value, trial);
    if (err < best_err) {
      best_err = err;
      best = f;
      std::memcpy(q, trial, sizeof(int) * static_cast<size_t>(n));
    }
  }
  return best;
}

// Fits sub-blocks of `group` values with integers in [0, nmax], quantises
// their scales and mins to [0, smax] against two fp16 factors, and re-rounds
// the values.
void encode_affine(const float* x, const float* importance, ErrorWeights form, int group, int nmax, int smax,
                   const AffineSearch& search, bool use_search, AffineSuperBlock& out) {
  const int n_sub = QK_K / group;
  const float sigma2 = 2 * mean_square(x, QK_K);
  float scales[16], mins[16], w[QK_K], scale_wt[16], min_wt[16];
  AffineSearch plan = search;
  if (!use_search) plan.steps = 0;
  for (int j = 0; j < n_sub; ++j) {
    const float* xs = x + j * group;
    float* ws = w + j * group;
    element_weights(xs, importance ? importance + j * group : nullptr, group, sigma2, form, ws);
    const uint8_t* L = out.L + j * group;
    const AffineFit f = fit_affine(xs, ws, group, nmax, plan, out.L + j * group);
    scales[j] = f.scale;
    mins[j] = f.min;
    scale_wt[j] = min_wt[j] = 0;
    for (int i = 0; i < group; ++i) {
      scale_wt[j] += ws[i] * L[i] * L[i];
      min_wt[j] += ws[i];
    }
  }
  out.d = quantise_sub_scales(scales, scale_wt, n_sub, smax, use_search, out.scale);
  out.dmin = quantise_sub_scales(mins, min_wt, n_sub, smax, use_search, out.min);
  // Values re-rounded under each sub-block's stored scale and min. With the
  // search on, the neighbouring integer scale and min (one up or down each)
  // are tried too, and the pair with the least weighted error of the
  // re-rounded values kept: rounding the scale and the min apart ignores how
  // their errors combine.
  const int reach = use_search ? 1 : 0;
  for (int j = 0; j < n_sub; ++j) {
    const float* xs = x + j * group;
    const float* ws = w + j * group;
    uint8_t* L = out.L + j * group;
    const int sc0 = out.scale[j], mn0 = out.min[j];
    float best_err = -1;
    for (int sc = std::max(0, sc0 - reach); sc <= std::min(smax, sc0 + reach); ++sc)
      for (int mn = std::max(0, mn0 - reach); mn <= std::min(smax, mn0 + reach); ++mn) {
        const float dl = out.d.value * sc, ml = out.dmin.value * mn;
        float err = 0;
        for (int i = 0; i < group; ++i) {
          const int l = dl != 0 ? round_clamp((xs[i] + ml) / dl, 0, nmax) : 0;
          const float r = dl * l - ml - xs[i];
          err += ws[i] * r * r;
        }
        if (best_err < 0 || err < best_err) {
          best_err = err;
          out.scale[j] = sc;
          out.min[j] = mn;
        }
      }
    const float dl = out.d.value * out.scale[j], ml = out.dmin.value * out.min[j];
    for (int i = 0; i < group; ++i) L[i] = static_cast<uint8_t>(dl != 0 ? round_clamp((xs[i] + ml) / dl, 0, nmax) : 0);
  }
}

// The 12-byte packing of eight 6-bit scales and mins (Q4_K, Q5_K): sub-blocks
// 0..3 in the low 6 bits of bytes 0..3 (scale) and 4..7 (min); sub-blocks
// 4..7 with their low 4 bits in bytes 8..11 and their top 2 bits in the top
// of bytes 0..3 (scale) and 4..7 (min).
void pack_scales_k4(const int* sc, const int* mn, uint8_t* q) {
  std::memset(q, 0, K_SCALE_SIZE);
  for (int j = 0; j < 4; ++j) {
    q[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    q[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    q[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0xF) | ((mn[j + 4] & 0xF) << 4));
  }
}

// Q4_K and Q5_K values: in each 64-value chunk, the first 32 go to the low
// nibbles of 32 bytes and the next 32 to the high nibbles.
void pack_nibbles_k(const uint8_t* L, uint8_t* qs) {
  for (int chunk = 0; chunk < QK_K / 64; ++chunk)
    for (int l = 0; l < 32; ++l)
      qs[chunk * 32 + l] = static_cast<uint8_t>((L[chunk * 64 + l] & 0xF) | ((L[chunk * 64 + 32 + l] & 0xF) << 4));
}

// Q2_K and Q3_K low bits: value e sits in byte (e / 128) * 32 + e % 32 at
// bit 2 * ((e % 128) / 32).
void pack_two_bit_planes(const uint8_t* L, uint8_t* qs) {
  std::memset(qs, 0, QK_K / 4);
  for (int e = 0; e < QK_K; ++e)
    qs[(e / 128) * 32 + e % 32] |= static_cast<uint8_t>((L[e] & 3) << (2 * ((e % 128) / 32)));
}

// ---- Symmetric super-blocks: Q3_K (6-bit signed scales) and Q6_K (8-bit).

struct SymmetricSuperBlock {
  Factor d;
  int scale[16];
  uint8_t L[QK_K];  // value + nmax, in [0, 2 nmax)
};

// Sixteen sub-blocks of 16 values with integers in [-nmax, nmax - 1], their
// scales quantised to [-smax, smax - 1] against one fp16 factor.
void encode_symmetric(const float* x, const float* importance, int nmax, int smax, bool use_search,
                      SymmetricSuperBlock& out) {
  constexpr int kGroup = 16, kSub = QK_K / kGroup;
  const float sigma2 = 2 * mean_square(x, QK_K);
  float scales[kSub], w[kGroup];
  int8_t L[kGroup];
  for (int j = 0; j < kSub; ++j) {
    const float* xs = x + j * kGroup;
    element_weights(xs, importance ? importance + j * kGroup : nullptr, kGroup, sigma2, w);
    scales[j] = fit_symmetric(xs, w, kGroup, nmax, use_search ? 9 : 0, L);
  }
  // The largest scale goes to -smax, the end of the signed range that exists.
  const float m = signed_absmax(scales, kSub);
  out.d = fp16_factor(m != 0 ? m / -smax : 0.0f);
  for (int j = 0; j < kSub; ++j) {
    out.scale[j] = quantise_scale(scales[j], out.d.value, -smax, smax - 1);
    const float dl = out.d.value * out.scale[j];
    for (int i = j * kGroup; i < (j + 1) * kGroup; ++i)
      out.L[i] = static_cast<uint8_t>((dl != 0 ? round_clamp(x[i] / dl, -nmax, nmax - 1) : 0) + nmax);
  }
}

}  // namespace

// The error weights of each affine type's search, with or without an
// importance vector. Measured on the bundled model (KL divergence from F32,
// docs/QUANTIZATION.md), where each type's choice differs from the default
// (default_error_weights: kMagnitude without an importance matrix, kSigma
// with one):
// - Q2_K keeps kMagnitude with the importance matrix too: 0.04534 against
//   0.04561 with kSigma (its four levels with a min fit the large values
//   better for it); without one, kSigma gave 0.0502 against 0.0458.
// - Q4_K uses kSigma without an importance matrix too: 0.00406 against
//   0.00432 with kMagnitude (llama-quantize's Q4_K: 0.00409).
// - Q5_K keeps the default (kSigma raised it without an imatrix, 0.00149 to 0.00154).

void encode_q2_k(const float* x, BlockQ2_K* y, int64_t nb, const QuantizeOptions& o) {
  AffineSuperBlock sb;
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    encode_affine(x, importance_at(o, i), ErrorWeights::kMagnitude, 16, 3, 15, {15, -0.5f, 0.1f}, o.search, sb);
    y[i].d = sb.d.bits;
    y[i].dmin = sb.dmin.bits;
    for (int j = 0; j < 16; ++j) y[i].scales[j] = static_cast<uint8_t>(sb.scale[j] | (sb.min[j] << 4));
    pack_two_bit_planes(sb.L, y[i].qs);
  }
}

void encode_q3_k(const float* x, BlockQ3_K* y, int64_t nb, const QuantizeOptions& o) {
  SymmetricSuperBlock sb;
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    encode_symmetric(x, importance_at(o, i), 4, 32, o.search, sb);
    y[i].d = sb.d.bits;
    pack_two_bit_planes(sb.L, y[i].qs);
    // The third bit of value e: byte e % 32 of hmask, bit e / 32.
    std::memset(y[i].hmask, 0, sizeof y[i].hmask);
    for (int e = 0; e < QK_K; ++e) y[i].hmask[e % 32] |= static_cast<uint8_t>((sb.L[e] >> 2) << (e / 32));
    // Sixteen 6-bit scales (biased by 32): low nibble of scale s in byte s % 8
    // (s < 8 low half, else high half), top 2 bits in byte 8 + s % 4 at bit 2 (s / 4).
    std::memset(y[i].scales, 0, sizeof y[i].scales);
    for (int s = 0; s < 16; ++s) {
      const int v = sb.scale[s] + 32;
      y[i].scales[s % 8] |= static_cast<uint8_t>((v & 0xF) << (4 * (s / 8)));
      y[i].scales[8 + s % 4] |= static_cast<uint8_t>((v >> 4) << (2 * (s / 4)));
    }
  }
}

void encode_q4_k(const float* x, BlockQ4_K* y, int64_t nb, const QuantizeOptions& o) {
  AffineSuperBlock sb;
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    encode_affine(x, importance_at(o, i), ErrorWeights::kSigma, 32, 15, 63, {60, -1.5f, 0.05f}, o.search, sb);
    y[i].d = sb.d.bits;
    y[i].dmin = sb.dmin.bits;
    pack_scales_k4(sb.scale, sb.min, y[i].scales);
    pack_nibbles_k(sb.L, y[i].qs);
  }
}

void encode_q5_k(const float* x, BlockQ5_K* y, int64_t nb, const QuantizeOptions& o) {
  AffineSuperBlock sb;
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    encode_affine(x, importance_at(o, i), default_error_weights(o.importance), 32, 31, 63, {15, -0.5f, 0.1f},
                  o.search, sb);
    y[i].d = sb.d.bits;
    y[i].dmin = sb.dmin.bits;
    pack_scales_k4(sb.scale, sb.min, y[i].scales);
    pack_nibbles_k(sb.L, y[i].qs);
    // The fifth bit of value e: byte e % 32 of qh, bit e / 32.
    std::memset(y[i].qh, 0, sizeof y[i].qh);
    for (int e = 0; e < QK_K; ++e) y[i].qh[e % 32] |= static_cast<uint8_t>((sb.L[e] >> 4) << (e / 32));
  }
}

void encode_q6_k(const float* x, BlockQ6_K* y, int64_t nb, const QuantizeOptions& o) {
  SymmetricSuperBlock sb;
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    encode_symmetric(x, importance_at(o, i), 32, 128, o.search, sb);
    y[i].d = sb.d.bits;
    for (int s = 0; s < 16; ++s) y[i].scales[s] = static_cast<int8_t>(sb.scale[s]);
    // Value e: half h = e / 128, quarter q = (e % 128) / 32, l = e % 32. Low
    // 4 bits in ql[64 h + 32 (q & 1) + l] (high nibble when q >= 2), top 2
    // bits in qh[32 h + l] at bit 2 q.
    std::memset(y[i].ql, 0, sizeof y[i].ql);
    std::memset(y[i].qh, 0, sizeof y[i].qh);
    for (int e = 0; e < QK_K; ++e) {
      const int h = e / 128, q = (e % 128) / 32, l = e % 32, v = sb.L[e];
      y[i].ql[64 * h + 32 * (q & 1) + l] |= static_cast<uint8_t>((v & 0xF) << (4 * (q >> 1)));
      y[i].qh[32 * h + l] |= static_cast<uint8_t>((v >> 4) << (2 * q));
    }
  }
}

// Q8_K is the activation side of the k-quant dot products: one f32 scale,
// plain rounding, and the sums of each 16 values for the min terms.
void encode_q8_k(const float* x, BlockQ8_K* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    float amax = 0;
    for (int j = 0; j < QK_K; ++j) amax = std::max(amax, std::fabs(x[j]));
    y[i].d = amax / 127;
    const float inv = amax != 0 ? 127 / amax : 0.0f;
    for (int j = 0; j < QK_K; ++j) y[i].qs[j] = static_cast<int8_t>(round_clamp(x[j] * inv, -127, 127));
    for (int g = 0; g < QK_K / 16; ++g) {
      int s = 0;
      for (int j = 0; j < 16; ++j) s += y[i].qs[16 * g + j];
      y[i].bsums[g] = static_cast<int16_t>(s);
    }
  }
}

}  // namespace frugal::quant

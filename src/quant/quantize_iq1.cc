// Encoders of IQ1_S and IQ1_M: each group of 8 values is a point of the
// 2048-point grid of values -1, 0, 1, shifted by a delta of +-1/8 (shared by
// 32 values in IQ1_S, per group in IQ1_M) and scaled by d * (2 ls + 1) with
// a 3-bit ls per 32 values (IQ1_S) or per 16 (IQ1_M).
//
// Per 32 values, for each sign of the delta and several starting scales
// (max |x| mapped to 0.6 to 1.3 of 1 + delta): each group's point is the
// per-value nearest of {-1, 0, 1} + delta when that combination is in the
// grid, else the nearest grid point (iq1_nearest.h, an exact pruned search);
// then the least-squares scale for those points, and points again; the
// lowest weighted error wins. The super-block's fp16 d covers the largest
// scale with ls = 7, and each unit's ls is chosen among the three nearest by
// its error after its points are searched again under the stored scale.
//
// The error weights are rms + |x| (ErrorWeights::kMagnitude), times the
// column's importance where an importance matrix is given. With llama.cpp's
// importance * sqrt(sigma2 + x^2) instead, the importance matrix raised the
// bundled model's KL divergence from F32 (iq1_s_mix 0.0381 without it,
// 0.0395 with it; the flatter weight alone, every importance 1, gave 0.0411):
// with three levels a group can hardly keep both its large and its small
// values, and the flatter weight gives up the large ones. With kMagnitude the
// importance matrix lowers it (iq1_s_mix 0.0381 to 0.0351, iq1_m_mix 0.0363 to
// 0.0316, Q2_K's ffn_down weighed the same way).
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "base/fp16.h"
#include "quant/iq1_nearest.h"
#include "quant/iq_blocks.h"
#include "quant/iq_grids.h"
#include "quant/scale_search.h"

namespace frugal::quant {
namespace {

// Element j of grid point k.
float point_value(int k, int j) { return static_cast<int8_t>(grid_byte(kIQ1SGrid[static_cast<size_t>(k)], j)); }

// A scale unit: n values (32 for IQ1_S, 16 for IQ1_M) in groups of 8; the
// shift is shared by the unit (IQ1_S) or chosen per group (IQ1_M).
struct Unit1 {
  int n = 32;
  bool group_delta = false;
  float w[32];
  int idx[4];
  float delta[4];
  float scale = 0;
};

// Points (and, per group, shifts when u.group_delta) under scale s; unit
// shift `delta` otherwise. Returns the weighted error.
float pick(const float* x, const Unit1& u, float s, float delta, int* idx, float* deltas) {
  float total = 0;
  for (int l = 0; l < u.n / 8; ++l) {
    float best = INFINITY;
    for (float dl : {delta, -delta}) {
      float e;
      const int k = iq1_nearest_point(x + 8 * l, u.w + 8 * l, s, dl, &e);
      if (e < best) best = e, idx[l] = k, deltas[l] = dl;
      if (!u.group_delta) break;
    }
    total += best;
  }
  return total;
}

float refit(const float* x, const Unit1& u, const int* idx, const float* deltas, float fallback) {
  double num = 0, den = 0;
  for (int l = 0; l < u.n / 8; ++l)
    for (int j = 0; j < 8; ++j) {
      const double g = point_value(idx[l], j) + deltas[l];
      num += u.w[8 * l + j] * x[8 * l + j] * g;
      den += u.w[8 * l + j] * g * g;
    }
  return den > 0 && num > 0 ? static_cast<float>(num / den) : fallback;
}

void search_unit(const float* x, bool search, Unit1& u) {
  float amax = 0;
  for (int i = 0; i < u.n; ++i) amax = std::max(amax, std::fabs(x[i]));
  if (amax == 0) {
    u.scale = 0;
    pick(x, u, 0, kIQ1Delta, u.idx, u.delta);
    return;
  }
  const float base = amax / (1 + kIQ1Delta);
  float best = INFINITY;
  int idx[4];
  float deltas[4];
  for (float delta : {kIQ1Delta, -kIQ1Delta}) {
    if (u.group_delta && delta < 0) break;  // pick() tries both per group
    for (int step = 0; step <= 7; ++step) {
      if (!search && step != 4) continue;  // naive: max |x| to 1 + delta
      float s = base * (0.6f + 0.1f * static_cast<float>(step));
      float e = pick(x, u, s, delta, idx, deltas);
      if (search) {
        s = refit(x, u, idx, deltas, s);
        e = pick(x, u, s, delta, idx, deltas);
      }
      if (e < best) {
        best = e;
        u.scale = s;
        std::memcpy(u.idx, idx, sizeof idx);
        std::memcpy(u.delta, deltas, sizeof deltas);
      }
    }
  }
}

// Unit scales as d * (2 ls + 1), ls in 0..7: d (returned as the fp16 bits
// both types store) and each unit's ls, chosen among the three nearest by
// its error with points and shifts searched again.
uint16_t fit_superblock(const float* x, const float* imp, bool search, Unit1* units, int n_units, int* ls) {
  const float sigma2 = 2 * mean_square(x, QK_K);
  float smax = 0;
  for (int b = 0; b < n_units; ++b) {
    const int n = units[b].n;
    element_weights(x + n * b, imp ? imp + n * b : nullptr, n, sigma2, ErrorWeights::kMagnitude, units[b].w);
    search_unit(x + n * b, search, units[b]);
    smax = std::max(smax, units[b].scale);
  }
  const uint16_t dbits = f32_to_fp16(smax / 15);
  const float d = fp16_to_f32(dbits);
  for (int b = 0; b < n_units; ++b) {
    Unit1& u = units[b];
    ls[b] = 0;
    if (d <= 0) continue;
    const int l0 = round_clamp((u.scale / d - 1) / 2, 0, 7);
    float best = INFINITY;
    int idx[4];
    float deltas[4];
    for (int l = std::max(0, l0 - 1); l <= std::min(7, l0 + 1); ++l) {
      const float e = pick(x + u.n * b, u, d * static_cast<float>(2 * l + 1), u.delta[0], idx, deltas);
      if (e < best) {
        best = e;
        ls[b] = l;
        std::memcpy(u.idx, idx, sizeof idx);
        std::memcpy(u.delta, deltas, sizeof deltas);
      }
    }
  }
  return dbits;
}

}  // namespace

void encode_iq1_s(const float* x, BlockIQ1_S* y, int64_t nb, const QuantizeOptions& o) {
  Unit1 units[QK_K / 32];
  int ls[QK_K / 32];
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    const float* imp = o.importance ? o.importance + i * QK_K : nullptr;
    y[i].d = fit_superblock(x, imp, o.search, units, QK_K / 32, ls);
    for (int b = 0; b < QK_K / 32; ++b) {
      unsigned qh = static_cast<unsigned>(ls[b]) << 12 | (units[b].delta[0] < 0 ? 0x8000u : 0u);
      for (int l = 0; l < 4; ++l) {
        y[i].qs[4 * b + l] = static_cast<uint8_t>(units[b].idx[l] & 255);
        qh |= static_cast<unsigned>(units[b].idx[l] >> 8) << (3 * l);
      }
      y[i].qh[b] = static_cast<uint16_t>(qh);
    }
  }
}

void encode_iq1_m(const float* x, BlockIQ1_M* y, int64_t nb, const QuantizeOptions& o) {
  Unit1 units[QK_K / 16];
  for (Unit1& u : units) u.n = 16, u.group_delta = true;
  int ls[QK_K / 16];
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    const float* imp = o.importance ? o.importance + i * QK_K : nullptr;
    const uint16_t dbits = fit_superblock(x, imp, o.search, units, QK_K / 16, ls);
    uint16_t sc[4] = {};
    for (int b = 0; b < QK_K / 16; ++b) sc[b / 4] = static_cast<uint16_t>(sc[b / 4] | ls[b] << (3 * (b % 4)));
    for (int k = 0; k < 4; ++k) sc[k] = static_cast<uint16_t>(sc[k] | ((dbits >> (4 * k)) & 0xF) << 12);
    std::memcpy(y[i].scales, sc, sizeof sc);
    for (int g = 0; g < QK_K / 8; ++g) {  // group g: unit g / 2, its group g % 2
      const Unit1& u = units[g / 2];
      const unsigned idx = static_cast<unsigned>(u.idx[g % 2]);
      y[i].qs[g] = static_cast<uint8_t>(idx & 255);
      const unsigned nib = (idx >> 8) | (u.delta[g % 2] < 0 ? 8u : 0u);
      if (g % 2 == 0) y[i].qh[g / 2] = static_cast<uint8_t>(nib);
      else y[i].qh[g / 2] = static_cast<uint8_t>(y[i].qh[g / 2] | nib << 4);
    }
  }
}

}  // namespace frugal::quant

// Encoder of IQ1_S: each group of 8 values is a point of the 2048-point grid
// of values -1, 0, 1, shifted by a delta of +-1/8 shared by 32 values and
// scaled by d * (2 ls + 1) with a 3-bit ls.
//
// Per 32 values, for each sign of the delta and several starting scales
// (max |x| mapped to 0.6 to 1.3 of 1 + delta): each group's point is the
// per-value nearest of {-1, 0, 1} + delta when that combination is in the
// grid (a table of all 3^8 combinations), else the best of a full scan;
// then the least-squares scale for those points, and points again; the
// lowest weighted error wins. The super-block's fp16 d covers the largest
// scale with ls = 7, and each unit's ls is chosen among the three nearest by
// its error after its points are searched again under the stored scale.
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "base/fp16.h"
#include "quant/iq_blocks.h"
#include "quant/iq_grids.h"
#include "quant/scale_search.h"

namespace frugal::quant {
namespace {

struct Iq1Grid {
  std::vector<std::array<int8_t, 8>> points;
  std::vector<int16_t> index_of;  // base-3 code (value + 1 per element) -> point, or -1

  Iq1Grid() : index_of(6561, -1) {
    for (size_t k = 0; k < kIQ1SGrid.size(); ++k) {
      std::array<int8_t, 8> p{};
      int code = 0, mul = 1;
      for (int j = 0; j < 8; ++j) {
        p[static_cast<size_t>(j)] = static_cast<int8_t>(grid_byte(kIQ1SGrid[k], j));
        code += (p[static_cast<size_t>(j)] + 1) * mul;
        mul *= 3;
      }
      points.push_back(p);
      index_of[static_cast<size_t>(code)] = static_cast<int16_t>(k);
    }
  }

  float error(const float* x, const float* w, float s, float delta, size_t k) const {
    float e = 0;
    for (int j = 0; j < 8; ++j) {
      const float d = x[j] - s * (static_cast<float>(points[k][static_cast<size_t>(j)]) + delta);
      e += w[j] * d * d;
    }
    return e;
  }

  int nearest(const float* x, const float* w, float s, float delta, float* err) const {
    int code = 0, mul = 1;
    for (int j = 0; j < 8; ++j) {
      const float v = s > 0 ? x[j] / s - delta : 0.0f;
      code += (v < -0.5f ? 0 : v < 0.5f ? 1 : 2) * mul;
      mul *= 3;
    }
    int k = index_of[static_cast<size_t>(code)];
    if (k < 0) {
      float be = INFINITY;
      for (size_t i = 0; i < points.size(); ++i) {
        const float e = error(x, w, s, delta, i);
        if (e < be) be = e, k = static_cast<int>(i);
      }
    }
    *err = error(x, w, s, delta, static_cast<size_t>(k));
    return k;
  }
};

const Iq1Grid& iq1_grid() {
  static const Iq1Grid g;
  return g;
}

struct Unit1 {
  float w[32];
  int idx[4];
  float scale = 0, delta = kIQ1Delta;
};

float pick(const float* x, const float* w, float s, float delta, int* idx) {
  float total = 0, e;
  for (int l = 0; l < 4; ++l) {
    idx[l] = iq1_grid().nearest(x + 8 * l, w + 8 * l, s, delta, &e);
    total += e;
  }
  return total;
}

float refit(const float* x, const float* w, float delta, const int* idx, float fallback) {
  double num = 0, den = 0;
  for (int l = 0; l < 4; ++l)
    for (int j = 0; j < 8; ++j) {
      const double g = iq1_grid().points[static_cast<size_t>(idx[l])][static_cast<size_t>(j)] + delta;
      num += w[8 * l + j] * x[8 * l + j] * g;
      den += w[8 * l + j] * g * g;
    }
  return den > 0 && num > 0 ? static_cast<float>(num / den) : fallback;
}

void search_unit(const float* x, bool search, Unit1& u) {
  float amax = 0;
  for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
  if (amax == 0) {
    u.scale = 0;
    pick(x, u.w, 0, kIQ1Delta, u.idx);
    return;
  }
  const float base = amax / (1 + kIQ1Delta);
  float best = INFINITY;
  int idx[4];
  for (float delta : {kIQ1Delta, -kIQ1Delta}) {
    for (int step = 0; step <= 7; ++step) {
      if (!search && step != 4) continue;  // naive: max |x| to 1 + delta
      float s = base * (0.6f + 0.1f * static_cast<float>(step));
      float e = pick(x, u.w, s, delta, idx);
      if (search) {
        s = refit(x, u.w, delta, idx, s);
        e = pick(x, u.w, s, delta, idx);
      }
      if (e < best) {
        best = e;
        u.scale = s;
        u.delta = delta;
        std::memcpy(u.idx, idx, sizeof idx);
      }
    }
  }
}

}  // namespace

void encode_iq1_s(const float* x, BlockIQ1_S* y, int64_t nb, const QuantizeOptions& o) {
  Unit1 units[QK_K / 32];
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    const float* imp = o.importance ? o.importance + i * QK_K : nullptr;
    const float sigma2 = 2 * mean_square(x, QK_K);
    float smax = 0;
    for (int b = 0; b < QK_K / 32; ++b) {
      element_weights(x + 32 * b, imp ? imp + 32 * b : nullptr, 32, sigma2, units[b].w);
      search_unit(x + 32 * b, o.search, units[b]);
      smax = std::max(smax, units[b].scale);
    }
    y[i].d = f32_to_fp16(smax / 15);
    const float d = fp16_to_f32(y[i].d);
    for (int b = 0; b < QK_K / 32; ++b) {
      Unit1& u = units[b];
      int ls = 0;
      if (d > 0) {
        const int l0 = round_clamp((u.scale / d - 1) / 2, 0, 7);
        float best = INFINITY;
        int idx[4];
        for (int l = std::max(0, l0 - 1); l <= std::min(7, l0 + 1); ++l) {
          const float e = pick(x + 32 * b, u.w, d * static_cast<float>(2 * l + 1), u.delta, idx);
          if (e < best) {
            best = e;
            ls = l;
            std::memcpy(u.idx, idx, sizeof idx);
          }
        }
      }
      unsigned qh = static_cast<unsigned>(ls) << 12 | (u.delta < 0 ? 0x8000u : 0u);
      for (int l = 0; l < 4; ++l) {
        y[i].qs[4 * b + l] = static_cast<uint8_t>(u.idx[l] & 255);
        qh |= static_cast<unsigned>(u.idx[l] >> 8) << (3 * l);
      }
      y[i].qh[b] = static_cast<uint16_t>(qh);
    }
  }
}

}  // namespace frugal::quant

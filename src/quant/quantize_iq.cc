// Encoders of the lattice types (IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S). Each group of 8
// values becomes signs plus one grid point of magnitudes (two 4-value points
// for IQ3_XXS and IQ3_S); a scale unit (32 values, 16 for IQ2_XS and IQ2_S)
// shares one scale.
//
// Signs: IQ2_S and IQ3_S store all 8. The others store 7 of 8 and make the
// count of negatives even, so
// a group with an odd count flips the sign of the value whose flip costs
// least (smallest weight * |x|); that value's target magnitude becomes
// -|x|, which the grid search then answers with its smallest magnitude.
//
// Points: under a scale s the error is sum w (t - s g)^2, separable per
// element, so the best point is each element's nearest magnitude when that
// combination is in the grid (found through a table of all combinations);
// otherwise the whole grid is searched.
//
// Scale search per unit: several starting scales (max |x| mapped to 0.6 to
// 1.3 of the largest magnitude); for each, points, the least-squares scale
// for them, points again; the lowest weighted error wins. The super-block's
// fp16 d then covers the largest unit scale with 4-bit steps, and each
// unit's 4-bit scale is chosen among the three nearest by its error after
// its points are searched again under the stored scale.
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

// A grid as a search structure: points of `elems` magnitudes drawn from `values`.
struct Grid {
  int elems = 0;
  std::vector<uint8_t> values;                  // ascending
  std::vector<std::array<float, 8>> points;     // magnitudes as floats
  std::vector<int16_t> index_of;                // base-|values| combination -> point index, or -1

  template <class Word, size_t N>
  Grid(const std::array<Word, N>& grid, int elems_, std::vector<uint8_t> values_)
      : elems(elems_), values(std::move(values_)) {
    size_t combos = 1;
    for (int i = 0; i < elems; ++i) combos *= values.size();
    index_of.assign(combos, -1);
    for (size_t k = 0; k < N; ++k) {
      std::array<float, 8> p{};
      size_t code = 0, mul = 1;
      for (int j = 0; j < elems; ++j) {
        const uint8_t b = grid_byte(static_cast<uint64_t>(grid[k]), j);
        p[static_cast<size_t>(j)] = b;
        size_t v = 0;
        while (values[v] != b) ++v;
        code += v * mul;
        mul *= values.size();
      }
      points.push_back(p);
      index_of[code] = static_cast<int16_t>(k);
    }
  }

  float max_value() const { return values.back(); }

  // The point nearest to targets t under scale s with weights w; its error in *err.
  int nearest(const float* t, const float* w, float s, float* err) const {
    size_t code = 0, mul = 1;
    for (int j = 0; j < elems; ++j) {
      const float v = t[j];
      size_t best = 0;
      float bd = std::fabs(v - s * values[0]);
      for (size_t i = 1; i < values.size(); ++i) {
        const float dd = std::fabs(v - s * values[i]);
        if (dd < bd) bd = dd, best = i;
      }
      code += best * mul;
      mul *= values.size();
    }
    int k = index_of[code];
    if (k < 0) {
      float be = INFINITY;
      for (size_t i = 0; i < points.size(); ++i) {
        float e = 0;
        for (int j = 0; j < elems; ++j) {
          const float d = t[j] - s * points[i][static_cast<size_t>(j)];
          e += w[j] * d * d;
        }
        if (e < be) be = e, k = static_cast<int>(i);
      }
    }
    float e = 0;
    for (int j = 0; j < elems; ++j) {
      const float d = t[j] - s * points[static_cast<size_t>(k)][static_cast<size_t>(j)];
      e += w[j] * d * d;
    }
    *err = e;
    return k;
  }
};

const Grid& iq2xxs_grid() {
  static const Grid g(kIQ2XXSGrid, 8, {8, 25, 43});
  return g;
}
const Grid& iq2xs_grid() {
  static const Grid g(kIQ2XSGrid, 8, {8, 25, 43});
  return g;
}
const Grid& iq2s_grid() {
  static const Grid g(kIQ2SGrid, 8, {8, 25, 43});
  return g;
}
const Grid& iq3s_grid() {
  static const Grid g(kIQ3SGrid, 4, {1, 3, 5, 7, 9, 11, 13, 15});
  return g;
}
const Grid& iq3xxs_grid() {
  static const Grid g(kIQ3XXSGrid, 4, {4, 12, 20, 28, 36, 44, 52, 62});
  return g;
}

constexpr int kMaxUnit = 32;

// One scale unit of n values (groups of 8): targets, signs, chosen points.
struct Unit {
  int n = 0;
  float t[kMaxUnit], w[kMaxUnit];
  uint8_t signs[kMaxUnit / 8];  // sign bits per group (bit j: value j negative)
  int idx[kMaxUnit / 4];        // point per lookup (8 / elems per group)
  float scale = 0;              // per grid unit
};

// parity: the type stores 7 signs and needs an even count of negatives.
void set_signs(const float* x, bool parity, Unit& u) {
  for (int g = 0; g < u.n / 8; ++g) {
    unsigned bits = 0;
    int neg = 0, cheapest = 0;
    for (int j = 0; j < 8; ++j) {
      const int i = 8 * g + j;
      u.t[i] = std::fabs(x[i]);
      if (x[i] < 0) bits |= 1u << j, ++neg;
      if (u.w[i] * u.t[i] < u.w[8 * g + cheapest] * u.t[8 * g + cheapest]) cheapest = j;
    }
    if (parity && (neg & 1)) {
      bits ^= 1u << cheapest;
      u.t[8 * g + cheapest] = -u.t[8 * g + cheapest];
    }
    u.signs[g] = static_cast<uint8_t>(bits);
  }
}

// Points for every lookup of the unit under scale s; the total weighted error.
float pick_points(const Grid& grid, float s, Unit& u, int* idx) {
  float total = 0, e;
  for (int l = 0; l < u.n / grid.elems; ++l) {
    idx[l] = grid.nearest(u.t + grid.elems * l, u.w + grid.elems * l, s, &e);
    total += e;
  }
  return total;
}

// The least-squares scale for fixed points.
float refit(const Grid& grid, const Unit& u, const int* idx, float fallback) {
  double num = 0, den = 0;
  for (int l = 0; l < u.n / grid.elems; ++l)
    for (int j = 0; j < grid.elems; ++j) {
      const int i = grid.elems * l + j;
      const double g = grid.points[static_cast<size_t>(idx[l])][static_cast<size_t>(j)];
      num += u.w[i] * u.t[i] * g;
      den += u.w[i] * g * g;
    }
  return den > 0 && num > 0 ? static_cast<float>(num / den) : fallback;
}

void search_unit(const Grid& grid, bool search, Unit& u) {
  float amax = 0;
  for (int i = 0; i < u.n; ++i) amax = std::max(amax, u.t[i]);
  if (amax == 0) {
    u.scale = 0;
    pick_points(grid, 0, u, u.idx);
    return;
  }
  const float base = amax / grid.max_value();
  if (!search) {
    u.scale = base;
    pick_points(grid, base, u, u.idx);
    return;
  }
  float best = INFINITY;
  int idx[kMaxUnit / 4];
  for (int step = 0; step <= 7; ++step) {
    float s = base * (0.6f + 0.1f * static_cast<float>(step));
    pick_points(grid, s, u, idx);
    s = refit(grid, u, idx, s);
    const float e = pick_points(grid, s, u, idx);
    if (e < best) {
      best = e;
      u.scale = s;
      std::memcpy(u.idx, idx, sizeof idx);
    }
  }
}

// A super-block of 256 values in units of `unit` values: unit scales as
// 4-bit ls under d (scale = d * (0.5 + ls) * step); fills units[].
float encode_superblock(const Grid& grid, int unit, float step, bool parity, const float* x, const float* importance,
                        bool search, Unit* units, uint8_t* ls) {
  const int n_units = QK_K / unit;
  const float sigma2 = 2 * mean_square(x, QK_K);
  float smax = 0;
  for (int b = 0; b < n_units; ++b) {
    Unit& u = units[b];
    u.n = unit;
    element_weights(x + b * unit, importance ? importance + b * unit : nullptr, unit, sigma2, u.w);
    set_signs(x + b * unit, parity, u);
    search_unit(grid, search, u);
    smax = std::max(smax, u.scale);
  }
  const float d = fp16_to_f32(f32_to_fp16(smax / (15.5f * step)));
  for (int b = 0; b < n_units; ++b) {
    Unit& u = units[b];
    if (d == 0) {
      ls[b] = 0;
      continue;
    }
    const int l0 = round_clamp(u.scale / (d * step) - 0.5f, 0, 15);
    float best = INFINITY;
    int idx[kMaxUnit / 4];
    for (int l = std::max(0, l0 - 1); l <= std::min(15, l0 + 1); ++l) {
      const float s = d * (0.5f + static_cast<float>(l)) * step;
      const float e = pick_points(grid, s, u, idx);
      if (e < best) {
        best = e;
        ls[b] = static_cast<uint8_t>(l);
        std::memcpy(u.idx, idx, sizeof idx);
      }
    }
  }
  return d;
}

void store_u32(void* p, uint32_t v) { std::memcpy(p, &v, 4); }

}  // namespace

void encode_iq2_xxs(const float* x, BlockIQ2_XXS* y, int64_t nb, const QuantizeOptions& o) {
  Unit units[QK_K / 32];
  uint8_t ls[QK_K / 32];
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    const float* imp = o.importance ? o.importance + i * QK_K : nullptr;
    const float d = encode_superblock(iq2xxs_grid(), 32, 0.25f, true, x, imp, o.search, units, ls);
    y[i].d = f32_to_fp16(d);
    for (int b = 0; b < QK_K / 32; ++b) {
      uint32_t idx = 0, sg = static_cast<uint32_t>(ls[b]) << 28;
      for (int l = 0; l < 4; ++l) {
        idx |= static_cast<uint32_t>(units[b].idx[l]) << (8 * l);
        sg |= static_cast<uint32_t>((units[b].signs[l] & 127u)) << (7 * l);
      }
      store_u32(y[i].qs + 4 * b, idx);
      store_u32(y[i].qs + 4 * b + 2, sg);
    }
  }
}

void encode_iq2_xs(const float* x, BlockIQ2_XS* y, int64_t nb, const QuantizeOptions& o) {
  Unit units[QK_K / 16];
  uint8_t ls[QK_K / 16];
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    const float* imp = o.importance ? o.importance + i * QK_K : nullptr;
    const float d = encode_superblock(iq2xs_grid(), 16, 0.25f, true, x, imp, o.search, units, ls);
    y[i].d = f32_to_fp16(d);
    for (int b = 0; b < QK_K / 16; ++b)
      for (int l = 0; l < 2; ++l)
        y[i].qs[2 * b + l] = static_cast<uint16_t>(units[b].idx[l] | (units[b].signs[l] & 127u) << 9);
    for (int b = 0; b < QK_K / 32; ++b) y[i].scales[b] = static_cast<uint8_t>(ls[2 * b] | ls[2 * b + 1] << 4);
  }
}

void encode_iq3_xxs(const float* x, BlockIQ3_XXS* y, int64_t nb, const QuantizeOptions& o) {
  Unit units[QK_K / 32];
  uint8_t ls[QK_K / 32];
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    const float* imp = o.importance ? o.importance + i * QK_K : nullptr;
    const float d = encode_superblock(iq3xxs_grid(), 32, 0.5f, true, x, imp, o.search, units, ls);
    y[i].d = f32_to_fp16(d);
    for (int b = 0; b < QK_K / 32; ++b) {
      uint32_t sg = static_cast<uint32_t>(ls[b]) << 28;
      for (int l = 0; l < 8; ++l) y[i].qs[8 * b + l] = static_cast<uint8_t>(units[b].idx[l]);
      for (int l = 0; l < 4; ++l) sg |= static_cast<uint32_t>((units[b].signs[l] & 127u)) << (7 * l);
      store_u32(y[i].qs + QK_K / 4 + 4 * b, sg);
    }
  }
}

void encode_iq2_s(const float* x, BlockIQ2_S* y, int64_t nb, const QuantizeOptions& o) {
  Unit units[QK_K / 16];
  uint8_t ls[QK_K / 16];
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    const float* imp = o.importance ? o.importance + i * QK_K : nullptr;
    const float d = encode_superblock(iq2s_grid(), 16, 0.25f, false, x, imp, o.search, units, ls);
    y[i].d = f32_to_fp16(d);
    std::memset(y[i].qh, 0, sizeof y[i].qh);
    for (int b = 0; b < QK_K / 16; ++b)
      for (int l = 0; l < 2; ++l) {
        const int g = 2 * b + l;  // group of 8 in the super-block
        const unsigned idx = static_cast<unsigned>(units[b].idx[l]);
        y[i].qs[g] = static_cast<uint8_t>(idx & 255);
        y[i].qh[g / 4] = static_cast<uint8_t>(y[i].qh[g / 4] | (idx >> 8) << (2 * (g % 4)));
        y[i].qs[QK_K / 8 + g] = units[b].signs[l];
      }
    for (int b = 0; b < QK_K / 32; ++b) y[i].scales[b] = static_cast<uint8_t>(ls[2 * b] | ls[2 * b + 1] << 4);
  }
}

void encode_iq3_s(const float* x, BlockIQ3_S* y, int64_t nb, const QuantizeOptions& o) {
  Unit units[QK_K / 32];
  uint8_t ls[QK_K / 32];
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    const float* imp = o.importance ? o.importance + i * QK_K : nullptr;
    // value = d * (1 + 2 ls) * grid = d * (0.5 + ls) * 2 * grid
    const float d = encode_superblock(iq3s_grid(), 32, 2.0f, false, x, imp, o.search, units, ls);
    y[i].d = f32_to_fp16(d);
    std::memset(y[i].qh, 0, sizeof y[i].qh);
    for (int b = 0; b < QK_K / 32; ++b) {
      for (int k = 0; k < 8; ++k) {
        const unsigned idx = static_cast<unsigned>(units[b].idx[k]);
        y[i].qs[8 * b + k] = static_cast<uint8_t>(idx & 255);
        y[i].qh[b] = static_cast<uint8_t>(y[i].qh[b] | (idx >> 8) << k);
      }
      for (int l = 0; l < 4; ++l) y[i].signs[4 * b + l] = units[b].signs[l];
    }
    for (int b = 0; b < QK_K / 64; ++b) y[i].scales[b] = static_cast<uint8_t>(ls[2 * b] | ls[2 * b + 1] << 4);
  }
}

}  // namespace frugal::quant

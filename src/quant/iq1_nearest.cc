// iq1_nearest_point: a depth-first search over the 8 values of a group,
// pruned by the cost each choice adds above that value's own best.
#include "quant/iq1_nearest.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "quant/iq_grids.h"

namespace frugal::quant {
namespace {

constexpr int kGroup = 8;
constexpr int kCodes = 6561;  // 3^8

// A combination's code: sum over j of (element j + 1) * 3^j, so the code of
// its first d elements is code % 3^d.
struct Iq1Tree {
  std::array<std::array<int8_t, kGroup>, 2048> points{};
  std::array<int16_t, kCodes> index_of{};  // code -> point, or -1
  // prefix[d] holds, for each code p < 3^d, whether some point starts with it.
  std::array<std::vector<uint8_t>, kGroup + 1> prefix;

  Iq1Tree() {
    index_of.fill(-1);
    for (int d = 0, n = 1; d <= kGroup; ++d, n *= 3) prefix[static_cast<size_t>(d)].assign(static_cast<size_t>(n), 0);
    for (size_t k = 0; k < kIQ1SGrid.size(); ++k) {
      int code = 0;
      for (int j = 0, mul = 1; j < kGroup; ++j, mul *= 3) {
        points[k][static_cast<size_t>(j)] = static_cast<int8_t>(grid_byte(kIQ1SGrid[k], j));
        code += (points[k][static_cast<size_t>(j)] + 1) * mul;
      }
      index_of[static_cast<size_t>(code)] = static_cast<int16_t>(k);
      for (int d = 0, n = 1; d <= kGroup; ++d, n *= 3) prefix[static_cast<size_t>(d)][static_cast<size_t>(code % n)] = 1;
    }
  }
};

const Iq1Tree& tree() {
  static const Iq1Tree t;
  return t;
}

// One search: extra[j][v] is what element value v - 1 costs at position j
// above the cheapest value there; order[j] lists v cheapest first.
struct Search {
  const Iq1Tree& tree;
  float extra[kGroup][3];
  int order[kGroup][3];
  float best = INFINITY;
  int best_code = -1;

  void walk(int d, int code, int mul, float cost) {
    if (d == kGroup) {
      best = cost;  // the caller only descends while cost < best
      best_code = code;
      return;
    }
    const std::vector<uint8_t>& next = tree.prefix[static_cast<size_t>(d + 1)];
    for (int t = 0; t < 3; ++t) {
      const int v = order[d][t];
      const float c = cost + extra[d][v];
      if (!(c < best)) break;  // the rest of this position's choices cost more still
      const int p = code + v * mul;
      if (next[static_cast<size_t>(p)]) walk(d + 1, p, mul * 3, c);
    }
  }
};

}  // namespace

float iq1_point_error(const float* x, const float* w, float s, float delta, int k) {
  const auto& p = tree().points[static_cast<size_t>(k)];
  float e = 0;
  for (int j = 0; j < kGroup; ++j) {
    const float d = x[j] - s * (static_cast<float>(p[static_cast<size_t>(j)]) + delta);
    e += w[j] * d * d;
  }
  return e;
}

int iq1_nearest_point(const float* x, const float* w, float s, float delta, float* err) {
  Search search{tree(), {}, {}};
  for (int j = 0; j < kGroup; ++j) {
    float c[3];
    for (int v = 0; v < 3; ++v) {
      const float d = x[j] - s * (static_cast<float>(v - 1) + delta);
      c[v] = w[j] * d * d;
    }
    const float m = std::fmin(c[0], std::fmin(c[1], c[2]));
    int* o = search.order[j];
    o[0] = 0, o[1] = 1, o[2] = 2;
    for (int a = 0; a < 3; ++a) {
      search.extra[j][a] = c[a] - m;
      for (int b = a; b > 0 && c[o[b]] < c[o[b - 1]]; --b) std::swap(o[b], o[b - 1]);
    }
  }
  search.walk(0, 0, 1, 0.0f);
  const int k = search.best_code >= 0 ? search.tree.index_of[static_cast<size_t>(search.best_code)] : 0;
  *err = iq1_point_error(x, w, s, delta, k);
  return k;
}

}  // namespace frugal::quant

// The fused SwiGLU slices against the unfused double-precision reference, on
// fresh random weights of each common type and odd sizes, sliced unevenly.
#include "kernels/ffn.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "base/thread_pool.h"
#include "gguf/tensor_type.h"
#include "quant/quant.h"

namespace frugal::kernels {
namespace {

std::vector<float> randn(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// A random n_out x n_in weight matrix stored as `type`.
struct Weights {
  std::vector<uint8_t> bytes;
  WeightMatrix m;
  Weights(TensorType type, int64_t n_out, int64_t n_in, uint32_t seed) {
    const auto f = randn(static_cast<size_t>(n_out * n_in), seed, 1.0f / std::sqrt(float(n_in)));
    bytes.resize(row_bytes(type, static_cast<uint64_t>(n_in)) * static_cast<size_t>(n_out));
    quant::quantize_rows(type, f.data(), bytes.data(), n_out, n_in);
    m = WeightMatrix{type, bytes.data(), n_out, n_in};
  }
};

TEST(Ffn, FusedSlicesMatchUnfusedReference) {
  struct Case {
    TensorType type;
    int64_t n_in, n_ff, n_rows;
  };
  const Case cases[] = {{TensorType::F32, 37, 53, 1},  {TensorType::F32, 19, 130, 7}, {TensorType::F16, 41, 77, 3},
                        {TensorType::Q8_0, 64, 91, 5}, {TensorType::Q8_0, 96, 33, 1}, {TensorType::Q4_0, 128, 61, 9}};
  uint32_t seed = 1;
  for (const Case& c : cases) {
    Weights gate(c.type, c.n_ff, c.n_in, seed++), up(c.type, c.n_ff, c.n_in, seed++);
    const int64_t ldx = c.n_in + 3, ldh = c.n_ff + 5;  // strides wider than the rows
    const auto x = randn(static_cast<size_t>(c.n_rows * ldx), seed++);
    std::vector<float> want(static_cast<size_t>(c.n_rows * ldh), 0.0f), got(want.size(), -7.0f);
    swiglu_reference(gate.m, up.m, x.data(), ldx, c.n_rows, want.data(), ldh);
    // Unfused with the fast matmul: the same products, whole.
    std::vector<float> g(static_cast<size_t>(c.n_rows * c.n_ff)), u(g.size());
    matmul(gate.m, x.data(), ldx, c.n_rows, g.data(), c.n_ff, nullptr);
    matmul(up.m, x.data(), ldx, c.n_rows, u.data(), c.n_ff, nullptr);
    // Uneven slices, as the MoE scheduler's last slice is.
    std::vector<float> scratch(static_cast<size_t>(c.n_rows * 16));
    for (int64_t b = 0; b < c.n_ff; b += 16) {
      const int64_t e = std::min(c.n_ff, b + 16);
      swiglu_slice(gate.m, up.m, b, e, x.data(), ldx, c.n_rows, got.data() + b, ldh, scratch.data());
    }
    // The fast matmul may round activations to int8 for quantised weights
    // (kernels/quantize_activations.h): the reference is then looser.
    const bool float_weights = c.type == TensorType::F32 || c.type == TensorType::F16;
    const float ref_tol = float_weights ? 1e-4f : 2e-2f;
    for (int64_t r = 0; r < c.n_rows; ++r) {
      for (int64_t o = 0; o < c.n_ff; ++o) {
        const float w = want[r * ldh + o], v = got[r * ldh + o];
        const float gv = g[r * c.n_ff + o], uv = u[r * c.n_ff + o];
        const float unfused = gv / (1.0f + std::exp(-gv)) * uv;
        ASSERT_NEAR(v, unfused, 1e-5f * (1.0f + std::abs(unfused)))
            << tensor_type_name(c.type) << " row " << r << " unit " << o;
        ASSERT_NEAR(v, w, ref_tol * (1.0f + std::abs(w))) << tensor_type_name(c.type) << " row " << r << " unit " << o;
      }
      for (int64_t o = c.n_ff; o < ldh; ++o) ASSERT_EQ(got[r * ldh + o], -7.0f) << "wrote past the slice";
    }
  }
}

TEST(Ffn, WeightRowsViewsTheRightRows) {
  Weights w(TensorType::Q8_0, 10, 64, 7);
  const WeightMatrix s = weight_rows(w.m, 3, 7);
  EXPECT_EQ(s.n_out, 4);
  EXPECT_EQ(s.n_in, 64);
  EXPECT_EQ(static_cast<const uint8_t*>(s.data) - w.bytes.data(), 3 * int64_t(row_bytes(TensorType::Q8_0, 64)));
  const auto x = randn(64, 9);
  std::vector<float> all(10), part(4);
  matmul_reference(w.m, x.data(), 64, 1, all.data(), 10);
  matmul_reference(s, x.data(), 64, 1, part.data(), 4);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(part[i], all[3 + i]);
}

}  // namespace
}  // namespace frugal::kernels

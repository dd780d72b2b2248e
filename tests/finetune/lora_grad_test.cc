// LoRA's gradients over a frozen quantised matrix against central finite
// differences of L = sum(c * y), y = W x + scale * B (A x), W in Q8_0 (the
// loss computed in double from the dequantised W): d_x (through the frozen
// matrix, a row block at a time, plus the adapter's part), d_A and d_B; and
// the same for the matrix used transposed, y = x (W + scale * B A) over rows
// of n_out (deepseek2's kv_b key rows folded into its queries), its frozen
// part's gradient by frozen_linear_f32.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "finetune/lora_grad.h"
#include "gguf/tensor_type.h"
#include "quant/quant.h"

namespace frugal::finetune {
namespace {

constexpr int64_t kIn = 64, kOut = 80, kRank = 3, kRows = 5;  // kOut > one 64-row block

struct Case {
  std::vector<uint8_t> wq;       // W in Q8_0
  std::vector<float> w;          // its dequantised values
  std::vector<float> a, b, x, c;  // factors, input rows, loss weights
  std::vector<float> xt, ct;      // the transposed product's input rows (of kOut) and loss weights (of kIn)
  float scale = 1.5f;
};

Case make_case() {
  std::mt19937_64 rng(11);
  std::normal_distribution<float> z(0.0f, 1.0f);
  Case k;
  auto fill = [&](std::vector<float>& v, size_t n, float s) {
    v.resize(n);
    for (float& e : v) e = s * z(rng);
  };
  std::vector<float> w0;
  fill(w0, kIn * kOut, 0.2f);
  k.wq.resize(row_bytes(TensorType::Q8_0, kIn) * kOut);
  quant::quantize_rows(TensorType::Q8_0, w0.data(), k.wq.data(), kOut, kIn);
  k.w.resize(w0.size());
  quant::dequantize_rows(TensorType::Q8_0, k.wq.data(), k.w.data(), kOut, kIn);
  fill(k.a, kRank * kIn, 0.3f);
  fill(k.b, kOut * kRank, 0.3f);
  fill(k.x, kRows * kIn, 1.0f);
  fill(k.c, kRows * kOut, 1.0f);
  fill(k.xt, kRows * kOut, 1.0f);
  fill(k.ct, kRows * kIn, 1.0f);
  return k;
}

double loss(const Case& k) {
  double l = 0;
  for (int64_t r = 0; r < kRows; ++r) {
    std::vector<double> ax(kRank, 0.0);
    for (int64_t j = 0; j < kRank; ++j)
      for (int64_t i = 0; i < kIn; ++i) ax[j] += double(k.a[j * kIn + i]) * k.x[r * kIn + i];
    for (int64_t o = 0; o < kOut; ++o) {
      double y = 0;
      for (int64_t i = 0; i < kIn; ++i) y += double(k.w[o * kIn + i]) * k.x[r * kIn + i];
      for (int64_t j = 0; j < kRank; ++j) y += double(k.scale) * k.b[o * kRank + j] * ax[j];
      l += double(k.c[r * kOut + o]) * y;
    }
  }
  return l;
}

// L = sum(ct * y), y = xt (W + scale * B A).
double loss_transposed(const Case& k) {
  double l = 0;
  for (int64_t r = 0; r < kRows; ++r) {
    std::vector<double> xb(kRank, 0.0);
    for (int64_t j = 0; j < kRank; ++j)
      for (int64_t o = 0; o < kOut; ++o) xb[j] += double(k.xt[r * kOut + o]) * k.b[o * kRank + j];
    for (int64_t i = 0; i < kIn; ++i) {
      double y = 0;
      for (int64_t o = 0; o < kOut; ++o) y += double(k.xt[r * kOut + o]) * k.w[o * kIn + i];
      for (int64_t j = 0; j < kRank; ++j) y += double(k.scale) * xb[j] * k.a[j * kIn + i];
      l += double(k.ct[r * kIn + i]) * y;
    }
  }
  return l;
}

// Central difference of a loss in element i of v (a member of k).
double numeric(Case& k, std::vector<float>& v, size_t i, double (*f)(const Case&) = loss) {
  const float h = 1e-2f, keep = v[i];
  v[i] = keep + h;
  const double up = f(k);
  v[i] = keep - h;
  const double down = f(k);
  v[i] = keep;
  return (up - down) / (2.0 * double(h));
}

TEST(LoraGrad, MatchesFiniteDifferencesOverQuantisedBase) {
  Case k = make_case();
  const LoraWeights l{.a = k.a.data(), .b = k.b.data(), .n_in = kIn, .n_out = kOut, .rank = kRank, .scale = k.scale};
  const kernels::WeightMatrix wm{TensorType::Q8_0, k.wq.data(), kOut, kIn};

  // The forward adds the adapter to the frozen product.
  std::vector<float> y(kRows * kOut, 0.0f), ax(kRows * kRank);
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t o = 0; o < kOut; ++o)
      for (int64_t i = 0; i < kIn; ++i) y[r * kOut + o] += k.w[o * kIn + i] * k.x[r * kIn + i];
  lora_forward(l, k.x.data(), kRows, ax.data(), y.data());
  double l_fwd = 0;
  for (size_t i = 0; i < y.size(); ++i) l_fwd += double(k.c[i]) * y[i];
  EXPECT_NEAR(l_fwd, loss(k), 1e-3 * std::fabs(loss(k)) + 1e-3);

  std::vector<float> d_x(kRows * kIn, 0.0f), d_a(kRank * kIn, 0.0f), d_b(kOut * kRank, 0.0f);
  frozen_linear_backward(wm, k.c.data(), kRows, d_x.data());
  lora_backward(l, k.x.data(), ax.data(), k.c.data(), kRows, d_a.data(), d_b.data(), d_x.data());

  // The loss is linear in x and in each factor separately: central
  // differences are exact up to rounding.
  for (size_t i = 0; i < d_x.size(); i += 7) EXPECT_NEAR(d_x[i], numeric(k, k.x, i), 2e-3) << "d_x " << i;
  for (size_t i = 0; i < d_a.size(); i += 5) EXPECT_NEAR(d_a[i], numeric(k, k.a, i), 2e-3) << "d_a " << i;
  for (size_t i = 0; i < d_b.size(); i += 5) EXPECT_NEAR(d_b[i], numeric(k, k.b, i), 2e-3) << "d_b " << i;
}

TEST(LoraGrad, TransposedMatchesFiniteDifferences) {
  Case k = make_case();
  const LoraWeights l{.a = k.a.data(), .b = k.b.data(), .n_in = kIn, .n_out = kOut, .rank = kRank, .scale = k.scale};
  const kernels::WeightMatrix wm{TensorType::Q8_0, k.wq.data(), kOut, kIn};
  // The frozen part, xt W, is W's backward product.
  std::vector<float> y(kRows * kIn, 0.0f), xb(kRows * kRank);
  frozen_linear_backward(wm, k.xt.data(), kRows, y.data());
  lora_forward_transposed(l, k.xt.data(), kRows, xb.data(), y.data());
  double l_fwd = 0;
  for (size_t i = 0; i < y.size(); ++i) l_fwd += double(k.ct[i]) * y[i];
  EXPECT_NEAR(l_fwd, loss_transposed(k), 1e-3 * std::fabs(loss_transposed(k)) + 1e-3);

  // The frozen part's gradient, d_xt += ct W^T, by frozen_linear_f32; the
  // adapter's by lora_backward_transposed.
  std::vector<float> d_x(kRows * kOut, 0.0f), d_a(kRank * kIn, 0.0f), d_b(kOut * kRank, 0.0f);
  frozen_linear_f32(wm, k.ct.data(), kRows, d_x.data());
  lora_backward_transposed(l, k.xt.data(), xb.data(), k.ct.data(), kRows, d_a.data(), d_b.data(), d_x.data());
  for (size_t i = 0; i < d_x.size(); i += 7)
    EXPECT_NEAR(d_x[i], numeric(k, k.xt, i, loss_transposed), 2e-3) << "d_x " << i;
  for (size_t i = 0; i < d_a.size(); i += 5)
    EXPECT_NEAR(d_a[i], numeric(k, k.a, i, loss_transposed), 2e-3) << "d_a " << i;
  for (size_t i = 0; i < d_b.size(); i += 5)
    EXPECT_NEAR(d_b[i], numeric(k, k.b, i, loss_transposed), 2e-3) << "d_b " << i;
}

}  // namespace
}  // namespace frugal::finetune

// Training's bf16 matrix products (train/linear.h): each of the three
// products (forward, d_x, d_w) equals the double-precision product of the
// bf16-rounded factors within f32 summation error, whatever the shapes
// (odd sizes, one row); the backward adds into its gradients; and a short
// training run in bf16 follows the f32 run's loss closely and is
// bit-identical for a seed.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "base/fp16.h"
#include "base/mix64.h"
#include "train/linear.h"
#include "train/trainer.h"

namespace frugal::train {
namespace {

std::vector<float> random_values(size_t n, uint64_t seed) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) {
    const uint64_t h = mix64(seed * 0x9E3779B97F4A7C15ull + i);
    v[i] = static_cast<float>(static_cast<double>(h >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
  return v;
}

double rounded(float x) { return bf16_to_f32(f32_to_bf16(x)); }

// Turns bf16 products on for one scope.
struct Bf16Scope {
  explicit Bf16Scope(ThreadPool* pool) { set_bf16_products(pool); }
  ~Bf16Scope() { set_bf16_products(nullptr); }
};

// sum_k a(i, k) b(j, k) over bf16-rounded factors, and the bound on an f32
// sum of those exact products: (k + 8) 2^-24 sum |a b|.
struct Expected {
  double value = 0.0, bound = 0.0;
};
template <class A, class B>
Expected product(int64_t k, A a, B b) {
  Expected e;
  double abs_sum = 0.0;
  for (int64_t t = 0; t < k; ++t) {
    const double p = rounded(a(t)) * rounded(b(t));
    e.value += p;
    abs_sum += std::abs(p);
  }
  e.bound = static_cast<double>(k + 8) * 0x1p-24 * abs_sum + 1e-30;
  return e;
}

TEST(Bf16Products, EachProductIsTheRoundedFactorsProduct) {
  if (!bf16_products_native()) GTEST_SKIP() << "no AVX512_BF16 on this CPU";
  ThreadPool pool(2);
  struct Shape {
    int64_t n, n_in, n_out;
  };
  for (const Shape s : {Shape{1, 64, 16}, Shape{37, 33, 5}, Shape{130, 96, 71}, Shape{8, 1, 3}}) {
    const auto x = random_values(size_t(s.n * s.n_in), 1), w = random_values(size_t(s.n_out * s.n_in), 2);
    const auto d_y = random_values(size_t(s.n * s.n_out), 3);
    std::vector<float> y(size_t(s.n * s.n_out));
    // The backward adds: start both gradients from a known value.
    std::vector<float> d_x(size_t(s.n * s.n_in), 0.5f), d_w(size_t(s.n_out * s.n_in), -0.25f);
    {
      Bf16Scope on(&pool);
      linear_forward(x.data(), w.data(), y.data(), s.n, s.n_in, s.n_out);
      linear_backward(d_y.data(), x.data(), w.data(), d_x.data(), d_w.data(), s.n, s.n_in, s.n_out);
    }
    for (int64_t r = 0; r < s.n; ++r)
      for (int64_t o = 0; o < s.n_out; ++o) {
        const Expected e = product(s.n_in, [&](int64_t t) { return x[size_t(r * s.n_in + t)]; },
                                   [&](int64_t t) { return w[size_t(o * s.n_in + t)]; });
        EXPECT_NEAR(y[size_t(r * s.n_out + o)], e.value, e.bound) << "y " << r << "," << o;
      }
    for (int64_t r = 0; r < s.n; ++r)
      for (int64_t i = 0; i < s.n_in; ++i) {
        const Expected e = product(s.n_out, [&](int64_t t) { return d_y[size_t(r * s.n_out + t)]; },
                                   [&](int64_t t) { return w[size_t(t * s.n_in + i)]; });
        EXPECT_NEAR(d_x[size_t(r * s.n_in + i)], 0.5 + e.value, e.bound + 1e-7) << "d_x " << r << "," << i;
      }
    for (int64_t o = 0; o < s.n_out; ++o)
      for (int64_t i = 0; i < s.n_in; ++i) {
        const Expected e = product(s.n, [&](int64_t t) { return d_y[size_t(t * s.n_out + o)]; },
                                   [&](int64_t t) { return x[size_t(t * s.n_in + i)]; });
        EXPECT_NEAR(d_w[size_t(o * s.n_in + i)], -0.25 + e.value, e.bound + 1e-7) << "d_w " << o << "," << i;
      }
  }
  EXPECT_FALSE(bf16_products());  // the scope turned them off again
}

// Byte tokens of a small repeating grammar: enough structure to learn.
std::vector<int32_t> text_tokens(size_t n) {
  const std::string words[] = {"the cat sees the moon. ", "a dog eats some bread. ", "my friend follows the road. "};
  std::vector<int32_t> ids;
  for (size_t i = 0; ids.size() < n; ++i)
    for (unsigned char ch : words[mix64(i) % 3]) ids.push_back(ch);
  return ids;
}

TEST(Bf16Products, TrainingFollowsTheF32Loss) {
  if (!bf16_products_native()) GTEST_SKIP() << "no AVX512_BF16 on this CPU";
  ThreadPool pool(2);
  ModelShape s;
  s.n_vocab = 260;
  s.n_embd = 64;
  s.n_layer = 2;
  s.n_head = 4;
  s.n_head_kv = 2;
  s.head_dim = 16;
  s.n_expert = 8;
  s.n_expert_used = 2;
  s.n_ff_exp = 32;
  s.n_ctx = 64;
  auto run = [&](bool bf16) {
    TrainOptions o;
    o.steps = 30;
    o.batch = 4;
    o.seq_len = 64;
    o.schedule.lr = 1e-2f;
    o.schedule.warmup_steps = 3;
    o.seed = 5;
    o.bf16_products = bf16;
    Trainer t(make_config(s), o, text_tokens(20000), {}, &pool);
    EXPECT_EQ(bf16_products(), bf16);
    std::vector<double> losses;
    for (int i = 0; i < 30; ++i) losses.push_back(t.step().loss);
    return losses;
  };
  const auto f32 = run(false), bf16 = run(true), again = run(true);
  EXPECT_FALSE(bf16_products());  // the trainer turned them off when it ended
  EXPECT_EQ(bf16, again);         // deterministic for a seed
  EXPECT_NE(f32, bf16);           // the products did change
  // The first step's loss is the same model's: only the rounding differs.
  EXPECT_NEAR(bf16[0], f32[0], 0.01 * f32[0]);
  // It learns as f32 does: from about ln 260 = 5.56 to well under 3.
  EXPECT_LT(bf16.back(), 3.0);
  EXPECT_NEAR(bf16.back(), f32.back(), 0.1 * f32.back());
}

}  // namespace
}  // namespace frugal::train

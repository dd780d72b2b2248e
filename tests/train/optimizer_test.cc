// AdamW, the learning-rate schedule and global-norm clipping against values
// worked out by hand.
#include <gtest/gtest.h>

#include <vector>

#include "train/optimizer.h"

namespace frugal::train {
namespace {

ModelShape tiny_shape() {
  ModelShape s;
  s.n_vocab = 8;
  s.n_embd = 4;
  s.n_layer = 1;
  s.n_head = 2;
  s.n_head_kv = 1;
  s.head_dim = 2;
  s.n_expert = 2;
  s.n_expert_used = 1;
  s.n_ff_exp = 4;
  s.n_ctx = 8;
  return s;
}

TEST(TrainOptimizer, ScheduleWarmupThenCosine) {
  ScheduleOptions s;
  s.lr = 1.0f;
  s.warmup_steps = 10;
  s.total_steps = 110;
  s.min_lr_ratio = 0.1f;
  EXPECT_FLOAT_EQ(learning_rate(s, 0), 0.1f);
  EXPECT_FLOAT_EQ(learning_rate(s, 4), 0.5f);
  EXPECT_FLOAT_EQ(learning_rate(s, 9), 1.0f);
  EXPECT_FLOAT_EQ(learning_rate(s, 10), 1.0f);
  EXPECT_NEAR(learning_rate(s, 60), 0.55f, 1e-6);   // half way down the cosine
  EXPECT_NEAR(learning_rate(s, 35), 0.1f + 0.45f * (1.0f + 0.70710678f), 1e-5);  // a quarter: cos(pi/4)
  EXPECT_NEAR(learning_rate(s, 110), 0.1f, 1e-6);
  EXPECT_NEAR(learning_rate(s, 500), 0.1f, 1e-6);
}

TEST(TrainOptimizer, ClipGlobalNorm) {
  std::vector<float> g = {3.0f, 4.0f};
  EXPECT_DOUBLE_EQ(clip_global_norm(g.data(), g.size(), 1.0f), 5.0);
  EXPECT_FLOAT_EQ(g[0], 0.6f);
  EXPECT_FLOAT_EQ(g[1], 0.8f);
  std::vector<float> small = {0.3f, 0.4f};
  EXPECT_NEAR(clip_global_norm(small.data(), small.size(), 1.0f), 0.5, 1e-7);
  EXPECT_FLOAT_EQ(small[0], 0.3f);  // under the limit: unchanged
}

TEST(TrainOptimizer, AdamWKnownSteps) {
  ParamLayout layout(make_config(tiny_shape()));
  AdamWOptions o;
  o.beta1 = 0.9f;
  o.beta2 = 0.95f;
  o.eps = 0.0f;
  o.weight_decay = 0.1f;
  AdamW adam(layout, o);
  std::vector<float> p(layout.n_params(), 1.0f), g(layout.n_params(), 0.5f);
  const size_t matrix = layout.find("token_embd.weight").offset;
  const size_t norm = layout.find("output_norm.weight").offset;
  adam.step(p.data(), g.data(), 0.1f);
  // First step: m_hat = g, v_hat = g^2, so the Adam step is lr * sign(g);
  // the matrix also decays by lr * wd * p.
  EXPECT_FLOAT_EQ(p[norm], 0.9f);
  EXPECT_FLOAT_EQ(p[matrix], 1.0f - 0.1f - 0.01f);
  // Second step, same gradient: bias correction keeps m_hat = g, v_hat = g^2.
  adam.step(p.data(), g.data(), 0.1f);
  EXPECT_NEAR(p[norm], 0.8f, 1e-6);
  EXPECT_NEAR(p[matrix], 0.89f - 0.1f - 0.1f * 0.1f * 0.89f, 1e-6);
  // Moments after two steps of g = 0.5.
  EXPECT_NEAR(adam.m()[norm], 0.5f * (1.0f - 0.81f), 1e-7);
  EXPECT_NEAR(adam.v()[norm], 0.25f * (1.0f - 0.9025f), 1e-7);
  EXPECT_EQ(adam.t(), 2);
}

}  // namespace
}  // namespace frugal::train

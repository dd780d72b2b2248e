// Batches of several examples a step (finetune --batch): the batch's loss
// and gradient are the mean over all its target tokens, so each example's
// gradient weighs its share of the batch's tokens (what PyTorch's
// cross-entropy over a padded batch with ignored positions gives); the
// trainer takes epochs x ceil(examples / batch) steps, the last batch of an
// epoch holding what is left.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "base/error.h"
#include "base/progress.h"
#include "finetune/trainer.h"
#include "finetune/tiny_base.h"

namespace frugal::finetune {
namespace {

// The base of these tests: tiny qwen3moe, Q8_0.
struct TinyBase : testing::TinyBase {
  TinyBase() : testing::TinyBase("finetune_batch", "qwen3moe", 12) {}
};

// Three examples of different lengths and target counts (3, 6 and 2).
std::vector<SftExample> examples() {
  std::vector<SftExample> set(3);
  set[0] = {.tokens = {256, 72, 101, 108, 108, 111, 32}, .target = {0, 0, 0, 0, 1, 1, 1}, .line = 1};
  set[1] = {.tokens = {84, 119, 111, 32, 112, 108, 117, 115}, .target = {0, 0, 1, 1, 1, 1, 1, 1}, .line = 2};
  set[2] = {.tokens = {83, 110, 111, 119, 32, 105, 115, 32, 99}, .target = {0, 0, 0, 0, 0, 0, 0, 1, 1}, .line = 3};
  return set;
}

LoraShape shape() {
  LoraShape s{.rank = 4, .alpha = 8.0f, .seed = 2};
  parse_targets("attn,experts,router", s);
  return s;
}

TEST(FinetuneBatch, GradientIsTheTokenWeightedMeanOfItsExamples) {
  TinyBase base;
  LoraModel lm(*base.m, shape());
  std::mt19937_64 rng(4);
  std::normal_distribution<float> z(0.0f, 0.05f);
  for (float& p : lm.params()) p += z(rng);  // B != 0: every factor has a gradient
  const auto set = examples();
  ASSERT_EQ(target_count(set[0]), 3);
  ASSERT_EQ(target_count(set[1]), 6);
  ASSERT_EQ(target_count(set[2]), 2);

  // Each example alone, its gradient weighed by its share of the 11 tokens.
  std::vector<double> want(lm.params().size(), 0.0);
  double want_loss = 0;
  for (const SftExample& ex : set) {
    std::fill(lm.grads().begin(), lm.grads().end(), 0.0f);
    const double share = double(target_count(ex)) / 11.0;
    want_loss += share * lm.loss(ex, true);
    for (size_t i = 0; i < want.size(); ++i) want[i] += share * lm.grads()[i];
  }
  std::fill(lm.grads().begin(), lm.grads().end(), 0.0f);
  const double got_loss = batch_loss(lm, {&set[0], &set[1], &set[2]}, true);
  EXPECT_NEAR(got_loss, want_loss, 1e-9);
  double norm = 0, diff = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    norm += want[i] * want[i];
    diff += (lm.grads()[i] - want[i]) * (lm.grads()[i] - want[i]);
  }
  ASSERT_GT(norm, 1e-6);
  EXPECT_LT(std::sqrt(diff / norm), 1e-5);

  // Not the plain mean of the three examples' losses: the long one weighs more.
  double plain = 0;
  for (const SftExample& ex : set) plain += lm.loss(ex, false) / 3.0;
  EXPECT_GT(std::fabs(plain - got_loss), 1e-4);

  // A batch of one is the example's own loss and gradient, bit for bit.
  std::fill(lm.grads().begin(), lm.grads().end(), 0.0f);
  const double one = batch_loss(lm, {&set[1]}, true);
  const std::vector<float> g_batch = lm.grads();
  std::fill(lm.grads().begin(), lm.grads().end(), 0.0f);
  EXPECT_EQ(one, lm.loss(set[1], true));
  EXPECT_EQ(g_batch, lm.grads());
}

TEST(FinetuneBatch, StepsTakeBatchesAndTheLastOneHoldsWhatIsLeft) {
  TinyBase base;
  const auto set = examples();
  LoraModel lm(*base.m, shape());
  const double base_loss = batch_loss(lm, {&set[0], &set[1], &set[2]}, false);
  std::vector<FinetuneStep> steps;
  const FinetuneOptions o{.epochs = 2, .batch = 2, .lr = 1e-2f, .eval_every = 0};
  EXPECT_EQ(total_steps(o, set.size()), 4);
  finetune(lm, set, set, o, [&](const FinetuneStep& s) { steps.push_back(s); });
  ASSERT_EQ(steps.size(), 5u);
  // Each epoch: a batch of two examples, then one of the third; every
  // example once an epoch.
  EXPECT_EQ(steps[1].tokens + steps[2].tokens, 7 + 8 + 9);
  EXPECT_EQ(steps[3].tokens + steps[4].tokens, 7 + 8 + 9);
  EXPECT_GT(steps[1].tokens, 9);
  EXPECT_LE(steps[2].tokens, 9);
  // The whole set in one batch: one step an epoch, its first loss the base's
  // token-weighted mean (B = 0 before the first update).
  LoraModel whole(*base.m, shape());
  std::vector<FinetuneStep> one;
  finetune(whole, set, set, {.epochs = 2, .batch = 5, .lr = 1e-2f},
           [&](const FinetuneStep& s) { one.push_back(s); });
  ASSERT_EQ(one.size(), 3u);
  EXPECT_NEAR(one[1].train_loss, base_loss, 1e-12);
  EXPECT_LT(one[2].train_loss, one[1].train_loss);
  EXPECT_THROW(finetune(whole, set, set, {.batch = 0}, [](const FinetuneStep&) {}), Error);
}

}  // namespace
}  // namespace frugal::finetune

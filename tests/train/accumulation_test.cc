// Gradient accumulation: the gradient of one batch equals the sum of its
// micro-batches' gradients, each scaled by its share (what Trainer::step does
// with --accum), for every parameter. The cross-entropy and the z-loss are
// means over tokens, so they split exactly; the load-balancing loss is a
// product of two batch means (load share times mean probability) and is
// per micro-batch by definition, so it is off here.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "train/train_model.h"
#include "train/transformer.h"

namespace frugal::train {
namespace {

TEST(TrainAccumulation, MicroBatchGradientsSumToTheBatchGradient) {
  ModelShape s;
  s.n_vocab = 40;
  s.n_embd = 16;
  s.n_layer = 2;
  s.n_head = 2;
  s.n_head_kv = 1;
  s.head_dim = 8;
  s.n_expert = 4;
  s.n_expert_used = 2;
  s.n_ff_exp = 12;
  s.n_ctx = 8;
  const ParamLayout layout(make_config(s));
  std::vector<float> params(layout.n_params());
  init_params(layout, 3, params.data());

  const int64_t B = 4, T = 8;
  Rng rng(17);
  std::vector<int32_t> tokens(B * T), targets(B * T);
  for (auto& id : tokens) id = static_cast<int32_t>(rng.next_u64() % 40);
  for (auto& id : targets) id = static_cast<int32_t>(rng.next_u64() % 40);
  RouterOptions ro;
  ro.aux_coef = 0.0f;
  ro.z_coef = 0.01f;
  ThreadPool pool(2);

  std::vector<float> whole(layout.n_params(), 0.0f), parts(layout.n_params(), 0.0f);
  Transformer big(layout, B, T, &pool);
  const ForwardResult rb = big.forward(params.data(), nullptr, tokens.data(), targets.data(), ro);
  big.backward(params.data(), whole.data(), 1.0f);

  Transformer half(layout, B / 2, T, &pool);
  double loss_parts = 0.0;
  for (int64_t m = 0; m < 2; ++m) {
    const int64_t off = m * (B / 2) * T;
    const ForwardResult r = half.forward(params.data(), nullptr, tokens.data() + off, targets.data() + off, ro);
    half.backward(params.data(), parts.data(), 0.5f);
    loss_parts += 0.5 * r.total_loss();
  }
  EXPECT_NEAR(loss_parts, rb.total_loss(), 1e-6 * rb.total_loss());

  for (const ParamTensor& t : layout.tensors()) {
    double max_abs = 0.0, max_diff = 0.0;
    for (size_t i = t.offset; i < t.offset + t.size; ++i) {
      max_abs = std::max(max_abs, std::fabs(static_cast<double>(whole[i])));
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(whole[i]) - parts[i]));
    }
    EXPECT_GT(max_abs, 0.0) << t.name << " got no gradient";
    EXPECT_LE(max_diff, 1e-4 * max_abs + 1e-9) << t.name;
  }
}

}  // namespace
}  // namespace frugal::train

// The auxiliary-loss-free balancing bias (DeepSeek-V3) changes which experts
// a token goes to, never how much they weigh: with a bias large enough to
// override the router's own top-k, the chosen experts follow the bias, the
// weights are still the router's renormalised probabilities, and the whole
// model's gradient (router with aux and z losses included) still matches
// central finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "train/train_model.h"
#include "train/transformer.h"

namespace frugal::train {
namespace {

ModelShape tiny_shape() {
  ModelShape s;
  s.n_vocab = 11;
  s.n_embd = 16;
  s.n_layer = 2;
  s.n_head = 2;
  s.n_head_kv = 1;
  s.head_dim = 8;
  s.n_expert = 4;
  s.n_expert_used = 2;
  s.n_ff_exp = 12;
  s.n_ctx = 8;
  return s;
}

TEST(TrainSelectionBias, ABigBiasPicksTheExperts) {
  const ParamLayout layout(make_config(tiny_shape()));
  std::vector<float> params(layout.n_params());
  init_params(layout, 5, params.data());
  const int64_t n_seq = 2, t = 6;
  std::vector<int32_t> tokens(n_seq * t);
  Rng rng(6);
  for (auto& x : tokens) x = static_cast<int32_t>(rng.next_u64() % 11);
  // Probabilities are in [0, 1]: a bias of +2 on experts 1 and 3 wins every time.
  std::vector<float> bias = {0, 2, 0, 2, 0, 2, 0, 2};
  Transformer model(layout, n_seq, t, nullptr);
  const ForwardResult r = model.forward(params.data(), bias.data(), tokens.data(), tokens.data(), RouterOptions{});
  for (const auto& layer : r.expert_tokens) {
    EXPECT_EQ(layer[0], 0);
    EXPECT_EQ(layer[1], n_seq * t);
    EXPECT_EQ(layer[2], 0);
    EXPECT_EQ(layer[3], n_seq * t);
  }
  // The same routing without the bias would differ (the bias did the picking).
  const ForwardResult plain = model.forward(params.data(), nullptr, tokens.data(), tokens.data(), RouterOptions{});
  EXPECT_NE(plain.routing_hash, r.routing_hash);
}

TEST(TrainSelectionBias, GradientsMatchFiniteDifferences) {
  const ParamLayout layout(make_config(tiny_shape()));
  std::vector<float> params(layout.n_params());
  init_params(layout, 9, params.data());
  Rng rng(10);
  for (float& p : params) p += 0.1f * rng.normal();
  const int64_t n_seq = 2, t = 6;
  std::vector<int32_t> tokens(n_seq * t), targets(n_seq * t);
  for (auto& x : tokens) x = static_cast<int32_t>(rng.next_u64() % 11);
  for (auto& x : targets) x = static_cast<int32_t>(rng.next_u64() % 11);
  // A moderate bias: it overrides some of the router's choices, not all.
  std::vector<float> bias = {0.3f, -0.2f, 0.1f, 0.0f, -0.3f, 0.25f, 0.0f, 0.1f};
  RouterOptions opts;
  opts.aux_coef = 0.5f;
  opts.z_coef = 0.2f;
  Transformer model(layout, n_seq, t, nullptr);
  const ForwardResult base = model.forward(params.data(), bias.data(), tokens.data(), targets.data(), opts);
  const ForwardResult plain = model.forward(params.data(), nullptr, tokens.data(), targets.data(), opts);
  ASSERT_NE(plain.routing_hash, base.routing_hash) << "the bias changed no choice: the test would prove nothing";
  model.forward(params.data(), bias.data(), tokens.data(), targets.data(), opts);  // backward needs this pass
  std::vector<float> grads(layout.n_params(), 0.0f);
  model.backward(params.data(), grads.data(), 1.0f);

  const float eps = 3e-3f;
  for (const ParamTensor& pt : layout.tensors()) {
    int checked = 0;
    const size_t step = std::max<size_t>(1, pt.size / 16);
    for (size_t i = 0; i < pt.size; i += step) {
      float& p = params[pt.offset + i];
      const float saved = p;
      p = saved + eps;
      const ForwardResult up = model.forward(params.data(), bias.data(), tokens.data(), targets.data(), opts);
      p = saved - eps;
      const ForwardResult down = model.forward(params.data(), bias.data(), tokens.data(), targets.data(), opts);
      p = saved;
      // top-k is not differentiable where a perturbation changes the routing.
      if (up.routing_hash != base.routing_hash || down.routing_hash != base.routing_hash) continue;
      const double numeric = (up.total_loss() - down.total_loss()) / (2.0 * eps);
      EXPECT_NEAR(grads[pt.offset + i], numeric, 1e-3 + 3e-2 * std::fabs(numeric)) << pt.name << " element " << i;
      ++checked;
    }
    EXPECT_GE(checked, 4) << pt.name;
  }
}

}  // namespace
}  // namespace frugal::train

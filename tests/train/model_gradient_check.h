// The whole training model's gradient against central finite differences,
// tensor by tensor (about 24 elements of each): shared by the tests of the
// default shape (gradient_test.cc) and of every trainable architecture
// (architectures_test.cc). Weights are perturbed away from their
// initialisation so gradients stand well above float noise; an element whose
// nudge changes the routing is skipped (the loss is not differentiable there).
#pragma once
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "train/transformer.h"

namespace frugal::train {

inline void expect_model_gradients(const ParamLayout& layout, const RouterOptions& opts, uint64_t seed = 7) {
  const int64_t V = layout.config().n_vocab;
  std::vector<float> params(layout.n_params());
  init_params(layout, seed, params.data());
  Rng rng(seed + 1);
  for (float& p : params) p += 0.1f * rng.normal();
  const int64_t n_seq = 2, t = 6;
  std::vector<int32_t> tokens(n_seq * t), targets(n_seq * t);
  for (auto& x : tokens) x = static_cast<int32_t>(rng.next_u64() % static_cast<uint64_t>(V));
  for (auto& x : targets) x = static_cast<int32_t>(rng.next_u64() % static_cast<uint64_t>(V));
  Transformer model(layout, n_seq, t, nullptr);
  const ForwardResult base = model.forward(params.data(), nullptr, tokens.data(), targets.data(), opts);
  std::vector<float> grads(layout.n_params(), 0.0f);
  model.backward(params.data(), grads.data(), 1.0f);

  const float eps = 3e-3f;
  for (const ParamTensor& t_ : layout.tensors()) {
    int checked = 0, skipped = 0;
    const size_t step = std::max<size_t>(1, t_.size / 24);
    for (size_t i = 0; i < t_.size; i += step) {
      float& p = params[t_.offset + i];
      const float saved = p;
      p = saved + eps;
      const ForwardResult up = model.forward(params.data(), nullptr, tokens.data(), targets.data(), opts);
      p = saved - eps;
      const ForwardResult down = model.forward(params.data(), nullptr, tokens.data(), targets.data(), opts);
      p = saved;
      if (up.routing_hash != base.routing_hash || down.routing_hash != base.routing_hash) {
        ++skipped;
        continue;
      }
      const double numeric = (up.total_loss() - down.total_loss()) / (2.0 * eps);
      const double analytic = grads[t_.offset + i];
      EXPECT_NEAR(analytic, numeric, 1e-3 + 3e-2 * std::fabs(numeric)) << t_.name << " element " << i;
      ++checked;
    }
    EXPECT_GE(checked, 4) << t_.name << " (" << skipped << " skipped)";
  }
}

}  // namespace frugal::train

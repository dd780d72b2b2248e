// The shared-expert model (qwen2moe layout: q/k/v biases, no q/k norm, a
// sigmoid-gated shared SwiGLU expert, top-k weights not renormalised): its
// gradients match central finite differences tensor by tensor, and frugal's
// Engine gives the exported model the training forward's logits.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "base/error.h"
#include "model/model.h"
#include "model/synth.h"
#include "runtime/engine.h"
#include "train/export.h"
#include "train/train_model.h"
#include "train/transformer.h"

namespace frugal::train {
namespace {

ModelShape shared_shape() {
  ModelShape s;
  s.n_vocab = 11;
  s.n_embd = 16;
  s.n_layer = 2;
  s.n_head = 4;
  s.n_head_kv = 2;
  s.head_dim = 8;
  s.n_expert = 4;
  s.n_expert_used = 2;
  s.n_ff_exp = 12;
  s.n_ff_shexp = 20;
  s.n_ctx = 8;
  return s;
}

TEST(TrainSharedExpert, ConfigIsQwen2MoeWithAGatedSharedExpert) {
  const ParamLayout layout(make_config(shared_shape()));
  const model::ModelConfig& c = layout.config();
  EXPECT_EQ(c.arch, "qwen2moe");
  EXPECT_EQ(c.n_ff_shexp, 20);
  EXPECT_FALSE(c.expert_weights_norm);
  EXPECT_NO_THROW(layout.find("blk.1.ffn_gate_inp_shexp.weight"));
  EXPECT_NO_THROW(layout.find("blk.0.attn_q.bias"));
  EXPECT_THROW(layout.find("blk.0.attn_q_norm.weight"), Error);
}

TEST(TrainSharedExpert, GradientsMatchFiniteDifferences) {
  const ParamLayout layout(make_config(shared_shape()));
  std::vector<float> params(layout.n_params());
  init_params(layout, 21, params.data());
  Rng rng(22);
  for (float& p : params) p += 0.1f * rng.normal();  // biases and gates away from zero
  const int64_t n_seq = 2, t = 6;
  std::vector<int32_t> tokens(n_seq * t), targets(n_seq * t);
  for (auto& x : tokens) x = static_cast<int32_t>(rng.next_u64() % 11);
  for (auto& x : targets) x = static_cast<int32_t>(rng.next_u64() % 11);
  RouterOptions opts;
  opts.aux_coef = 0.5f;
  opts.z_coef = 0.2f;
  Transformer model(layout, n_seq, t, nullptr);
  const ForwardResult base = model.forward(params.data(), nullptr, tokens.data(), targets.data(), opts);
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
      const ForwardResult up = model.forward(params.data(), nullptr, tokens.data(), targets.data(), opts);
      p = saved - eps;
      const ForwardResult down = model.forward(params.data(), nullptr, tokens.data(), targets.data(), opts);
      p = saved;
      if (up.routing_hash != base.routing_hash || down.routing_hash != base.routing_hash) continue;
      const double numeric = (up.total_loss() - down.total_loss()) / (2.0 * eps);
      EXPECT_NEAR(grads[pt.offset + i], numeric, 1e-3 + 3e-2 * std::fabs(numeric)) << pt.name << " element " << i;
      ++checked;
    }
    EXPECT_GE(checked, 4) << pt.name;
  }
}

TEST(TrainSharedExpert, EngineLogitsMatchTrainingForward) {
  ModelShape s = shared_shape();
  s.n_vocab = 260;
  s.n_ctx = 32;
  const ParamLayout layout(make_config(s));
  std::vector<float> params(layout.n_params());
  init_params(layout, 23, params.data());
  Rng rng(24);
  for (float& p : params) p += 0.05f * rng.normal();  // non-zero biases, uneven routing
  gguf::Metadata tok;
  model::add_byte_tokenizer(260, tok);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("frugal_shared_expert_" + std::to_string(::getpid()) + ".gguf"))
          .string();
  export_gguf(path, layout, params.data(), tok, TensorType::F32);

  const int64_t T = 20;
  std::vector<int32_t> ids(T);
  for (auto& x : ids) x = static_cast<int32_t>(rng.next_u64() % 256);
  ThreadPool pool(2);
  Transformer fwd(layout, 1, T, &pool);
  fwd.forward(params.data(), nullptr, ids.data(), nullptr, RouterOptions{});

  auto m = model::Model::load(path);
  runtime::EngineOptions eo;
  eo.n_ctx = 32;
  eo.pool = &pool;
  runtime::Engine engine(*m, eo);
  std::vector<runtime::BatchRow> rows;
  for (int64_t i = 0; i < T; ++i) rows.push_back({0, static_cast<int32_t>(i), ids[i], true});
  std::vector<float> logits;
  engine.forward(rows, logits);
  ASSERT_EQ(logits.size(), static_cast<size_t>(T * 260));
  double max_abs = 0.0, max_diff = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(fwd.logits()[i])));
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(logits[i]) - fwd.logits()[i]));
  }
  EXPECT_LT(max_diff, 1e-4 * max_abs) << "max |logit| " << max_abs;

  const ImportedModel back = import_gguf(path);
  EXPECT_EQ(back.config.arch, "qwen2moe");
  EXPECT_EQ(back.params, params);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace frugal::train

// Model loading (tensor validation) and the forward pass's parts: routing per
// architecture, expert grouping that leaves unchosen experts untouched.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "base/error.h"
#include "model/forward.h"
#include "model/forward_layers.h"
#include "model/forward_test_model.h"
#include "model/model.h"

namespace frugal::model {
namespace {

using testing::OneSequenceKv;
using testing::TempModel;
using testing::write_test_model;

// A KV store of one sequence in plain vectors.
class VectorKv : public KvStore {
 public:
  VectorKv(const ModelConfig& c, int64_t n_ctx) : n_ctx_(n_ctx) {
    for (int64_t l = 0; l < c.n_layer; ++l) {
      k_.emplace_back(n_ctx * kv_key_width(c));
      v_.emplace_back(n_ctx * std::max<int64_t>(1, kv_value_width(c)));
    }
  }
  KvType type() const override { return KvType::kF32; }
  KvSlice slice(int64_t layer, int32_t) override { return {k_[layer].data(), v_[layer].data(), n_ctx_}; }

 private:
  int64_t n_ctx_;
  std::vector<std::vector<float>> k_, v_;
};

TEST(ForwardModel, LoadsEveryTinyPreset) {
  for (const auto& [arch, preset] : testing::tiny_presets()) {
    const ModelConfig cfg = find_preset(arch, preset).config;
    TempModel f(arch + preset);
    write_test_model(cfg, f.path);
    const auto m = Model::load(f.path);
    EXPECT_EQ(m->config().arch, arch);
    EXPECT_EQ(m->config().n_layer, cfg.n_layer);
    EXPECT_EQ(m->config().tied_output, cfg.tied_output);
    EXPECT_EQ(int64_t(m->weights().layers.size()), cfg.n_layer);
    EXPECT_EQ(m->weights().output.n_out, cfg.n_vocab);
    // Weights stay in the mapping: the embedding points into the file.
    const auto& t = m->file().tensor("token_embd.weight");
    EXPECT_EQ(m->weights().token_embd.data, t.data);
  }
}

TEST(ForwardModel, RejectsWrongShapeWithNameAndShapes) {
  const ModelConfig cfg = find_preset("qwen3moe", "tiny").config;
  TempModel f("wrongshape");
  write_test_model(cfg, f.path, TensorType::F32, 1, [](const TensorSpec& s, std::vector<float>&, std::vector<uint64_t>& shape) {
    if (s.name == "blk.1.attn_k.weight") std::swap(shape[0], shape[1]);
  });
  try {
    Model::load(f.path);
    FAIL() << "loaded a model with a wrong-shape tensor";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("blk.1.attn_k.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("has shape [64, 128]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("expected [128, 64]"), std::string::npos) << msg;
  }
}

TEST(ForwardModel, SplitKvBIsFoundAndCheckedByShape) {
  const ModelConfig cfg = find_preset("deepseek2", "tiny-k2").config;
  {
    TempModel f("splitkvb");
    write_test_model(cfg, f.path);
    EXPECT_TRUE(Model::load(f.path)->config().mla_split_kv_b);
  }
  TempModel f("splitkvb_bad");
  write_test_model(cfg, f.path, TensorType::F32, 1, [](const TensorSpec& s, std::vector<float>&, std::vector<uint64_t>& shape) {
    if (s.name == "blk.2.attn_v_b.weight") std::swap(shape[0], shape[1]);
  });
  try {
    Model::load(f.path);
    FAIL() << "loaded a model with a wrong-shape attn_v_b";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("blk.2.attn_v_b.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("expected [64, 32, 4]"), std::string::npos) << msg;
  }
}

TEST(ForwardModel, Glm4moeNextTokenBlockIsCheckedNotRun) {
  const ModelConfig cfg = find_preset("glm4moe", "tiny").config;
  {
    // The block after the three that run is validated at load: a wrong shape there is an error.
    TempModel f("glmnextn_bad");
    write_test_model(cfg, f.path, TensorType::F32, 1, [](const TensorSpec& s, std::vector<float>&, std::vector<uint64_t>& shape) {
      if (s.name == "blk.3.nextn.eh_proj.weight") std::swap(shape[0], shape[1]);
    });
    try {
      Model::load(f.path);
      FAIL() << "loaded a model with a wrong-shape eh_proj";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("blk.3.nextn.eh_proj.weight"), std::string::npos) << e.what();
    }
  }
  // Its values do not change the logits: it is not run.
  std::vector<float> logits[2];
  for (int i = 0; i < 2; ++i) {
    TempModel f("glmnextn" + std::to_string(i));
    write_test_model(cfg, f.path, TensorType::F32, 1, [i](const TensorSpec& s, std::vector<float>& v, std::vector<uint64_t>&) {
      if (i == 1 && s.layer == 3) std::fill(v.begin(), v.end(), 1e30f);
    });
    const auto m = Model::load(f.path);
    EXPECT_EQ(m->config().n_layer, 3);
    EXPECT_EQ(m->config().qk_norm, QkNorm::kPerHead);
    OneSequenceKv kv(m->config(), 8);
    Forward fw(*m);
    const std::vector<BatchRow> rows = {{0, 0, 5, true}, {0, 1, 9, true}};
    fw.run(rows, kv, nullptr, logits[i]);
  }
  EXPECT_EQ(logits[0], logits[1]);
  for (float x : logits[1]) ASSERT_TRUE(std::isfinite(x));
}

TEST(ForwardModel, RejectsWrongExpertCountInStack) {
  ModelConfig cfg = find_preset("olmoe", "tiny").config;
  TempModel f("wrongexperts");
  write_test_model(cfg, f.path, TensorType::F32, 1, [](const TensorSpec& s, std::vector<float>& v, std::vector<uint64_t>& shape) {
    if (s.name == "blk.0.ffn_up_exps.weight") {
      shape[2] -= 1;
      v.resize(v.size() / (shape[2] + 1) * shape[2]);
    }
  });
  EXPECT_THROW(
      {
        try {
          Model::load(f.path);
        } catch (const Error& e) {
          EXPECT_NE(std::string(e.what()).find("blk.0.ffn_up_exps.weight"), std::string::npos);
          throw;
        }
      },
      Error);
}

TEST(ForwardModel, TokenOutOfRangeIsAnError) {
  const ModelConfig cfg = find_preset("llama", "tiny-dense").config;
  TempModel f("token");
  write_test_model(cfg, f.path);
  const auto m = Model::load(f.path);
  std::vector<float> row(cfg.n_embd);
  EXPECT_THROW(m->embed(int32_t(cfg.n_vocab), row.data()), Error);
  EXPECT_THROW(m->embed(-1, row.data()), Error);
}

ModelConfig routing_config(const char* arch) {
  ModelConfig c = find_preset(arch, "tiny").config;
  c.n_expert = 8;
  c.n_expert_used = 2;
  return c;
}

TEST(ForwardRouting, SoftmaxTopKRenormalisedOrNot) {
  const float logits[8] = {0.1f, 2.0f, -1.0f, 1.5f, 0.0f, 0.3f, -2.0f, 1.0f};
  double z = 0;
  for (float l : logits) z += std::exp(double(l));
  const double p1 = std::exp(2.0) / z, p3 = std::exp(1.5) / z;
  int32_t ex[2];
  float w[2];
  // Mixtral (llama) and qwen3moe renormalise: a softmax over the top-k logits.
  for (const char* arch : {"llama", "qwen3moe"}) {
    route_row(routing_config(arch), logits, nullptr, ex, w);
    EXPECT_EQ(ex[0], 1);
    EXPECT_EQ(ex[1], 3);
    EXPECT_NEAR(w[0], p1 / (p1 + p3), 1e-6);
    EXPECT_NEAR(w[1], p3 / (p1 + p3), 1e-6);
  }
  // qwen2moe and olmoe keep the full-softmax probabilities.
  for (const char* arch : {"qwen2moe", "olmoe"}) {
    route_row(routing_config(arch), logits, nullptr, ex, w);
    EXPECT_EQ(ex[0], 1);
    EXPECT_EQ(ex[1], 3);
    EXPECT_NEAR(w[0], p1, 1e-6);
    EXPECT_NEAR(w[1], p3, 1e-6);
  }
}

TEST(ForwardRouting, DeepSeekV3BiasSelectsButDoesNotWeigh) {
  ModelConfig c = find_preset("deepseek2", "tiny-v3").config;  // sigmoid, norm, scale 2.5, 4 groups use 2
  ASSERT_EQ(c.n_expert, 8);
  ASSERT_EQ(c.n_expert_groups, 4);
  // Groups of 2: {0,1} {2,3} {4,5} {6,7}.
  const float logits[8] = {3.0f, 2.9f, 0.0f, 0.0f, 2.0f, -3.0f, 1.0f, 1.0f};
  float bias[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int32_t ex[2];
  float w[2];
  route_row(c, logits, bias, ex, w);
  EXPECT_EQ(ex[0], 0);
  EXPECT_EQ(ex[1], 1);
  const double s0 = 1 / (1 + std::exp(-3.0)), s1 = 1 / (1 + std::exp(-2.9));
  EXPECT_NEAR(w[0], 2.5 * s0 / (s0 + s1), 1e-6);
  EXPECT_NEAR(w[1], 2.5 * s1 / (s0 + s1), 1e-6);
  // A bias on expert 2 makes it chosen; its weight stays its unbiased score.
  bias[2] = 5.0f;
  route_row(c, logits, bias, ex, w);
  EXPECT_EQ(ex[0], 2);
  EXPECT_EQ(ex[1], 0);
  const double s2 = 0.5;
  EXPECT_NEAR(w[0], 2.5 * s2 / (s2 + s0), 1e-6);
  // Group limiting: groups are ranked by the sum of their two best scores.
  // Expert 4 alone is strong, but group {4,5} sums lower than {0,1} and
  // {6,7}; with 2 groups used, experts 4 and 5 are out.
  bias[2] = 0.0f;
  const float logits2[8] = {1.0f, 1.0f, -5.0f, -5.0f, 4.0f, -6.0f, 0.9f, 0.9f};
  route_row(c, logits2, bias, ex, w);
  EXPECT_EQ(ex[0], 0);
  EXPECT_EQ(ex[1], 1);
}

TEST(ForwardMoe, UnchosenExpertsAreNeverRead) {
  // A zero router ties every expert, so the first n_expert_used are chosen;
  // every other expert's weights are NaN and would poison the output.
  for (const char* arch : {"llama", "qwen2moe", "qwen3moe", "olmoe", "deepseek2"}) {
    const ModelConfig cfg = find_preset(arch, "tiny").config;
    TempModel f(std::string("nan") + arch);
    write_test_model(cfg, f.path, TensorType::F32, 1, [&](const TensorSpec& s, std::vector<float>& v, std::vector<uint64_t>& shape) {
      if (s.role == TensorRole::kRouter && s.name.find("ffn_gate_inp.weight") != std::string::npos)
        std::fill(v.begin(), v.end(), 0.0f);
      if (s.role == TensorRole::kExpert) {
        const size_t per = v.size() / shape[2];
        std::fill(v.begin() + per * cfg.n_expert_used, v.end(), std::numeric_limits<float>::quiet_NaN());
      }
    });
    const auto m = Model::load(f.path);
    VectorKv kv(m->config(), 16);
    Forward fw(*m);
    std::vector<BatchRow> rows;
    for (int i = 0; i < 6; ++i) rows.push_back({0, i, 10 * i + 3, true});
    std::vector<float> logits;
    fw.run(rows, kv, nullptr, logits);
    ASSERT_EQ(logits.size(), size_t(6 * cfg.n_vocab));
    for (float x : logits) ASSERT_TRUE(std::isfinite(x)) << arch;
  }
}

TEST(ForwardModel, OnlyRowsWantingLogitsGetThem) {
  const ModelConfig cfg = find_preset("qwen3", "tiny").config;
  TempModel f("want");
  write_test_model(cfg, f.path);
  const auto m = Model::load(f.path);
  VectorKv kv(m->config(), 16);
  Forward fw(*m);
  std::vector<BatchRow> rows = {{0, 0, 5, false}, {0, 1, 6, true}, {0, 2, 7, false}, {0, 3, 8, true}};
  std::vector<float> some;
  fw.run(rows, kv, nullptr, some);
  ASSERT_EQ(some.size(), size_t(2 * cfg.n_vocab));
  for (auto& r : rows) r.want_logits = true;
  std::vector<float> all;
  fw.run(rows, kv, nullptr, all);  // same positions rewritten with the same values
  for (int64_t i = 0; i < cfg.n_vocab; ++i) {
    EXPECT_EQ(some[i], all[cfg.n_vocab + i]);
    EXPECT_EQ(some[cfg.n_vocab + i], all[3 * cfg.n_vocab + i]);
  }
}

}  // namespace
}  // namespace frugal::model

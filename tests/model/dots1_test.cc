// dots1 (rednote dots.llm1): the published size's tensors and counts, the
// keys its converter writes and their defaults, the router, and the errors
// for a file that lacks a key or a tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "model/config.h"
#include "model/forward_layers.h"
#include "model/forward_test_model.h"
#include "model/model.h"
#include "model/presets.h"

namespace frugal::model {
namespace {

using testing::error_of;
using testing::TempModel;
using testing::write_test_model;
using Shape = std::vector<int64_t>;

TEST(Dots1, PublishedSizeTensorsAndParameters) {
  const ModelConfig& c = find_preset("dots1", "dots.llm1").config;
  std::map<std::string, Shape> m;
  for (const auto& t : expected_tensors(c)) m[t.name] = t.shape;
  EXPECT_EQ(m.at("blk.0.attn_q.weight"), (Shape{4096, 32 * 128}));
  EXPECT_EQ(m.at("blk.0.attn_k.weight"), (Shape{4096, 32 * 128}));
  // The q/k norms are one head's.
  EXPECT_EQ(m.at("blk.0.attn_q_norm.weight"), (Shape{128}));
  EXPECT_EQ(m.at("blk.0.attn_k_norm.weight"), (Shape{128}));
  // Layer 0 is dense, the others MoE with two shared experts.
  EXPECT_EQ(m.at("blk.0.ffn_gate.weight"), (Shape{4096, 10944}));
  EXPECT_EQ(m.count("blk.0.ffn_gate_inp.weight"), 0u);
  EXPECT_EQ(m.at("blk.1.ffn_gate_exps.weight"), (Shape{4096, 1408, 128}));
  EXPECT_EQ(m.at("blk.61.ffn_down_exps.weight"), (Shape{1408, 4096, 128}));
  EXPECT_EQ(m.at("blk.61.exp_probs_b.bias"), (Shape{128}));
  EXPECT_EQ(m.at("blk.61.ffn_up_shexp.weight"), (Shape{4096, 2 * 1408}));
  EXPECT_EQ(m.count("blk.1.ffn_gate_inp_shexp.weight"), 0u);
  EXPECT_EQ(m.count("blk.0.attn_q.bias"), 0u);
  EXPECT_EQ(m.count("blk.62.attn_norm.weight"), 0u);
  EXPECT_EQ(c.rope_layout, RopeLayout::kNeox);
  // 142B total and 14B active, as its card says.
  EXPECT_NEAR(double(c.n_params()) / 1e9, 142.77, 0.01);
  EXPECT_NEAR(double(c.n_active_params()) / 1e9, 14.02, 0.01);
}

TEST(Dots1, KeysAsItsConverterWritesThem) {
  const ModelConfig& c = find_preset("dots1", "dots.llm1").config;
  gguf::Metadata md;
  config_to_metadata(c, md);
  EXPECT_EQ(md.get_uint("dots1.expert_gating_func"), 2u);
  EXPECT_EQ(md.get_uint("dots1.expert_shared_count"), 2u);
  EXPECT_EQ(md.get_uint("dots1.leading_dense_block_count"), 1u);
  EXPECT_EQ(md.get_uint("dots1.expert_feed_forward_length"), 1408u);
  EXPECT_EQ(md.get_uint("dots1.feed_forward_length"), 10944u);
  EXPECT_FLOAT_EQ(float(md.get_float("dots1.expert_weights_scale")), 2.5f);
  EXPECT_TRUE(md.get_bool_or("dots1.expert_weights_norm", false));
  ModelConfig back = config_from_metadata(md);
  EXPECT_EQ(back.n_ff_shexp, 2 * 1408);
  EXPECT_TRUE(back.expert_weights_norm);
  // Older files may lack the gating key (the router is a sigmoid) and the
  // renormalisation (false, as llama.cpp reads it).
  md.erase("dots1.expert_weights_norm");
  md.erase("dots1.expert_gating_func");
  back = config_from_metadata(md);
  EXPECT_EQ(back.gating, GatingFunc::kSigmoid);
  EXPECT_FALSE(back.expert_weights_norm);
  EXPECT_TRUE(back.expert_score_bias);
  EXPECT_EQ(back.qk_norm, QkNorm::kPerHead);
  EXPECT_EQ(back.n_leading_dense, 1);
  md.erase("dots1.expert_shared_count");
  EXPECT_NE(error_of([&] { config_from_metadata(md); }).find("dots1.expert_shared_count"), std::string::npos);
}

TEST(Dots1, BiasChoosesSigmoidsWeighRenormalisedAndScaled) {
  const ModelConfig& c = find_preset("dots1", "tiny").config;
  ASSERT_EQ(c.n_expert, 8);
  ASSERT_EQ(c.n_expert_used, 2);
  float logits[8], bias[8] = {};
  for (int e = 0; e < 8; ++e) logits[e] = 0.25f * float(e) - 1.0f;  // experts 7 and 6 score best
  bias[1] = 2.0f;                                                   // expert 1 is chosen through its bias
  int32_t ex[2];
  float w[2];
  route_row(c, logits, bias, ex, w);
  EXPECT_EQ(ex[0], 1);
  EXPECT_EQ(ex[1], 7);
  auto sig = [](double l) { return 1 / (1 + std::exp(-l)); };
  const double s[2] = {sig(-0.75), sig(0.75)};
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(w[i], 2.5 * s[i] / (s[0] + s[1]), 1e-6) << i;
}

TEST(Dots1, FileWithoutTheSelectionBiasIsAnError) {
  const ModelConfig& c = find_preset("dots1", "tiny").config;
  TempModel f("dots1_no_bias");
  write_test_model(c, f.path, TensorType::F32, 1, [](const TensorSpec& s, std::vector<float>&, std::vector<uint64_t>& shape) {
    if (s.name == "blk.2.exp_probs_b.bias") shape.clear();
  });
  const std::string msg = error_of([&] { Model::load(f.path); });
  EXPECT_NE(msg.find("'blk.2.exp_probs_b.bias' is missing"), std::string::npos) << msg;
}

}  // namespace
}  // namespace frugal::model

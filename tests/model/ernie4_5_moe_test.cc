// ernie4_5-moe (Baidu ERNIE-4.5 MoE): the published size's tensors and
// counts, the keys its converter writes and their defaults, the router, and
// the errors for a file that lacks a key or a tensor.
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

TEST(Ernie45Moe, PublishedSizeTensorsAndParameters) {
  const ModelConfig& c = find_preset("ernie4_5-moe", "ernie-4.5-21b-a3b").config;
  std::map<std::string, Shape> m;
  for (const auto& t : expected_tensors(c)) m[t.name] = t.shape;
  EXPECT_EQ(m.at("blk.0.attn_q.weight"), (Shape{2560, 20 * 128}));
  EXPECT_EQ(m.at("blk.0.attn_k.weight"), (Shape{2560, 4 * 128}));
  EXPECT_EQ(m.count("blk.0.attn_q_norm.weight"), 0u);
  EXPECT_EQ(m.count("blk.0.attn_q.bias"), 0u);
  // Layer 0 is dense, the others MoE with two shared experts.
  EXPECT_EQ(m.at("blk.0.ffn_up.weight"), (Shape{2560, 12288}));
  EXPECT_EQ(m.count("blk.0.ffn_gate_inp.weight"), 0u);
  EXPECT_EQ(m.at("blk.1.ffn_gate_exps.weight"), (Shape{2560, 1536, 64}));
  EXPECT_EQ(m.at("blk.27.exp_probs_b.bias"), (Shape{64}));
  EXPECT_EQ(m.at("blk.27.ffn_down_shexp.weight"), (Shape{2 * 1536, 2560}));
  EXPECT_EQ(m.count("blk.1.ffn_gate_inp_shexp.weight"), 0u);
  EXPECT_EQ(m.count("output.weight"), 0u);  // tied to token_embd
  EXPECT_EQ(c.rope_layout, RopeLayout::kNormal);
  // 21B total and 3B active as its card rounds them (the active count
  // without the tied embedding).
  EXPECT_NEAR(double(c.n_params()) / 1e9, 21.83, 0.01);
  EXPECT_NEAR(double(c.n_active_params() - 103424 * 2560) / 1e9, 3.09, 0.01);
}

TEST(Ernie45Moe, KeysAsItsConverterWritesThem) {
  ModelConfig c = find_preset("ernie4_5-moe", "tiny").config;
  gguf::Metadata md;
  config_to_metadata(c, md);
  EXPECT_EQ(md.get_uint("ernie4_5-moe.interleave_moe_layer_step"), 2u);
  EXPECT_EQ(md.get_uint("ernie4_5-moe.leading_dense_block_count"), 1u);
  EXPECT_EQ(md.get_uint("ernie4_5-moe.expert_shared_count"), 2u);
  EXPECT_EQ(md.get_uint("ernie4_5-moe.expert_shared_feed_forward_length"), 128u);
  EXPECT_FALSE(md.has("ernie4_5-moe.expert_gating_func"));
  EXPECT_FALSE(md.has("ernie4_5-moe.expert_weights_scale"));
  // llama.cpp's converter writes no renormalisation key: always on.
  md.erase("ernie4_5-moe.expert_weights_norm");
  const ModelConfig back = config_from_metadata(md);
  EXPECT_EQ(back.gating, GatingFunc::kSoftmax);
  EXPECT_TRUE(back.expert_weights_norm);
  EXPECT_TRUE(back.expert_score_bias);
  EXPECT_EQ(back.qk_norm, QkNorm::kNone);
  EXPECT_EQ(back.n_ff_shexp, 128);
  EXPECT_FALSE(back.shared_expert_gate);
  for (int il = 0; il < 4; ++il) EXPECT_EQ(back.layer_is_moe(il), il % 2 == 1) << il;
  md.erase("ernie4_5-moe.interleave_moe_layer_step");
  EXPECT_NE(error_of([&] { config_from_metadata(md); }).find("ernie4_5-moe.interleave_moe_layer_step"),
            std::string::npos);
}

TEST(Ernie45Moe, BiasChoosesSoftmaxScoresWeighRenormalised) {
  const ModelConfig& c = find_preset("ernie4_5-moe", "tiny").config;
  ASSERT_EQ(c.n_expert, 8);
  ASSERT_EQ(c.n_expert_used, 2);
  float logits[8], bias[8] = {};
  for (int e = 0; e < 8; ++e) logits[e] = 0.25f * float(e);  // experts 7 and 6 score best
  bias[0] = 1.0f;                                           // expert 0 is chosen through its bias
  int32_t ex[2];
  float w[2];
  route_row(c, logits, bias, ex, w);
  EXPECT_EQ(ex[0], 0);
  EXPECT_EQ(ex[1], 7);
  // The softmax over all experts, renormalised over the two chosen: e^0 and e^1.75.
  const double p0 = 1.0, p7 = std::exp(1.75);
  EXPECT_NEAR(w[0], p0 / (p0 + p7), 1e-6);
  EXPECT_NEAR(w[1], p7 / (p0 + p7), 1e-6);
}

TEST(Ernie45Moe, FileWithoutTheSelectionBiasIsAnError) {
  const ModelConfig& c = find_preset("ernie4_5-moe", "tiny").config;
  TempModel f("ernie_no_bias");
  write_test_model(c, f.path, TensorType::F32, 1, [](const TensorSpec& s, std::vector<float>&, std::vector<uint64_t>& shape) {
    if (s.name == "blk.3.exp_probs_b.bias") shape.clear();
  });
  const std::string msg = error_of([&] { Model::load(f.path); });
  EXPECT_NE(msg.find("'blk.3.exp_probs_b.bias' is missing"), std::string::npos) << msg;
}

}  // namespace
}  // namespace frugal::model

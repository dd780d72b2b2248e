// minimax-m2 (MiniMax-M2 / M2.1): the published size's tensors and counts,
// the keys its converter writes and their defaults, the router, and the
// errors for a file that lacks a key or a tensor.
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

TEST(MiniMaxM2, PublishedSizeTensorsAndParameters) {
  const ModelConfig& c = find_preset("minimax-m2", "minimax-m2").config;
  std::map<std::string, Shape> m;
  for (const auto& t : expected_tensors(c)) m[t.name] = t.shape;
  EXPECT_EQ(m.at("blk.0.attn_q.weight"), (Shape{3072, 48 * 128}));
  EXPECT_EQ(m.at("blk.0.attn_k.weight"), (Shape{3072, 8 * 128}));
  // The q/k norms span the whole q and k vectors, not one head.
  EXPECT_EQ(m.at("blk.0.attn_q_norm.weight"), (Shape{48 * 128}));
  EXPECT_EQ(m.at("blk.0.attn_k_norm.weight"), (Shape{8 * 128}));
  EXPECT_EQ(m.at("blk.61.ffn_norm.weight"), (Shape{3072}));
  EXPECT_EQ(m.at("blk.61.ffn_gate_exps.weight"), (Shape{3072, 1536, 256}));
  EXPECT_EQ(m.at("blk.61.ffn_down_exps.weight"), (Shape{1536, 3072, 256}));
  EXPECT_EQ(m.at("blk.61.exp_probs_b.bias"), (Shape{256}));
  EXPECT_EQ(m.count("blk.0.ffn_gate_shexp.weight"), 0u);
  EXPECT_EQ(m.count("blk.0.attn_q.bias"), 0u);
  EXPECT_EQ(m.count("blk.62.attn_norm.weight"), 0u);
  EXPECT_EQ(c.rope_layout, RopeLayout::kNeox);
  EXPECT_EQ(c.rope_dim, 64);
  // 230B total and 10B active as its card rounds them (the active count
  // without the embedding table and the LM head).
  EXPECT_NEAR(double(c.n_params()) / 1e9, 228.7, 0.1);
  EXPECT_NEAR(double(c.n_active_params() - 2 * 200064 * 3072) / 1e9, 9.80, 0.01);
}

TEST(MiniMaxM2, KeysAsItsConverterWritesThem) {
  const ModelConfig& c = find_preset("minimax-m2", "minimax-m2").config;
  gguf::Metadata md;
  config_to_metadata(c, md);
  EXPECT_EQ(md.get_uint("minimax-m2.expert_gating_func"), 2u);
  EXPECT_EQ(md.get_uint("minimax-m2.rope.dimension_count"), 64u);
  EXPECT_EQ(md.get_uint("minimax-m2.expert_feed_forward_length"), 1536u);
  EXPECT_EQ(md.get_uint("minimax-m2.feed_forward_length"), 1536u);
  EXPECT_FALSE(md.has("minimax-m2.expert_shared_count"));
  // llama.cpp's converter writes neither the renormalisation nor (in older
  // files) the gating key: the defaults are MiniMax-M2's.
  md.erase("minimax-m2.expert_weights_norm");
  md.erase("minimax-m2.expert_gating_func");
  const ModelConfig back = config_from_metadata(md);
  EXPECT_EQ(back.gating, GatingFunc::kSigmoid);
  EXPECT_TRUE(back.expert_weights_norm);
  EXPECT_TRUE(back.expert_score_bias);
  EXPECT_EQ(back.qk_norm, QkNorm::kWhole);
  EXPECT_EQ(back.n_ff_shexp, 0);
  EXPECT_FLOAT_EQ(back.expert_weights_scale, 1.0f);
  EXPECT_EQ(back.n_expert, 256);
  md.erase("minimax-m2.expert_used_count");
  EXPECT_NE(error_of([&] { config_from_metadata(md); }).find("minimax-m2.expert_used_count"), std::string::npos);
}

TEST(MiniMaxM2, BiasChoosesSigmoidsWeighRenormalised) {
  const ModelConfig& c = find_preset("minimax-m2", "tiny").config;
  ASSERT_EQ(c.n_expert, 16);
  ASSERT_EQ(c.n_expert_used, 4);
  float logits[16], bias[16] = {};
  for (int e = 0; e < 16; ++e) logits[e] = 0.1f * float(e) - 1.0f;  // experts 15, 14, 13, 12 score best
  bias[0] = 2.0f;                                                    // expert 0 is chosen through its bias
  int32_t ex[4];
  float w[4];
  route_row(c, logits, bias, ex, w);
  EXPECT_EQ(ex[0], 0);
  EXPECT_EQ(ex[1], 15);
  EXPECT_EQ(ex[2], 14);
  EXPECT_EQ(ex[3], 13);
  auto sig = [](double l) { return 1 / (1 + std::exp(-l)); };
  const double s[4] = {sig(-1.0), sig(0.5), sig(0.4), sig(0.3)};
  const double sum = s[0] + s[1] + s[2] + s[3];
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(w[i], s[i] / sum, 1e-6) << i;
}

TEST(MiniMaxM2, FileWithoutTheSelectionBiasIsAnError) {
  const ModelConfig& c = find_preset("minimax-m2", "tiny").config;
  TempModel f("minimax_no_bias");
  write_test_model(c, f.path, TensorType::F32, 1, [](const TensorSpec& s, std::vector<float>&, std::vector<uint64_t>& shape) {
    if (s.name == "blk.1.exp_probs_b.bias") shape.clear();
  });
  const std::string msg = error_of([&] { Model::load(f.path); });
  EXPECT_NE(msg.find("'blk.1.exp_probs_b.bias' is missing"), std::string::npos) << msg;
}

}  // namespace
}  // namespace frugal::model

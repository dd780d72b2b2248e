// Qwen3-Next and Qwen3.5-MoE: which layers are Gated DeltaNet, the tensors
// of each kind of layer, the published size, and the errors for missing
// keys and tensors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>

#include "base/error.h"
#include "model/config.h"
#include "model/forward_test_model.h"
#include "model/model.h"
#include "model/presets.h"

namespace frugal::model {
namespace {

using Shape = std::vector<int64_t>;
using testing::error_of;

std::map<std::string, TensorSpec> by_name(const ModelConfig& c) {
  std::map<std::string, TensorSpec> m;
  for (const auto& t : expected_tensors(c)) m.emplace(t.name, t);
  return m;
}

TEST(HybridConfig, Qwen3Next80bLayersTensorsAndSize) {
  const ModelConfig& c = find_preset("qwen3next", "qwen3-next-80b-a3b").config;
  for (int il : {0, 1, 2, 4, 46}) EXPECT_TRUE(c.layer_is_recurrent(il)) << il;
  for (int il : {3, 7, 47}) EXPECT_FALSE(c.layer_is_recurrent(il)) << il;
  auto m = by_name(c);
  // Gated DeltaNet: 16 key heads of 128, 32 value heads of 128.
  EXPECT_EQ(m.at("blk.0.ssm_in.weight").shape, (Shape{2048, 2 * 16 * 128 + 2 * 32 * 128}));
  EXPECT_EQ(m.at("blk.0.ssm_ba.weight").shape, (Shape{2048, 64}));
  EXPECT_EQ(m.at("blk.0.ssm_conv1d.weight").shape, (Shape{4, 2 * 16 * 128 + 32 * 128}));
  EXPECT_EQ(m.at("blk.0.ssm_dt.bias").shape, (Shape{32}));
  EXPECT_EQ(m.at("blk.0.ssm_a").shape, (Shape{32}));
  EXPECT_EQ(m.at("blk.0.ssm_norm.weight").shape, (Shape{128}));
  EXPECT_EQ(m.at("blk.0.ssm_out.weight").shape, (Shape{32 * 128, 2048}));
  EXPECT_EQ(m.count("blk.0.attn_q.weight"), 0u);
  // Gated attention: the query and its gate, 16 heads of 256; per-head q/k norm.
  EXPECT_EQ(m.at("blk.3.attn_q.weight").shape, (Shape{2048, 2 * 16 * 256}));
  EXPECT_EQ(m.at("blk.3.attn_k.weight").shape, (Shape{2048, 2 * 256}));
  EXPECT_EQ(m.at("blk.3.attn_q_norm.weight").shape, (Shape{256}));
  EXPECT_EQ(m.at("blk.3.attn_output.weight").shape, (Shape{16 * 256, 2048}));
  EXPECT_EQ(m.count("blk.3.ssm_in.weight"), 0u);
  // Every layer: 512 routed experts and the gated shared expert.
  EXPECT_EQ(m.at("blk.5.post_attention_norm.weight").shape, (Shape{2048}));
  EXPECT_EQ(m.at("blk.5.ffn_gate_exps.weight").shape, (Shape{2048, 512, 512}));
  EXPECT_EQ(m.at("blk.5.ffn_gate_inp_shexp.weight").shape, (Shape{2048}));
  EXPECT_EQ(m.at("blk.5.ffn_up_shexp.weight").shape, (Shape{2048, 512}));
  EXPECT_EQ(c.rope_dim, 64);
  EXPECT_EQ(c.rope_layout, RopeLayout::kNeox);
  EXPECT_TRUE(c.expert_weights_norm);
  EXPECT_EQ(c.gating, GatingFunc::kSoftmax);
  // The card: 80B in total, 3B activated (3.25B without the embedding table
  // and the LM head; 3.87B with them).
  EXPECT_NEAR(double(c.n_params()) / 1e9, 79.67, 0.01);
  EXPECT_NEAR(double(c.n_active_params()) / 1e9, 3.87, 0.01);
  EXPECT_NEAR(double(c.n_active_params() - 2 * 151936 * 2048) / 1e9, 3.25, 0.01);
  // One recurrent layer's state per sequence: 3 conv inputs of 8192
  // channels and 32 matrices of 128 x 128.
  EXPECT_EQ(c.recurrent_state_floats(), 3 * 8192 + 32 * 128 * 128);
}

TEST(HybridConfig, KeysRoundTripAndMissingOnesAreNamed) {
  const ModelConfig& c = find_preset("qwen3next", "qwen3-next-80b-a3b").config;
  gguf::Metadata md;
  config_to_metadata(c, md);
  EXPECT_EQ(md.get_uint("qwen3next.ssm.inner_size"), 4096u);
  EXPECT_EQ(md.get_uint("qwen3next.ssm.time_step_rank"), 32u);
  EXPECT_EQ(md.get_uint("qwen3next.expert_shared_feed_forward_length"), 512u);
  // Published qwen3next files carry no interval key: every 4th layer is attention.
  md.erase("qwen3next.full_attention_interval");
  const ModelConfig back = config_from_metadata(md);
  EXPECT_EQ(back.n_full_attn_interval, 4);
  EXPECT_TRUE(back.shared_expert_gate);
  EXPECT_EQ(back.n_ff_shexp, 512);
  for (const char* key : {"qwen3next.ssm.conv_kernel", "qwen3next.ssm.state_size", "qwen3next.ssm.group_count",
                          "qwen3next.ssm.time_step_rank", "qwen3next.ssm.inner_size"}) {
    gguf::Metadata less = md;
    less.erase(key);
    EXPECT_NE(error_of([&] { config_from_metadata(less); }).find(key), std::string::npos) << key;
  }
  md.set("qwen3next.ssm.inner_size", gguf::Value::make_u32(4001));
  EXPECT_NE(error_of([&] { config_from_metadata(md); }).find("not a multiple"), std::string::npos);
}

TEST(HybridConfig, Qwen35MoeSplitProjectionsAndNextTokenBlock) {
  const ModelConfig& c = find_preset("qwen35moe", "tiny").config;
  auto m = by_name(c);
  EXPECT_EQ(m.at("blk.0.attn_qkv.weight").shape, (Shape{128, 2 * 2 * 32 + 4 * 32}));
  EXPECT_EQ(m.at("blk.0.attn_gate.weight").shape, (Shape{128, 4 * 32}));
  EXPECT_EQ(m.at("blk.0.ssm_beta.weight").shape, (Shape{128, 4}));
  EXPECT_EQ(m.at("blk.0.ssm_alpha.weight").shape, (Shape{128, 4}));
  EXPECT_EQ(m.count("blk.0.ssm_in.weight"), 0u);
  EXPECT_EQ(m.at("blk.3.attn_q.weight").shape, (Shape{128, 2 * 4 * 32}));
  // Block 4, the next-token-prediction block, is an attention block.
  EXPECT_EQ(m.at("blk.4.attn_q.weight").shape, (Shape{128, 2 * 4 * 32}));
  EXPECT_EQ(m.at("blk.4.nextn.eh_proj.weight").shape, (Shape{256, 128}));
  EXPECT_FALSE(c.layer_is_recurrent(4));
}

TEST(HybridConfig, BadRecurrentTensorIsNamed) {
  const ModelConfig cfg = find_preset("qwen3next", "tiny").config;
  testing::TempModel f("hybrid_badshape");
  testing::write_test_model(cfg, f.path, TensorType::F32, 1,
                            [](const TensorSpec& s, std::vector<float>&, std::vector<uint64_t>& shape) {
                              if (s.name == "blk.2.ssm_ba.weight") std::swap(shape[0], shape[1]);
                            });
  const std::string msg = error_of([&] { Model::load(f.path); });
  EXPECT_NE(msg.find("blk.2.ssm_ba.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected [128, 8]"), std::string::npos) << msg;
}

TEST(HybridConfig, Qwen35MoeNextTokenBlockIsNotRun) {
  const ModelConfig cfg = find_preset("qwen35moe", "tiny").config;
  std::vector<float> logits[2];
  for (int i = 0; i < 2; ++i) {
    testing::TempModel f("hybrid_nextn" + std::to_string(i));
    testing::write_test_model(cfg, f.path, TensorType::F32, 1,
                              [i](const TensorSpec& s, std::vector<float>& v, std::vector<uint64_t>&) {
                                if (i == 1 && s.layer == 4) std::fill(v.begin(), v.end(), 1e30f);
                              });
    const auto m = Model::load(f.path);
    EXPECT_EQ(m->config().n_layer, 4);
    testing::OneSequenceKv kv(m->config(), 8);
    Forward fw(*m);
    const std::vector<BatchRow> rows = {{0, 0, 5, true}, {0, 1, 9, true}};
    fw.run(rows, kv, nullptr, logits[i]);
  }
  EXPECT_EQ(logits[0], logits[1]);
  for (float x : logits[1]) ASSERT_TRUE(std::isfinite(x));
}

}  // namespace
}  // namespace frugal::model

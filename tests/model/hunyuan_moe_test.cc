// hunyuan-moe (Hunyuan-A13B): the published size's tensors and counts, the
// keys its converter writes (the shared FFN's width alone), the q/k norm
// applied to the rotated heads, and the error for a file that lacks a norm.
#include <gtest/gtest.h>

#include <map>

#include "model/config.h"
#include "model/forward_test_model.h"
#include "model/model.h"
#include "model/presets.h"

namespace frugal::model {
namespace {

using testing::error_of;
using testing::TempModel;
using testing::write_test_model;
using Shape = std::vector<int64_t>;

TEST(HunyuanMoe, PublishedSizeTensorsAndParameters) {
  const ModelConfig& c = find_preset("hunyuan-moe", "hunyuan-a13b").config;
  std::map<std::string, Shape> m;
  for (const auto& t : expected_tensors(c)) m[t.name] = t.shape;
  EXPECT_EQ(m.at("blk.0.attn_q.weight"), (Shape{4096, 32 * 128}));
  EXPECT_EQ(m.at("blk.0.attn_k.weight"), (Shape{4096, 8 * 128}));
  EXPECT_EQ(m.at("blk.0.attn_q_norm.weight"), (Shape{128}));
  EXPECT_EQ(m.at("blk.0.ffn_gate_exps.weight"), (Shape{4096, 3072, 64}));
  EXPECT_EQ(m.at("blk.31.ffn_up_shexp.weight"), (Shape{4096, 3072}));
  EXPECT_EQ(m.count("blk.0.exp_probs_b.bias"), 0u);
  EXPECT_EQ(m.count("output.weight"), 0u);  // tied to the embedding
  EXPECT_TRUE(c.qk_norm_after_rope);
  // 80 B total and 13 B active, as its card says (80.39 B, 12.75 B).
  EXPECT_NEAR(double(c.n_params()) / 1e9, 80.39, 0.01);
  EXPECT_NEAR(double(c.n_active_params()) / 1e9, 12.75, 0.01);
}

TEST(HunyuanMoe, SharedWidthAloneMeansOneSharedExpert) {
  const ModelConfig& c = find_preset("hunyuan-moe", "hunyuan-a13b").config;
  gguf::Metadata md;
  config_to_metadata(c, md);
  EXPECT_EQ(md.get_uint("hunyuan-moe.expert_shared_feed_forward_length"), 3072u);
  md.erase("hunyuan-moe.expert_shared_count");  // llama.cpp's converter writes the width alone
  const ModelConfig back = config_from_metadata(md);
  EXPECT_EQ(back.n_expert_shared, 1);
  EXPECT_EQ(back.n_ff_shexp, 3072);
  EXPECT_EQ(back.gating, GatingFunc::kSoftmax);
  EXPECT_TRUE(back.expert_weights_norm);
  EXPECT_EQ(back.qk_norm, QkNorm::kPerHead);
}

TEST(HunyuanMoe, FileWithoutTheKeyNormIsAnError) {
  const ModelConfig& c = find_preset("hunyuan-moe", "tiny").config;
  TempModel f("hunyuan_no_k_norm");
  write_test_model(c, f.path, TensorType::F32, 1, [](const TensorSpec& s, std::vector<float>&, std::vector<uint64_t>& shape) {
    if (s.name == "blk.1.attn_k_norm.weight") shape.clear();
  });
  const std::string msg = error_of([&] { Model::load(f.path); });
  EXPECT_NE(msg.find("'blk.1.attn_k_norm.weight' is missing"), std::string::npos) << msg;
}

}  // namespace
}  // namespace frugal::model

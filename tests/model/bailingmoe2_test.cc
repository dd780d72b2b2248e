// bailingmoe2 (Ling 2.0): the published sizes' tensors and counts, the keys
// its converter writes, the fused q/k/v matrix read as three products, the
// grouped router, and the errors for a file that lacks a key or a tensor.
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

TEST(Bailingmoe2, PublishedSizesTensorsAndParameters) {
  const ModelConfig& c = find_preset("bailingmoe2", "ling-mini-2.0").config;
  std::map<std::string, Shape> m;
  for (const auto& t : expected_tensors(c)) m[t.name] = t.shape;
  // q (16 heads of 128), k and v (4 heads each) in one matrix.
  EXPECT_EQ(m.at("blk.0.attn_qkv.weight"), (Shape{2048, 16 * 128 + 2 * 4 * 128}));
  EXPECT_EQ(m.count("blk.0.attn_q.weight"), 0u);
  EXPECT_EQ(m.at("blk.0.attn_q_norm.weight"), (Shape{128}));
  EXPECT_EQ(m.at("blk.0.attn_output.weight"), (Shape{2048, 2048}));
  // Layer 0 dense, the others 256 experts and one shared expert of 512.
  EXPECT_EQ(m.at("blk.0.ffn_gate.weight"), (Shape{2048, 5120}));
  EXPECT_EQ(m.at("blk.1.ffn_gate_exps.weight"), (Shape{2048, 512, 256}));
  EXPECT_EQ(m.at("blk.19.ffn_up_shexp.weight"), (Shape{2048, 512}));
  EXPECT_EQ(m.at("blk.19.exp_probs_b.bias"), (Shape{256}));
  EXPECT_EQ(c.rope_dim, 64);
  // As the cards say: 16.26 B total, 1.43 B active (789 M without the
  // embedding table and the LM head); Ling-flash-2.0 6.1 B active (4.8 B),
  // cut to the card's last digit.
  EXPECT_NEAR(double(c.n_params()) / 1e9, 16.26, 0.01);
  EXPECT_NEAR(double(c.n_active_params()) / 1e9, 1.43, 0.01);
  EXPECT_NEAR(double(c.n_active_params() - 2 * c.n_vocab * c.n_embd) / 1e6, 789, 1);
  const ModelConfig& flash = find_preset("bailingmoe2", "ling-flash-2.0").config;
  const double active = double(flash.n_active_params()) / 1e9;
  const double without = double(flash.n_active_params() - 2 * flash.n_vocab * flash.n_embd) / 1e9;
  EXPECT_TRUE(active >= 6.1 && active < 6.2) << active;
  EXPECT_TRUE(without >= 4.8 && without < 4.9) << without;
}

TEST(Bailingmoe2, KeysAsItsConverterWritesThem) {
  const ModelConfig& c = find_preset("bailingmoe2", "ling-flash-2.0").config;
  gguf::Metadata md;
  config_to_metadata(c, md);
  EXPECT_EQ(md.get_uint("bailingmoe2.expert_gating_func"), 2u);
  EXPECT_EQ(md.get_uint("bailingmoe2.expert_shared_count"), 1u);
  // The width of one shared expert, beside their count.
  EXPECT_EQ(md.get_uint("bailingmoe2.expert_shared_feed_forward_length"), 1024u);
  EXPECT_EQ(md.get_uint("bailingmoe2.leading_dense_block_count"), 1u);
  EXPECT_EQ(md.get_uint("bailingmoe2.expert_group_count"), 8u);
  EXPECT_EQ(md.get_uint("bailingmoe2.expert_group_used_count"), 4u);
  EXPECT_FLOAT_EQ(float(md.get_float("bailingmoe2.expert_weights_scale")), 2.5f);
  ModelConfig back = config_from_metadata(md);
  EXPECT_EQ(back.n_ff_shexp, 1024);
  EXPECT_TRUE(back.fused_qkv);
  EXPECT_EQ(back.qk_norm, QkNorm::kPerHead);
  // Two shared experts of that width make one FFN twice as wide; without
  // the key, a shared expert is as wide as a routed one.
  md.set("bailingmoe2.expert_shared_count", gguf::Value::make_u32(2));
  EXPECT_EQ(config_from_metadata(md).n_ff_shexp, 2048);
  md.erase("bailingmoe2.expert_shared_feed_forward_length");
  EXPECT_EQ(config_from_metadata(md).n_ff_shexp, 2048);
  md.erase("bailingmoe2.expert_group_count");
  back = config_from_metadata(md);
  EXPECT_EQ(back.n_expert_groups, 0);
  md.erase("bailingmoe2.expert_shared_count");
  EXPECT_NE(error_of([&] { config_from_metadata(md); }).find("bailingmoe2.expert_shared_count"), std::string::npos);
}

TEST(Bailingmoe2, FusedMatrixIsReadAsThreeProducts) {
  const ModelConfig& c = find_preset("bailingmoe2", "tiny").config;
  TempModel f("bailingmoe2_fused");
  write_test_model(c, f.path, TensorType::Q8_0, 1);
  const auto m = Model::load(f.path);
  const LayerWeights& L = m->weights().layers[0];
  const size_t rb = row_bytes(TensorType::Q8_0, static_cast<uint64_t>(c.n_embd));
  EXPECT_EQ(L.wq.n_out, c.n_embd_q());
  EXPECT_EQ(L.wk.n_out, c.n_embd_k());
  EXPECT_EQ(L.wv.n_out, c.n_embd_v());
  EXPECT_EQ(static_cast<const uint8_t*>(L.wk.data), static_cast<const uint8_t*>(L.wq.data) + c.n_embd_q() * rb);
  EXPECT_EQ(static_cast<const uint8_t*>(L.wv.data),
            static_cast<const uint8_t*>(L.wq.data) + (c.n_embd_q() + c.n_embd_k()) * rb);
}

TEST(Bailingmoe2, FileWithoutATensorIsAnError) {
  const ModelConfig& c = find_preset("bailingmoe2", "tiny").config;
  for (const std::string name :
       {"blk.1.attn_qkv.weight", "blk.2.attn_k_norm.weight", "blk.1.ffn_up_shexp.weight", "blk.2.exp_probs_b.bias"}) {
    TempModel f("bailingmoe2_missing");
    write_test_model(c, f.path, TensorType::F32, 1,
                     [&](const TensorSpec& s, std::vector<float>&, std::vector<uint64_t>& shape) {
                       if (s.name == name) shape.clear();
                     });
    const std::string msg = error_of([&] { Model::load(f.path); });
    EXPECT_NE(msg.find("'" + name + "' is missing"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace frugal::model

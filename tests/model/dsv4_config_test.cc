// DeepSeek-V4 (deepseek4): the published size and its layers' tensors, the
// keys read back and the missing ones named, bad tensors named, and each of
// its features shown to change the logits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>

#include "base/error.h"
#include "gguf/reader.h"
#include "gguf/writer.h"
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

TEST(Dsv4Config, FlashLayersTensorsAndSize) {
  const ModelConfig& c = find_preset("deepseek4", "deepseek-v4-flash").config;
  EXPECT_EQ(c.layer_compress_ratio(0), 0);
  EXPECT_EQ(c.layer_compress_ratio(1), 0);
  EXPECT_TRUE(c.layer_has_indexer(2));
  EXPECT_EQ(c.layer_compress_ratio(3), 128);
  EXPECT_FALSE(c.layer_has_indexer(3));
  EXPECT_EQ(c.layer_window(5), 128);  // every layer
  EXPECT_TRUE(c.layer_is_hashed(2));
  EXPECT_FALSE(c.layer_is_hashed(3));
  auto m = by_name(c);
  EXPECT_EQ(m.at("output_hc_fn.weight").shape, (Shape{4 * 4096, 4}));
  EXPECT_EQ(m.at("blk.0.hc_attn_fn.weight").shape, (Shape{4 * 4096, 24}));
  EXPECT_EQ(m.at("blk.0.hc_ffn_scale.weight").shape, (Shape{3}));
  EXPECT_EQ(m.at("blk.0.attn_q_b.weight").shape, (Shape{1024, 64 * 512}));
  EXPECT_EQ(m.at("blk.0.attn_kv.weight").shape, (Shape{4096, 512}));
  EXPECT_EQ(m.at("blk.0.attn_output_a.weight").shape, (Shape{64 * 512 / 8, 8 * 1024}));
  EXPECT_EQ(m.at("blk.0.attn_output_b.weight").shape, (Shape{8 * 1024, 4096}));
  EXPECT_EQ(m.count("blk.0.attn_compressor_kv.weight"), 0u);
  EXPECT_EQ(m.at("blk.0.ffn_gate_tid2eid.weight").shape, (Shape{6, 129280}));
  EXPECT_EQ(m.count("blk.0.exp_probs_b.bias"), 0u);
  // CSA: overlapping halves, the indexer; HCA: one half, no indexer.
  EXPECT_EQ(m.at("blk.2.attn_compressor_kv.weight").shape, (Shape{4096, 2 * 512}));
  EXPECT_EQ(m.at("blk.2.attn_compressor_ape.weight").shape, (Shape{2 * 512, 4}));
  EXPECT_EQ(m.at("blk.2.indexer.attn_q_b.weight").shape, (Shape{1024, 64 * 128}));
  EXPECT_EQ(m.at("blk.2.indexer_compressor_gate.weight").shape, (Shape{4096, 2 * 128}));
  EXPECT_EQ(m.at("blk.3.attn_compressor_ape.weight").shape, (Shape{512, 128}));
  EXPECT_EQ(m.count("blk.3.indexer.proj.weight"), 0u);
  EXPECT_EQ(m.at("blk.3.exp_probs_b.bias").shape, (Shape{256}));
  EXPECT_EQ(m.at("blk.3.ffn_up_shexp.weight").shape, (Shape{4096, 2048}));
  // The card: 284B in total, 13B activated (12.8B without the embedding
  // table and the LM head).
  EXPECT_NEAR(double(c.n_params()) / 1e9, 284.3, 0.1);
  EXPECT_NEAR(double(c.n_active_params() - 2 * 129280 * 4096) / 1e9, 12.8, 0.1);
}

TEST(Dsv4Config, ProSize) {
  const ModelConfig& c = find_preset("deepseek4", "deepseek-v4-pro").config;
  EXPECT_EQ(c.layer_compress_ratio(0), 128);
  EXPECT_TRUE(c.layer_has_indexer(60));
  // The card: 1.6T in total, 49B activated.
  EXPECT_NEAR(double(c.n_params()) / 1e12, 1.573, 0.001);
  EXPECT_NEAR(double(c.n_active_params()) / 1e9, 49.78, 0.01);
}

TEST(Dsv4Config, KeysRoundTripAndMissingOnesAreNamed) {
  const ModelConfig& c = find_preset("deepseek4", "tiny").config;
  gguf::Metadata md;
  config_to_metadata(c, md);
  const ModelConfig back = config_from_metadata(md);
  EXPECT_EQ(back.compress_ratios, c.compress_ratios);
  EXPECT_EQ(back.swiglu_limit_exp, c.swiglu_limit_exp);
  EXPECT_EQ(back.n_hc, 4);
  EXPECT_EQ(back.indexer_top_k, 3);
  EXPECT_EQ(back.gating, GatingFunc::kSqrtSoftplus);
  EXPECT_TRUE(back.swa_every_layer);
  EXPECT_TRUE(back.attn_sinks);
  // A limit for all layers may be one value; the shared expert's defaults to the experts'.
  gguf::Metadata scalar = md;
  scalar.set("deepseek4.swiglu_clamp_exp", gguf::Value::make_f32(7.0f));
  scalar.erase("deepseek4.swiglu_clamp_shexp");
  const ModelConfig s = config_from_metadata(scalar);
  EXPECT_EQ(s.swiglu_limit_shexp, std::vector<float>(4, 7.0f));
  scalar.erase("deepseek4.attention.head_count_kv");
  EXPECT_EQ(config_from_metadata(scalar).n_head_kv, 1);
  for (const char* key : {"deepseek4.hyper_connection.count", "deepseek4.attention.compress_ratios",
                          "deepseek4.attention.output_group_count", "deepseek4.attention.indexer.top_k",
                          "deepseek4.swiglu_clamp_exp", "deepseek4.attention.sliding_window"}) {
    gguf::Metadata less = md;
    less.erase(key);
    EXPECT_NE(error_of([&] { config_from_metadata(less); }).find(key), std::string::npos) << key;
  }
  gguf::Metadata dense = md;
  dense.set("deepseek4.leading_dense_block_count", gguf::Value::make_u32(1));
  dense.set("deepseek4.feed_forward_length", gguf::Value::make_u32(256));
  EXPECT_NE(error_of([&] { config_from_metadata(dense); }).find("leading dense layers"), std::string::npos);
  md.set("deepseek4.attention.compress_ratios", gguf::Value::make_i32_array({0, 4}));
  EXPECT_NE(error_of([&] { config_from_metadata(md); }).find("fewer than the 4 layers"), std::string::npos);
}

TEST(Dsv4Config, BadTensorsAreNamed) {
  const ModelConfig cfg = find_preset("deepseek4", "tiny").config;
  testing::TempModel f("dsv4_bad");
  // An expert table of floats.
  testing::write_test_model(cfg, f.path, TensorType::F32, 1,
                            [](const TensorSpec& s, std::vector<float>&, std::vector<uint64_t>& shape) {
                              if (s.name == "blk.1.indexer_compressor_ape.weight") std::swap(shape[0], shape[1]);
                            });
  std::string msg = error_of([&] { Model::load(f.path); });
  EXPECT_NE(msg.find("blk.1.indexer_compressor_ape.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected [64, 4]"), std::string::npos) << msg;
  // A table naming an expert the model does not have.
  {
    gguf::Writer w;
    config_to_metadata(cfg, w.metadata());
    add_byte_tokenizer(cfg.n_vocab, w.metadata());
    auto store = std::make_shared<std::vector<std::vector<uint8_t>>>();
    for (const TensorSpec& spec : expected_tensors(cfg)) {
      std::vector<float> v(static_cast<size_t>(spec.n_elements()), 0.5f);
      if (spec.role == TensorRole::kTokenExperts) {
        std::vector<int32_t> ids(static_cast<size_t>(spec.n_elements()), 1);
        ids[7] = 8;  // one past the last of 8 experts
        auto& bytes = store->emplace_back(ids.size() * sizeof(int32_t));
        std::memcpy(bytes.data(), ids.data(), bytes.size());
        w.add_tensor_data(spec.name, TensorType::I32, {uint64_t(spec.shape[0]), uint64_t(spec.shape[1])},
                          bytes.data());
        continue;
      }
      auto& bytes = store->emplace_back(v.size() * sizeof(float));
      std::memcpy(bytes.data(), v.data(), bytes.size());
      w.add_tensor_data(spec.name, TensorType::F32, std::vector<uint64_t>(spec.shape.begin(), spec.shape.end()),
                        bytes.data());
    }
    w.write(f.path);
  }
  msg = error_of([&] { Model::load(f.path); });
  EXPECT_NE(msg.find("blk.0.ffn_gate_tid2eid.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("expert id 8"), std::string::npos) << msg;
}

// Logits of every position of one prompt of a model file, through a fresh f32 cache.
std::vector<float> file_logits(const std::string& path) {
  const auto m = Model::load(path);
  testing::OneSequenceKv kv(m->config(), 32);
  Forward fw(*m);
  std::vector<BatchRow> rows;
  for (int32_t p = 0; p < 28; ++p) rows.push_back({0, p, (p * 37 + 11) % 256, true});
  std::vector<float> logits;
  fw.run(rows, kv, nullptr, logits);
  return logits;
}

std::vector<float> prompt_logits(const ModelConfig& cfg, const std::string& tag) {
  testing::TempModel f("dsv4_feature_" + tag);
  testing::write_test_model(cfg, f.path);
  return file_logits(f.path);
}

TEST(Dsv4Config, OtherConvertersNamesAndOmittedKeysLoadTheSameModel) {
  const ModelConfig cfg = find_preset("deepseek4", "tiny").config;
  EXPECT_EQ(tensor_alias("deepseek4", "output_hc_fn.weight"), "hc_head_fn");
  EXPECT_EQ(tensor_alias("deepseek4", "blk.3.hc_ffn_scale.weight"), "blk.3.hc_ffn_scale");
  EXPECT_EQ(tensor_alias("deepseek4", "blk.1.attn_compressor_ape.weight"), "blk.1.attn_compress_ape");
  EXPECT_EQ(tensor_alias("deepseek4", "blk.1.attn_compressor_kv.weight"), "blk.1.attn_compress_kv.weight");
  EXPECT_EQ(tensor_alias("deepseek4", "blk.1.indexer_compressor_ape.weight"), "blk.1.indexer.compress_ape");
  EXPECT_EQ(tensor_alias("deepseek4", "blk.1.indexer_compressor_norm.weight"), "blk.1.indexer.compress_norm.weight");
  EXPECT_EQ(tensor_alias("deepseek4", "blk.0.attn_kv.weight"), "blk.0.attn_kv_latent.weight");
  EXPECT_EQ(tensor_alias("deepseek4", "blk.2.exp_probs_b.bias"), "blk.2.exp_probs_b");
  EXPECT_EQ(tensor_alias("deepseek4", "blk.0.ffn_gate_tid2eid.weight"), "blk.0.ffn_gate_tid2eid");
  EXPECT_EQ(tensor_alias("deepseek4", "blk.0.ffn_up_exps.weight"), "");
  EXPECT_EQ(tensor_alias("deepseek2", "blk.0.attn_kv.weight"), "");
  testing::TempModel canonical("dsv4_canonical"), dialect("dsv4_dialect");
  testing::write_test_model(cfg, canonical.path);
  // The same tensors under the other names, without the keys the tensors tell.
  const gguf::Reader src = gguf::Reader::open(canonical.path);
  gguf::Writer w;
  for (const auto& [key, value] : src.metadata().entries()) w.set(key, value);
  for (const char* key : {"attention.output_group_count", "attention.output_lora_rank", "hash_layer_count",
                          "hyper_connection.count", "attention.compress_ratios"})
    w.metadata().erase(std::string("deepseek4.") + key);
  for (const auto& t : src.tensors()) {
    const std::string alias = tensor_alias("deepseek4", t.name);
    w.add_tensor_data(alias.empty() ? t.name : alias, t.type, t.shape, t.data);
  }
  w.write(dialect.path);
  const gguf::Reader back = gguf::Reader::open(dialect.path);
  EXPECT_EQ(back.find_tensor("blk.1.attn_compressor_kv.weight"), nullptr);
  EXPECT_NE(back.find_tensor("blk.1.attn_compress_kv.weight"), nullptr);
  EXPECT_FALSE(back.metadata().has("deepseek4.attention.compress_ratios"));
  const ModelConfig derived = config_from_file(back);
  EXPECT_EQ(derived.compress_ratios, cfg.compress_ratios);
  EXPECT_EQ(derived.n_hash_layers, 1);
  EXPECT_EQ(derived.n_hc, 4);
  EXPECT_EQ(derived.n_out_groups, 2);
  EXPECT_EQ(derived.out_lora_rank, 32);
  EXPECT_EQ(file_logits(dialect.path), file_logits(canonical.path));
}

TEST(Dsv4Config, NextTokenKeyWithoutItsBlockRunsEveryBlock) {
  // As V4-Flash's files: nextn_predict_layers 1, yet every block a regular one.
  const ModelConfig cfg = find_preset("deepseek4", "tiny").config;
  testing::TempModel plain("dsv4_plain"), keyed("dsv4_keyed");
  testing::write_test_model(cfg, plain.path);
  const gguf::Reader src = gguf::Reader::open(plain.path);
  gguf::Writer w;
  for (const auto& [key, value] : src.metadata().entries()) w.set(key, value);
  w.set("deepseek4.nextn_predict_layers", gguf::Value::make_u32(1));
  for (const auto& t : src.tensors()) w.add_tensor_data(t.name, t.type, t.shape, t.data);
  w.write(keyed.path);
  EXPECT_EQ(config_from_file(gguf::Reader::open(keyed.path)).n_layer, 4);
  EXPECT_EQ(file_logits(keyed.path), file_logits(plain.path));
}

double max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) d = std::max(d, double(std::fabs(a[i] - b[i])));
  return d;
}

TEST(Dsv4Config, EachFeatureChangesTheLogits) {
  const ModelConfig base = find_preset("deepseek4", "tiny").config;
  const std::vector<float> want = prompt_logits(base, "base");
  std::map<std::string, ModelConfig> variants;
  variants["window covering the prompt"] = base;
  variants["window covering the prompt"].n_swa = 64;
  variants["indexer keeping every entry"] = base;
  variants["indexer keeping every entry"].indexer_top_k = 64;
  variants["no SwiGLU clamp"] = base;
  variants["no SwiGLU clamp"].swiglu_limit_exp.assign(4, 0.0f);
  variants["no SwiGLU clamp"].swiglu_limit_shexp.assign(4, 0.0f);
  variants["no compression in layer 2"] = base;
  variants["no compression in layer 2"].compress_ratios[2] = 0;
  variants["one Sinkhorn step"] = base;
  variants["one Sinkhorn step"].hc_sinkhorn_iters = 1;
  variants["no YaRN"] = base;
  variants["no YaRN"].rope_scaling = RopeScaling::kNone;
  for (const auto& [what, cfg] : variants) {
    const std::vector<float> got = prompt_logits(cfg, std::to_string(what.size()));
    ASSERT_EQ(got.size(), want.size());
    EXPECT_GT(max_diff(got, want), 1e-3) << what;
  }
  // The positions before the window is full do not see a difference in window.
  const std::vector<float> wide = prompt_logits(variants["window covering the prompt"], "wide");
  const size_t early = 8 * static_cast<size_t>(base.n_vocab);
  EXPECT_EQ(max_diff(std::vector<float>(wide.begin(), wide.begin() + early),
                     std::vector<float>(want.begin(), want.begin() + early)),
            0.0);
}

}  // namespace
}  // namespace frugal::model

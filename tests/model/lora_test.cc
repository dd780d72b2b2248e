// LoRA adapters: an adapter written by write_lora_adapter and applied in the
// forward pass gives the logits of the model with the adapter merged into its
// weights (attention and routed experts of a Mixtral-style model, of gpt-oss
// and of llama4); bad adapters are refused with errors naming the tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "base/error.h"
#include "base/progress.h"
#include "gguf/writer.h"
#include "model/forward_test_model.h"
#include "model/lora.h"

namespace frugal::model {
namespace {

using testing::OneSequenceKv;
using testing::TempModel;

// Random factors (large enough to move the logits well past the tolerance)
// for the q, v and output projections of every layer, and the routed
// experts' down matrices and the router when the model has them.
std::vector<LoraFactors> random_factors(const ModelConfig& c, int64_t rank, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> z(0.0f, 0.3f);
  std::vector<LoraFactors> out;
  auto add = [&](const std::string& name, int64_t n_in, int64_t n_out, int64_t n_expert = 0) {
    LoraFactors f{.target = name, .n_in = n_in, .n_out = n_out, .n_expert = n_expert, .a = {}, .b = {}};
    const int64_t ne = std::max<int64_t>(1, n_expert);
    f.a.resize(size_t(ne * rank * n_in));
    f.b.resize(size_t(ne * n_out * rank));
    for (float& v : f.a) v = z(rng);
    for (float& v : f.b) v = z(rng);
    out.push_back(std::move(f));
  };
  for (int64_t il = 0; il < c.n_layer; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    add(b + "attn_q.weight", c.n_embd, c.n_embd_q());
    add(b + "attn_v.weight", c.n_embd, c.n_embd_v());
    add(b + "attn_output.weight", c.n_head * c.v_head_dim, c.n_embd);
    if (c.layer_is_moe(il)) add(b + "ffn_down_exps.weight", c.n_ff_exp, c.n_embd, c.n_expert);
    if (c.layer_is_moe(il)) add(b + "ffn_gate_inp.weight", c.n_embd, c.n_expert);
  }
  return out;
}

std::vector<float> logits_of(const Model& m) {
  OneSequenceKv kv(m.config(), 16);
  Forward fwd(m);
  std::vector<BatchRow> rows;
  const int32_t tokens[] = {256, 72, 101, 108, 108, 111};
  for (int32_t i = 0; i < 6; ++i) rows.push_back({0, i, tokens[i], true});
  std::vector<float> logits;
  fwd.run(rows, kv, nullptr, logits);
  return logits;
}

// A tiny synth preset in f32, written to path; its configuration.
ModelConfig synth_tiny(const std::string& arch, const std::string& path) {
  Progress::set_enabled(false);
  const ModelConfig c = find_preset(arch, "tiny").config;
  SynthOptions o;
  o.type = "f32";
  o.seed = 5;
  o.progress_label = "";
  write_synth_model(c, gguf::Metadata{}, o, path);
  return c;
}

class LoraTest : public ::testing::Test {
 protected:
  void SetUp() override { cfg_ = synth_tiny("llama", base_.path); }  // Mixtral-style: attention and routed experts
  ModelConfig cfg_;
  TempModel base_{"lora_base"}, adapter_{"lora_adapter"}, merged_{"lora_merged"};
};

// The adapter applied gives the merged model's logits (1e-4), not the base's.
void expect_applied_equals_merged(const ModelConfig& cfg, const std::string& base, const std::string& adapter_path,
                                  const std::string& merged_path) {
  write_lora_adapter(adapter_path, cfg.arch, 8.0f, 4, random_factors(cfg, 4, 1));
  auto model = Model::load(base);
  const std::vector<float> plain = logits_of(*model);
  auto adapter = LoraAdapter::load(adapter_path, *model, 0.5f);
  EXPECT_EQ(adapter->rank(), 4);
  size_t targets = 0;  // as random_factors picks them
  for (int64_t il = 0; il < cfg.n_layer; ++il) targets += cfg.layer_is_moe(il) ? 5 : 3;
  EXPECT_EQ(adapter->targets().size(), targets);
  EXPECT_FLOAT_EQ(adapter->scale(), 0.5f * 8.0f / 4.0f);
  merge_lora(*model, *adapter, merged_path);
  model->set_lora(std::move(adapter));
  const std::vector<float> applied = logits_of(*model);
  const std::vector<float> merged = logits_of(*Model::load(merged_path));
  ASSERT_EQ(applied.size(), merged.size());
  double moved = 0;
  for (size_t i = 0; i < applied.size(); ++i) {
    EXPECT_NEAR(applied[i], merged[i], 1e-4) << cfg.arch << " " << i;
    moved = std::max(moved, double(std::fabs(applied[i] - plain[i])));
  }
  EXPECT_GT(moved, 0.05) << cfg.arch;  // the adapter changed the model
}

TEST_F(LoraTest, AppliedAdapterMatchesMergedWeights) {
  expect_applied_equals_merged(cfg_, base_.path, adapter_.path, merged_.path);
}

// gpt-oss's routed experts keep their biases and clamped gated unit under an
// adapter; llama4's keep their weight on the input.
TEST_F(LoraTest, GptOssAndLlama4ExpertsAdapted) {
  for (const char* arch : {"gpt-oss", "llama4"}) {
    TempModel base(std::string("lora_") + arch);
    expect_applied_equals_merged(synth_tiny(arch, base.path), base.path, adapter_.path, merged_.path);
  }
}

TEST_F(LoraTest, BadAdaptersAreRefusedNamingTheTensor) {
  auto model = Model::load(base_.path);
  auto expect_error = [&](const std::vector<LoraFactors>& fs, const std::string& want, int64_t rank = 4) {
    write_lora_adapter(adapter_.path, "llama", 8.0f, rank, fs);
    try {
      LoraAdapter::load(adapter_.path, *model);
      ADD_FAILURE() << "no error, expected one containing " << want;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  const std::vector<LoraFactors> fs = random_factors(cfg_, 4, 2);
  auto wrong_shape = fs;
  wrong_shape[0].n_in /= 2;
  wrong_shape[0].a.resize(wrong_shape[0].a.size() / 2);
  expect_error(wrong_shape, "blk.0.attn_q.weight.lora_a' has shape");
  auto wrong_experts = fs;
  wrong_experts[3].n_expert -= 1;
  wrong_experts[3].a.resize(wrong_experts[3].a.size() / size_t(cfg_.n_expert) * size_t(cfg_.n_expert - 1));
  wrong_experts[3].b.resize(wrong_experts[3].b.size() / size_t(cfg_.n_expert) * size_t(cfg_.n_expert - 1));
  expect_error(wrong_experts, "blk.0.ffn_down_exps.weight.lora_a' has shape");
  auto flat_experts = fs;
  flat_experts[3].n_out *= flat_experts[3].n_expert;
  flat_experts[3].n_expert = 0;
  flat_experts[3].a.resize(flat_experts[3].a.size() / size_t(cfg_.n_expert));
  expect_error(flat_experts, "has 2 dimensions, its base 'blk.0.ffn_down_exps.weight' 3");
  auto unknown = fs;
  unknown[0].target = "blk.0.attn_qq.weight";
  expect_error(unknown, "blk.0.attn_qq.weight.lora_a");
  auto bad_layer = fs;
  bad_layer[0].target = "blk.99.attn_q.weight";
  expect_error(bad_layer, "blk.99.attn_q.weight");
  auto latent = fs;  // a latent attention matrix on a model without one
  latent[0].target = "blk.0.attn_kv_a_mqa.weight";
  expect_error(latent, "adapts 'blk.0.attn_kv_a_mqa.weight', which this model has not");
  // The router is adapted (its logits before routing): random_factors has it.
  write_lora_adapter(adapter_.path, "llama", 8.0f, 4, fs);
  EXPECT_TRUE(LoraAdapter::load(adapter_.path, *model)->layers()[0].router);
}

TEST_F(LoraTest, UnpairedFactorIsRefused) {
  auto model = Model::load(base_.path);
  write_lora_adapter(adapter_.path, "llama", 8.0f, 4, random_factors(cfg_, 4, 3));
  // Drop the last tensor (a .lora_b) by rewriting the file through the reader.
  const gguf::Reader full = gguf::Reader::open(adapter_.path);
  gguf::Writer w;
  for (const auto& [key, value] : full.metadata().entries()) w.set(key, value);
  for (size_t i = 0; i + 1 < full.tensors().size(); ++i) {
    const gguf::TensorInfo& t = full.tensors()[i];
    w.add_tensor_data(t.name, t.type, t.shape, t.data);
  }
  TempModel cut("lora_cut");
  w.write(cut.path);
  try {
    LoraAdapter::load(cut.path, *model);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("but not its pair"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace frugal::model

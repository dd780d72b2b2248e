// LoRA adapters: an adapter applied in the forward pass gives the logits of
// the model with the adapter merged into its weights; bad adapters are
// refused with errors naming the tensor.
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

struct Factor {
  std::string name;
  std::vector<uint64_t> shape;
  std::vector<float> data;
};

// Random factors (large enough to move the logits well past the tolerance).
std::vector<Factor> random_factors(const ModelConfig& c, int64_t rank, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> z(0.0f, 0.3f);
  std::vector<Factor> out;
  auto add = [&](const std::string& name, uint64_t n_in, uint64_t n_out) {
    for (const auto& [suffix, shape] : {std::pair<std::string, std::vector<uint64_t>>{".lora_a", {n_in, uint64_t(rank)}},
                                        {".lora_b", {uint64_t(rank), n_out}}}) {
      Factor f{name + suffix, shape, std::vector<float>(shape[0] * shape[1])};
      for (float& v : f.data) v = z(rng);
      out.push_back(std::move(f));
    }
  };
  for (int64_t il = 0; il < c.n_layer; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    add(b + "attn_q.weight", uint64_t(c.n_embd), uint64_t(c.n_embd_q()));
    add(b + "attn_v.weight", uint64_t(c.n_embd), uint64_t(c.n_embd_v()));
    add(b + "attn_output.weight", uint64_t(c.n_head * c.v_head_dim), uint64_t(c.n_embd));
  }
  return out;
}

void write_adapter(const std::string& path, const std::string& arch, float alpha, const std::vector<Factor>& fs) {
  gguf::Writer w;
  w.set("general.architecture", gguf::Value::make_string(arch));
  w.set("general.type", gguf::Value::make_string("adapter"));
  w.set("adapter.type", gguf::Value::make_string("lora"));
  w.set("adapter.lora.alpha", gguf::Value::make_f32(alpha));
  for (const Factor& f : fs) w.add_tensor_data(f.name, TensorType::F32, f.shape, f.data.data());
  w.write(path);
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

class LoraTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Progress::set_enabled(false);
    cfg_ = find_preset("llama", "tiny-dense").config;
    SynthOptions o;
    o.type = "f32";
    o.seed = 5;
    o.progress_label = "";
    write_synth_model(cfg_, gguf::Metadata{}, o, base_.path);
  }
  ModelConfig cfg_;
  TempModel base_{"lora_base"}, adapter_{"lora_adapter"}, merged_{"lora_merged"};
};

TEST_F(LoraTest, AppliedAdapterMatchesMergedWeights) {
  write_adapter(adapter_.path, "llama", 8.0f, random_factors(cfg_, 4, 1));
  auto model = Model::load(base_.path);
  const std::vector<float> plain = logits_of(*model);
  auto adapter = LoraAdapter::load(adapter_.path, *model, 0.5f);
  EXPECT_EQ(adapter->rank(), 4);
  EXPECT_FLOAT_EQ(adapter->scale(), 0.5f * 8.0f / 4.0f);
  merge_lora(*model, *adapter, merged_.path);
  model->set_lora(std::move(adapter));
  const std::vector<float> applied = logits_of(*model);
  const std::vector<float> merged = logits_of(*Model::load(merged_.path));
  ASSERT_EQ(applied.size(), merged.size());
  double moved = 0;
  for (size_t i = 0; i < applied.size(); ++i) {
    EXPECT_NEAR(applied[i], merged[i], 1e-4) << i;
    moved = std::max(moved, double(std::fabs(applied[i] - plain[i])));
  }
  EXPECT_GT(moved, 0.05);  // the adapter changed the model
}

TEST_F(LoraTest, BadAdaptersAreRefusedNamingTheTensor) {
  auto model = Model::load(base_.path);
  auto expect_error = [&](std::vector<Factor> fs, const std::string& want) {
    write_adapter(adapter_.path, "llama", 8.0f, fs);
    try {
      LoraAdapter::load(adapter_.path, *model);
      ADD_FAILURE() << "no error, expected one containing " << want;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  std::vector<Factor> fs = random_factors(cfg_, 4, 2);
  auto wrong_shape = fs;
  wrong_shape[0].shape = {wrong_shape[0].shape[0] / 2, 8};
  expect_error(wrong_shape, "blk.0.attn_q.weight.lora_a' has shape");
  auto unknown = fs;
  unknown[0].name = "blk.0.attn_qq.weight.lora_a";
  expect_error(unknown, "blk.0.attn_qq.weight.lora_a");
  auto unpaired = fs;
  unpaired.pop_back();
  expect_error(unpaired, "but not its pair");
  auto bad_layer = fs;
  bad_layer[0].name = "blk.99.attn_q.weight.lora_a";
  expect_error(bad_layer, "blk.99.attn_q.weight");
}

}  // namespace
}  // namespace frugal::model

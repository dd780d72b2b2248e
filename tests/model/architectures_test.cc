// The table of architectures: every family's synth tiny model carries its
// entry's traits through GGUF keys (config_to_metadata, config_from_metadata)
// and through a written file (config_from_file), and an unknown name fails
// with the list of supported ones.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "base/error.h"
#include "gguf/reader.h"
#include "model/architectures.h"
#include "model/config.h"
#include "model/forward_test_model.h"
#include "model/presets.h"
#include "model/synth.h"

namespace frugal::model {
namespace {

using testing::error_of;

// The fields of a config that its architecture fixes, by name (a map, so
// that a failure prints which differ).
std::map<std::string, std::string> traits_of(const ModelConfig& c) {
  auto n = [](auto v) { return std::to_string(static_cast<int64_t>(v)); };
  return {{"rope_layout", n(c.rope_layout)},
          {"attn_bias", n(c.attn_bias)},
          {"attn_out_bias", n(c.attn_out_bias)},
          {"attn_sinks", n(c.attn_sinks)},
          {"swa_every_layer", n(c.swa_every_layer)},
          {"qk_norm", n(c.qk_norm)},
          {"n_nope_layer_step", n(c.n_nope_layer_step)},
          {"ffn_act", n(c.ffn_act)},
          {"ffn_norm", gguf::tensor_stem(c.ffn_norm)},
          {"gating", n(c.gating)},
          {"expert_weights_norm", n(c.expert_weights_norm)},
          {"router_bias", n(c.router_bias)},
          {"expert_bias", n(c.expert_bias)},
          {"expert_score_bias", n(c.expert_score_bias)},
          {"shared_expert_gate", n(c.shared_expert_gate)},
          {"expert_weight_on_input", n(c.expert_weight_on_input)},
          {"deepseek_moe_keys", n(c.deepseek_moe_keys)},
          {"moe_step_key", n(c.moe_step_key)},
          {"leading_dense_key", n(c.leading_dense_key)},
          {"shared_width_key", n(c.shared_width_key)},
          {"attn_output_gate", n(c.attn_output_gate)},
          {"ssm_split_proj", n(c.ssm_split_proj)},
          {"n_expert_shared", n(c.n_expert_shared)},
          {"n_ff_shexp", n(c.n_ff_shexp)}};
}

TEST(Architectures, TableListsEachNameOnceInSupportedOrder) {
  std::vector<std::string> names;
  std::set<std::string> unique;
  for (const Architecture& a : architectures()) {
    names.emplace_back(a.name);
    unique.insert(a.name);
    EXPECT_EQ(&architecture(a.name), &a);
  }
  EXPECT_EQ(unique.size(), names.size());
  EXPECT_EQ(names, supported_architectures());
  EXPECT_GE(names.size(), 16u);
}

TEST(Architectures, UnknownNameFailsWithTheSupportedList) {
  EXPECT_EQ(find_architecture("gpt-7"), nullptr);
  const std::string error = error_of([] { architecture("gpt-7"); });
  EXPECT_NE(error.find("unknown architecture 'gpt-7' (supported: " + architecture_names() + ")"), std::string::npos)
      << error;
  for (const std::string& name : supported_architectures()) EXPECT_NE(error.find(name), std::string::npos) << name;
  // Every path that takes a name says the same: defaults, validation, presets, keys.
  ModelConfig c = find_preset("qwen3moe", "tiny").config;
  c.arch = "gpt-7";
  EXPECT_EQ(error_of([&] { apply_architecture_defaults(c); }), error);
  EXPECT_EQ(error_of([&] { validate_config(c); }), error);
  EXPECT_EQ(error_of([] { find_preset("gpt-7", "tiny"); }), error);
  gguf::Metadata md;
  config_to_metadata(find_preset("qwen3moe", "tiny").config, md);
  md.set("general.architecture", gguf::Value::make_string("gpt-7"));
  EXPECT_EQ(error_of([&] { config_from_metadata(md); }), error);
}

TEST(Architectures, TinyPresetHasItsEntrysTraits) {
  for (const Architecture& a : architectures()) {
    SCOPED_TRACE(a.name);
    const ModelConfig& c = find_preset(a.name, "tiny").config;
    EXPECT_EQ(c.rope_layout, a.rope_layout);
    EXPECT_EQ(c.attn_bias, a.attn_bias);
    EXPECT_EQ(c.attn_out_bias, a.attn_out_bias);
    EXPECT_EQ(c.attn_sinks, a.attn_sinks);
    EXPECT_EQ(c.swa_every_layer, a.sliding_window == SlidingWindow::kEveryLayer);
    if (!a.qk_norm_from_tensors && !a.llama4_keys) {
      EXPECT_EQ(c.qk_norm, a.qk_norm);
    }
    EXPECT_EQ(c.n_nope_layer_step, a.nope_layer_step);
    EXPECT_EQ(c.ffn_act, a.ffn_act);
    EXPECT_EQ(c.ffn_norm, a.ffn_norm);
    EXPECT_EQ(c.router_bias, a.router_bias);
    EXPECT_EQ(c.expert_bias, a.expert_bias);
    EXPECT_EQ(c.expert_weight_on_input, a.expert_weight_on_input);
    EXPECT_EQ(c.deepseek_moe_keys, a.deepseek_moe_keys);
    EXPECT_EQ(c.moe_step_key, a.moe_step_key);
    EXPECT_EQ(c.leading_dense_key, a.leading_dense_key);
    EXPECT_EQ(c.attn_output_gate, a.deltanet_keys);
    EXPECT_EQ(c.ssm_split_proj, a.ssm_split_proj);
    EXPECT_EQ(c.is_mla(), a.mla_keys);
    EXPECT_EQ(c.has_hyper_connections(), a.deepseek4_keys);
    if (c.is_moe()) {
      EXPECT_EQ(c.shared_expert_gate, a.shared_expert == SharedExpert::kGated);
      if (a.score_bias == ScoreBias::kAlways) {
        EXPECT_TRUE(c.expert_score_bias);
      }
      if (a.score_bias == ScoreBias::kNone) {
        EXPECT_FALSE(c.expert_score_bias);
      }
      if (!a.deepseek_moe_keys) {
        EXPECT_EQ(c.expert_weights_norm, a.expert_weights_norm);
      }
      if (a.shared_expert == SharedExpert::kNone) {
        EXPECT_EQ(c.n_ff_shexp, 0);
      }
    }
  }
}

TEST(Architectures, TinyPresetTraitsRoundTripThroughKeysAndFile) {
  const std::string dir = (std::filesystem::temp_directory_path() / ("frugal_arch_test_" + std::to_string(::getpid())));
  std::filesystem::create_directories(dir);
  for (const Architecture& a : architectures()) {
    SCOPED_TRACE(a.name);
    const ModelConfig& c = find_preset(a.name, "tiny").config;
    gguf::Metadata md;
    config_to_metadata(c, md);
    ModelConfig back = config_from_metadata(md);
    // Only the tensors tell GLM-4.5's q/k norm and whether a file has the selection bias.
    if (a.qk_norm_from_tensors) back.qk_norm = c.qk_norm;
    if (a.score_bias == ScoreBias::kTensor || a.score_bias == ScoreBias::kSigmoidThenTensor)
      back.expert_score_bias = c.expert_score_bias;
    EXPECT_EQ(traits_of(back), traits_of(c));

    const std::string path = dir + "/" + a.name + ".gguf";
    write_synth_model(c, gguf::Metadata{}, SynthOptions{.type = "f32", .seed = 1, .progress_label = ""}, path);
    const gguf::Reader file = gguf::Reader::open(path);
    EXPECT_EQ(traits_of(config_from_file(file)), traits_of(c));
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace frugal::model

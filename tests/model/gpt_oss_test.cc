// gpt-oss as the GGUF converter describes it: its keys and tensors, the
// parameter counts of the published sizes, its routing (a softmax over the
// top-k logits), the window of its even layers, and errors (not crashes) for
// files that lack a key or a tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "base/error.h"
#include "model/config.h"
#include "model/forward_layers.h"
#include "model/forward_test_model.h"
#include "model/presets.h"

namespace frugal::model {
namespace {

using testing::error_of;
using testing::TempModel;
using testing::write_test_model;

TEST(GptOss, TensorsAndShapes) {
  const ModelConfig c = find_preset("gpt-oss", "tiny").config;
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const TensorSpec& t : expected_tensors(c)) shapes[t.name] = t.shape;
  const int64_t e = c.n_embd, ff = c.n_ff_exp, ne = c.n_expert;
  const std::map<std::string, std::vector<int64_t>> want = {
      {"output.weight", {e, c.n_vocab}},
      {"blk.1.attn_q.weight", {e, c.n_head * c.head_dim}},
      {"blk.1.attn_q.bias", {c.n_head * c.head_dim}},
      {"blk.1.attn_k.bias", {c.n_head_kv * c.head_dim}},
      {"blk.1.attn_v.bias", {c.n_head_kv * c.head_dim}},
      {"blk.1.attn_output.bias", {e}},
      {"blk.1.attn_sinks.weight", {c.n_head}},
      {"blk.1.post_attention_norm.weight", {e}},
      {"blk.1.ffn_gate_inp.weight", {e, ne}},
      {"blk.1.ffn_gate_inp.bias", {ne}},
      {"blk.1.ffn_gate_exps.weight", {e, ff, ne}},
      {"blk.1.ffn_gate_exps.bias", {ff, ne}},
      {"blk.1.ffn_up_exps.bias", {ff, ne}},
      {"blk.1.ffn_down_exps.weight", {ff, e, ne}},
      {"blk.1.ffn_down_exps.bias", {e, ne}},
  };
  for (const auto& [name, shape] : want) {
    ASSERT_TRUE(shapes.count(name)) << name;
    EXPECT_EQ(shapes[name], shape) << name;
  }
  EXPECT_FALSE(shapes.count("blk.1.ffn_norm.weight"));
  EXPECT_EQ(c.layer_window(0), c.n_swa);
  EXPECT_EQ(c.layer_window(1), 0);
  EXPECT_EQ(c.layer_window(2), c.n_swa);
}

// The model card's figures: 20.91 B parameters, 3.61 B active per token
// (the card counts the LM head but not the embedding table, which a token
// only looks a row up in); 116.8 B and 5.1 B for gpt-oss-120b.
TEST(GptOss, PublishedSizesHaveTheModelCardsParameterCounts) {
  for (const auto& [name, total, active] :
       {std::tuple<const char*, double, double>{"gpt-oss-20b", 20.91e9, 3.61e9}, {"gpt-oss-120b", 116.83e9, 5.13e9}}) {
    const ModelConfig c = find_preset("gpt-oss", name).config;
    const double embedding = double(c.n_vocab * c.n_embd);
    EXPECT_NEAR(double(c.n_params()), total, 0.01e9) << name;
    EXPECT_NEAR(double(c.n_active_params()) - embedding, active, 0.01e9) << name;
  }
}

TEST(GptOss, MissingKeysAndTensorsAreErrorsNamingThem) {
  const ModelConfig c = find_preset("gpt-oss", "tiny").config;
  gguf::Metadata md;
  config_to_metadata(c, md);
  for (const char* key : {"gpt-oss.attention.sliding_window", "gpt-oss.expert_used_count",
                          "gpt-oss.attention.layer_norm_rms_epsilon"}) {
    gguf::Metadata m = md;
    m.erase(key);
    const std::string err = error_of([&] { config_from_metadata(m); });
    EXPECT_NE(err.find(key), std::string::npos) << key << ": " << err;
  }
  // A file written without sinks (and one without expert biases) is refused,
  // naming the first missing tensor.
  for (const auto& [what, name] : {std::pair<const char*, const char*>{"sinks", "blk.0.attn_sinks.weight"},
                                   {"expert biases", "blk.0.ffn_gate_exps.bias"}}) {
    ModelConfig partial = c;
    if (std::string(what) == "sinks") partial.attn_sinks = false;
    else partial.expert_bias = false;
    TempModel f(std::string("oss_missing_") + (partial.attn_sinks ? "b" : "s"));
    write_test_model(partial, f.path);
    const std::string err = error_of([&] { Model::load(f.path); });
    EXPECT_NE(err.find(name), std::string::npos) << what << ": " << err;
    EXPECT_NE(err.find("is missing"), std::string::npos) << err;
  }
}

// Softmax over the top-k logits: the k largest logits, weighed by exp(l) / sum.
TEST(GptOss, RoutingIsASoftmaxOverTheTopKLogits) {
  const ModelConfig c = find_preset("gpt-oss", "tiny").config;
  const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.5f, 3.0f, 0.2f, 1.9f, -4.0f};
  int32_t ids[4];
  float w[4];
  route_row(c, logits.data(), nullptr, ids, w);
  const int32_t want_ids[4] = {4, 1, 6, 3};
  double sum = 0;
  for (int i = 0; i < 4; ++i) sum += std::exp(double(logits[want_ids[i]]));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(ids[i], want_ids[i]);
    EXPECT_NEAR(w[i], std::exp(double(logits[want_ids[i]])) / sum, 1e-6);
  }
}

}  // namespace
}  // namespace frugal::model

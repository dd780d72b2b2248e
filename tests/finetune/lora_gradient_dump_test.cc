// The LoRA trainer's loss and adapter gradients of one example, written for
// the PyTorch reference (tests/finetune/torch_lora_gradient_test.py runs
// this test with FRUGAL_LORA_DUMP set; without it the test is skipped).
//
// Environment: FRUGAL_LORA_DUMP (the JSON file to write), FRUGAL_LORA_MODEL
// (the base, f32), FRUGAL_LORA_TARGETS (--targets), FRUGAL_LORA_EXPERTS
// (--lora-experts). The factors are the initial ones moved by a seeded
// random step (B = 0 would leave A without a gradient). The JSON holds the
// loss, the example's tokens and target mask, the scale, and per adapted
// matrix its factors and their gradients as written to an adapter file
// (shared expert factors repeated per expert, their gradient too).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "base/progress.h"
#include "finetune/lora_model.h"

namespace frugal::finetune {
namespace {

std::string env(const char* name, const char* fallback = "") {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

nlohmann::json factors_json(const std::vector<model::LoraFactors>& fs) {
  nlohmann::json out = nlohmann::json::array();
  for (const model::LoraFactors& f : fs)
    out.push_back({{"target", f.target}, {"n_in", f.n_in}, {"n_out", f.n_out}, {"n_expert", f.n_expert},
                   {"a", f.a}, {"b", f.b}});
  return out;
}

TEST(LoraGradientDump, ForThePyTorchReference) {
  const std::string path = env("FRUGAL_LORA_DUMP");
  if (path.empty()) GTEST_SKIP() << "run by tests/finetune/torch_lora_gradient_test.py";
  Progress::set_enabled(false);
  const auto base = model::Model::load(env("FRUGAL_LORA_MODEL"));
  LoraShape shape{.rank = 4, .alpha = 8.0f, .seed = 11};
  parse_targets(env("FRUGAL_LORA_TARGETS", "attn,ffn"), shape);
  parse_expert_sharing(env("FRUGAL_LORA_EXPERTS", "each"), shape);
  LoraModel lm(*base, shape);
  std::mt19937_64 rng(12);
  std::normal_distribution<float> z(0.0f, 0.05f);
  for (float& p : lm.params()) p += z(rng);
  SftExample ex;
  ex.tokens = {256, 72, 101, 108, 108, 111, 32, 119, 111, 114, 108, 100};
  ex.target = {0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 1};
  ex.line = 1;
  // deepseek4's indexer keeps its top-k of the compressed entries once a
  // query sees more of them than that: 20 tokens, 5 entries of ratio 4.
  if (base->config().indexer_top_k > 0)
    for (int32_t t : {32, 97, 110, 100, 32, 115, 101, 97}) ex.tokens.push_back(t), ex.target.push_back(1);
  std::fill(lm.grads().begin(), lm.grads().end(), 0.0f);
  const double loss = lm.loss(ex, true);
  nlohmann::json out = {{"loss", loss},
                        {"tokens", ex.tokens},
                        {"target", ex.target},
                        {"scale", shape.alpha / static_cast<float>(shape.rank)},
                        {"factors", factors_json(lm.factors())}};
  // The gradients in the factors' layout: the same writer over grads().
  std::swap(lm.params(), lm.grads());
  out["grads"] = factors_json(lm.factors());
  std::swap(lm.params(), lm.grads());
  std::ofstream(path) << out.dump();
  ASSERT_TRUE(std::ifstream(path).good());
}

}  // namespace
}  // namespace frugal::finetune

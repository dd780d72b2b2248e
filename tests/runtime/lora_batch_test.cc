// Several LoRA adapters in one batch (BatchRow::lora, as the server decodes
// requests with different adapters in the same forward pass): each
// sequence's logits equal those of the sequence run alone with its adapter,
// on a model with attention, shared experts, routed experts and a router
// to adapt (qwen2moe), and a Mixtral-style llama; the rows whose adapter
// leaves the routed experts alone get alone's bits.
#include <gtest/gtest.h>

#include <random>

#include "model/forward_test_model.h"
#include "model/lora.h"
#include "model/presets.h"
#include "runtime/engine.h"
#include "runtime/engine_test_util.h"

namespace frugal::runtime {
namespace {

using model::testing::TempModel;
using testing::max_rel_diff;

// Random factors for a mix of targets; `pick` chooses which (adapters
// differ in what they adapt, not only in values).
std::vector<model::LoraFactors> random_adapter(const model::ModelConfig& c, uint64_t seed, int pick) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> z(0.0f, 0.3f);
  const int64_t rank = 4;
  std::vector<model::LoraFactors> out;
  auto add = [&](const std::string& name, int64_t n_in, int64_t n_out, int64_t n_expert = 0) {
    model::LoraFactors f{.target = name, .n_in = n_in, .n_out = n_out, .n_expert = n_expert, .a = {}, .b = {}};
    const int64_t ne = std::max<int64_t>(1, n_expert);
    f.a.resize(size_t(ne * rank * n_in));
    f.b.resize(size_t(ne * n_out * rank));
    for (float& v : f.a) v = z(rng);
    for (float& v : f.b) v = z(rng);
    out.push_back(std::move(f));
  };
  for (int64_t il = 0; il < c.n_layer; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    if (pick != 1) add(b + "attn_q.weight", c.n_embd, c.n_embd_q());
    add(b + "attn_v.weight", c.n_embd, c.n_embd_v());
    if (pick != 2) add(b + "attn_output.weight", c.n_head * c.v_head_dim, c.n_embd);
    if (!c.layer_is_moe(il)) continue;
    if (pick != 3) add(b + "ffn_down_exps.weight", c.n_ff_exp, c.n_embd, c.n_expert);
    if (pick != 0) add(b + "ffn_gate_inp.weight", c.n_embd, c.n_expert);
    if (c.n_ff_shexp > 0 && pick != 1) add(b + "ffn_up_shexp.weight", c.n_embd, c.n_ff_shexp);
  }
  return out;
}

class LoraBatch : public ::testing::TestWithParam<const char*> {};

TEST_P(LoraBatch, FourAdaptersInOneBatchMatchEachAlone) {
  ThreadPool pool(2);
  const model::ModelConfig cfg = model::find_preset(GetParam(), "tiny").config;
  TempModel f(std::string("lora_batch_") + GetParam());
  model::testing::write_test_model(cfg, f.path);
  const auto m = model::Model::load(f.path);
  std::vector<std::unique_ptr<model::LoraAdapter>> adapters;
  for (int i = 0; i < 4; ++i) {
    TempModel a(std::string("lora_batch_adapter_") + GetParam() + std::to_string(i));
    model::write_lora_adapter(a.path, cfg.arch, 8.0f, 4, random_adapter(cfg, 10 + i, i));
    adapters.push_back(model::LoraAdapter::load(a.path, *m));
  }
  const std::vector<std::vector<int32_t>> prompts = {
      {256, 72, 101, 108, 108}, {256, 5, 17, 400, 90, 91}, {256, 33, 34}, {256, 300, 301, 302}, {256, 7, 8, 9}};
  // Sequence 4 runs without an adapter.
  auto adapter_of = [&](size_t s) { return s < 4 ? adapters[s].get() : nullptr; };
  EngineOptions o;
  o.n_ctx = 32;
  o.n_seq_max = 5;
  o.pool = &pool;
  const int64_t nv = m->config().n_vocab;

  // Alone: each sequence in its own batches, then one decode step.
  std::vector<std::vector<float>> alone;
  for (size_t s = 0; s < prompts.size(); ++s) {
    Engine e(*m, o);
    std::vector<BatchRow> rows;
    for (size_t i = 0; i < prompts[s].size(); ++i)
      rows.push_back({0, int32_t(i), prompts[s][i], true, adapter_of(s)});
    std::vector<float> logits;
    e.forward(rows, logits);
    alone.push_back(logits);
  }
  // Together: every sequence's rows in one batch, interleaved.
  Engine e(*m, o);
  std::vector<BatchRow> rows;
  std::vector<std::pair<size_t, size_t>> where;  // (sequence, position) of each row
  for (size_t i = 0; i < 6; ++i)
    for (size_t s = 0; s < prompts.size(); ++s)
      if (i < prompts[s].size()) {
        rows.push_back({int32_t(s), int32_t(i), prompts[s][i], true, adapter_of(s)});
        where.emplace_back(s, i);
      }
  std::vector<float> logits;
  e.forward(rows, logits);
  std::vector<std::vector<float>> together(prompts.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    const size_t s = where[r].first;
    together[s].insert(together[s].end(), logits.begin() + int64_t(r) * nv, logits.begin() + int64_t(r + 1) * nv);
  }
  for (size_t s = 0; s < prompts.size(); ++s) EXPECT_LT(max_rel_diff(alone[s], together[s]), 1e-5) << "sequence " << s;
  // Rows whose adapter leaves the routed experts alone (adapter 3's, the
  // base's) keep the fused expert path among adapted rows: alone's bits.
  EXPECT_EQ(alone[3], together[3]);
  EXPECT_EQ(alone[4], together[4]);
  // The adapters matter: adapter 0's logits differ from the base's.
  Engine base(*m, o);
  const auto plain = testing::run_steps(base, prompts[0], prompts[0].size());
  EXPECT_GT(max_rel_diff(plain, alone[0]), 1e-2);
}

INSTANTIATE_TEST_SUITE_P(Archs, LoraBatch, ::testing::Values("qwen2moe", "llama"));

}  // namespace
}  // namespace frugal::runtime

// LoRA over a frozen tiny qwen3, qwen2, qwen3moe, qwen2moe, olmoe, Mixtral-style llama,
// glm4moe, gpt-oss, llama4, deepseek2, minimax-m2, dots1, ernie4_5-moe, qwen3next, qwen35moe and deepseek4 (routed
// experts and router
// frozen, the gradient flowing through both):
// with B = 0 the logits and the loss are the base model's (frugal's inference forward pass);
// the adapter's gradients match central finite differences of the loss.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <unistd.h>

#include "base/error.h"
#include "base/progress.h"
#include "finetune/lora_model.h"
#include "finetune/trainer.h"
#include "model/forward.h"
#include "model/presets.h"
#include "model/synth.h"
#include "model/forward_test_model.h"

namespace frugal::finetune {
namespace {

// "arch/preset" as a file name.
std::string file_name(std::string name) {
  std::replace(name.begin(), name.end(), '/', '-');
  return name;
}

// A tiny synth model: "arch" (its tiny preset) or "arch/preset".
struct TinyQwen3 {
  model::testing::TempModel file;
  std::unique_ptr<model::Model> m;
  explicit TinyQwen3(const std::string& name = "qwen3", const std::string& type = "f32")
      : file("finetune_" + file_name(name) + "_" + type) {
    Progress::set_enabled(false);
    const size_t slash = name.find('/');
    const std::string arch = name.substr(0, slash), preset = slash == std::string::npos ? "tiny" : name.substr(slash + 1);
    model::SynthOptions o;
    o.type = type;
    o.seed = 9;
    o.progress_label = "";
    model::write_synth_model(model::find_preset(arch, preset).config, gguf::Metadata{}, o, file.path);
    m = model::Model::load(file.path);
  }
};

SftExample example() {
  SftExample ex;
  ex.tokens = {256, 72, 101, 108, 108, 111, 32, 119, 111};
  ex.target = {0, 0, 0, 1, 1, 1, 0, 1, 1};
  ex.line = 1;
  return ex;
}

class LoraModelArch : public ::testing::TestWithParam<const char*> {};

// The logits of every position of the example from frugal's inference
// forward pass (with the model's adapter, if one is set).
std::vector<float> forward_logits(const model::Model& m, const SftExample& ex) {
  model::testing::OneSequenceKv kv(m.config(), std::max<int64_t>(16, int64_t(ex.tokens.size())));
  model::Forward fwd(m);
  std::vector<model::BatchRow> rows;
  for (size_t i = 0; i < ex.tokens.size(); ++i) rows.push_back({0, int32_t(i), ex.tokens[i], true});
  std::vector<float> logits;
  fwd.run(rows, kv, nullptr, logits);
  return logits;
}

// The example's mean loss from frugal's inference forward pass.
double forward_loss(const model::Model& m, const SftExample& ex) {
  const std::vector<float> logits = forward_logits(m, ex);
  const int64_t V = m.config().n_vocab;
  double want = 0;
  int n = 0;
  for (size_t i = 0; i + 1 < ex.tokens.size(); ++i) {
    if (!ex.target[i + 1]) continue;
    const float* l = logits.data() + i * size_t(V);
    double mx = l[0], sum = 0;
    for (int64_t j = 0; j < V; ++j) mx = std::max(mx, double(l[j]));
    for (int64_t j = 0; j < V; ++j) sum += std::exp(double(l[j]) - mx);
    want += -(double(l[ex.tokens[i + 1]]) - mx - std::log(sum));
    ++n;
  }
  return want / n;
}

// With B = 0 the training forward gives inference's logits at every
// position (to 1e-4 of the largest) and its loss (1e-4), in f32 and over
// Q8_0 weights.
void expect_base_logits(const std::string& name, const std::string& type) {
  TinyQwen3 base(name, type);
  LoraShape shape{.rank = 4, .alpha = 8.0f, .seed = 1};
  if (base.m->config().is_moe()) parse_targets("attn,ffn,shared,experts,router", shape);
  if (base.m->config().n_ff_shexp == 0) shape.shared = false;
  LoraModel lm(*base.m, shape);
  std::vector<float> got;
  EXPECT_NEAR(lm.loss(example(), false, 1.0f, &got), forward_loss(*base.m, example()), 1e-4) << name << " " << type;
  const std::vector<float> want = forward_logits(*base.m, example());
  ASSERT_EQ(got.size(), want.size());
  float top = 0, diff = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    top = std::max(top, std::fabs(want[i]));
    diff = std::max(diff, std::fabs(got[i] - want[i]));
  }
  EXPECT_LT(diff, 1e-4f * top) << name << " " << type << ": logits differ by " << diff << " (largest " << top << ")";
}

TEST_P(LoraModelArch, StartsAtTheBaseModelsLogits) {
  expect_base_logits(GetParam(), "f32");
  // llama4's tiny preset over Q8_0 meets, at the example's sixth position in
  // its last layer, an activation within float noise of an int8 rounding
  // boundary: the two forwards round it apart and the later positions part
  // by 1e-2 (the float64 reference with frugal's rounding parts from
  // inference there alike). Its tiny-scout preset checks Q8_0. qwen3's tiny
  // preset meets the same since training's attention sums in tiles (f32 sums
  // in another order): its f32 logits agree to 1e-4, its Q8_0 ones part by
  // 2e-2 from one rounding on; the other dense presets check Q8_0.
  // deepseek4's tiny preset too: its f32 logits agree to 7e-7 (the
  // compressor pools in another order), over Q8_0 positions 0-4, 6 and 7
  // agree bit for bit while 5 and 8 alone part (5e-3, 1.7e-2), each a row's
  // own late rounding that no later position inherits.
  const std::string arch = GetParam();
  if (arch != "llama4" && arch != "qwen3" && arch != "deepseek4") expect_base_logits(GetParam(), "q8_0");
}

// Central finite differences of the loss against lm's gradients at random
// parameters (half of them among those with a gradient, so that the
// experts' many idle factors do not take every pick). The loss is smooth
// only between routing choices: where a step changes a token's chosen
// experts, the two one-sided differences part (their sum, the curvature
// term h^2 L'' otherwise, holds the jump), and the step is retried three
// times smaller, down to 1e-4.
void check_gradients(LoraModel& lm, uint64_t seed, const SftExample& ex = example()) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> z(0.0f, 0.05f);
  for (float& p : lm.params()) p += z(rng);  // B != 0, so A's gradient is not zero
  std::fill(lm.grads().begin(), lm.grads().end(), 0.0f);
  const double at = lm.loss(ex, true);
  std::vector<float>& p = lm.params();
  const std::vector<float> g = lm.grads();
  std::uniform_int_distribution<size_t> pick(0, p.size() - 1);
  std::vector<size_t> live;
  for (size_t i = 0; i < g.size(); ++i)
    if (std::fabs(g[i]) > 1e-3f) live.push_back(i);
  ASSERT_FALSE(live.empty());
  std::uniform_int_distribution<size_t> pick_live(0, live.size() - 1);
  int checked = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const size_t i = trial % 2 ? live[pick_live(rng)] : pick(rng);
    const float keep = p[i];
    double num = 0;
    for (float h = 3e-3f; h > 0.9e-4f; h /= 3) {
      p[i] = keep + h;
      const double up = lm.loss(ex, false);
      p[i] = keep - h;
      const double down = lm.loss(ex, false);
      p[i] = keep;
      num = (up - down) / (2.0 * h);
      if (std::fabs(up + down - 2 * at) < 1e-5 + 0.2 * std::fabs(up - down)) break;  // no routing jump
    }
    EXPECT_NEAR(g[i], num, 2e-3 + 0.05 * std::fabs(num)) << "param " << i;
    checked += std::fabs(num) > 1e-3;
  }
  EXPECT_GT(checked, 10);  // most picks have a gradient worth checking
}

TEST_P(LoraModelArch, GradientsMatchFiniteDifferences) {
  TinyQwen3 base(GetParam());
  LoraModel lm(*base.m, {.rank = 4, .alpha = 8.0f, .seed = 2});
  check_gradients(lm, 3);
}

// The Gated DeltaNet's backward keeps a state every ceil(sqrt(T)) rows and
// replays the rows between: over 11 tokens, spans of 4, 4 and 3 rows (the
// 9-token example's are 3 alike), and the loss still matches inference's.
TEST(LoraModel, DeltaNetReplaysUnevenSpans) {
  SftExample ex = example();
  ex.tokens.insert(ex.tokens.end(), {114, 108});
  ex.target.insert(ex.target.end(), {1, 1});
  for (const char* arch : {"qwen3next", "qwen35moe"}) {
    TinyQwen3 base(arch);
    LoraShape shape{.rank = 4, .alpha = 8.0f, .seed = 2};
    parse_targets("attn", shape);
    LoraModel lm(*base.m, shape);
    EXPECT_NEAR(lm.loss(ex, false), forward_loss(*base.m, ex), 1e-4) << arch;
    check_gradients(lm, 4, ex);
  }
}

// glm4moe: GLM-4.5's tiny preset (per-head q/k norm, routed scale 2.5)
// and GLM-4.5-Air's (no q/k norm, 16 experts, scale 1). gpt-oss: sinks, a
// window of 8 (the example's last row drops its first key), YaRN, biases.
// llama4: chunks of 8 (the last row starts a chunk), a NoPE layer tempering
// its queries, top-1 sigmoid experts weighted on their input, dense and MoE
// layers interleaved (tiny) or every layer MoE (tiny-scout). deepseek2:
// latent attention with kv_b joint (tiny: DeepSeek-V2-Lite's, direct
// queries, a softmax router, a leading dense layer, two shared experts) or
// split into k_b/v_b (tiny-k2: Kimi-K2's), low-rank queries (tiny-v3,
// tiny-k2), sigmoid routers with a selection bias and a routed scale (V3's
// in 4 groups of which 2 are used), YaRN. minimax-m2: q/k norm over a
// token's whole q and k, RoPE on half of each head, a sigmoid router with
// a selection bias, renormalised. dots1: per-head q/k norm, a leading dense
// layer, sigmoid routing with a selection bias and the routed scale, shared
// experts. ernie4_5-moe: RoPE on interleaved pairs, dense and MoE layers
// alternating, a softmax router whose selection bias only chooses,
// renormalised, ungated shared experts. qwen3next and qwen35moe: Gated
// DeltaNet layers (joint or split in-projections, the convolution, the
// delta rule over the example's 9 rows, the gated norm) beside gated
// attention (an output gate per head, RoPE on half of each head), a
// softmax router renormalised and a sigmoid-gated shared expert.
// bailingmoe2: q, k and v as the rows of one attn_qkv, adapted whole.
// deepseek4: four hyper-connection streams mixed around each sublayer
// (Sinkhorn), low-rank queries, one key/value head, sinks, a window of 8,
// compressed entries (ratios 0, 4, 8, 4), grouped output projections,
// sqrt-softplus routing with a hash layer first, clamped gated units.
INSTANTIATE_TEST_SUITE_P(Archs, LoraModelArch, ::testing::Values("qwen3", "qwen3moe", "llama", "qwen2moe", "olmoe",
                                                                   "qwen2", "glm4moe", "glm4moe/tiny-air", "gpt-oss",
                                                                   "llama4", "llama4/tiny-scout", "deepseek2",
                                                                   "deepseek2/tiny-v3", "deepseek2/tiny-k2",
                                                                   "minimax-m2", "dots1", "ernie4_5-moe",
                                                                   "qwen3next", "qwen35moe", "bailingmoe2",
                                                                   "mistral4", "hunyuan-moe", "deepseek4"));

// deepseek4 over 20 tokens: the ratio-4 layers' indexer keeps 3 of the 4
// or 5 compressed entries of the last rows (its choice held fixed in the
// backward), the window of 8 drops the early keys, the ratio-8 layer attends
// to two entries; the loss is inference's and the gradients match finite
// differences, the attention's factors and the MoE's.
TEST(LoraModel, Deepseek4IndexerChoosesAmongEntries) {
  SftExample ex = example();
  for (int32_t t : {114, 108, 100, 32, 97, 110, 100, 32, 115, 101, 97})
    ex.tokens.push_back(t), ex.target.push_back(1);
  TinyQwen3 base("deepseek4");
  ASSERT_GT((int64_t(ex.tokens.size()) / 4), base.m->config().indexer_top_k);
  LoraShape shape{.rank = 4, .alpha = 8.0f, .seed = 2};
  parse_targets("attn,shared,experts,router", shape);
  LoraModel lm(*base.m, shape);
  EXPECT_NEAR(lm.loss(ex, false), forward_loss(*base.m, ex), 1e-4);
  check_gradients(lm, 4, ex);
}

// The MoE targets: routed experts (a pair of factors per expert), shared
// experts (qwen2moe's, with their sigmoid gate) and the router.
struct MoeTargets {
  const char* arch;
  const char* targets;
  bool shared_experts = false;  // --lora-experts shared: one pair of factors for all of a layer's experts
};
class LoraMoeTargets : public ::testing::TestWithParam<MoeTargets> {};

TEST_P(LoraMoeTargets, GradientsMatchFiniteDifferences) {
  TinyQwen3 base(GetParam().arch);
  LoraShape shape{.rank = 4, .alpha = 8.0f, .seed = 5};
  parse_targets(GetParam().targets, shape);
  shape.shared_experts = GetParam().shared_experts;
  LoraModel lm(*base.m, shape);
  EXPECT_NEAR(lm.loss(example(), false), forward_loss(*base.m, example()), 1e-4);  // B = 0: the base
  check_gradients(lm, 6);
}

// The adapter as written (llama.cpp's format: per-expert 3-D factors for
// the stacks) and loaded by inference gives the training forward's loss.
TEST_P(LoraMoeTargets, WrittenAdapterGivesTheTrainingLossAtInference) {
  TinyQwen3 base(GetParam().arch);
  LoraShape shape{.rank = 4, .alpha = 8.0f, .seed = 7};
  parse_targets(GetParam().targets, shape);
  shape.shared_experts = GetParam().shared_experts;
  LoraModel lm(*base.m, shape);
  std::mt19937_64 rng(8);
  std::normal_distribution<float> z(0.0f, 0.2f);
  for (float& p : lm.params()) p += z(rng);
  const double trained = lm.loss(example(), false);
  model::testing::TempModel adapter("finetune_adapter_" + file_name(GetParam().arch));
  model::write_lora_adapter(adapter.path, base.m->config().arch, shape.alpha, shape.rank, lm.factors());
  const double before = forward_loss(*base.m, example());
  base.m->set_lora(model::LoraAdapter::load(adapter.path, *base.m));
  EXPECT_NEAR(forward_loss(*base.m, example()), trained, 1e-4);
  EXPECT_GT(std::fabs(trained - before), 1e-2);  // the adapter moved the loss
}

INSTANTIATE_TEST_SUITE_P(Targets, LoraMoeTargets,
                         ::testing::Values(MoeTargets{"qwen3moe", "experts"}, MoeTargets{"qwen3moe", "router"},
                                           MoeTargets{"llama", "experts,router"},
                                           MoeTargets{"qwen2moe", "shared"},
                                           MoeTargets{"qwen2moe", "attn,shared,experts,router"},
                                           MoeTargets{"qwen3moe", "experts", true},
                                           MoeTargets{"llama", "experts,router", true},
                                           MoeTargets{"qwen2moe", "shared,experts", true},
                                           MoeTargets{"olmoe", "attn,experts,router"},
                                           MoeTargets{"olmoe", "experts", true},
                                           MoeTargets{"glm4moe", "attn,ffn,shared,experts,router"},
                                           MoeTargets{"glm4moe", "shared,experts", true},
                                           MoeTargets{"glm4moe/tiny-air", "experts,router"},
                                           MoeTargets{"gpt-oss", "attn,experts,router"},
                                           MoeTargets{"gpt-oss", "experts", true},
                                           MoeTargets{"llama4", "attn,ffn,shared,experts,router"},
                                           MoeTargets{"llama4/tiny-scout", "experts,router", true},
                                           MoeTargets{"deepseek2", "attn,ffn,shared,experts,router"},
                                           MoeTargets{"deepseek2/tiny-v3", "attn,experts,router"},
                                           MoeTargets{"deepseek2/tiny-k2", "attn,shared,experts", true},
                                           MoeTargets{"minimax-m2", "attn,experts,router"},
                                           MoeTargets{"minimax-m2", "experts", true},
                                           MoeTargets{"dots1", "attn,ffn,shared,experts,router"},
                                           MoeTargets{"dots1", "shared,experts", true},
                                           MoeTargets{"ernie4_5-moe", "attn,ffn,shared,experts,router"},
                                           MoeTargets{"ernie4_5-moe", "shared,experts,router", true},
                                           MoeTargets{"qwen3next", "attn,shared,experts,router"},
                                           MoeTargets{"qwen3next", "attn"},
                                           MoeTargets{"qwen35moe", "attn,shared,experts,router"},
                                           MoeTargets{"qwen35moe", "attn,shared,experts", true},
                                           MoeTargets{"bailingmoe2", "attn,experts,router"},
                                           MoeTargets{"bailingmoe2", "attn,shared,experts", true},
                                           MoeTargets{"deepseek4", "attn,shared,experts,router"},
                                           MoeTargets{"deepseek4", "attn,experts", true}));

// --lora-experts shared: one pair of factors per stack (n_expert times fewer
// values than a pair per expert), written as the same pair for every expert.
TEST(LoraModel, SharedExpertFactorsAreOnePairWrittenForEachExpert) {
  TinyQwen3 base("qwen3moe");
  LoraShape each{.rank = 4, .alpha = 8.0f, .seed = 1}, shared = each;
  parse_targets("experts", each);
  parse_targets("experts", shared);
  parse_expert_sharing("shared", shared);
  LoraModel lm_each(*base.m, each), lm_shared(*base.m, shared);
  const int64_t E = base.m->config().n_expert;
  ASSERT_GT(E, 1);
  EXPECT_EQ(lm_each.params().size(), lm_shared.params().size() * size_t(E));
  for (float& p : lm_shared.params()) p += 0.01f;
  for (const model::LoraFactors& f : lm_shared.factors()) {
    ASSERT_EQ(f.n_expert, E) << f.target;
    const size_t a = f.a.size() / size_t(E), b = f.b.size() / size_t(E);
    for (int64_t e = 1; e < E; ++e) {
      EXPECT_TRUE(std::equal(f.a.begin(), f.a.begin() + long(a), f.a.begin() + long(e * a))) << f.target;
      EXPECT_TRUE(std::equal(f.b.begin(), f.b.begin() + long(b), f.b.begin() + long(e * b))) << f.target;
    }
  }
  LoraShape bad = each;
  EXPECT_THROW(parse_expert_sharing("some", bad), Error);
  parse_targets("attn", bad);
  parse_expert_sharing("shared", bad);
  EXPECT_THROW(LoraModel(*base.m, bad), Error);  // shared experts without adapting the experts
}

}  // namespace
}  // namespace frugal::finetune

namespace frugal::finetune {
namespace {

TEST(LoraModel, MemorisesATinySet) {
  TinyQwen3 base;
  LoraModel lm(*base.m, {.rank = 4, .alpha = 8.0f, .seed = 4});
  const std::vector<SftExample> set = {example()};
  std::vector<FinetuneStep> steps;
  finetune(lm, set, set, {.epochs = 30, .lr = 1e-2f, .eval_every = 10},
           [&](const FinetuneStep& s) { steps.push_back(s); });
  ASSERT_EQ(steps.size(), 31u);
  const double first = steps.front().val_loss, last = steps.back().val_loss;
  EXPECT_TRUE(std::isnan(steps[5].val_loss));
  EXPECT_LT(last, 0.5 * first) << first << " -> " << last;
}

// glm4moe over Q8_0 weights, every target: a few steps lower the loss.
TEST(LoraModel, Glm4moeStepsLowerTheLoss) {
  TinyQwen3 base("glm4moe", "q8_0");
  LoraShape shape{.rank = 4, .alpha = 8.0f, .seed = 4};
  parse_targets("attn,ffn,shared,experts,router", shape);
  LoraModel lm(*base.m, shape);
  const std::vector<SftExample> set = {example()};
  std::vector<FinetuneStep> steps;
  finetune(lm, set, set, {.epochs = 10, .lr = 1e-2f, .eval_every = 10},
           [&](const FinetuneStep& s) { steps.push_back(s); });
  ASSERT_EQ(steps.size(), 11u);
  const double first = steps.front().val_loss, last = steps.back().val_loss;
  EXPECT_LT(last, 0.7 * first) << first << " -> " << last;
}

}  // namespace
}  // namespace frugal::finetune

// Every MoE architecture the trainer continues (qwen3moe, qwen2moe, olmoe,
// Mixtral-style llama), from the synth tiny preset of each, shrunk: the
// gradient of every tensor against finite differences (with the default aux
// and z coefficients), and a few training steps exported to GGUF whose
// logits in frugal's Engine equal the training forward's. Architectures the
// trainer cannot represent yet are refused by name.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

#include "base/error.h"
#include "model/model.h"
#include "model/presets.h"
#include "model/synth.h"
#include "runtime/engine.h"
#include "train/export.h"
#include "train/model_gradient_check.h"
#include "train/trainer.h"

namespace frugal::train {
namespace {

// Architecture and preset: deepseek2's tiny is DeepSeek-V2-Lite's design
// (softmax router, two shared experts, a leading dense layer, direct
// queries), tiny-v3 DeepSeek-V3's (low-rank queries, sigmoid router in 4
// groups of which 2 are used, scale 2.5), tiny-k2 Kimi-K2's (attn_kv_b split
// into attn_k_b and attn_v_b).
const std::pair<const char*, const char*> kArchs[] = {{"qwen3moe", "tiny"}, {"qwen2moe", "tiny"}, {"olmoe", "tiny"},
                                                      {"llama", "tiny"},    {"deepseek2", "tiny"}, {"deepseek2", "tiny-v3"},
                                                      {"deepseek2", "tiny-k2"}};

// The architecture's preset with every size cut down (its details kept:
// q/k norm kind, RoPE pairing and YaRN, biases, shared and dense FFNs, router).
model::ModelConfig small_config(const std::pair<const char*, const char*>& arch_preset, int64_t n_vocab) {
  const std::string arch = arch_preset.first;
  model::ModelConfig c = model::find_preset(arch, arch_preset.second).config;
  c.n_vocab = n_vocab;
  c.n_embd = 32;
  c.n_layer = 2;
  c.n_head = 4;
  c.n_head_kv = arch == "olmoe" ? 4 : 2;
  c.head_dim = c.v_head_dim = c.rope_dim = 8;
  c.n_expert = 4;
  c.n_expert_used = 2;
  c.n_ff_exp = 16;
  c.n_ff = 16;
  if (c.n_ff_shexp > 0) c.n_ff_shexp = 24;
  c.n_ctx_train = c.rope_orig_ctx = 32;
  if (c.is_mla()) {
    c.n_layer = 3;  // the first dense
    c.n_head_kv = c.n_head;
    if (c.q_lora_rank > 0) c.q_lora_rank = 12;
    c.kv_lora_rank = 16;
    c.qk_rope_head_dim = c.rope_dim = 4;
    c.qk_nope_head_dim = 8;
    c.head_dim = 12;
    c.v_head_dim = 6;
    c.n_expert = 8;  // tiny-v3: 4 groups of 2
    c.n_ff = 20;
    c.n_ff_shexp = c.n_expert_shared * c.n_ff_exp;
    c.rope_orig_ctx = 8;  // YaRN stretches positions past 8
    c.expert_score_bias = false;  // the selection bias is the trainer's, not a parameter
  }
  model::validate_config(c);
  return c;
}

TEST(TrainArchitectures, GradientsOfEveryTensor) {
  for (const auto& arch : kArchs) {
    SCOPED_TRACE(std::string(arch.first) + " " + arch.second);
    expect_model_gradients(ParamLayout(small_config(arch, 13)), RouterOptions{});
  }
}

TEST(TrainArchitectures, ExportedModelRunsAsTrained) {
  ThreadPool pool(2);
  for (const auto& ap : kArchs) {
    SCOPED_TRACE(std::string(ap.first) + " " + ap.second);
    const std::string arch = ap.first;
    const model::ModelConfig cfg = small_config(ap, 260);
    TrainOptions o;
    o.steps = 4;
    o.batch = 2;
    o.seq_len = 16;
    o.schedule.lr = 1e-2f;
    o.seed = 5;
    std::vector<int32_t> text(3000);
    Rng rng(11);
    for (auto& id : text) id = static_cast<int32_t>('a' + rng.next_u64() % 9);
    Trainer t(cfg, o, text, {}, &pool);
    for (int i = 0; i < 4; ++i) t.step();

    gguf::Metadata tok;
    model::add_byte_tokenizer(260, tok);
    const std::string path = (std::filesystem::temp_directory_path() /
                              ("frugal_arch_test_" + std::to_string(::getpid()) + "_" + arch + ap.second + ".gguf"))
                                 .string();
    export_gguf(path, t.layout(), t.params().data(), tok, TensorType::F32);
    const int64_t T = 16;
    std::vector<int32_t> ids(text.begin(), text.begin() + T);
    Transformer fwd(t.layout(), 1, T, &pool);
    fwd.forward(t.params().data(), nullptr, ids.data(), nullptr, RouterOptions{});

    auto m = model::Model::load(path);
    EXPECT_EQ(m->config().arch, arch);
    runtime::EngineOptions eo;
    eo.n_ctx = 32;
    eo.pool = &pool;
    runtime::Engine engine(*m, eo);
    std::vector<runtime::BatchRow> rows;
    for (int64_t i = 0; i < T; ++i) rows.push_back({0, static_cast<int32_t>(i), ids[i], true});
    std::vector<float> logits;
    engine.forward(rows, logits);
    const size_t n = static_cast<size_t>(T * 260);
    ASSERT_EQ(logits.size(), n);
    double max_abs = 0.0, max_diff = 0.0;
    for (size_t i = 0; i < n; ++i) {
      max_abs = std::max(max_abs, std::fabs(static_cast<double>(fwd.logits()[i])));
      max_diff = std::max(max_diff, std::fabs(static_cast<double>(logits[i]) - fwd.logits()[i]));
    }
    EXPECT_LT(max_diff / max_abs, 1e-4);

    // Import gives the trained parameters back, for the next continuation.
    const ImportedModel back = import_gguf(path);
    EXPECT_EQ(back.config.arch, arch);
    EXPECT_EQ(back.params, t.params());
    std::filesystem::remove(path);
  }
}

TEST(TrainArchitectures, UntrainableArchitecturesAreRefusedByName) {
  for (const char* arch : {"glm4moe", "gpt-oss", "qwen3next"}) {
    try {
      ParamLayout layout(model::find_preset(arch, "tiny").config);
      ADD_FAILURE() << arch << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(arch), std::string::npos) << e.what();
    }
  }
  // A dense llama has no experts to route.
  EXPECT_THROW(ParamLayout(model::find_preset("llama", "tiny-dense").config), Error);
}

}  // namespace
}  // namespace frugal::train

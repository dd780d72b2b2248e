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

const char* const kArchs[] = {"qwen3moe", "qwen2moe", "olmoe", "llama"};

// The architecture's tiny preset with every size cut down (its details kept:
// q/k norm kind, RoPE pairing, biases, shared expert, router).
model::ModelConfig small_config(const std::string& arch, int64_t n_vocab) {
  model::ModelConfig c = model::find_preset(arch, "tiny").config;
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
  model::validate_config(c);
  return c;
}

TEST(TrainArchitectures, GradientsOfEveryTensor) {
  for (const char* arch : kArchs) {
    SCOPED_TRACE(arch);
    expect_model_gradients(ParamLayout(small_config(arch, 13)), RouterOptions{});
  }
}

TEST(TrainArchitectures, ExportedModelRunsAsTrained) {
  ThreadPool pool(2);
  for (const char* arch : kArchs) {
    SCOPED_TRACE(arch);
    const model::ModelConfig cfg = small_config(arch, 260);
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
                              ("frugal_arch_test_" + std::to_string(::getpid()) + "_" + arch + ".gguf"))
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
  for (const char* arch : {"deepseek2", "gpt-oss", "qwen3next"}) {
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

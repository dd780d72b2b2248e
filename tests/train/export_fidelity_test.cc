// What training hands over must be what it trained: a model trained with
// --bias-balance exports its per-expert selection bias (exp_probs_b) and
// frugal's Engine then routes, and predicts, exactly as the training forward
// with that bias; import gives the bias back. Checked before any work: a
// Q8_0 export whose rows are not multiples of 32 is refused. A checkpoint
// made on other training data is refused on resume.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "base/error.h"
#include "model/model.h"
#include "model/synth.h"
#include "runtime/engine.h"
#include "train/checkpoint.h"
#include "train/export.h"
#include "train/trainer.h"

namespace frugal::train {
namespace {

std::vector<int32_t> random_bytes(uint64_t seed, size_t n) {
  Rng rng(seed);
  std::vector<int32_t> ids(n);
  // A skewed alphabet with repeats: enough structure for the router to pick favourites.
  for (auto& id : ids) id = static_cast<int32_t>('a' + (rng.next_u64() % 7) * (rng.next_u64() % 3));
  return ids;
}

model::ModelConfig tiny_config(int64_t n_embd) {
  ModelShape s;
  s.n_vocab = 260;
  s.n_embd = n_embd;
  s.n_layer = 2;
  s.n_head = 2;
  s.n_head_kv = 1;
  s.head_dim = 16;
  s.n_expert = 4;
  s.n_expert_used = 2;
  s.n_ff_exp = 32;
  s.n_ctx = 32;
  return make_config(s);
}

TrainOptions options(int64_t steps) {
  TrainOptions o;
  o.steps = steps;
  o.batch = 4;
  o.seq_len = 24;
  o.schedule.lr = 1e-2f;
  o.seed = 3;
  return o;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() /
          ("frugal_fidelity_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

// Max |a - b| over max |b|.
double rel_diff(const std::vector<float>& a, const float* b, size_t n) {
  double max_abs = 0.0, max_diff = 0.0;
  for (size_t i = 0; i < n; ++i) {
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(b[i])));
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(a[i]) - b[i]));
  }
  return max_diff / max_abs;
}

TEST(ExportFidelity, SelectionBiasIsExportedAndUsed) {
  ThreadPool pool(2);
  TrainOptions o = options(8);
  o.router.aux_coef = 0.0f;
  o.bias_balance = true;
  o.bias_rate = 0.05f;  // large: after 8 steps the bias overrides some router choices
  Trainer t(tiny_config(32), o, random_bytes(1, 6000), {}, &pool);
  for (int i = 0; i < 8; ++i) t.step();
  const std::vector<float> bias = t.selection_bias();
  double largest = 0.0;
  for (float b : bias) largest = std::max(largest, std::fabs(static_cast<double>(b)));
  ASSERT_GT(largest, 0.1);

  gguf::Metadata tok;
  model::add_byte_tokenizer(260, tok);
  const std::string path = temp_path("bias.gguf");
  export_gguf(path, t.layout(), t.params().data(), tok, TensorType::F32, bias);

  const int64_t T = 24;
  std::vector<int32_t> ids = random_bytes(9, T);
  Transformer with_bias(t.layout(), 1, T, &pool), without_bias(t.layout(), 1, T, &pool);
  with_bias.forward(t.params().data(), bias.data(), ids.data(), nullptr, RouterOptions{});
  without_bias.forward(t.params().data(), nullptr, ids.data(), nullptr, RouterOptions{});
  const size_t n = static_cast<size_t>(T * 260);
  // The bias matters here: without it the logits are different.
  std::vector<float> plain(without_bias.logits(), without_bias.logits() + n);
  ASSERT_GT(rel_diff(plain, with_bias.logits(), n), 1e-3);

  auto m = model::Model::load(path);
  EXPECT_TRUE(m->config().expert_score_bias);
  runtime::EngineOptions eo;
  eo.n_ctx = 32;
  eo.pool = &pool;
  runtime::Engine engine(*m, eo);
  std::vector<runtime::BatchRow> rows;
  for (int64_t i = 0; i < T; ++i) rows.push_back({0, static_cast<int32_t>(i), ids[i], true});
  std::vector<float> logits;
  engine.forward(rows, logits);
  ASSERT_EQ(logits.size(), n);
  EXPECT_LT(rel_diff(logits, with_bias.logits(), n), 1e-4);

  // Import keeps the bias apart from the trained parameters.
  ImportedModel back = import_gguf(path);
  EXPECT_EQ(back.selection_bias, bias);
  EXPECT_EQ(back.params, t.params());
  EXPECT_FALSE(back.config.expert_score_bias);

  // Without a bias the file has no exp_probs_b tensors.
  export_gguf(path, t.layout(), t.params().data(), tok, TensorType::F32);
  EXPECT_FALSE(model::Model::load(path)->config().expert_score_bias);
  EXPECT_TRUE(import_gguf(path).selection_bias.empty());
  // A bias of the wrong size is an error.
  const std::vector<float> short_bias(3, 0.0f);
  EXPECT_THROW(export_gguf(path, t.layout(), t.params().data(), tok, TensorType::F32, short_bias), Error);
  std::filesystem::remove(path);
}

TEST(ExportFidelity, Q8RowLengthsCheckedUpFront) {
  const ParamLayout ok(tiny_config(32)), odd(tiny_config(48));
  EXPECT_NO_THROW(check_export_type(ok, TensorType::Q8_0));
  EXPECT_NO_THROW(check_export_type(odd, TensorType::F16));
  try {
    check_export_type(odd, TensorType::Q8_0);
    ADD_FAILURE() << "rows of 48 accepted for q8_0";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("multiples of 32"), std::string::npos) << e.what();
  }
  EXPECT_THROW(check_export_type(ok, TensorType::Q4_K), Error);
}

TEST(CheckpointData, OtherTrainingDataIsRefused) {
  ThreadPool pool(2);
  const std::string path = temp_path("ck");
  {
    Trainer first(tiny_config(32), options(4), random_bytes(1, 3000), {}, &pool);
    first.step();
    save_checkpoint(path, first);
  }
  Trainer same(tiny_config(32), options(4), random_bytes(1, 3000), {}, &pool);
  EXPECT_NO_THROW(load_checkpoint(path, same));
  EXPECT_EQ(same.steps_done(), 1);
  std::vector<int32_t> edited = random_bytes(1, 3000);
  edited[1234] = edited[1234] == 'a' ? 'b' : 'a';  // one token differs
  Trainer other(tiny_config(32), options(4), edited, {}, &pool);
  try {
    load_checkpoint(path, other);
    ADD_FAILURE() << "a checkpoint of other data was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("different training data"), std::string::npos) << e.what();
  }
  EXPECT_EQ(other.steps_done(), 0);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace frugal::train

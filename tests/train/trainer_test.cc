// The training loop on a small generated text: the loss falls, runs are
// bit-identical for a seed, a checkpoint resumes to the same trajectory,
// corrupt or mismatched checkpoints are refused, bias balancing evens the
// load, and an exported model gives frugal's Engine the training logits.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
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

// Sentences from a small grammar, as byte tokens: enough structure to learn.
std::vector<int32_t> generated_text(uint64_t seed, size_t n_bytes) {
  const char* subjects[] = {"the cat", "a dog", "my friend", "the king", "our ship"};
  const char* verbs[] = {"sees", "likes", "finds", "eats", "follows"};
  const char* objects[] = {"the moon.", "a red apple.", "the old road.", "some bread.", "the sea."};
  Rng rng(seed);
  std::string text;
  while (text.size() < n_bytes) {
    text += subjects[rng.next_u64() % 5];
    text += ' ';
    text += verbs[rng.next_u64() % 5];
    text += ' ';
    text += objects[rng.next_u64() % 5];
    text += '\n';
  }
  std::vector<int32_t> ids;
  for (unsigned char ch : text) ids.push_back(ch);
  return ids;
}

model::ModelConfig small_config() {
  ModelShape s;
  s.n_vocab = 260;
  s.n_embd = 32;
  s.n_layer = 2;
  s.n_head = 4;
  s.n_head_kv = 2;
  s.head_dim = 8;
  s.n_expert = 4;
  s.n_expert_used = 2;
  s.n_ff_exp = 32;
  s.n_ctx = 32;
  return make_config(s);
}

TrainOptions small_options(int64_t steps) {
  TrainOptions o;
  o.steps = steps;
  o.batch = 4;
  o.seq_len = 32;
  o.accum = 2;
  o.schedule.lr = 1e-2f;
  o.schedule.warmup_steps = 5;
  o.seed = 42;
  return o;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("frugal_train_test_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

TEST(TrainLoop, LossFallsOnText) {
  ThreadPool pool(2);
  Trainer t(small_config(), small_options(60), generated_text(1, 20000), generated_text(2, 4000), &pool);
  const double before = t.evaluate().loss;
  EXPECT_NEAR(before, std::log(260.0), 0.3);  // near uniform at the start
  StepStats last;
  for (int i = 0; i < 60; ++i) last = t.step();
  const EvalStats after = t.evaluate();
  EXPECT_LT(after.loss, 2.6) << "from " << before;
  EXPECT_LT(last.loss, 2.6);
  ASSERT_EQ(after.expert_load.size(), 2u);
  double share = 0.0;
  for (double s : after.expert_load[0]) share += s;
  EXPECT_NEAR(share, 1.0, 1e-9);
  EXPECT_GT(after.router_entropy[0], 0.0);
}

TEST(TrainLoop, SameSeedIsBitIdentical) {
  ThreadPool pool(2);
  auto run = [&](uint64_t seed) {
    TrainOptions o = small_options(6);
    o.seed = seed;
    Trainer t(small_config(), o, generated_text(1, 8000), {}, &pool);
    std::vector<double> losses;
    for (int i = 0; i < 6; ++i) losses.push_back(t.step().loss);
    return losses;
  };
  const auto a = run(7), b = run(7), c = run(8);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << "step " << i;  // bit-identical
  EXPECT_NE(a.back(), c.back());
}

TEST(TrainLoop, CheckpointResumesTheSameTrajectory) {
  ThreadPool pool(2);
  const auto data = generated_text(3, 8000);
  Trainer straight(small_config(), small_options(8), data, {}, &pool);
  for (int i = 0; i < 8; ++i) straight.step();

  const std::string path = temp_path("ck");
  {
    Trainer first(small_config(), small_options(8), data, {}, &pool);
    for (int i = 0; i < 5; ++i) first.step();
    save_checkpoint(path, first);
  }
  Trainer resumed(small_config(), small_options(8), data, {}, &pool);
  load_checkpoint(path, resumed);
  EXPECT_EQ(resumed.steps_done(), 5);
  for (int i = 0; i < 3; ++i) resumed.step();
  EXPECT_EQ(resumed.params(), straight.params());

  // Other run options: refused with a clear error.
  TrainOptions other = small_options(8);
  other.schedule.lr = 5e-3f;
  Trainer mismatched(small_config(), other, data, {}, &pool);
  EXPECT_THROW(load_checkpoint(path, mismatched), Error);
  // One flipped byte: refused.
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    char ch = 0;
    f.read(&ch, 1);
    f.seekp(100);
    ch = static_cast<char>(ch ^ 0x40);
    f.write(&ch, 1);
  }
  try {
    load_checkpoint(path, resumed);
    ADD_FAILURE() << "a corrupt checkpoint was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt"), std::string::npos) << e.what();
  }
  std::filesystem::resize_file(path, 20);
  EXPECT_THROW(load_checkpoint(path, resumed), Error);
  std::filesystem::remove(path);
}

TEST(TrainLoop, BiasBalancingEvensTheLoad) {
  ThreadPool pool(2);
  auto imbalance = [&](bool balance) {
    TrainOptions o = small_options(40);
    o.router.aux_coef = 0.0f;
    o.bias_balance = balance;
    o.bias_rate = 0.01f;
    Trainer t(small_config(), o, generated_text(4, 20000), generated_text(5, 4000), &pool);
    for (int i = 0; i < 40; ++i) t.step();
    const EvalStats ev = t.evaluate();
    double worst = 0.0;
    for (const auto& layer : ev.expert_load)
      for (double s : layer) worst = std::max(worst, std::fabs(s - 0.25));
    return worst;
  };
  EXPECT_LE(imbalance(true), imbalance(false));
}

TEST(TrainExport, EngineLogitsMatchTrainingForward) {
  ThreadPool pool(2);
  Trainer t(small_config(), small_options(10), generated_text(6, 8000), {}, &pool);
  for (int i = 0; i < 10; ++i) t.step();  // trained a little: routing is not uniform
  gguf::Metadata tok;
  model::add_byte_tokenizer(260, tok);
  const std::string path = temp_path("export.gguf");
  export_gguf(path, t.layout(), t.params().data(), tok, TensorType::F32);

  const int64_t T = 24;
  std::vector<int32_t> ids = generated_text(9, T);
  ids.resize(T);
  Transformer fwd(t.layout(), 1, T, &pool);
  fwd.forward(t.params().data(), nullptr, ids.data(), nullptr, RouterOptions{});

  auto m = model::Model::load(path);
  runtime::EngineOptions eo;
  eo.n_ctx = 32;
  eo.pool = &pool;
  runtime::Engine engine(*m, eo);
  std::vector<runtime::BatchRow> rows;
  for (int64_t i = 0; i < T; ++i) rows.push_back({0, static_cast<int32_t>(i), ids[i], true});
  std::vector<float> logits;
  engine.forward(rows, logits);
  ASSERT_EQ(logits.size(), static_cast<size_t>(T * 260));
  double max_abs = 0.0, max_diff = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(fwd.logits()[i])));
    max_diff = std::max(max_diff, std::fabs(static_cast<double>(logits[i]) - fwd.logits()[i]));
  }
  EXPECT_LT(max_diff, 1e-4 * max_abs) << "max |logit| " << max_abs;

  // Import gives back the same parameters.
  ImportedModel back = import_gguf(path);
  EXPECT_EQ(back.params, t.params());
  EXPECT_TRUE(back.tokenizer.has("tokenizer.ggml.tokens"));
  // Q8_0 and F16 exports load too.
  export_gguf(path, t.layout(), t.params().data(), tok, TensorType::Q8_0);
  EXPECT_NO_THROW(model::Model::load(path));
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace frugal::train

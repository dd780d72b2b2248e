// One completion over a tiny synthetic model: greedy output is the argmax
// chain of the engine's logits, and the loop stops where it should (length,
// stop string, end of generation, full context), with clear errors.
#include "runtime/generator.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "base/error.h"
#include "base/utf8.h"
#include "model/forward_test_model.h"
#include "model/presets.h"

namespace frugal::runtime {
namespace {

using model::testing::TempModel;

struct Fixture {
  TempModel file{"generator"};
  std::unique_ptr<model::Model> m;
  std::optional<tokenizer::Tokenizer> tok;
  Fixture() {
    model::testing::write_test_model(model::find_preset("qwen3moe", "tiny").config, file.path, TensorType::Q8_0);
    m = model::Model::load(file.path);
    tok.emplace(tokenizer::Tokenizer::from_metadata(m->file().metadata()));
  }
};

GenerateParams greedy(int n) {
  GenerateParams p;
  p.n_predict = n;
  p.sampling.temperature = 0;
  return p;
}

const std::vector<int32_t> kPrompt = {256, 72, 101, 108, 108, 111};

TEST(Generator, GreedyIsTheArgmaxChainOfTheEngine) {
  Fixture f;
  Engine e(*f.m, {});
  GenerateParams p = greedy(12);
  p.stop_at_end_of_generation = false;
  std::string text;
  std::vector<int32_t> seen;
  GenerateCallbacks cb;
  cb.on_text = [&](std::string_view t) { text += t; return true; };
  cb.on_token = [&](int32_t id) { seen.push_back(id); };
  const GenerateStats s = generate(e, *f.tok, kPrompt, p, cb);
  EXPECT_EQ(s.n_prompt, 6);
  EXPECT_EQ(s.n_generated, 12);
  EXPECT_EQ(s.stop, StopReason::kLength);
  EXPECT_EQ(seen, s.tokens);
  EXPECT_EQ(text, to_valid_utf8(f.tok->decode(s.tokens)));  // byte tokens out of place become U+FFFD

  // Recompute from scratch on a fresh engine, one full batch per step.
  Engine ref(*f.m, {});
  std::vector<int32_t> ids = kPrompt;
  std::vector<float> logits;
  for (int step = 0; step < 12; ++step) {
    ref.clear_sequence(0);
    std::vector<BatchRow> rows;
    for (size_t i = 0; i < ids.size(); ++i) rows.push_back({0, int32_t(i), ids[i], i + 1 == ids.size()});
    ref.forward(rows, logits);
    const int32_t next = int32_t(std::max_element(logits.begin(), logits.end()) - logits.begin());
    EXPECT_EQ(next, s.tokens[size_t(step)]) << "step " << step;
    ids.push_back(next);
  }
  EXPECT_EQ(e.sequence_length(0), int32_t(kPrompt.size() + 11));
}

TEST(Generator, PrefillChunksDoNotChangeTheOutput) {
  // The prompt in chunks of 1, 2 and 4 rows (n_batch) and in one batch: same
  // greedy continuation, the cache the same length.
  Fixture f;
  GenerateParams p = greedy(8);
  p.stop_at_end_of_generation = false;
  Engine whole(*f.m, {});
  const GenerateStats want = generate(whole, *f.tok, kPrompt, p, {});
  for (int n_batch : {1, 2, 4}) {
    Engine e(*f.m, {});
    p.n_batch = n_batch;
    const GenerateStats got = generate(e, *f.tok, kPrompt, p, {});
    EXPECT_EQ(got.tokens, want.tokens) << "n_batch " << n_batch;
    EXPECT_EQ(e.sequence_length(0), whole.sequence_length(0));
  }
  p.n_batch = 0;
  Engine e(*f.m, {});
  EXPECT_THROW(generate(e, *f.tok, kPrompt, p, {}), Error);
}

TEST(Generator, StopStringEndsTheTextBeforeIt) {
  Fixture f;
  Engine e(*f.m, {});
  GenerateParams p = greedy(20);
  p.stop_at_end_of_generation = false;
  // The text as streamed (valid UTF-8), and a stop string of one whole
  // character from inside it.
  const std::string all = to_valid_utf8(f.tok->decode(generate(e, *f.tok, kPrompt, p, {}).tokens));
  size_t a = 1, b;
  while (a < all.size() && (static_cast<unsigned char>(all[a]) & 0xC0) == 0x80) ++a;
  for (b = a + 1; b < all.size() && (static_cast<unsigned char>(all[b]) & 0xC0) == 0x80;) ++b;
  ASSERT_LT(b, all.size());
  const std::string stop = all.substr(a, b - a);
  p.stop = {stop};
  std::string text;
  GenerateCallbacks cb;
  cb.on_text = [&](std::string_view t) { text += t; return true; };
  const GenerateStats s = generate(e, *f.tok, kPrompt, p, cb);
  EXPECT_EQ(s.stop, StopReason::kStopString);
  EXPECT_EQ(text, all.substr(0, all.find(stop)));
}

TEST(Generator, EndOfGenerationTokenStopsAndIsNotShown) {
  Fixture f;
  Engine e(*f.m, {});
  GenerateParams p = greedy(50);
  p.sampling.logit_bias = {{257, 1e4f}};  // <|eos|> as soon as possible
  std::string text;
  GenerateCallbacks cb;
  cb.on_text = [&](std::string_view t) { text += t; return true; };
  const GenerateStats s = generate(e, *f.tok, kPrompt, p, cb);
  EXPECT_EQ(s.stop, StopReason::kEndOfGeneration);
  EXPECT_EQ(s.tokens, std::vector<int32_t>{257});
  EXPECT_EQ(text, "");
}

TEST(Generator, StopsWhenTheContextIsFullAndCanBeCancelled) {
  Fixture f;
  EngineOptions o;
  o.n_ctx = 10;
  Engine e(*f.m, o);
  GenerateParams p = greedy(-1);
  p.stop_at_end_of_generation = false;
  const GenerateStats s = generate(e, *f.tok, kPrompt, p, {});
  EXPECT_EQ(s.stop, StopReason::kContextFull);
  EXPECT_EQ(s.n_generated, 5);  // positions 6..9 filled by 4 generated tokens, then one more sampled
  GenerateCallbacks cb;
  int calls = 0;
  cb.on_text = [&](std::string_view) { return ++calls < 2; };
  p.n_predict = 8;
  EXPECT_EQ(generate(e, *f.tok, kPrompt, p, cb).stop, StopReason::kCancelled);
}

TEST(Generator, ReusesACachedPrefix) {
  Fixture f;
  Engine e(*f.m, {});
  GenerateParams p = greedy(6);
  p.stop_at_end_of_generation = false;
  const GenerateStats first = generate(e, *f.tok, kPrompt, p, {});
  std::vector<int32_t> longer = kPrompt;
  longer.insert(longer.end(), first.tokens.begin(), first.tokens.end() - 1);
  const int n_past = e.sequence_length(0);
  ASSERT_EQ(n_past, int(longer.size()));
  longer.push_back(first.tokens.back());
  longer.push_back(65);
  p.n_past = n_past;
  const GenerateStats reused = generate(e, *f.tok, longer, p, {});
  EXPECT_EQ(reused.n_prompt, int(longer.size()));
  EXPECT_EQ(reused.n_reused, n_past);
  Engine fresh(*f.m, {});
  p.n_past = 0;
  EXPECT_EQ(generate(fresh, *f.tok, longer, p, {}).tokens, reused.tokens);
  p.n_past = 3;  // not the cache's length
  EXPECT_THROW(generate(e, *f.tok, longer, p, {}), Error);
}

TEST(Generator, BadPromptsAreErrors) {
  Fixture f;
  EngineOptions o;
  o.n_ctx = 6;
  Engine e(*f.m, o);
  const GenerateParams p = greedy(4);
  EXPECT_THROW(generate(e, *f.tok, std::vector<int32_t>{}, p, {}), Error);
  EXPECT_THROW(generate(e, *f.tok, std::vector<int32_t>{1, 99999}, p, {}), Error);
  EXPECT_THROW(generate(e, *f.tok, kPrompt, p, {}), Error);  // 6 tokens leave no room in 6
}

}  // namespace
}  // namespace frugal::runtime

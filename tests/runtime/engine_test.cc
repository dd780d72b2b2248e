// The engine gives the same logits however a prompt is cut into batches
// (one batch, one token at a time, chunks), whichever sequences share a batch,
// for every architecture; bad rows are errors that leave the cache unchanged.
#include <gtest/gtest.h>

#include <cmath>

#include "base/error.h"
#include "model/forward_test_model.h"
#include "runtime/engine.h"
#include "runtime/engine_test_util.h"

namespace frugal::runtime {
namespace {

using model::testing::TempModel;
using model::testing::write_test_model;
using testing::max_rel_diff;
using testing::run_steps;

const std::vector<int32_t> kPrompt = {256, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100, 33, 7, 300};
const std::vector<int32_t> kOther = {256, 5, 17, 400, 90, 91, 92, 3, 260};


struct ArchCase {
  std::string arch, preset;
  TensorType type;
};

std::vector<ArchCase> cases() {
  std::vector<ArchCase> out;
  for (const auto& [arch, preset] : model::testing::tiny_presets()) {
    out.push_back({arch, preset, TensorType::F32});
    out.push_back({arch, preset, TensorType::Q8_0});
  }
  return out;
}

TEST(Engine, BatchIncrementalAndChunkedAgreeForEveryArchitecture) {
  ThreadPool pool(2);
  for (const ArchCase& c : cases()) {
    SCOPED_TRACE(c.arch + " " + c.preset + " " + tensor_type_name(c.type));
    TempModel f(c.arch + c.preset + tensor_type_name(c.type));
    write_test_model(model::find_preset(c.arch, c.preset).config, f.path, c.type);
    const auto m = model::Model::load(f.path);
    EngineOptions o;
    o.n_ctx = 64;
    o.pool = &pool;
    Engine batch(*m, o), incremental(*m, o), chunked(*m, o);
    const auto a = run_steps(batch, kPrompt, kPrompt.size());
    const auto b = run_steps(incremental, kPrompt, 1);
    const auto ch = run_steps(chunked, kPrompt, 5);
    ASSERT_EQ(a.size(), kPrompt.size() * size_t(m->config().n_vocab));
    for (float x : a) ASSERT_TRUE(std::isfinite(x));
    EXPECT_LT(max_rel_diff(a, b), 1e-4);
    EXPECT_LT(max_rel_diff(a, ch), 1e-4);
    EXPECT_EQ(batch.sequence_length(0), int32_t(kPrompt.size()));
    // Logits differ from position to position (the model is not degenerate).
    EXPECT_GT(max_rel_diff(std::vector<float>(a.begin(), a.begin() + m->config().n_vocab),
                           std::vector<float>(a.begin() + m->config().n_vocab, a.begin() + 2 * m->config().n_vocab)),
              1e-3);
  }
}

TEST(Engine, InterleavedSequencesMatchEachAlone) {
  ThreadPool pool(2);
  for (const auto& [arch, preset] : model::testing::tiny_presets()) {
    SCOPED_TRACE(arch + " " + preset);
    TempModel f("inter" + arch + preset);
    write_test_model(model::find_preset(arch, preset).config, f.path);
    const auto m = model::Model::load(f.path);
    const int64_t nv = m->config().n_vocab;
    EngineOptions o;
    o.n_ctx = 32;
    o.pool = &pool;
    Engine alone(*m, o);
    const auto want_a = run_steps(alone, kPrompt, kPrompt.size());
    alone.clear_sequence(0);
    const auto want_b = run_steps(alone, kOther, kOther.size());

    o.n_seq_max = 3;
    Engine both(*m, o);
    // Sequence 2 prefills in one batch with sequence 1's first chunk, then
    // the two advance by different step sizes, rows interleaved.
    std::vector<float> got_a, got_b, logits;
    size_t ia = 0, ib = 0;
    int round = 0;
    while (ia < kPrompt.size() || ib < kOther.size()) {
      std::vector<BatchRow> rows;
      std::vector<int> owner;
      const size_t na = round == 0 ? 3 : 1, nb = round == 0 ? 4 : 2;
      for (size_t s = 0; s < std::max(na, nb); ++s) {
        if (s < nb && ib < kOther.size()) {
          rows.push_back({1, int32_t(ib), kOther[ib], true});
          owner.push_back(1);
          ++ib;
        }
        if (s < na && ia < kPrompt.size()) {
          rows.push_back({2, int32_t(ia), kPrompt[ia], true});
          owner.push_back(2);
          ++ia;
        }
      }
      both.forward(rows, logits);
      for (size_t r = 0; r < rows.size(); ++r) {
        auto& dst = owner[r] == 2 ? got_a : got_b;
        dst.insert(dst.end(), logits.begin() + r * nv, logits.begin() + (r + 1) * nv);
      }
      ++round;
    }
    EXPECT_LT(max_rel_diff(want_a, got_a), 1e-4);
    EXPECT_LT(max_rel_diff(want_b, got_b), 1e-4);
    EXPECT_EQ(both.sequence_length(0), 0);
  }
}

TEST(Engine, BadRowsAreErrorsAndLeaveTheCacheUnchanged) {
  TempModel f("bad");
  write_test_model(model::find_preset("qwen3moe", "tiny").config, f.path);
  const auto m = model::Model::load(f.path);
  EngineOptions o;
  o.n_ctx = 8;
  o.n_seq_max = 2;
  Engine e(*m, o);
  std::vector<float> logits;
  const std::vector<BatchRow> prefix = {{0, 0, 1, false}, {0, 1, 2, true}};
  e.forward(prefix, logits);
  const std::vector<float> after_prefix = logits;

  auto expect_error = [&](std::vector<BatchRow> rows, const std::string& needle) {
    try {
      e.forward(rows, logits);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find(needle), std::string::npos) << err.what();
    }
    EXPECT_EQ(e.sequence_length(0), 2);
    EXPECT_EQ(e.sequence_length(1), 0);
  };
  expect_error({{0, 3, 5, true}}, "does not continue its cache (expected 2)");   // gap
  expect_error({{0, 1, 5, true}}, "does not continue its cache");                // rewrite
  expect_error({{0, 2, 5, true}, {0, 2, 6, true}}, "does not continue");         // repeated position
  expect_error({{1, 0, 5, true}, {2, 0, 5, true}}, "sequence id 2 is out of range");
  expect_error({{0, 2, 512, true}}, "token id 512 is out of range");
  expect_error({{0, 2, -1, true}}, "token id -1");
  std::vector<BatchRow> too_long;
  for (int32_t p = 2; p < 9; ++p) too_long.push_back({0, p, 3, true});
  expect_error(too_long, "past the context length 8");

  // The cache still holds the prefix: continuing gives what a fresh run gives.
  e.forward(std::vector<BatchRow>{{0, 2, 3, true}}, logits);
  Engine fresh(*m, o);
  std::vector<float> want;
  fresh.forward(std::vector<BatchRow>{{0, 0, 1, false}, {0, 1, 2, false}, {0, 2, 3, true}}, want);
  EXPECT_EQ(logits, want);
  EXPECT_THROW(e.clear_sequence(5), Error);
  EXPECT_THROW(e.sequence_length(-1), Error);
}

TEST(Engine, ClearedSequenceStartsOver) {
  TempModel f("clear");
  write_test_model(model::find_preset("deepseek2", "tiny").config, f.path);
  const auto m = model::Model::load(f.path);
  Engine e(*m, EngineOptions{});
  EXPECT_EQ(e.n_ctx(), std::min<int>(4096, int(m->config().n_ctx_train)));
  const auto first = run_steps(e, kOther, 4);
  e.clear_sequence(0);
  EXPECT_EQ(e.sequence_length(0), 0);
  const auto second = run_steps(e, kOther, 4);
  EXPECT_EQ(first, second);
}

TEST(Engine, HalfPrecisionCacheStaysClose) {
  for (const char* arch : {"qwen2moe", "deepseek2"}) {
    TempModel f(std::string("f16") + arch);
    write_test_model(model::find_preset(arch, "tiny").config, f.path);
    const auto m = model::Model::load(f.path);
    EngineOptions o;
    o.n_ctx = 32;
    Engine full(*m, o);
    o.kv_type = KvType::kF16;
    Engine half(*m, o);
    const double d = max_rel_diff(run_steps(full, kPrompt, 3), run_steps(half, kPrompt, 3));
    EXPECT_LT(d, 2e-2) << arch;
    EXPECT_GT(d, 0.0) << arch;  // the f16 path really ran
  }
}

}  // namespace
}  // namespace frugal::runtime

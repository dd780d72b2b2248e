// Models with recurrent layers (qwen3next, qwen35moe): each sequence's
// state starts afresh when the sequence is cleared, is copied with the
// sequence, and never leaks between sequences of one batch.
#include <gtest/gtest.h>

#include <cmath>

#include "model/forward_test_model.h"
#include "runtime/engine.h"
#include "runtime/engine_test_util.h"
#include "runtime/kv_cache.h"

namespace frugal::runtime {
namespace {

using model::testing::TempModel;
using model::testing::write_test_model;
using testing::max_rel_diff;
using testing::run_steps;

const std::vector<int32_t> kFirst = {256, 72, 101, 108, 108, 111, 44, 32, 119, 111};
const std::vector<int32_t> kSecond = {256, 5, 17, 400, 90, 91, 92, 3, 260};
const std::vector<int32_t> kMore = {33, 7, 300, 41};

std::vector<float> logits_of(Engine& e, int32_t seq, const std::vector<int32_t>& ids) {
  std::vector<BatchRow> rows;
  const int32_t start = e.sequence_length(seq);
  for (size_t i = 0; i < ids.size(); ++i) rows.push_back({seq, start + int32_t(i), ids[i], true});
  std::vector<float> logits;
  e.forward(rows, logits);
  return logits;
}

std::vector<int32_t> concat(std::vector<int32_t> a, const std::vector<int32_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class RecurrentState : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    write_test_model(model::find_preset(GetParam(), "tiny").config, file_.path);
    model_ = model::Model::load(file_.path);
    ASSERT_TRUE(model_->config().has_recurrent_layers());
  }
  TempModel file_{std::string("recurrent_") + GetParam()};
  std::unique_ptr<model::Model> model_;
};

TEST_P(RecurrentState, ClearedSequenceStartsAfresh) {
  EngineOptions o;
  o.n_ctx = 32;
  Engine fresh(*model_, o), reused(*model_, o);
  const auto want = logits_of(fresh, 0, kSecond);
  logits_of(reused, 0, kFirst);
  reused.clear_sequence(0);
  const auto got = logits_of(reused, 0, kSecond);
  EXPECT_EQ(want, got);  // the same rows through the same code: bit for bit
}

TEST_P(RecurrentState, CopiedSequenceContinuesLikeItsSource) {
  ThreadPool pool(2);
  EngineOptions o;
  o.n_ctx = 32;
  o.pool = &pool;
  Engine alone(*model_, o);
  const auto whole = logits_of(alone, 0, concat(kFirst, kMore));
  const int64_t nv = model_->config().n_vocab;
  const std::vector<float> want(whole.end() - int64_t(kMore.size()) * nv, whole.end());

  o.n_seq_max = 3;
  Engine e(*model_, o);
  logits_of(e, 0, kFirst);
  logits_of(e, 2, kSecond);  // another sequence's state must stay its own
  e.copy_sequence(0, 1);
  EXPECT_EQ(e.sequence_length(1), int32_t(kFirst.size()));
  // Both continue in one batch, rows interleaved.
  std::vector<BatchRow> rows;
  for (size_t i = 0; i < kMore.size(); ++i)
    for (int32_t seq : {0, 1}) rows.push_back({seq, int32_t(kFirst.size() + i), kMore[i], true});
  std::vector<float> logits;
  e.forward(rows, logits);
  std::vector<float> got[2];
  for (size_t r = 0; r < rows.size(); ++r)
    got[r % 2].insert(got[r % 2].end(), logits.begin() + int64_t(r) * nv, logits.begin() + int64_t(r + 1) * nv);
  EXPECT_LT(max_rel_diff(want, got[0]), 1e-5);
  EXPECT_LT(max_rel_diff(want, got[1]), 1e-5);
}

TEST_P(RecurrentState, CacheHoldsRowsOnlyForAttentionLayers) {
  const model::ModelConfig& c = model_->config();
  int64_t attention_layers = 0, recurrent_layers = 0;
  for (int64_t l = 0; l < c.n_layer; ++l) (c.layer_is_recurrent(l) ? recurrent_layers : attention_layers) += 1;
  ASSERT_GT(attention_layers, 0);
  ASSERT_GT(recurrent_layers, 0);
  KvCache kv(c, 16, 1, KvType::kF32);
  const size_t rows = size_t(attention_layers) * 16 * size_t(model::kv_key_width(c) + model::kv_value_width(c)) * 4;
  EXPECT_EQ(kv.packed_bytes(16), rows);
  EXPECT_EQ(kv.bytes_per_sequence(), (rows + 63) / 64 * 64 + size_t(recurrent_layers * c.recurrent_state_floats()) * 4);
}

INSTANTIATE_TEST_SUITE_P(Hybrid, RecurrentState, ::testing::Values("qwen3next", "qwen35moe"));

}  // namespace
}  // namespace frugal::runtime

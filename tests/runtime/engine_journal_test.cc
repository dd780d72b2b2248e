// An engine that follows another through its journal (runtime/engine_journal.h,
// what `serve --expert-parallel` does across ranks), here through an
// in-memory channel: after prefill, cached and reused prefix blocks, a
// copied sequence, released blocks and cleared slots, and idle keep-alives,
// the follower's caches give the same logits bits as the leader's; a
// follower of another shape and a malformed message are errors.
#include <gtest/gtest.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "base/error.h"
#include "model/forward_test_model.h"
#include "runtime/engine.h"
#include "runtime/engine_journal.h"

namespace frugal::runtime {
namespace {

using model::testing::TempModel;
using model::testing::write_test_model;

// Messages from the leader's thread to the follower's.
struct Pipe {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::vector<uint8_t>> messages;
  size_t sent = 0;
  JournalChannel send() {
    return [this](std::vector<uint8_t>& bytes) {
      std::lock_guard lk(mu);
      messages.push_back(bytes);
      ++sent;
      cv.notify_all();
    };
  }
  JournalChannel receive() {
    return [this](std::vector<uint8_t>& bytes) {
      std::unique_lock lk(mu);
      cv.wait(lk, [&] { return !messages.empty(); });
      bytes = std::move(messages.front());
      messages.pop_front();
    };
  }
};

std::vector<model::BatchRow> rows_of(int32_t seq, int32_t pos0, const std::vector<int32_t>& tokens) {
  std::vector<model::BatchRow> rows;
  for (size_t i = 0; i < tokens.size(); ++i)
    rows.push_back({seq, pos0 + static_cast<int32_t>(i), tokens[i], i + 1 == tokens.size()});
  return rows;
}

std::vector<int32_t> slice(const std::vector<int32_t>& v, size_t b, size_t e) {
  return std::vector<int32_t>(v.begin() + static_cast<std::ptrdiff_t>(b), v.begin() + static_cast<std::ptrdiff_t>(e));
}

TEST(EngineJournal, FollowerCachesGiveTheLeadersLogits) {
  TempModel f("journal_qwen3moe");
  write_test_model(model::find_preset("qwen3moe", "tiny").config, f.path, TensorType::Q8_0);
  const auto m = model::Model::load(f.path);
  ThreadPool pool(1);
  EngineOptions o{.n_ctx = 64, .n_seq_max = 3, .pool = &pool, .prefix_blocks = -1, .prefix_block_tokens = 4};
  Engine leader(*m, o), follower(*m, o);
  Pipe pipe;
  bool finished = false;
  std::string error;
  std::thread follow([&] {
    try {
      finished = follow_engine(follower, pipe.receive());
    } catch (const Error& e) {
      error = e.what();
    }
  });
  std::vector<int32_t> prompt;
  for (int32_t i = 0; i < 13; ++i) prompt.push_back(256 + 7 * i);
  std::vector<float> logits;
  {
    EngineJournal journal(leader, pipe.send(), std::chrono::milliseconds(20));
    leader.clear_sequence(0);
    leader.forward(rows_of(0, 0, prompt), logits);
    std::vector<int32_t> chain0, chain2;
    for (size_t b = 0; b < 3; ++b) ASSERT_TRUE(leader.cache_block(0, slice(prompt, 4 * b, 4 * b + 4), chain0));
    leader.copy_sequence(0, 1);
    // Sequence 2 starts from the cached prefix (12 positions), then one
    // batch: its last prompt token and a decode row of sequences 0 and 1.
    ASSERT_EQ(leader.reuse_prefix(2, prompt, chain2), 12);
    std::vector<model::BatchRow> rows = {{2, 12, prompt[12], true}, {0, 13, 300, true}, {1, 13, 301, true}};
    leader.forward(rows, logits);
    leader.release_blocks(chain0);
    // Idle: keep-alives go out (bounded wait).
    for (int i = 0; i < 1000; ++i) {
      {
        std::lock_guard lk(pipe.mu);
        if (pipe.sent > 3) break;  // the shape, 2 passes, and now a keep-alive
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    leader.clear_sequence(1);
    leader.forward(rows_of(1, 0, {256, 9, 10}), logits);
    journal.stop(true);
  }
  follow.join();
  ASSERT_EQ(error, "");
  EXPECT_TRUE(finished);
  EXPECT_GE(pipe.sent, 6u);  // the shape, 3 passes, a keep-alive or more, the stop
  // The journal is gone: one more pass on each engine alone.
  const std::vector<model::BatchRow> last = {{0, 14, 5, true}, {1, 3, 6, true}, {2, 13, 7, true}};
  std::vector<float> want, got;
  leader.forward(last, want);
  follower.forward(last, got);
  ASSERT_EQ(want.size(), 3 * size_t(m->config().n_vocab));
  EXPECT_EQ(want, got);
  for (int32_t s = 0; s < 3; ++s) EXPECT_EQ(follower.sequence_length(s), leader.sequence_length(s));
}

TEST(EngineJournal, AFollowerOfAnotherShapeOrAMalformedMessageIsAnError) {
  TempModel f("journal_shape");
  write_test_model(model::find_preset("qwen3moe", "tiny").config, f.path, TensorType::Q8_0);
  const auto m = model::Model::load(f.path);
  Engine leader(*m, {.n_ctx = 64, .n_seq_max = 2}), other(*m, {.n_ctx = 64, .n_seq_max = 3});
  Pipe pipe;
  EngineJournal journal(leader, pipe.send(), std::chrono::seconds(10));
  try {
    follow_engine(other, pipe.receive());
    FAIL() << "a follower of another shape followed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("give every rank the same flags"), std::string::npos) << e.what();
  }
  try {
    follow_engine(leader, [](std::vector<uint8_t>& bytes) { bytes = {1, 2, 3}; });
    FAIL() << "a malformed message was applied";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("malformed"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace frugal::runtime

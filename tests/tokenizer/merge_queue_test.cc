// The merge loop's queue: whatever the keys (ascending streaks that fill its
// sorted runs, keys that fall below the last one taken, random ones that go
// to the radix heap), pops come out exactly as from a plain binary heap.
#include "tokenizer/merge_queue.h"

#include <gtest/gtest.h>

#include <functional>
#include <queue>
#include <random>

namespace frugal::tokenizer {
namespace {

using Reference = std::priority_queue<uint64_t, std::vector<uint64_t>, std::greater<>>;

// Pushes and pops as `next_key` says, checking every pop against the reference.
template <class NextKey>
void check_against_heap(MergeQueue& q, std::mt19937& rng, int steps, NextKey next_key) {
  Reference ref;
  uint64_t last = 0;
  for (int i = 0; i < steps; ++i) {
    if (ref.empty() || rng() % 3 != 0) {
      const uint64_t k = next_key(last);
      q.push(k);
      ref.push(k);
    } else {
      ASSERT_FALSE(q.empty());
      last = q.pop();
      ASSERT_EQ(last, ref.top()) << "step " << i;
      ref.pop();
    }
  }
  while (!ref.empty()) {
    ASSERT_FALSE(q.empty());
    ASSERT_EQ(q.pop(), ref.top());
    ref.pop();
  }
  EXPECT_TRUE(q.empty());
}

TEST(MergeQueue, MonotoneKeysInStreaksComeOutInOrder) {
  // As trained merges push them: never below the last pop, many streaks of
  // one order with rising positions at once (more streaks than there are runs).
  std::mt19937 rng(1);
  MergeQueue q;
  for (int trial = 0; trial < 50; ++trial) {
    q.reset();
    std::vector<uint64_t> streak(1 + rng() % 20, 0);
    check_against_heap(q, rng, 4000, [&](uint64_t last) {
      uint64_t& s = streak[rng() % streak.size()];
      s = std::max(s + 1 + rng() % 4, last + rng() % 3);
      return s;
    });
  }
}

TEST(MergeQueue, KeysBelowTheLastPopAndRandomKeysComeOutInOrder) {
  std::mt19937 rng(2);
  MergeQueue q;
  for (int trial = 0; trial < 50; ++trial) {
    q.reset();
    const uint64_t range = trial % 2 ? 64 : ~uint64_t(0);  // many ties, or keys over the whole range
    check_against_heap(q, rng, 4000, [&](uint64_t) { return (uint64_t(rng()) << 32 | rng()) % range; });
  }
}

TEST(MergeQueue, MixedKeysComeOutInOrder) {
  // Mostly rising keys with some below the last pop: every part of the queue at once.
  std::mt19937 rng(3);
  MergeQueue q;
  for (int trial = 0; trial < 50; ++trial) {
    q.reset();
    check_against_heap(q, rng, 4000, [&](uint64_t last) {
      if (rng() % 8 == 0) return last > 0 ? uint64_t(rng()) % last : 0;
      return last + rng() % 1000;
    });
  }
}

TEST(MergeQueue, ResetDropsWhatWasLeft) {
  MergeQueue q;
  for (uint64_t k : {5, 3, 9, 1}) q.push(k);
  EXPECT_EQ(q.pop(), 1u);
  q.reset();
  EXPECT_TRUE(q.empty());
  q.push(7);
  q.push(2);
  EXPECT_EQ(q.pop(), 2u);
  EXPECT_EQ(q.pop(), 7u);
  EXPECT_TRUE(q.empty());
}

}  // namespace
}  // namespace frugal::tokenizer

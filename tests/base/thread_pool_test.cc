#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <numeric>
#include <vector>

#include "base/error.h"

namespace frugal {
namespace {

TEST(ThreadPool, RunsEveryTaskOnce) {
  ThreadPool pool(3);
  for (int rep = 0; rep < 200; ++rep) {
    std::vector<std::atomic<int>> hits(257);
    pool.run(257, [&](int64_t t, int thread) {
      ASSERT_GE(thread, 0);
      ASSERT_LT(thread, 3);
      hits[t].fetch_add(1);
    });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
}

TEST(ThreadPool, ParallelForCoversRange) {
  ThreadPool pool(2);
  std::vector<int> v(1000, 0);
  pool.parallel_for(1000, 7, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) v[i] += 1;
  });
  EXPECT_EQ(std::accumulate(v.begin(), v.end(), 0), 1000);
}

TEST(ThreadPool, RethrowsTaskError) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.run(10, [](int64_t t, int) {
    if (t == 5) fail("task five");
  }), Error);
  // Still usable afterwards.
  std::atomic<int> n{0};
  pool.run(10, [&](int64_t, int) { n++; });
  EXPECT_EQ(n.load(), 10);
}

}  // namespace
}  // namespace frugal

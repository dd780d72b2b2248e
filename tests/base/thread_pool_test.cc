#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
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

namespace frugal {
namespace {

TEST(ThreadPool, ManyTinyJobsBackToBack) {
  ThreadPool pool(2);
  int64_t total = 0;
  for (int rep = 0; rep < 20000; ++rep) {
    std::atomic<int64_t> sum{0};
    const int64_t n = 1 + rep % 5;
    pool.run(n, [&](int64_t t, int) { sum.fetch_add(t + 1); });
    ASSERT_EQ(sum.load(), n * (n + 1) / 2);
    total += sum.load();
  }
  EXPECT_GT(total, 0);
}

TEST(ThreadPool, JobsAfterWorkersFellAsleep) {
  ThreadPool pool(3);
  for (int rep = 0; rep < 5; ++rep) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3));  // longer than the spin
    std::vector<std::atomic<int>> hits(9);
    pool.run(9, [&](int64_t t, int) { hits[t]++; });
    for (auto& h : hits) ASSERT_EQ(h.load(), 1);
  }
}

TEST(ThreadPool, OversubscribedPoolStillCompletes) {
  ThreadPool pool(4 * ThreadPool::available_cpus());
  for (int rep = 0; rep < 50; ++rep) {
    std::atomic<int> n{0};
    pool.run(100, [&](int64_t, int thread) {
      ASSERT_LT(thread, pool.size());
      n++;
    });
    ASSERT_EQ(n.load(), 100);
  }
}

TEST(ThreadPool, NestedRunIsInlineOnTheCallersThreadIndex) {
  ThreadPool pool(2);
  EXPECT_FALSE(ThreadPool::in_task());
  std::vector<std::atomic<int>> hits(8 * 16);
  pool.run(8, [&](int64_t outer, int thread) {
    EXPECT_TRUE(ThreadPool::in_task());
    pool.run(16, [&](int64_t inner, int inner_thread) {
      EXPECT_EQ(inner_thread, thread);  // inline: same thread, same index
      hits[outer * 16 + inner]++;
    });
    pool.parallel_for(10, 1, [&](int64_t, int64_t, int inner_thread) { EXPECT_EQ(inner_thread, thread); });
  });
  EXPECT_FALSE(ThreadPool::in_task());
  for (auto& h : hits) EXPECT_EQ(h.load(), 1);
}

TEST(ThreadPool, ExceptionFromWorkerOrNestedTaskPropagates) {
  ThreadPool pool(2);
  for (int rep = 0; rep < 100; ++rep) {
    // Whichever thread throws, run() rethrows it; tasks not started are skipped.
    EXPECT_THROW(pool.run(64, [&](int64_t t, int) {
      if (t == rep % 64) fail("task ", t);
    }), Error);
  }
  EXPECT_THROW(pool.run(4, [&](int64_t, int) {
    pool.run(3, [](int64_t t, int) {
      if (t == 2) fail("inner");
    });
  }), Error);
  std::atomic<int> n{0};
  pool.run(10, [&](int64_t, int) { n++; });
  EXPECT_EQ(n.load(), 10);
}

TEST(ThreadPool, OutsideThreadsTakeTurns) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  std::vector<std::thread> callers;
  for (int c = 0; c < 3; ++c)
    callers.emplace_back([&] {
      for (int rep = 0; rep < 500; ++rep) pool.run(7, [&](int64_t t, int) { sum += t; });
    });
  for (auto& t : callers) t.join();
  EXPECT_EQ(sum.load(), 3 * 500 * 21);
}

TEST(ThreadPool, ZeroTasksAndSingleThreadPool) {
  ThreadPool one(1);
  int n = 0;
  one.run(5, [&](int64_t, int thread) {
    EXPECT_EQ(thread, 0);
    n++;
  });
  EXPECT_EQ(n, 5);
  one.run(0, [&](int64_t, int) { n++; });
  EXPECT_EQ(n, 5);
  EXPECT_GE(ThreadPool::available_cpus(), 1);
}

}  // namespace
}  // namespace frugal

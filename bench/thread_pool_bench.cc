// Dispatch cost of the thread pool: how long one run() takes when the tasks
// themselves do almost nothing, with the workers spinning (back-to-back jobs,
// as inside a forward pass) and after they have gone to sleep (the first job
// of a decode step after a pause). Run: frugal_microbench --benchmark_filter=ThreadPool
#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "base/thread_pool.h"

namespace frugal {
namespace {

// Back-to-back jobs of n tiny tasks.
void BM_ThreadPoolDispatch(benchmark::State& state) {
  ThreadPool pool(static_cast<int>(state.range(0)));
  const int64_t n_tasks = state.range(1);
  std::atomic<int64_t> sink{0};
  for (auto _ : state) {
    pool.run(n_tasks, [&](int64_t t, int) { sink.fetch_add(t, std::memory_order_relaxed); });
  }
  benchmark::DoNotOptimize(sink.load());
}
BENCHMARK(BM_ThreadPoolDispatch)->Args({2, 2})->Args({2, 64})->Args({4, 4})->UseRealTime();

// A job after the workers have been idle for 5 ms (asleep, not spinning):
// measures the wake-up path. The pause is excluded from the timing.
void BM_ThreadPoolWakeAfterIdle(benchmark::State& state) {
  ThreadPool pool(static_cast<int>(state.range(0)));
  std::atomic<int64_t> sink{0};
  for (auto _ : state) {
    state.PauseTiming();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    state.ResumeTiming();
    pool.run(pool.size(), [&](int64_t t, int) { sink.fetch_add(t, std::memory_order_relaxed); });
  }
  benchmark::DoNotOptimize(sink.load());
}
BENCHMARK(BM_ThreadPoolWakeAfterIdle)->Arg(2)->UseRealTime()->Iterations(200);

// parallel_for over a short range, as a small matmul uses it.
void BM_ThreadPoolParallelFor(benchmark::State& state) {
  ThreadPool pool(2);
  std::atomic<int64_t> sink{0};
  for (auto _ : state) {
    pool.parallel_for(state.range(0), 16, [&](int64_t b, int64_t e, int) {
      sink.fetch_add(e - b, std::memory_order_relaxed);
    });
  }
  benchmark::DoNotOptimize(sink.load());
}
BENCHMARK(BM_ThreadPoolParallelFor)->Arg(256)->UseRealTime();

}  // namespace
}  // namespace frugal

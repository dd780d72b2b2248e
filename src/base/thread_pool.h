// A persistent pool of worker threads. The calling thread takes part in every
// job, so a pool of N threads starts N-1 workers. Workers spin briefly before
// sleeping: decode issues hundreds of small jobs per token, and a futex wake-up
// per job would cost more than the job.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace frugal {

class ThreadPool {
 public:
  // n_threads <= 0 means one per online core.
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(task, thread) for task in [0, n_tasks), tasks handed out one at a
  // time to whichever thread is free; returns when all are done. The first
  // exception thrown by a task is rethrown here. Not reentrant.
  void run(int64_t n_tasks, const std::function<void(int64_t task, int thread)>& fn);

  // Splits [0, n) into contiguous chunks (at least `grain` long), one call
  // fn(begin, end, thread) per chunk.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end, int thread)>& fn);

  // A process-wide pool, sized by set_default_threads() or else one per core.
  static ThreadPool& global();
  static void set_default_threads(int n);

 private:
  void worker(int index);
  void work(int thread);

  int n_threads_ = 1;
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> active_{0};
  std::atomic<int64_t> next_task_{0};
  int64_t n_tasks_ = 0;
  const std::function<void(int64_t, int)>* fn_ = nullptr;
  std::exception_ptr error_;
  std::mutex error_mu_;
  bool stop_ = false;
};

}  // namespace frugal

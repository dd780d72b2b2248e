// A persistent pool of worker threads. The calling thread takes part in every
// job, so a pool of N threads starts N-1 workers.
//
// Wake-up: decode issues a few dozen small jobs per layer, so a sleeping
// worker's futex wake-up per job would cost more than the job. Between jobs a
// worker spins on the job counter for a short while (kSpinMicros) and only
// then sleeps on a futex; the dispatcher makes the wake-up system call only
// when some worker really sleeps. A pool larger than the CPUs this process
// may run on does not spin at all (a spinning thread would steal the core
// that the thread it waits for needs).
//
// Nesting: run() called from inside a task (of this or any pool) runs its
// tasks inline on the calling thread, so a parallel layer may call a
// parallel kernel without deadlock or oversubscription. Two threads outside
// the pool calling run() at once take turns.
#pragma once
#include <atomic>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace frugal {

class ThreadPool {
 public:
  // n_threads <= 0 means one per CPU this process may run on (its affinity
  // mask, not the machine's core count).
  explicit ThreadPool(int n_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(task, thread) for task in [0, n_tasks), tasks handed out one at a
  // time to whichever thread is free; thread is in [0, size()). Returns when
  // all are done. The first exception thrown by a task is rethrown here (the
  // tasks not yet started are skipped).
  void run(int64_t n_tasks, const std::function<void(int64_t task, int thread)>& fn);

  // Splits [0, n) into contiguous chunks (at least `grain` long), one call
  // fn(begin, end, thread) per chunk.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end, int thread)>& fn);

  // True on a thread that is running a task of some pool (nested run()s are
  // inline there).
  static bool in_task();

  // CPUs this process may run on.
  static int available_cpus();

  // A process-wide pool, sized by set_default_threads() or else one per
  // available CPU. set_default_threads() must come before the first global():
  // afterwards a different size is an error (the pool is in use).
  static ThreadPool& global();
  static void set_default_threads(int n);

 private:
  void worker(int index);
  void work(int thread, uint32_t job);

  int n_threads_ = 1;
  bool spin_ = true;  // false when oversubscribed
  std::vector<std::thread> workers_;
  std::mutex run_mu_;  // one job at a time from outside threads

  // The job. generation_ is the futex word: bumped once per job (and at
  // shutdown); sleepers_ counts workers asleep on it. ticket_ holds the
  // job's generation (high 32 bits) and the next task to hand out (low 32
  // bits; kClosed once the job is over), so a worker that wakes late can
  // never take a task of a job it did not see start. run() waits for done_
  // to reach n_tasks_, not for the workers: a worker the OS has not yet
  // scheduled, and that took no task, holds nobody up.
  alignas(64) std::atomic<uint32_t> generation_{0};
  std::atomic<int> sleepers_{0};
  alignas(64) std::atomic<uint64_t> ticket_{0};
  alignas(64) std::atomic<int64_t> done_{0};  // tasks of the job finished (or skipped after an error)
  std::atomic<int64_t> n_tasks_{0};
  std::atomic<const std::function<void(int64_t, int)>*> fn_{nullptr};
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
  std::mutex error_mu_;
  std::atomic<bool> stop_{false};
};

}  // namespace frugal

// A fixed number of threads for the work that blocks: reading a completion
// request's JSON, waiting on its tokens and handing them to the connection
// loop. Sized by a flag (--http-threads) and bounded: a task that finds every
// thread busy and the queue full is refused, and its client gets a 503,
// rather than memory growing without limit.
#pragma once
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace frugal::server {

class WorkerPool {
 public:
  // `threads` threads; at most `max_waiting` tasks wait for one.
  WorkerPool(int threads, size_t max_waiting);
  ~WorkerPool();  // runs what is queued, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // False: every thread is busy and the queue is full.
  bool try_submit(std::function<void()> task);
  int size() const { return static_cast<int>(threads_.size()); }

 private:
  void work();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  size_t idle_ = 0;
  size_t max_waiting_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace frugal::server

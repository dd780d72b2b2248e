#include "server/worker_pool.h"

#include "base/error.h"

namespace frugal::server {

WorkerPool::WorkerPool(int threads, size_t max_waiting) : max_waiting_(max_waiting) {
  if (threads < 1) fail("serve: --http-threads must be at least 1");
  threads_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

bool WorkerPool::try_submit(std::function<void()> task) {
  {
    std::lock_guard lk(mu_);
    if (stopping_) return false;
    // Tasks beyond the idle threads wait; only max_waiting_ of them may.
    const size_t waiting = tasks_.size() + 1 > idle_ ? tasks_.size() + 1 - idle_ : 0;
    if (waiting > max_waiting_) return false;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void WorkerPool::work() {
  std::unique_lock lk(mu_);
  while (true) {
    ++idle_;
    cv_.wait(lk, [&] { return stopping_ || !tasks_.empty(); });
    --idle_;
    if (tasks_.empty()) return;  // stopping, and nothing left to run
    std::function<void()> task = std::move(tasks_.front());
    tasks_.pop_front();
    lk.unlock();
    task();
    lk.lock();
  }
}

}  // namespace frugal::server

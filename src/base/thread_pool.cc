#include "base/thread_pool.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <memory>

#include "base/error.h"

namespace frugal {

namespace {

// How long an idle worker spins before it sleeps. Jobs inside one forward
// pass come microseconds apart; a pause longer than this (the gap between
// requests) costs one futex wake-up.
constexpr auto kSpin = std::chrono::microseconds(100);

// The pool whose task this thread is running (null outside tasks) and the
// thread's index in it.
thread_local const ThreadPool* tl_pool = nullptr;
thread_local int tl_thread = 0;

std::mutex g_global_mu;
int g_default_threads = 0;
std::unique_ptr<ThreadPool> g_global;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

uint32_t* futex_word(std::atomic<uint32_t>& a) { return reinterpret_cast<uint32_t*>(&a); }

void futex_wait(std::atomic<uint32_t>& a, uint32_t expected) {
  syscall(SYS_futex, futex_word(a), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>& a) {
  syscall(SYS_futex, futex_word(a), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
}

// Marks the current thread as inside a task of `pool` for its lifetime.
struct TaskScope {
  const ThreadPool* saved_pool;
  int saved_thread;
  TaskScope(const ThreadPool* pool, int thread) : saved_pool(tl_pool), saved_thread(tl_thread) {
    tl_pool = pool;
    tl_thread = thread;
  }
  ~TaskScope() {
    tl_pool = saved_pool;
    tl_thread = saved_thread;
  }
};

}  // namespace

int ThreadPool::available_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  return static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

bool ThreadPool::in_task() { return tl_pool != nullptr; }

ThreadPool::ThreadPool(int n_threads) {
  const int cpus = available_cpus();
  if (n_threads <= 0) n_threads = cpus;
  n_threads_ = n_threads;
  spin_ = n_threads_ <= cpus;
  workers_.reserve(static_cast<size_t>(n_threads_ - 1));
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_seq_cst);
  futex_wake_all(generation_);
  for (auto& t : workers_) t.join();
}

constexpr uint64_t kClosed = 0xFFFFFFFFu;

void ThreadPool::work(int thread, uint32_t job) {
  for (;;) {
    uint64_t cur = ticket_.load(std::memory_order_acquire);
    if ((cur >> 32) != job) return;
    // n_tasks_ and fn_ may already belong to a later job; then run() has
    // closed this one first, and the exchange below fails.
    const int64_t n = n_tasks_.load(std::memory_order_acquire);
    const auto* fn = fn_.load(std::memory_order_acquire);
    const int64_t t = static_cast<int64_t>(cur & kClosed);
    if (t >= n) return;
    if (!ticket_.compare_exchange_weak(cur, cur + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    if (!failed_.load(std::memory_order_relaxed)) {
      try {
        (*fn)(t, thread);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mu_);
        if (!error_) error_ = std::current_exception();
        failed_.store(true, std::memory_order_relaxed);  // the tasks not started are skipped
      }
    }
    done_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::worker(int index) {
  TaskScope scope(this, index);  // a worker is always inside the pool: nested run()s are inline
  uint32_t seen = 0;
  for (;;) {
    uint32_t g = generation_.load(std::memory_order_acquire);
    if (g == seen && spin_) {
      const auto start = std::chrono::steady_clock::now();
      for (int i = 1; g == seen; ++i) {
        cpu_relax();
        if ((i & 63) == 0 && std::chrono::steady_clock::now() - start > kSpin) break;
        g = generation_.load(std::memory_order_acquire);
      }
    }
    while (g == seen) {
      // Announce the sleep, then check again: the dispatcher bumps the
      // generation before it reads sleepers_, so one of the two sees the other.
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      if (generation_.load(std::memory_order_seq_cst) == seen) futex_wait(generation_, seen);
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      g = generation_.load(std::memory_order_acquire);
    }
    seen = g;
    if (stop_.load(std::memory_order_acquire)) return;
    work(index, g);
  }
}

void ThreadPool::run(int64_t n_tasks, const std::function<void(int64_t, int)>& fn) {
  if (n_tasks <= 0) return;
  if (tl_pool != nullptr) {
    // Nested inside a task: inline, under the caller's own thread index
    // (which no other thread of its pool uses meanwhile).
    const int thread = tl_pool == this ? tl_thread : 0;
    for (int64_t t = 0; t < n_tasks; ++t) fn(t, thread);
    return;
  }
  if (n_threads_ == 1 || n_tasks == 1) {
    for (int64_t t = 0; t < n_tasks; ++t) fn(t, 0);
    return;
  }
  if (static_cast<uint64_t>(n_tasks) >= kClosed) fail("thread pool: too many tasks (", n_tasks, ")");
  std::lock_guard<std::mutex> lock(run_mu_);
  const uint32_t job = generation_.load(std::memory_order_relaxed) + 1;
  n_tasks_.store(n_tasks, std::memory_order_release);
  fn_.store(&fn, std::memory_order_release);
  error_ = nullptr;
  failed_.store(false, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  ticket_.store(uint64_t{job} << 32, std::memory_order_release);
  generation_.store(job, std::memory_order_seq_cst);  // publishes the job
  if (sleepers_.load(std::memory_order_seq_cst) > 0) futex_wake_all(generation_);
  {
    TaskScope scope(this, 0);
    work(0, job);
  }
  // Wait for the tasks other threads took: spin briefly, then yield the core.
  const auto start = std::chrono::steady_clock::now();
  for (int i = 1; done_.load(std::memory_order_acquire) < n_tasks; ++i) {
    if (spin_ && (i & 63) != 0) {
      cpu_relax();
    } else if (!spin_ || std::chrono::steady_clock::now() - start > kSpin) {
      std::this_thread::yield();
    }
  }
  // Close the job before the next one rewrites n_tasks_ and fn_.
  ticket_.store((uint64_t{job} << 32) | kClosed, std::memory_order_seq_cst);
  if (error_) {
    std::exception_ptr e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(1, grain);
  int64_t chunks = std::min<int64_t>((n + grain - 1) / grain, static_cast<int64_t>(n_threads_) * 4);
  chunks = std::max<int64_t>(1, chunks);
  const int64_t step = (n + chunks - 1) / chunks;
  run(chunks, [&](int64_t c, int thread) {
    const int64_t b = c * step, e = std::min(n, b + step);
    if (b < e) fn(b, e, thread);
  });
}

ThreadPool& ThreadPool::global() {
  std::lock_guard<std::mutex> lock(g_global_mu);
  if (!g_global) g_global = std::make_unique<ThreadPool>(g_default_threads);
  return *g_global;
}

void ThreadPool::set_default_threads(int n) {
  std::lock_guard<std::mutex> lock(g_global_mu);
  if (g_global && n > 0 && g_global->size() != n)
    fail("thread count ", n, " set after the global thread pool started with ", g_global->size());
  g_default_threads = n;
}

}  // namespace frugal

#include "base/memory_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>

#include "base/aligned_buffer.h"
#include "base/error.h"

namespace frugal {
namespace {

// Sums 64-bit words in four streams at once (the four quarters of the
// range), 64 bytes a load, each stream prefetched a few lines ahead: a
// single stream of scalar loads left part of the memory system idle, and
// the matmul kernels, which keep a super-block's loads in flight, read
// faster than it measured (107% of its "roofline" at batch 1). The clones
// let the compiler use the widest vectors the CPU has.
typedef uint64_t v8u __attribute__((vector_size(64)));

__attribute__((target_clones("avx512f", "avx2", "default"))) uint64_t sum_words(const uint64_t* p, size_t n) {
  constexpr size_t kLine = 8, kAhead = 8 * kLine;  // words a load, words prefetched ahead
  const size_t quarter = n / 4 / kLine * kLine;
  const uint64_t* s[4] = {p, p + quarter, p + 2 * quarter, p + 3 * quarter};
  v8u acc[4] = {};
  for (size_t i = 0; i < quarter; i += kLine) {
    for (int k = 0; k < 4; ++k) {
      __builtin_prefetch(s[k] + i + kAhead);
      v8u v;
      std::memcpy(&v, s[k] + i, sizeof(v));
      acc[k] += v;
    }
  }
  uint64_t total = 0;
  for (int k = 0; k < 4; ++k)
    for (int l = 0; l < 8; ++l) total += acc[k][l];
  for (size_t i = 4 * quarter; i < n; ++i) total += p[i];
  return total;
}

}  // namespace

BandwidthResult measure_read_bandwidth(ThreadPool& pool, size_t bytes, int runs) {
  if (bytes < 4096 || runs <= 0) fail("memory bandwidth: need at least 4 KiB and one run");
  const size_t n_words = bytes / sizeof(uint64_t);
  AlignedBuffer<uint64_t> buffer(n_words);
  uint64_t* words = buffer.data();
  const int64_t n_threads = pool.size();
  const int64_t chunk = static_cast<int64_t>(n_words) / n_threads;
  // Each thread first writes (faults in) the part it will read, so pages sit
  // on its memory node where that matters.
  pool.run(n_threads, [&](int64_t t, int) {
    const size_t begin = static_cast<size_t>(t * chunk);
    const size_t end = t + 1 == n_threads ? n_words : begin + static_cast<size_t>(chunk);
    for (size_t i = begin; i < end; ++i) words[i] = i;
  });
  BandwidthResult r;
  r.buffer_bytes = n_words * sizeof(uint64_t);
  r.threads = static_cast<int>(n_threads);
  r.runs = runs;
  volatile uint64_t sink = 0;  // keeps the sums, so the reads are not optimised away
  for (int run = 0; run < runs; ++run) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.run(n_threads, [&](int64_t t, int) {
      const size_t begin = static_cast<size_t>(t * chunk);
      const size_t end = t + 1 == n_threads ? n_words : begin + static_cast<size_t>(chunk);
      sink = sink + sum_words(words + begin, end - begin);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s > 0) r.bytes_per_second = std::max(r.bytes_per_second, static_cast<double>(r.buffer_bytes) / s);
  }
  return r;
}

}  // namespace frugal

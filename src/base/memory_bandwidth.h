// The machine's memory read bandwidth, measured: decode speed is bounded by
// it (bytes of weights read per token / bandwidth), so `frugal bench` reports
// generation speed as a share of this roofline.
#pragma once
#include <cstddef>

#include "base/thread_pool.h"

namespace frugal {

struct BandwidthResult {
  double bytes_per_second = 0;  // best of the runs
  size_t buffer_bytes = 0;
  int threads = 0;
  int runs = 0;
};

// Streams through a buffer of `bytes` (far larger than the last-level cache
// for a real measurement) on every thread of `pool`, `runs` times, and
// keeps the fastest run. The buffer is written once first so that its pages
// exist; the timed passes only read.
BandwidthResult measure_read_bandwidth(ThreadPool& pool, size_t bytes = size_t(1) << 30, int runs = 5);

}  // namespace frugal

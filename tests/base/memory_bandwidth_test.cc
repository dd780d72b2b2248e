// The bandwidth measurement reads its whole buffer and reports a positive,
// finite rate (its size is a figure for `frugal bench`, never asserted).
#include "base/memory_bandwidth.h"

#include <gtest/gtest.h>

#include <cmath>

#include "base/error.h"

namespace frugal {
namespace {

TEST(MemoryBandwidth, ReportsAPositiveRateForTheWholeBuffer) {
  ThreadPool pool(2);
  const BandwidthResult r = measure_read_bandwidth(pool, 8 << 20, 3);
  EXPECT_GT(r.bytes_per_second, 0);
  EXPECT_TRUE(std::isfinite(r.bytes_per_second));
  EXPECT_EQ(r.buffer_bytes, size_t(8) << 20);
  EXPECT_EQ(r.threads, 2);
  EXPECT_EQ(r.runs, 3);
}

TEST(MemoryBandwidth, OddSizesAndBadArguments) {
  ThreadPool pool(3);
  EXPECT_GT(measure_read_bandwidth(pool, (1 << 20) + 12345, 1).bytes_per_second, 0);
  EXPECT_THROW(measure_read_bandwidth(pool, 100, 1), Error);
  EXPECT_THROW(measure_read_bandwidth(pool, 1 << 20, 0), Error);
}

}  // namespace
}  // namespace frugal

// LatencyHistogram alone: where an observation lands (bounds inclusive, as
// Prometheus reads "le"), the +Inf bucket, the sum in seconds, and the text.
#include "server/latency_histogram.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>
#include <vector>

namespace frugal::server {
namespace {

// The value of one series line ("name{le=\"0.001\"}" or "name_sum") in the text.
double series(const std::string& text, const std::string& key) {
  const size_t at = text.find("\n" + key + " ");
  if (at == std::string::npos) return -1;
  return std::stod(text.substr(at + key.size() + 2));
}

TEST(LatencyHistogram, BucketsAreCumulativeAndInclusive) {
  LatencyHistogram h;
  h.observe(0.001);       // on a bound: that bucket
  h.observe(0.0010001);   // just past it: the next
  h.observe(0.3);
  h.observe(60);
  h.observe(61);          // only +Inf
  h.observe(-1);          // a clock that went back: counted as 0
  h.observe(std::numeric_limits<double>::quiet_NaN());
  std::string text = "\n";
  h.append_prometheus(text, "t_seconds", "test.");
  EXPECT_NE(text.find("# TYPE t_seconds histogram\n"), std::string::npos);
  EXPECT_EQ(series(text, "t_seconds_bucket{le=\"0.001\"}"), 3);
  EXPECT_EQ(series(text, "t_seconds_bucket{le=\"0.0025\"}"), 4);
  EXPECT_EQ(series(text, "t_seconds_bucket{le=\"0.25\"}"), 4);
  EXPECT_EQ(series(text, "t_seconds_bucket{le=\"0.5\"}"), 5);
  EXPECT_EQ(series(text, "t_seconds_bucket{le=\"30\"}"), 5);
  EXPECT_EQ(series(text, "t_seconds_bucket{le=\"60\"}"), 6);
  EXPECT_EQ(series(text, "t_seconds_bucket{le=\"+Inf\"}"), 7);
  EXPECT_EQ(series(text, "t_seconds_count"), 7);
  EXPECT_NEAR(series(text, "t_seconds_sum"), 0.001 + 0.0010001 + 0.3 + 60 + 61, 1e-6);
  EXPECT_EQ(h.count(), 7u);
  // Every bound has its line, in order, then +Inf.
  size_t last = 0;
  for (double b : LatencyHistogram::kBounds) {
    char key[64];
    std::snprintf(key, sizeof key, "t_seconds_bucket{le=\"%g\"}", b);
    const size_t at = text.find(key);
    ASSERT_NE(at, std::string::npos) << key;
    EXPECT_GT(at, last);
    last = at;
  }
  EXPECT_GT(text.find("t_seconds_bucket{le=\"+Inf\"}"), last);
}

TEST(LatencyHistogram, ThreadsObservingLoseNothing) {
  LatencyHistogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 10000; ++i) h.observe(0.0005 * (t + 1));
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(h.count(), 40000u);
  std::string text = "\n";
  h.append_prometheus(text, "t", "test.");
  EXPECT_NEAR(series(text, "t_sum"), 10000 * 0.0005 * (1 + 2 + 3 + 4), 1e-6);
}

}  // namespace
}  // namespace frugal::server

// A Prometheus histogram of durations, observed from the scheduler thread
// and read by GET /metrics on the connection loop: each bucket its own
// atomic counter, so neither side takes a lock or waits for the other.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace frugal::server {

class LatencyHistogram {
 public:
  // Upper bounds in seconds, 1-2.5-5 per decade from 1 ms to 60 s: a token
  // that follows the last within a millisecond on a tiny model, and a first
  // token that waited a minute behind a full queue, both land in a bucket
  // of their own.
  static constexpr std::array<double, 15> kBounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                  0.5,   1,      2.5,   5,    10,   30,    60};

  void observe(double seconds);
  uint64_t count() const;  // observations so far

  // The _bucket lines (cumulative, le="+Inf" last), _sum and _count, with
  // their HELP and TYPE lines. The count is the +Inf bucket's, so the two
  // agree even while other threads observe.
  void append_prometheus(std::string& out, const std::string& name, const char* help) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};  // per bucket, not cumulative; last: over 60 s
  std::atomic<uint64_t> sum_ns_{0};  // nanoseconds: an integer, so adding needs no compare-and-swap loop
};

}  // namespace frugal::server

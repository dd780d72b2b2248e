#include "server/latency_histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace frugal::server {

void LatencyHistogram::observe(double seconds) {
  if (!(seconds >= 0)) seconds = 0;  // a clock never goes back; NaN would poison the sum
  const size_t b = static_cast<size_t>(std::lower_bound(kBounds.begin(), kBounds.end(), seconds) - kBounds.begin());
  buckets_[b].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(std::llround(seconds * 1e9)), std::memory_order_relaxed);
}

uint64_t LatencyHistogram::count() const {
  uint64_t n = 0;
  for (const auto& b : buckets_) n += b.load(std::memory_order_relaxed);
  return n;
}

void LatencyHistogram::append_prometheus(std::string& out, const std::string& name, const char* help) const {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " histogram\n";
  char line[96];
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    if (i < kBounds.size())
      std::snprintf(line, sizeof line, "_bucket{le=\"%g\"} %llu\n", kBounds[i], static_cast<unsigned long long>(cumulative));
    else
      std::snprintf(line, sizeof line, "_bucket{le=\"+Inf\"} %llu\n", static_cast<unsigned long long>(cumulative));
    out += name + line;
  }
  std::snprintf(line, sizeof line, "_sum %.9f\n", static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) * 1e-9);
  out += name + line;
  std::snprintf(line, sizeof line, "_count %llu\n", static_cast<unsigned long long>(cumulative));
  out += name + line;
}

}  // namespace frugal::server

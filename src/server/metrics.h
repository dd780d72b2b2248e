// The server's counters and gauges, updated by the scheduler and the HTTP
// handlers and read by GET /metrics in the Prometheus text format.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "server/latency_histogram.h"

namespace frugal::server {

struct Metrics {
  std::atomic<uint64_t> requests_total{0};         // completions accepted into the queue
  std::atomic<uint64_t> requests_rejected{0};      // 4xx/5xx answers to completion requests
  std::atomic<uint64_t> requests_cancelled{0};     // clients that went away mid-answer
  std::atomic<uint64_t> prompt_tokens_total{0};    // prompt tokens computed
  std::atomic<uint64_t> prompt_tokens_requested_total{0};  // prompt tokens of the requests that got a slot
  std::atomic<uint64_t> prompt_tokens_cached_total{0};     // of those, found in the prefix cache
  std::atomic<int64_t> kv_blocks_used{0};           // prefix-cache blocks holding a prefix
  std::atomic<int64_t> kv_blocks_total{0};          // the pool's blocks (0: prefix caching off)
  std::atomic<uint64_t> generated_tokens_total{0};
  std::atomic<uint64_t> batches_total{0};          // forward calls
  std::atomic<uint64_t> batch_rows_total{0};       // rows over all forward calls
  std::atomic<uint64_t> forward_microseconds{0};   // time inside forward calls
  std::atomic<int64_t> requests_running{0};
  std::atomic<int64_t> requests_queued{0};
  std::atomic<uint64_t> requests_refused_access{0}; // 401/403: a bad Host, Origin or API key
  std::atomic<int64_t> http_connections{0};         // open client connections (set when /metrics is read)
  // Per request, taken where the scheduler samples tokens: from the request's
  // queueing to its first token (waiting for a slot and reading the prompt
  // included: what its client waits), and between its successive tokens.
  LatencyHistogram time_to_first_token;
  LatencyHistogram inter_token_latency;

  // The Prometheus exposition text, every name prefixed "frugal_".
  std::string prometheus_text() const;
};

}  // namespace frugal::server

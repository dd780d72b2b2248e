#include "server/metrics.h"

#include <cstdio>

namespace frugal::server {

namespace {

void add(std::string& out, const char* name, const char* type, const char* help, double value) {
  char line[64];
  std::snprintf(line, sizeof line, "%.17g", value);
  out += std::string("# HELP frugal_") + name + " " + help + "\n# TYPE frugal_" + name + " " + type + "\nfrugal_" +
         name + " " + line + "\n";
}

}  // namespace

std::string Metrics::prometheus_text() const {
  std::string out;
  add(out, "requests_total", "counter", "Completion requests accepted.", double(requests_total.load()));
  add(out, "requests_rejected_total", "counter", "Completion requests answered with an error.",
      double(requests_rejected.load()));
  add(out, "requests_cancelled_total", "counter", "Completions stopped because the client went away.",
      double(requests_cancelled.load()));
  add(out, "prompt_tokens_total", "counter", "Prompt tokens computed.", double(prompt_tokens_total.load()));
  const uint64_t requested = prompt_tokens_requested_total.load(), cached = prompt_tokens_cached_total.load();
  add(out, "prompt_tokens_requested_total", "counter", "Prompt tokens of the completions that got a slot.",
      double(requested));
  add(out, "prompt_tokens_cached_total", "counter", "Prompt tokens found in the prefix cache, not computed.",
      double(cached));
  add(out, "prefix_cache_hit_rate", "gauge", "Cached prompt tokens over prompt tokens, since the start.",
      requested ? double(cached) / double(requested) : 0.0);
  add(out, "kv_blocks_used", "gauge", "Prefix-cache blocks holding a cached prefix.", double(kv_blocks_used.load()));
  add(out, "kv_blocks_total", "gauge", "Prefix-cache blocks in the pool (0: prefix caching off).",
      double(kv_blocks_total.load()));
  add(out, "generated_tokens_total", "counter", "Tokens generated.", double(generated_tokens_total.load()));
  add(out, "batches_total", "counter", "Forward passes run.", double(batches_total.load()));
  add(out, "batch_rows_total", "counter", "Rows (tokens) over all forward passes.", double(batch_rows_total.load()));
  add(out, "forward_seconds_total", "counter", "Time spent in forward passes.", forward_microseconds.load() * 1e-6);
  add(out, "requests_running", "gauge", "Completions holding a sequence slot.", double(requests_running.load()));
  add(out, "requests_queued", "gauge", "Completions waiting for a sequence slot.", double(requests_queued.load()));
  add(out, "requests_refused_access_total", "counter", "Requests refused for their Host, Origin or API key.",
      double(requests_refused_access.load()));
  add(out, "http_connections", "gauge", "Open client connections.", double(http_connections.load()));
  time_to_first_token.append_prometheus(out, "frugal_time_to_first_token_seconds",
                                        "From a completion's queueing to its first sampled token.");
  inter_token_latency.append_prometheus(out, "frugal_inter_token_latency_seconds",
                                        "Between successive sampled tokens of one completion.");
  return out;
}

}  // namespace frugal::server

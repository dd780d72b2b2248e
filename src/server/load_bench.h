// The load generator behind `frugal bench-serve`: N clients, each sending
// streamed completions (or chat completions) to an OpenAI-compatible server
// one after another until M requests are done, recording for each request
// the time to first token, the gaps between content events and the output
// tokens; then the summary (throughput, percentiles, errors).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "server/http_client.h"

namespace frugal::server {

struct TokenRange {
  int lo = 0, hi = 0;
};

// "A-B" or "A" (both ends included); throws frugal::Error naming `flag` when
// malformed, below `min` or reversed.
TokenRange parse_token_range(const std::string& text, const std::string& flag, int min);

struct LoadOptions {
  HttpUrl url;
  int clients = 4;
  int requests = 32;
  TokenRange prompt_tokens{32, 64};
  TokenRange max_tokens{16, 48};
  int system_prompt_tokens = 0;
  uint64_t seed = 1;
  std::string api_key;
  std::string model;        // the request's "model" field; omitted when empty
  bool chat = false;        // /v1/chat/completions instead of /v1/completions
  bool ignore_eos = true;   // every answer as long as asked (frugal and llama-server honour it)
  double timeout_seconds = 300;  // per request, connection to last byte
};

// One request as the client saw it.
struct RequestRecord {
  bool ok = false;
  std::string error;
  int prompt_words = 0, max_tokens = 0;
  double seconds = 0;            // from sending to the end of the answer
  double ttft_seconds = -1;      // to the first event with text; -1 when none came
  std::vector<double> itl_seconds;  // between consecutive events with text
  int64_t output_tokens = 0;     // from the usage chunk, else events with text
  bool usage_reported = false;   // the server sent stream_options' usage chunk
  int64_t prompt_tokens = 0;     // the usage chunk's count (system prompt included); 0 without it
};

struct LoadSummary {
  double wall_seconds = 0;
  int ok = 0, failed = 0;
  int64_t output_tokens = 0;  // of successful requests
  double output_tokens_per_second = 0;
  double ttft_p50 = 0, ttft_p99 = 0, ttft_mean = 0;  // seconds
  double itl_p50 = 0, itl_p99 = 0, itl_mean = 0;     // seconds
  int usage_reported = 0;            // requests whose count came from the usage chunk
  int64_t prompt_tokens = 0;         // summed over those requests: how the words came out in tokens
  std::vector<std::string> errors;   // distinct messages, with a count, most frequent first
};

// Percentile by nearest rank (p in [0, 100]); 0 for an empty set.
double percentile(std::vector<double> values, double p);

// Throws frugal::Error naming the flag when an option is out of range.
void check_load_options(const LoadOptions& o);

// Checks the options, then runs the load. Throws when
// the server cannot be reached at all, so a wrong URL fails in seconds.
std::vector<RequestRecord> run_load(const LoadOptions& o, double& wall_seconds);

LoadSummary summarize_load(const std::vector<RequestRecord>& records, double wall_seconds);

}  // namespace frugal::server

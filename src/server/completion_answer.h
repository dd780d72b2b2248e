// One completion request answered on a worker thread: the body read into a
// prompt and parameters, the job queued on the Scheduler, and its text sent
// whole or as server-sent events. A client that leaves cancels its
// completion at the next token, whether streamed or not; a shutdown ends a
// stream with an error event and [DONE].
#pragma once
#include <atomic>
#include <nlohmann/json.hpp>
#include <string>

#include "gguf/value.h"
#include "runtime/token_constraint.h"
#include "server/adapter_registry.h"
#include "server/connection_loop.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/scheduler.h"
#include "tokenizer/tokenizer.h"

namespace frugal::server {

struct CompletionContext {
  Scheduler& scheduler;
  const tokenizer::Tokenizer& tok;
  const gguf::Metadata& md;
  Metrics& metrics;
  const ServerOptions& opts;
  const AdapterRegistry& adapters;  // the adapters served now (a request holds the one it uses)
  const std::atomic<bool>& shutting_down;
  runtime::LazyTokenTrie& trie;  // the vocabulary's bytes, for structured output
};

// `headers`: added to the answer (CORS). Never throws.
void answer_completion(const CompletionContext& ctx, Exchange& ex, bool chat, const HttpHeaders& headers);

// JSON text for the client (invalid UTF-8 replaced, never thrown on).
std::string json_text(const nlohmann::ordered_json& j);

}  // namespace frugal::server

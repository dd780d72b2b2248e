// OpenAI-style response bodies: completions and chat completions, whole or
// as server-sent-event chunks, usage, and error bodies.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/generator.h"

namespace frugal::server {

using json = nlohmann::ordered_json;

// What every body of one response repeats.
struct ResponseHeader {
  bool chat = false;
  std::string id;      // "cmpl-..." or "chatcmpl-..."
  int64_t created = 0; // Unix seconds
  std::string model;   // the served model's name
};

// "stop" (end of generation or a stop string), "length" (max_tokens or a full context).
const char* finish_reason(runtime::StopReason r);

json usage(const runtime::GenerateStats& s);
// The whole answer (stream: false).
json completion_body(const ResponseHeader& h, const std::string& text, const runtime::GenerateStats& s);
// One streamed chunk: text so far unsent; finish: null until the last chunk.
// A chat stream's first chunk carries the assistant role (role_chunk).
json chunk_body(const ResponseHeader& h, const std::string& text, const char* finish);
json role_chunk(const ResponseHeader& h);
// stream_options.include_usage: the chunk after the last choice, with no choices.
json usage_chunk(const ResponseHeader& h, const runtime::GenerateStats& s);
// {"error": {"message", "type", "param", "code"}}; param and code null when empty.
json error_body(const std::string& message, const std::string& type, const std::string& param = "",
                const std::string& code = "");

}  // namespace frugal::server

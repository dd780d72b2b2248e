// OpenAI-style response bodies: completions and chat completions, whole or
// as server-sent-event chunks, usage, and error bodies.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "runtime/generator.h"
#include "tokenizer/tokenizer.h"

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

// Log-probabilities of sampled tokens in each endpoint's form. Chat:
// {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]};
// completions: {"tokens", "token_logprobs", "top_logprobs": [{token: logprob}],
// "text_offset"}, offsets in bytes of the choice's text from `offset` on
// (advanced past these tokens). A token that is not whole UTF-8 on its own
// is shown with U+FFFD in its string; "bytes" (chat) holds its real bytes.
json logprobs_body(bool chat, const tokenizer::Tokenizer& tok, std::span<const runtime::TokenLogprob> lps,
                   size_t& offset);

// echo with logprobs (completions): the prompt's tokens in the form above,
// the first with null log-probability and alternatives (nothing comes before
// it), then `prompt_lps` (tokens 1..n-1). Offsets are in the echoed
// `prompt_text`: a BOS token the tokenizer added, not in the text, is at 0
// and takes no room.
json prompt_logprobs_body(const tokenizer::Tokenizer& tok, std::span<const int32_t> prompt,
                          std::span<const runtime::TokenLogprob> prompt_lps, const std::string& prompt_text);
// Completions log-probabilities `b` after `a` (arrays joined).
json join_logprobs(json a, const json& b);

struct Choice {
  std::string text;
  const char* finish = nullptr;  // null while streaming
  json logprobs;                 // null when not asked for
  // Chat with a harmony model (gpt-oss): its analysis channel, sent as
  // "reasoning_content" beside "content" (the final channel) when not empty.
  std::string reasoning;
  // Chat with tools: the calls, [{"id", "type": "function", "function":
  // {"name", "arguments"}}] (each with "index" when streamed); null when none.
  json tool_calls = nullptr;
};
// The whole answer (stream: false): one choice per entry, index in order;
// `s`: the usage (completion tokens of every choice).
json completion_body(const ResponseHeader& h, const std::vector<Choice>& choices, const runtime::GenerateStats& s);
// One streamed chunk of choice `index`: text so far unsent; finish: null
// until the choice's last chunk. A chat stream's first chunk per choice
// carries the assistant role (role_chunk).
json chunk_body(const ResponseHeader& h, int index, const Choice& c);
json role_chunk(const ResponseHeader& h, int index);
// stream_options.include_usage: the chunk after the last choice, with no choices.
json usage_chunk(const ResponseHeader& h, const runtime::GenerateStats& s);
// {"error": {"message", "type", "param", "code"}}; param and code null when empty.
json error_body(const std::string& message, const std::string& type, const std::string& param = "",
                const std::string& code = "");

}  // namespace frugal::server

// OpenAI-style request bodies (POST /v1/completions, /v1/chat/completions)
// read into a prompt and generation parameters. Every field is checked for
// its type and range; a field frugal does not implement is refused by name
// rather than ignored, so that a client never gets a silently different answer.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gguf/value.h"
#include "runtime/generator.h"
#include "server/request_fields.h"
#include "tokenizer/tokenizer.h"

namespace frugal::server {

struct CompletionRequest {
  bool chat = false;
  bool stream = false;
  bool include_usage = false;   // stream_options.include_usage: a last chunk with the usage
  bool seeded = false;          // the request gave a seed
  std::string model;            // the request's "model" (empty when left out): picks a served adapter
  std::vector<int32_t> prompt;  // token ids, the chat template applied for chat
  runtime::GenerateParams params;  // params.logprobs, params.grammar: logprobs and response_format
  int n = 1;                    // choices, each sampled with its own seed (seed + index)
  bool echo = false;            // completions: the prompt's text before each choice's
  std::string prompt_text;      // echo: the prompt as text
  // tool_choice: "none" (plain text), "auto" (calls read back in the
  // model's format), "required" or a function's name (one call forced by
  // params.grammar as {"name", "arguments"}).
  std::string tool_choice = "none";
  // A forced call: the text after the generation prompt that opens it (in
  // the prompt already) and the text that closes it, both part of the
  // answer as its tool calls are read.
  std::string tool_prefill, tool_close;
};

// The most choices (n) and top log-probabilities a request may ask for.
inline constexpr int kMaxChoices = 128;
inline constexpr int kMaxTopLogprobs = 20;

// `defaults`: the server's own flags (sampling, max tokens), used for fields
// the request leaves out. Throws RequestError.
CompletionRequest parse_completion_request(const std::string& body, const tokenizer::Tokenizer& tok,
                                           const runtime::GenerateParams& defaults);
CompletionRequest parse_chat_request(const std::string& body, const tokenizer::Tokenizer& tok,
                                     const gguf::Metadata& md, const runtime::GenerateParams& defaults);

}  // namespace frugal::server

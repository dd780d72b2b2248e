// The tool fields of a chat request: `tools` (function definitions, checked
// and handed to the chat template as Hugging Face's apply_chat_template
// does), `tool_choice` ("auto", "none", "required" or one named function),
// and the messages that carry calls (assistant `tool_calls`) and their
// results (role "tool" with `tool_call_id`).
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "gguf/value.h"
#include "runtime/json_grammar.h"
#include "server/tool_calls.h"
#include "tokenizer/tokenizer.h"

namespace frugal::server {

struct ToolRequest {
  nlohmann::ordered_json tools;  // as given (an array), or null when none
  // "auto": calls are read back from the model's own format; "none": the
  // answer is plain text; "required" / a named function: the answer is one
  // call in the family's markers: `prefill` is written after the generation
  // prompt, the model writes the name's lead-in (when several functions may
  // be called) and the arguments under `grammar`, and `close` ends it.
  std::string choice = "none";
  std::shared_ptr<const runtime::JsonGrammar> grammar;
  std::string prefill, close;
};

// `forced`: the family whose markers a forced call is written in. Throws
// RequestError naming the bad field (tools[1].function.name, ...).
ToolRequest read_tool_request(const nlohmann::ordered_json& body, const ToolCallFormat& forced);

// The family whose markers the model's calls are in: harmony for a vocabulary
// that speaks it (gpt-oss), else the one the chat template teaches, else the
// plain object (forced calls only).
const ToolCallFormat& model_tool_call_format(const gguf::Metadata& md, const tokenizer::Tokenizer& tok);

// One message's tool fields checked and copied into `out` (the template's
// message): tool_calls of an assistant message, tool_call_id of a tool one.
void copy_message_tool_fields(const nlohmann::ordered_json& m, const std::string& where,
                              nlohmann::ordered_json& out);

}  // namespace frugal::server

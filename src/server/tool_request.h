// The tool fields of a chat request: `tools` (function definitions, checked
// and handed to the chat template as Hugging Face's apply_chat_template
// does), `tool_choice` ("auto", "none", "required" or one named function),
// and the messages that carry calls (assistant `tool_calls`) and their
// results (role "tool" with `tool_call_id`).
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "runtime/json_grammar.h"

namespace frugal::server {

struct ToolRequest {
  nlohmann::ordered_json tools;  // as given (an array), or null when none
  // "auto": calls are read back from the model's own format; "none": the
  // answer is plain text; "required" / a named function: the answer is one
  // call, forced by `grammar` ({"name": ..., "arguments": {...}}).
  std::string choice = "none";
  std::shared_ptr<const runtime::JsonGrammar> grammar;
};

// Throws RequestError naming the bad field (tools[1].function.name, ...).
ToolRequest read_tool_request(const nlohmann::ordered_json& body);

// One message's tool fields checked and copied into `out` (the template's
// message): tool_calls of an assistant message, tool_call_id of a tool one.
void copy_message_tool_fields(const nlohmann::ordered_json& m, const std::string& where,
                              nlohmann::ordered_json& out);

}  // namespace frugal::server

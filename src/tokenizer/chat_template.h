// Chat templates with a full JSON context (messages with tool calls, tools,
// extra variables such as enable_thinking), for the server and the tests.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "gguf/value.h"

namespace frugal::tokenizer {

// context: {"messages": [...], "add_generation_prompt": bool, "tools": [...], ...};
// bos_token / eos_token are filled from the vocabulary when absent.
std::string render_chat_template(const gguf::Metadata& md, nlohmann::ordered_json context);

}  // namespace frugal::tokenizer

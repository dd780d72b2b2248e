// Chat templates with a full JSON context (messages with tool calls, tools,
// extra variables such as enable_thinking), for the server and the tests.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gguf/value.h"

namespace frugal::tokenizer {

// context: {"messages": [...], "add_generation_prompt": bool, "tools": [...], ...};
// bos_token / eos_token are filled from the vocabulary when absent.
std::string render_chat_template(const gguf::Metadata& md, nlohmann::ordered_json context);

class Tokenizer;
// A rendered conversation as token ids, special tokens parsed: BOS is added
// when the vocabulary asks for it and the template did not already write it.
std::vector<int32_t> encode_chat_prompt(const Tokenizer& tok, const std::string& rendered);

}  // namespace frugal::tokenizer

// What a Hugging Face tokenizer folder says beside its vocabulary
// (tokenizer_config.json: special tokens by text, add_bos_token, the chat
// template), shared by the tokenizer.json and the tiktoken importers.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/value.h"

namespace frugal::tokenizer {

// A JSON file, or frugal::Error naming it.
nlohmann::json read_json_file(const std::string& path);

// tokenizer_config.json beside `vocab_path`, or an empty object when there is none.
nlohmann::json read_tokenizer_config(const std::string& vocab_path);

// A special-token entry of tokenizer_config.json: a string or {"content": ...}; "" otherwise.
std::string special_token_text(const nlohmann::json& j);

// Sets tokenizer.ggml.bos/eos/padding/unknown_token_id (by the text
// tokenizer_config.json gives, looked up in `tokens`), add_bos_token and
// tokenizer.chat_template.
void apply_tokenizer_config(const nlohmann::json& cfg, const std::vector<std::string>& tokens, gguf::Metadata& md);

// import_tiktoken on a tiktoken file's text (`path` names it in errors) and
// its tokenizer_config.json, already read (`cfg_where` names it).
void tiktoken_to_metadata(std::string_view text, const std::string& path, const nlohmann::json& cfg,
                          const std::string& cfg_where, gguf::Metadata& md);

}  // namespace frugal::tokenizer

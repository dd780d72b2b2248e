// Pre-tokenizers for byte-level BPE: the text is cut into words by a regex
// (PCRE2, UTF + Unicode properties) before merging; the regex is chosen by
// tokenizer.ggml.pre.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace frugal::tokenizer {

class PreTokenizer {
 public:
  virtual ~PreTokenizer() = default;
  // Pieces of `text` in order; their concatenation is `text`.
  virtual std::vector<std::string_view> split(std::string_view text) const = 0;
};

// Names: default, gpt-2, gpt2, olmo, llama3, llama-bpe, glm4, chatglm-bpe, qwen2, deepseek-llm,
// deepseek-v3, kimi-k2, gpt-4o, o200k, llama4, minimax-m2. Unknown name -> frugal::Error.
std::unique_ptr<PreTokenizer> make_pretokenizer(const std::string& name);

// The regexes applied in order for a name (each splits the pieces of the one before).
std::vector<std::string> pretokenizer_regexes(const std::string& name);

}  // namespace frugal::tokenizer

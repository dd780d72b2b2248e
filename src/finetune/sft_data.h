// Fine-tuning data: a JSONL file, one example a line, either
//   {"messages": [{"role": "...", "content": "..."}, ...]}  a conversation,
//     rendered through the base model's own chat template; the loss counts
//     only the assistant messages' tokens (their content and the template's
//     end-of-turn after it);
//   {"text": "..."}  plain continuation; every token after the first counts.
// Blank lines are skipped; anything else is an error naming the file, the
// line number and what is wrong.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gguf/value.h"
#include "tokenizer/tokenizer.h"

namespace frugal::finetune {

struct SftExample {
  std::vector<int32_t> tokens;
  // target[i]: token i is predicted (from tokens 0..i-1) and counts in the loss.
  std::vector<uint8_t> target;
  int64_t line = 0;  // in the file, 1-based
};

// Tokens that count in ex's loss: those marked target after the first (the
// first has nothing before it to be predicted from).
int64_t target_count(const SftExample& ex);

// metadata: the base model's (its tokenizer.chat_template renders messages).
std::vector<SftExample> read_sft_jsonl(const std::string& path, const tokenizer::Tokenizer& tok,
                                       const gguf::Metadata& metadata);
// The same over text already read (path only names it in errors).
std::vector<SftExample> parse_sft_jsonl(const std::string& text, const std::string& path,
                                        const tokenizer::Tokenizer& tok, const gguf::Metadata& metadata);

}  // namespace frugal::finetune

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
  // A hash of the line's bytes, known for every example whether this
  // process read it or not (the checkpoint's data key).
  uint64_t text_hash = 0;
};

// Whether this process read and tokenised the example (under data-parallel
// fine-tuning each rank reads its own share of the file's examples; the
// others are kept as their line and hash only). A read example has at least
// two tokens.
inline bool is_read(const SftExample& ex) { return !ex.tokens.empty(); }

// Tokens that count in ex's loss: those marked target after the first (the
// first has nothing before it to be predicted from).
int64_t target_count(const SftExample& ex);

// metadata: the base model's (its tokenizer.chat_template renders messages).
// Every non-blank line is an example; this process parses and tokenises
// example j (0-based, blank lines not counted) when j mod n_shares ==
// share, and keeps only the line number and hash of the others (is_read):
// data-parallel ranks each read their own share. Errors are found in the
// lines read.
std::vector<SftExample> read_sft_jsonl(const std::string& path, const tokenizer::Tokenizer& tok,
                                       const gguf::Metadata& metadata, int share = 0, int n_shares = 1);
// The same over text already read (path only names it in errors).
std::vector<SftExample> parse_sft_jsonl(const std::string& text, const std::string& path,
                                        const tokenizer::Tokenizer& tok, const gguf::Metadata& metadata,
                                        int share = 0, int n_shares = 1);

}  // namespace frugal::finetune

// Training text to token ids: files read whole, each tokenised once (no BOS;
// special tokens such as the `<|endoftext|>` separator lines of `frugal data`
// parsed as their control tokens), the files joined by EOS where the
// vocabulary has one.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace frugal::train {

std::vector<int32_t> tokenize_files(const std::vector<std::string>& paths, const tokenizer::Tokenizer& tok);

}  // namespace frugal::train

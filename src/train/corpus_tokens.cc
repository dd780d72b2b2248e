#include "train/corpus_tokens.h"

#include <fstream>
#include <sstream>

#include "base/error.h"

namespace frugal::train {

std::vector<int32_t> tokenize_files(const std::vector<std::string>& paths, const tokenizer::Tokenizer& tok) {
  std::vector<int32_t> ids;
  for (const std::string& path : paths) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("train: cannot read data file '", path, "'");
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    if (text.empty()) fail("train: data file '", path, "' is empty");
    // Special tokens in the text are parsed: `frugal data` separates documents with an
    // `<|endoftext|>` line, which must become the one control token, not 13 bytes of text.
    const std::vector<int32_t> part = tok.encode(text, false, true);
    ids.insert(ids.end(), part.begin(), part.end());
    if (tok.eos() >= 0) ids.push_back(tok.eos());
  }
  return ids;
}

}  // namespace frugal::train

#include "train/corpus_tokens.h"

#include "base/error.h"
#include "base/read_file.h"

namespace frugal::train {

std::vector<int32_t> tokenize_files(const std::vector<std::string>& paths, const tokenizer::Tokenizer& tok) {
  std::vector<int32_t> ids;
  for (const std::string& path : paths) {
    std::string text;
    try {
      text = read_whole_file(path);  // a folder is an error of its own, not "empty"
    } catch (const Error& e) {
      fail("train: cannot read data file: ", e.what());
    }
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

// Reading text that may not be valid UTF-8. Real corpora and prompts hold
// Latin-1 bytes, cut characters and binary noise; the tokenizer must neither
// reject them nor let one bad byte change how the rest of the text is cut.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/utf8.h"

namespace frugal::tokenizer {

// The character rules (utf8_char_len, utf8_ill_formed_len) are base/utf8.h's.

// Text made valid for a regex engine, with a way back to the original bytes.
// Each maximal ill-formed subpart becomes U+FFFD, so a pre-tokenizer regex
// sees what Hugging Face sees: a symbol character (\p{So}) that splits the
// text there instead of making the whole text one piece.
class Utf8Repair {
 public:
  explicit Utf8Repair(std::string_view original);
  bool changed() const { return !fixes_.empty(); }
  std::string_view text() const { return changed() ? std::string_view(valid_) : original_; }
  // Maps consecutive pieces of text() (in order, each starting where the
  // previous ended, cut at character boundaries) to the same pieces of the
  // original. Linear over all pieces together.
  std::vector<std::string_view> map_back(const std::vector<std::string_view>& pieces) const;

 private:
  struct Fix {
    size_t valid_offset;   // where its U+FFFD starts in valid_
    size_t original_len;   // bytes it stands for in the original
  };
  std::string_view original_;
  std::string valid_;
  std::vector<Fix> fixes_;
};

}  // namespace frugal::tokenizer

// Finds the special (control / user-defined) token that starts at a position
// of the text, preferring the longest. A byte trie: the work per text byte is
// one or a few child lookups however many special tokens the vocabulary has
// (DeepSeek-V3 has hundreds; comparing each of them at every byte made
// encoding several times slower than the BPE itself).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace frugal::tokenizer {

class SpecialMatcher {
 public:
  SpecialMatcher();
  // Adds a token; where two ids share the same text, the first added wins.
  void add(std::string_view text, int32_t id);
  // The id of the longest token that text[pos..] starts with and its length,
  // or {-1, 0}.
  std::pair<int32_t, size_t> match(std::string_view text, size_t pos) const;
  bool empty() const { return nodes_.size() == 1; }

 private:
  struct Node {
    int32_t id = -1;
    std::vector<std::pair<unsigned char, int32_t>> children;  // byte -> node index, sorted by byte
  };
  int32_t child(int32_t node, unsigned char byte) const;
  std::vector<Node> nodes_;
  bool first_byte_[256] = {};  // fast rejection of the common case
};

}  // namespace frugal::tokenizer

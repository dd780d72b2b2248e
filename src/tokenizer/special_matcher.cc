#include "tokenizer/special_matcher.h"

#include <algorithm>

namespace frugal::tokenizer {

SpecialMatcher::SpecialMatcher() : nodes_(1) {}

int32_t SpecialMatcher::child(int32_t node, unsigned char byte) const {
  const auto& kids = nodes_[size_t(node)].children;
  auto it = std::lower_bound(kids.begin(), kids.end(), byte,
                             [](const std::pair<unsigned char, int32_t>& k, unsigned char b) { return k.first < b; });
  return it != kids.end() && it->first == byte ? it->second : -1;
}

void SpecialMatcher::add(std::string_view text, int32_t id) {
  if (text.empty()) return;
  first_byte_[static_cast<unsigned char>(text[0])] = true;
  int32_t node = 0;
  for (char ch : text) {
    const auto byte = static_cast<unsigned char>(ch);
    int32_t next = child(node, byte);
    if (next < 0) {
      next = int32_t(nodes_.size());
      nodes_.emplace_back();
      auto& kids = nodes_[size_t(node)].children;
      auto it = std::lower_bound(kids.begin(), kids.end(), byte,
                                 [](const std::pair<unsigned char, int32_t>& k, unsigned char b) { return k.first < b; });
      kids.insert(it, {byte, next});
    }
    node = next;
  }
  if (nodes_[size_t(node)].id < 0) nodes_[size_t(node)].id = id;
}

std::pair<int32_t, size_t> SpecialMatcher::match(std::string_view text, size_t pos) const {
  if (pos >= text.size() || !first_byte_[static_cast<unsigned char>(text[pos])]) return {-1, 0};
  std::pair<int32_t, size_t> best{-1, 0};
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    node = child(node, static_cast<unsigned char>(text[i]));
    if (node < 0) break;
    if (nodes_[size_t(node)].id >= 0) best = {nodes_[size_t(node)].id, i + 1 - pos};
  }
  return best;
}

}  // namespace frugal::tokenizer

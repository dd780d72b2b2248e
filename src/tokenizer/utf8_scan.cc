#include "tokenizer/utf8_scan.h"

#include <cstddef>
#include <cstdint>

#include "base/utf8.h"

namespace frugal::tokenizer {

Utf8Repair::Utf8Repair(std::string_view original) : original_(original) {
  size_t i = 0, copied = 0;
  while (i < original.size()) {
    if (uint8_t(original[i]) < 0x80) {  // ASCII: the common case, no table look-up
      ++i;
      continue;
    }
    const size_t n = utf8_char_len(original, i);
    if (n > 0) {
      i += n;
      continue;
    }
    const size_t bad = utf8_ill_formed_len(original, i);
    valid_.append(original, copied, i - copied);
    fixes_.push_back({valid_.size(), bad});
    valid_ += kReplacementCharacter;
    i += bad;
    copied = i;
  }
  if (changed()) valid_.append(original, copied, std::string_view::npos);
}

std::vector<std::string_view> Utf8Repair::map_back(const std::vector<std::string_view>& pieces) const {
  if (!changed()) return pieces;
  std::vector<std::string_view> out;
  out.reserve(pieces.size());
  const char* base = valid_.data();
  size_t fix = 0;
  std::ptrdiff_t shift = 0;  // original offset minus valid offset past the fixes seen so far
  for (std::string_view p : pieces) {
    const auto begin = std::ptrdiff_t(p.data() - base);
    const auto end = begin + std::ptrdiff_t(p.size());
    const std::ptrdiff_t begin_shift = shift;
    // A piece never cuts a U+FFFD, so every fix that starts before `end` lies
    // wholly inside this piece or an earlier one.
    while (fix < fixes_.size() && std::ptrdiff_t(fixes_[fix].valid_offset) < end) {
      shift += std::ptrdiff_t(fixes_[fix].original_len) - std::ptrdiff_t(kReplacementCharacter.size());
      ++fix;
    }
    const auto ob = size_t(begin + begin_shift);
    out.push_back(original_.substr(ob, size_t(end + shift) - ob));
  }
  return out;
}

}  // namespace frugal::tokenizer

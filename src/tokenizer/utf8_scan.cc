#include "tokenizer/utf8_scan.h"

#include <cstddef>
#include <cstdint>

namespace frugal::tokenizer {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Sequence length for a lead byte (0: leads nothing) and the range allowed for
// the second byte, narrowed after E0, ED, F0 and F4 to exclude overlongs,
// surrogates and code points above U+10FFFF.
int lead_rule(uint8_t lead, uint8_t& lo, uint8_t& hi) {
  lo = 0x80;
  hi = 0xBF;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) return 2;
  if (lead >= 0xE0 && lead <= 0xEF) {
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
    return 3;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
    return 4;
  }
  return 0;
}

// How many bytes from s[i] belong to the character led there: all of them
// when it is whole, else the lead and the continuation bytes that were fine.
size_t good_prefix(std::string_view s, size_t i, size_t& want) {
  uint8_t lo, hi;
  want = size_t(lead_rule(uint8_t(s[i]), lo, hi));
  if (want <= 1) return want;
  size_t k = 1;
  while (k < want && i + k < s.size()) {
    const auto b = uint8_t(s[i + k]);
    if (!(k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF))) break;
    ++k;
  }
  return k;
}

}  // namespace

size_t utf8_char_len(std::string_view s, size_t i) {
  size_t want = 0;
  const size_t k = good_prefix(s, i, want);
  return k == want ? k : 0;
}

size_t utf8_ill_formed_len(std::string_view s, size_t i) {
  size_t want = 0;
  const size_t k = good_prefix(s, i, want);
  return k == 0 ? 1 : k;
}

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
    valid_ += kReplacement;
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
      shift += std::ptrdiff_t(fixes_[fix].original_len) - std::ptrdiff_t(kReplacement.size());
      ++fix;
    }
    const auto ob = size_t(begin + begin_shift);
    out.push_back(original_.substr(ob, size_t(end + shift) - ob));
  }
  return out;
}

}  // namespace frugal::tokenizer

#include "base/utf8.h"

#include <algorithm>
#include <cstdint>

namespace frugal {

namespace {

// The bounds of the second byte of a sequence led by `lead` (Unicode Table 3-7,
// "well-formed UTF-8 byte sequences"): narrower than 80..BF after E0/ED/F0/F4
// so that overlong forms, surrogates and code points past U+10FFFF are
// ill-formed. Returns the sequence length, 0 for a byte that leads nothing.
int sequence_rule(uint8_t lead, uint8_t& lo, uint8_t& hi) {
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
  return 0;  // 80..C1 (a continuation byte or an overlong lead), F5..FF
}

// How many bytes from s[i] belong to the character led there (want: its
// length, 0 for a byte that leads nothing): all of them when it is whole, else
// the lead and the continuation bytes that were fine.
size_t good_prefix(std::string_view s, size_t i, size_t& want) {
  uint8_t lo, hi;
  want = static_cast<size_t>(sequence_rule(static_cast<uint8_t>(s[i]), lo, hi));
  if (want <= 1) return want;
  size_t k = 1;
  while (k < want && i + k < s.size()) {
    const auto b = static_cast<uint8_t>(s[i + k]);
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

std::string take_valid_utf8(std::string& pending, bool final) {
  std::string out;
  out.reserve(pending.size());
  const size_t n = pending.size();
  size_t i = 0;
  while (i < n) {
    size_t want = 0;
    const size_t k = good_prefix(pending, i, want);
    if (k == want && k > 0) {
      out.append(pending, i, k);  // a whole character
    } else if (want > 1 && i + k == n && !final) {
      break;  // valid so far: the rest may come with the next token
    } else {
      out += kReplacementCharacter;  // the maximal subpart: the lead and its good continuations
    }
    i += std::max<size_t>(k, 1);
  }
  pending.erase(0, i);
  return out;
}

std::string to_valid_utf8(std::string_view bytes) {
  std::string pending(bytes);
  return take_valid_utf8(pending, true);
}

bool is_valid_utf8(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size();) {
    const size_t n = utf8_char_len(bytes, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

size_t utf8_decode(std::string_view s, size_t i, uint32_t& cp) {
  const size_t n = utf8_char_len(s, i);
  if (n == 0) return 0;
  static constexpr uint8_t kLeadBits[5] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  uint32_t v = static_cast<uint8_t>(s[i]) & kLeadBits[n];
  for (size_t k = 1; k < n; ++k) v = (v << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
  cp = v;
  return n;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

}  // namespace frugal

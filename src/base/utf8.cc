#include "base/utf8.h"

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

}  // namespace

std::string take_valid_utf8(std::string& pending, bool final) {
  std::string out;
  out.reserve(pending.size());
  const size_t n = pending.size();
  size_t i = 0;
  while (i < n) {
    const auto lead = static_cast<uint8_t>(pending[i]);
    uint8_t lo, hi;
    const int len = sequence_rule(lead, lo, hi);
    if (len == 1) {
      out += static_cast<char>(lead);
      ++i;
      continue;
    }
    if (len == 0) {
      out += kReplacementCharacter;
      ++i;
      continue;
    }
    // Count the bytes that continue this character correctly.
    size_t k = 1;
    while (k < static_cast<size_t>(len) && i + k < n) {
      const auto b = static_cast<uint8_t>(pending[i + k]);
      const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
      if (!ok) break;
      ++k;
    }
    if (k == static_cast<size_t>(len)) {
      out.append(pending, i, k);
    } else if (i + k == n && !final) {
      break;  // valid so far: the rest may come with the next token
    } else {
      out += kReplacementCharacter;  // the maximal subpart: the lead and its good continuations
    }
    i += k;
  }
  pending.erase(0, i);
  return out;
}

std::string to_valid_utf8(std::string_view bytes) {
  std::string pending(bytes);
  return take_valid_utf8(pending, true);
}

bool is_valid_utf8(std::string_view bytes) {
  std::string pending(bytes);
  return take_valid_utf8(pending, false) == bytes && pending.empty();
}

}  // namespace frugal

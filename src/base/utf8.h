// Making byte strings valid UTF-8 as they stream in. Model output is bytes:
// a byte-level BPE or byte-fallback token may hold half a character, or bytes
// that are no character at all. Everything that reaches a client (JSON,
// server-sent events, a terminal) must be whole, valid UTF-8, so these
// functions hold back a character that may still be completed and replace
// what never can be with U+FFFD, one per maximal ill-formed subpart (the
// Unicode Standard's recommended practice, as WHATWG decoders do).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace frugal {

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

// Moves what can be decided from the front of `pending` to the result: valid
// characters as they are, each ill-formed subpart as U+FFFD. A trailing
// character that is valid so far but incomplete stays in `pending` unless
// `final` (then it too becomes U+FFFD and `pending` ends empty).
std::string take_valid_utf8(std::string& pending, bool final);

// The whole string made valid (take_valid_utf8 with final = true).
std::string to_valid_utf8(std::string_view bytes);

bool is_valid_utf8(std::string_view bytes);

// Length of the well-formed character starting at s[i] (1..4), or 0 when the
// bytes there are ill-formed or cut short (Unicode Table 3-7: no overlongs,
// surrogates or code points past U+10FFFF). REQUIRES: i < s.size().
size_t utf8_char_len(std::string_view s, size_t i);

// utf8_char_len, and the code point of that character in cp (untouched when 0).
size_t utf8_decode(std::string_view s, size_t i, uint32_t& cp);

// Appends the UTF-8 form of cp (REQUIRES cp <= 0x10FFFF; a surrogate comes
// out as the three bytes no decoder accepts).
void append_utf8(std::string& out, uint32_t cp);

// Length of the maximal ill-formed subpart starting at s[i]: the lead byte and
// those of its continuation bytes that were still acceptable (1..3), the unit
// that becomes one U+FFFD. REQUIRES: utf8_char_len(s, i) == 0.
size_t utf8_ill_formed_len(std::string_view s, size_t i);

}  // namespace frugal

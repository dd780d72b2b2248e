// Making byte strings valid UTF-8 as they stream in. Model output is bytes:
// a byte-level BPE or byte-fallback token may hold half a character, or bytes
// that are no character at all. Everything that reaches a client (JSON,
// server-sent events, a terminal) must be whole, valid UTF-8, so these
// functions hold back a character that may still be completed and replace
// what never can be with U+FFFD, one per maximal ill-formed subpart (the
// Unicode Standard's recommended practice, as WHATWG decoders do).
#pragma once
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

}  // namespace frugal

// Text cleaning for training corpora: one document in, one clean document out.
// Valid UTF-8 only (invalid bytes are dropped and counted), NFC normalisation,
// control characters removed (a backspace also erases the character before it,
// the way old overstrike text underlines), Unicode spaces become ' ', runs of
// spaces inside a line collapse to one, indentation is kept (a tab is four
// spaces), trailing spaces and runs of blank lines go.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace frugal::data {

struct CleanCounts {
  uint64_t invalid_bytes = 0;   // bytes that were not part of valid UTF-8
  uint64_t control_chars = 0;   // control characters removed
};

std::string clean_text(std::string_view raw, CleanCounts* counts = nullptr);

// Length of the valid UTF-8 sequence at s[0] (1..4), or 0 when invalid
// (truncated, overlong, a surrogate, beyond U+10FFFF). cp receives the code point.
int utf8_sequence(std::string_view s, uint32_t* cp);

// True when every byte of s belongs to a valid UTF-8 sequence.
bool is_valid_utf8(std::string_view s);

}  // namespace frugal::data

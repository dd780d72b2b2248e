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

#include "base/utf8.h"

namespace frugal::data {

struct CleanCounts {
  uint64_t invalid_bytes = 0;   // bytes that were not part of valid UTF-8
  uint64_t control_chars = 0;   // control characters removed
};

std::string clean_text(std::string_view raw, CleanCounts* counts = nullptr);

// UTF-8 validation and decoding: base/utf8.h (is_valid_utf8, utf8_decode).

}  // namespace frugal::data

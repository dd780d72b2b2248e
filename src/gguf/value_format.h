// Human-readable text for metadata values, as `frugal inspect` shows them:
// strings quoted and escaped, long strings cut, long arrays summarised as
// [151936 strings: "!", "\"", ...].
#pragma once
#include <cstddef>
#include <string>

#include "gguf/value.h"

namespace frugal::gguf {

struct ValueFormat {
  size_t max_items = 8;     // arrays longer than this show only `head_items`
  size_t head_items = 3;
  size_t max_string = 120;  // bytes of a string shown before "... (N bytes)"
};

// A string as a double-quoted literal: quotes, backslashes and control bytes escaped.
std::string quote_string(const std::string& s, size_t max_bytes);
std::string format_value(const Value& v, const ValueFormat& fmt = {});

}  // namespace frugal::gguf

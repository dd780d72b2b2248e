#include "gguf/value_format.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace frugal::gguf {

std::string quote_string(const std::string& s, size_t max_bytes) {
  std::string out = "\"";
  size_t n = std::min(s.size(), max_bytes);
  // Do not cut a UTF-8 character in half.
  while (n < s.size() && n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  for (size_t k = 0; k < n; ++k) {
    const unsigned char c = static_cast<unsigned char>(s[k]);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\r') out += "\\r";
    else if (c < 0x20 || c == 0x7F) {
      char b[8];
      std::snprintf(b, sizeof b, "\\x%02x", c);
      out += b;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += "\"";
  if (n < s.size()) out += "... (" + std::to_string(s.size()) + " bytes)";
  return out;
}

namespace {
// The shortest text that reads back as the same value (1e-06, not 9.99999997e-07).
std::string format_float(double f, bool is_f32) {
  char b[40];
  for (int digits = is_f32 ? 6 : 15; digits <= 17; ++digits) {
    std::snprintf(b, sizeof b, "%.*g", digits, f);
    if (is_f32 ? std::strtof(b, nullptr) == static_cast<float>(f) : std::strtod(b, nullptr) == f) break;
  }
  return b;
}
}  // namespace

std::string format_value(const Value& v, const ValueFormat& fmt) {
  switch (v.type) {
    case ValueType::UINT8: case ValueType::UINT16: case ValueType::UINT32: case ValueType::UINT64:
      return std::to_string(v.u);
    case ValueType::INT8: case ValueType::INT16: case ValueType::INT32: case ValueType::INT64:
      return std::to_string(v.i);
    case ValueType::FLOAT32: case ValueType::FLOAT64:
      return format_float(v.f, v.type == ValueType::FLOAT32);
    case ValueType::BOOL:
      return v.u ? "true" : "false";
    case ValueType::STRING:
      return quote_string(v.s, fmt.max_string);
    case ValueType::ARRAY: {
      const bool summarise = v.items.size() > fmt.max_items;
      const size_t shown = summarise ? fmt.head_items : v.items.size();
      std::string out = "[";
      if (summarise) out += std::to_string(v.items.size()) + " " + value_type_name(v.elem_type) + "s: ";
      ValueFormat inner = fmt;
      inner.max_string = std::min<size_t>(fmt.max_string, 40);
      for (size_t k = 0; k < shown; ++k) {
        if (k) out += ", ";
        out += format_value(v.items[k], inner);
      }
      if (summarise) out += ", ...";
      return out + "]";
    }
  }
  return "?";
}

}  // namespace frugal::gguf

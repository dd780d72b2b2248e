#include "server/json_limits.h"

#include <vector>

namespace frugal::server {

std::optional<std::string> json_out_of_bounds(std::string_view text, const JsonBounds& bounds) {
  // For each open container: the number of keys so far (objects), or
  // SIZE_MAX for an array. A key is the string before a ':' in an object.
  constexpr size_t kArray = static_cast<size_t>(-1);
  std::vector<size_t> open;
  open.reserve(bounds.max_depth + 1);
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '"') {
      // Skip the string, escapes included.
      for (++i; i < text.size() && text[i] != '"'; ++i)
        if (text[i] == '\\') ++i;
    } else if (c == '{' || c == '[') {
      if (open.size() >= bounds.max_depth)
        return "the request body nests arrays and objects more than " + std::to_string(bounds.max_depth) + " deep";
      open.push_back(c == '{' ? 0 : kArray);
    } else if (c == '}' || c == ']') {
      if (!open.empty()) open.pop_back();
    } else if (c == ':') {
      if (!open.empty() && open.back() != kArray && ++open.back() > bounds.max_object_keys)
        return "an object in the request body has more than " + std::to_string(bounds.max_object_keys) + " keys";
    }
  }
  return std::nullopt;
}

}  // namespace frugal::server

#include "cli/error_text.h"

#include <nlohmann/json.hpp>
#include <string_view>

namespace frugal::cli {

std::string error_text(const std::exception& e) {
  std::string text = e.what();
  constexpr std::string_view kTag = "[json.exception.";
  for (size_t at; (at = text.find(kTag)) != std::string::npos;) {
    size_t end = text.find(']', at);
    end = end == std::string::npos ? text.size() : end + 1;
    if (end < text.size() && text[end] == ' ') ++end;
    text.erase(at, end - at);
  }
  if (dynamic_cast<const nlohmann::json::exception*>(&e) != nullptr) return "malformed JSON input: " + text;
  return text;
}

}  // namespace frugal::cli

// What an error says to the user. The JSON library's messages begin with a
// tag such as "[json.exception.parse_error.101]" that means nothing to a
// user (and may sit inside a message that wraps it); the tag is removed, and
// a JSON error that arrives unwrapped is said to be about JSON input.
#pragma once
#include <exception>
#include <string>

namespace frugal::cli {

std::string error_text(const std::exception& e);

}  // namespace frugal::cli

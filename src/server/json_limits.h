// A bound on a JSON request body's shape, checked in one linear pass before
// the body is parsed. The JSON library keeps an object's keys in order and
// looks each new key up among the ones before it, so an object with n keys
// costs n^2 / 2 comparisons to parse (100,000 keys: many seconds of CPU);
// deep nesting costs stack. Both are refused before parsing starts.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace frugal::server {

struct JsonBounds {
  size_t max_depth = 64;           // nested arrays and objects
  size_t max_object_keys = 4096;   // keys in one object (logit_bias is the largest real one)
};

// Why the body is out of bounds, or nothing. Not a validator: text that is
// not JSON passes here and is refused by the parser.
std::optional<std::string> json_out_of_bounds(std::string_view text, const JsonBounds& bounds = {});

}  // namespace frugal::server

// Reading a JSON request body field by field: the body parsed once within
// the JSON bound, and each field checked for its type and range, so that
// every endpoint answers a bad field with the same 400 naming it.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace frugal::server {

// A bad request: answered with HTTP 400 and an OpenAI error body naming `param`.
class RequestError : public std::runtime_error {
 public:
  RequestError(std::string param, const std::string& message, std::string code = "")
      : std::runtime_error(message), param(std::move(param)), code(std::move(code)) {}
  std::string param;  // the offending field ("" when the body as a whole is bad)
  std::string code;   // an OpenAI error code such as "context_length_exceeded" ("" for none)
};

// The body as a JSON object, refused (param "") when out of the JSON bound
// (json_limits.h), not JSON, or not an object.
nlohmann::ordered_json parse_object_body(const std::string& body);

// A field counts as absent when missing or null, as OpenAI's API reads them.
bool present(const nlohmann::ordered_json& j, const char* key);
// Each: the field's value, `def` when absent, RequestError(key) when it has
// the wrong type or lies outside [lo, hi].
double number(const nlohmann::ordered_json& j, const char* key, double def, double lo, double hi);
int64_t integer(const nlohmann::ordered_json& j, const char* key, int64_t def, int64_t lo, int64_t hi);
bool boolean(const nlohmann::ordered_json& j, const char* key, bool def);

// An array of integers each in [0, n_vocab); RequestError(param) otherwise.
std::vector<int32_t> token_ids(const nlohmann::ordered_json& a, int32_t n_vocab, const std::string& param);

}  // namespace frugal::server

#include "server/request_fields.h"

#include <cmath>

#include "server/json_limits.h"

namespace frugal::server {

using json = nlohmann::ordered_json;

json parse_object_body(const std::string& body) {
  if (auto why = json_out_of_bounds(body)) throw RequestError("", *why);
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded()) throw RequestError("", "the request body is not valid JSON");
  if (!j.is_object()) throw RequestError("", "the request body must be a JSON object");
  return j;
}

bool present(const json& j, const char* key) { return j.contains(key) && !j[key].is_null(); }

double number(const json& j, const char* key, double def, double lo, double hi) {
  if (!present(j, key)) return def;
  if (!j[key].is_number()) throw RequestError(key, std::string(key) + " must be a number");
  const double v = j[key].get<double>();
  if (!std::isfinite(v) || v < lo || v > hi)
    throw RequestError(key, std::string(key) + " must be between " + json(lo).dump() + " and " + json(hi).dump() +
                                ", not " + j[key].dump());
  return v;
}

int64_t integer(const json& j, const char* key, int64_t def, int64_t lo, int64_t hi) {
  if (!present(j, key)) return def;
  if (!j[key].is_number_integer()) throw RequestError(key, std::string(key) + " must be an integer");
  const int64_t v = j[key].is_number_unsigned() && j[key].get<uint64_t>() > uint64_t(hi) ? hi + 1 : j[key].get<int64_t>();
  if (v < lo || v > hi)
    throw RequestError(key, std::string(key) + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                                ", not " + j[key].dump());
  return v;
}

bool boolean(const json& j, const char* key, bool def) {
  if (!present(j, key)) return def;
  if (!j[key].is_boolean()) throw RequestError(key, std::string(key) + " must be true or false");
  return j[key].get<bool>();
}

std::vector<int32_t> token_ids(const json& a, int32_t n_vocab, const std::string& param) {
  std::vector<int32_t> ids;
  for (const json& e : a) {
    if (!e.is_number_integer()) throw RequestError(param, param + " must hold integer token ids only, not " + e.dump());
    // An unsigned value past int64's range reads as negative: outside either way.
    const int64_t id = e.is_number_unsigned() && e.get<uint64_t>() > uint64_t(INT64_MAX) ? -1 : e.get<int64_t>();
    if (id < 0 || id >= n_vocab)
      throw RequestError(param, param + ": token id " + e.dump() + " is outside the vocabulary of " +
                                    std::to_string(n_vocab));
    ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

}  // namespace frugal::server

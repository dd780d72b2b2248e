// Limits on the values a template builds (jinja_limits.h). Lists and dicts
// are shared by reference, so `x.append(x)` would make a cycle that printing
// recurses into forever and reference counting never frees; and a loop that
// wraps a list in a list each time would nest it deeper than printing,
// comparing or freeing it can recurse.
#include <algorithm>
#include <string>
#include <unordered_map>

#include "tokenizer/jinja_eval.h"
#include "tokenizer/jinja_limits.h"

namespace frugal::tokenizer::jinja::eval {
namespace {

const void* container_of(const Value& v) {
  if (v.is_array()) return v.arr.get();
  if (v.is_object()) return v.obj.get();
  return nullptr;
}

// Depth of v's containers (0 for a scalar), at most limit + 1. Containers
// shared within v are walked once (memo), so a list holding the same list
// twice at each of 60 levels costs 60 steps, not 2^60. Recursion stops at
// the limit, so it is bounded whatever v is.
int depth_of(const Value& v, const void* forbidden, int limit, int line,
             std::unordered_map<const void*, int>& memo) {
  const void* c = container_of(v);
  if (!c) return 0;
  if (c == forbidden) err(line, "a list or dict cannot contain itself");
  if (limit < 0) return 1;
  auto it = memo.find(c);
  if (it != memo.end()) return it->second;
  int below = 0;
  if (v.is_array()) {
    for (const Value& x : *v.arr) below = std::max(below, depth_of(x, forbidden, limit - 1, line, memo));
  } else {
    for (const auto& kv : *v.obj) below = std::max(below, depth_of(kv.second, forbidden, limit - 1, line, memo));
  }
  memo.emplace(c, below + 1);
  return below + 1;
}

// Depth of a JSON value, at most limit + 1 (the recursion stops there), and
// the number of values in it counted into `values`.
int json_depth(const nlohmann::ordered_json& j, int limit, size_t& values) {
  ++values;
  if (!j.is_structured()) return 0;
  if (limit < 0) return 1;
  int below = 0;
  for (const auto& x : j) below = std::max(below, json_depth(x, limit - 1, values));
  return below + 1;
}

}  // namespace

size_t check_context(const nlohmann::ordered_json& context) {
  size_t values = 0;
  if (json_depth(context, limits::kMaxValueDepth, values) > limits::kMaxValueDepth + 1)
    fail("chat template: the messages and tools nest more than ", limits::kMaxValueDepth, " deep");
  return values;
}

void check_size(const Value& v, int line) {
  if (v.is_string() && v.s.size() > limits::kMaxStringBytes)
    err(line, "a string of " + std::to_string(v.s.size()) + " bytes is longer than the " +
                  std::to_string(limits::kMaxStringBytes) + " allowed");
  if (v.is_array() && v.arr->size() > limits::kMaxListItems)
    err(line, "a list of " + std::to_string(v.arr->size()) + " items is longer than the " +
                  std::to_string(limits::kMaxListItems) + " allowed");
}

void check_nesting(const Value& inner, const Value* outer, int line) {
  std::unordered_map<const void*, int> memo;
  const int limit = limits::kMaxValueDepth;
  const int d = depth_of(inner, outer ? container_of(*outer) : nullptr, limit, line, memo);
  if (d + (outer ? 1 : 0) > limit)
    err(line, "lists and dicts nest more than " + std::to_string(limit) + " deep");
}

}  // namespace frugal::tokenizer::jinja::eval

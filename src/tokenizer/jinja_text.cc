// Jinja evaluation: string helpers shared by filters and methods (Python semantics).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>

#include "base/error.h"
#include "tokenizer/jinja.h"
#include "tokenizer/jinja_parser.h"
#include "tokenizer/jinja_eval.h"
#include "tokenizer/jinja_limits.h"

namespace frugal::tokenizer::jinja::eval {

int64_t to_int(const Value& v, int line, const char* what) {
  if (v.kind == Value::Kind::Int) return v.i;
  if (v.kind == Value::Kind::Bool) return v.b;
  if (v.kind == Value::Kind::Float) return int64_t(v.f);
  err(line, std::string(what) + " must be an integer, not " + v.kind_name());
}

std::string ws_strip(const std::string& s, bool left, bool right, const Value* chars) {
  std::vector<std::string> set;
  if (chars && chars->is_string()) set = utf8_chars(chars->s);
  auto is_strip = [&](const std::string& c) {
    if (chars && chars->is_string()) return std::find(set.begin(), set.end(), c) != set.end();
    return c == " " || c == "\t" || c == "\n" || c == "\r" || c == "\f" || c == "\v";
  };
  std::vector<std::string> cs = utf8_chars(s);
  size_t b = 0, e = cs.size();
  if (left)
    while (b < e && is_strip(cs[b])) ++b;
  if (right)
    while (e > b && is_strip(cs[e - 1])) --e;
  std::string out;
  for (size_t k = b; k < e; ++k) out += cs[k];
  return out;
}

std::string ascii_case(std::string s, bool upper) {
  for (char& c : s) c = upper ? char(std::toupper(static_cast<unsigned char>(c))) : char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
  if (from.empty()) {
    // Python inserts `to` between every character (and at both ends).
    std::string out = to;
    int64_t n = 1;
    for (const std::string& c : utf8_chars(s)) {
      out += c;
      if (count < 0 || n < count) { out += to; ++n; }
      if (out.size() > limits::kMaxStringBytes) fail("chat template: replace() makes too long a string");
    }
    return out;
  }
  std::string out;
  size_t pos = 0;
  int64_t n = 0;
  for (;;) {
    size_t hit = s.find(from, pos);
    if (hit == std::string::npos || (count >= 0 && n >= count)) break;
    out += s.substr(pos, hit - pos) + to;
    if (out.size() > limits::kMaxStringBytes) fail("chat template: replace() makes too long a string");
    pos = hit + from.size();
    ++n;
  }
  return out + s.substr(pos);
}

std::vector<std::string> py_split(const std::string& s, const Value* sep, int64_t maxsplit) {
  std::vector<std::string> out;
  if (!sep || sep->is_none() || sep->is_undefined()) {
    size_t i = 0;
    auto is_ws = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    while (i < s.size()) {
      while (i < s.size() && is_ws(s[i])) ++i;
      if (i >= s.size()) break;
      if (maxsplit >= 0 && int64_t(out.size()) >= maxsplit) {
        std::string rest = s.substr(i);
        while (!rest.empty() && is_ws(rest.back())) rest.pop_back();
        out.push_back(rest);
        break;
      }
      size_t j = i;
      while (j < s.size() && !is_ws(s[j])) ++j;
      out.push_back(s.substr(i, j - i));
      i = j;
    }
    return out;
  }
  const std::string& d = sep->s;
  if (d.empty()) fail("chat template: split() with an empty separator");
  size_t pos = 0;
  for (;;) {
    size_t hit = s.find(d, pos);
    if (hit == std::string::npos || (maxsplit >= 0 && int64_t(out.size()) >= maxsplit)) break;
    out.push_back(s.substr(pos, hit - pos));
    pos = hit + d.size();
  }
  out.push_back(s.substr(pos));
  return out;
}

Value strings_to_array(const std::vector<std::string>& v) {
  Array a;
  for (const std::string& s : v) a.push_back(Value::string(s));
  return Value::array(std::move(a));
}

// Python slicing of n items.
std::vector<int64_t> slice_indices(int64_t n, const Value& start, const Value& stop, const Value& step, int line) {
  int64_t st = step.is_undefined() || step.is_none() ? 1 : to_int(step, line, "slice step");
  if (st == 0) err(line, "slice step cannot be zero");
  auto norm = [&](const Value& v, int64_t def, bool is_start) -> int64_t {
    if (v.is_undefined() || v.is_none()) return def;
    int64_t x = to_int(v, line, "slice index");
    if (x < 0) x += n;
    if (st > 0) return std::clamp<int64_t>(x, 0, n);
    (void)is_start;
    return std::clamp<int64_t>(x, -1, n - 1);
  };
  int64_t b = norm(start, st > 0 ? 0 : n - 1, true);
  int64_t e = norm(stop, st > 0 ? n : -1, false);
  std::vector<int64_t> idx;
  if (st > 0)
    for (int64_t k = b; k < e; k += st) idx.push_back(k);
  else
    for (int64_t k = b; k > e; k += st) idx.push_back(k);
  return idx;
}

}  // namespace frugal::tokenizer::jinja::eval

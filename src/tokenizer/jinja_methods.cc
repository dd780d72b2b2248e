// Jinja evaluation: methods of strings, lists and dicts (Python-style, as chat templates use them).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>

#include "base/error.h"
#include "tokenizer/jinja.h"
#include "tokenizer/jinja_parser.h"
#include "tokenizer/jinja_eval.h"

namespace frugal::tokenizer::jinja::eval {

Value Evaluator::call_method(const Value& obj, const std::string& m, std::vector<Value>& a, Kwargs& kw, int line) {
  if (obj.is_string()) {
    const std::string& s = obj.s;
    if (m == "startswith" || m == "endswith") {
      const Value* p = arg(a, 0, kw, "prefix");
      if (!p) err(line, m + "() needs an argument");
      std::vector<std::string> cands;
      if (p->is_array()) for (const Value& x : *p->arr) cands.push_back(to_output(x));
      else cands.push_back(to_output(*p));
      for (const std::string& c : cands) {
        if (m == "startswith" && s.compare(0, c.size(), c) == 0 && s.size() >= c.size()) return Value::boolean(true);
        if (m == "endswith" && s.size() >= c.size() && s.compare(s.size() - c.size(), c.size(), c) == 0) return Value::boolean(true);
      }
      return Value::boolean(false);
    }
    if (m == "strip" || m == "lstrip" || m == "rstrip")
      return Value::string(ws_strip(s, m != "rstrip", m != "lstrip", arg(a, 0, kw, "chars")));
    if (m == "upper" || m == "lower") return Value::string(ascii_case(s, m == "upper"));
    if (m == "split") {
      const Value* mx = arg(a, 1, kw, "maxsplit");
      return strings_to_array(py_split(s, arg(a, 0, kw, "sep"), mx ? to_int(*mx, line, "maxsplit") : -1));
    }
    if (m == "replace") {
      if (a.size() < 2) err(line, "replace() needs two arguments");
      return Value::string(replace_all(s, to_output(a[0]), to_output(a[1]), a.size() > 2 ? to_int(a[2], line, "count") : -1));
    }
    if (m == "find") {
      if (a.empty()) err(line, "find() needs an argument");
      size_t p = s.find(to_output(a[0]));
      return Value::integer(p == std::string::npos ? -1 : int64_t(utf8_chars(s.substr(0, p)).size()));
    }
    if (m == "count") {
      if (a.empty()) err(line, "count() needs an argument");
      std::string sub = to_output(a[0]);
      if (sub.empty()) return Value::integer(int64_t(utf8_chars(s).size()) + 1);
      int64_t n = 0;
      for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return Value::integer(n);
    }
    if (m == "join") {
      if (a.empty()) err(line, "join() needs an argument");
      std::string out;
      Array items = iterate(a[0], line);
      for (size_t k = 0; k < items.size(); ++k) out += (k ? s : "") + to_output(items[k]);
      return Value::string(out);
    }
    if (m == "title" || m == "capitalize") return Value::string(title_case(s, m == "capitalize"));
    if (m == "isdigit" || m == "isalpha" || m == "isspace") {
      if (s.empty()) return Value::boolean(false);
      for (unsigned char c : s) {
        bool ok = m == "isdigit" ? std::isdigit(c) : m == "isalpha" ? std::isalpha(c) : std::isspace(c);
        if (!ok) return Value::boolean(false);
      }
      return Value::boolean(true);
    }
    err(line, "the string method '" + m + "' is not supported");
  }
  if (obj.is_object()) {
    if (m == "items") {
      Array out;
      for (const auto& [k, v] : *obj.obj) out.push_back(Value::array({Value::string(k), v}));
      return Value::array(std::move(out));
    }
    if (m == "keys" || m == "values") {
      Array out;
      for (const auto& [k, v] : *obj.obj) out.push_back(m == "keys" ? Value::string(k) : v);
      return Value::array(std::move(out));
    }
    if (m == "get") {
      if (a.empty()) err(line, "get() needs a key");
      const Value* v = obj.member(to_output(a[0]));
      if (v) return *v;
      return a.size() > 1 ? a[1] : Value::none();
    }
    err(line, "the mapping method '" + m + "' is not supported");
  }
  if (obj.is_array()) {
    if (m == "append") {
      if (a.size() != 1) err(line, "append() takes one argument");
      check_nesting(a[0], &obj, line);
      obj.arr->push_back(a[0]);
      return Value::none();
    }
    if (m == "pop") {
      if (obj.arr->empty()) err(line, "pop() from an empty list");
      int64_t n = int64_t(obj.arr->size());
      int64_t k = a.empty() ? n - 1 : to_int(a[0], line, "pop index");
      if (k < 0) k += n;
      if (k < 0 || k >= n) err(line, "pop index out of range");
      Value v = (*obj.arr)[k];
      obj.arr->erase(obj.arr->begin() + k);
      return v;
    }
    if (m == "index") {
      if (a.empty()) err(line, "index() needs a value");
      for (size_t k = 0; k < obj.arr->size(); ++k)
        if (equal((*obj.arr)[k], a[0])) return Value::integer(int64_t(k));
      err(line, "index(): value is not in the list");
    }
    err(line, "the list method '" + m + "' is not supported");
  }
  err(line, "cannot call '" + m + "' on a " + obj.kind_name());
}

std::string Evaluator::title_case(const std::string& s, bool only_first) {
  std::string out = ascii_case(s, false);
  bool start = true;
  for (char& c : out) {
    if (start && std::isalpha(static_cast<unsigned char>(c))) c = char(std::toupper(static_cast<unsigned char>(c)));
    if (only_first) { if (std::isalpha(static_cast<unsigned char>(c))) start = false; continue; }
    start = !std::isalnum(static_cast<unsigned char>(c));
  }
  if (only_first) {
    // capitalize: first character upper, the rest lower.
    out = ascii_case(s, false);
    if (!out.empty()) out[0] = char(std::toupper(static_cast<unsigned char>(out[0])));
  }
  return out;
}

}  // namespace frugal::tokenizer::jinja::eval

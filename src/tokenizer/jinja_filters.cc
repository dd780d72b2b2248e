// Jinja evaluation: filters and tests.
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

Value Evaluator::apply_filter(const Expr& e, Value v, Scope& sc) {
  std::vector<Value> a;
  Kwargs kw;
  eval_args(e, 1, sc, a, kw);
  return filter(e.name, v, a, kw, e.line, sc);
}

Value Evaluator::filter(const std::string& f, const Value& v, std::vector<Value>& a, Kwargs& kw, int line, Scope& sc) {
  if (f == "trim") {
    if (!v.is_string()) err(line, std::string("trim needs a string, not a ") + v.kind_name());
    return Value::string(ws_strip(v.s, true, true, arg(a, 0, kw, "chars")));
  }
  if (f == "tojson") {
    const Value* ind = arg(a, 0, kw, "indent");
    if (kwarg(kw, "sort_keys") && kwarg(kw, "sort_keys")->truthy()) err(line, "tojson(sort_keys=true) is not supported");
    return Value::string(to_json(v, ind && !ind->is_none() ? int(to_int(*ind, line, "indent")) : 0));
  }
  if (f == "length" || f == "count") {
    if (v.is_string()) return Value::integer(int64_t(utf8_chars(v.s).size()));
    if (v.is_array()) return Value::integer(int64_t(v.arr->size()));
    if (v.is_object()) return Value::integer(int64_t(v.obj->size()));
    if (v.is_undefined()) return Value::integer(0);
    err(line, std::string("length of a ") + v.kind_name());
  }
  if (f == "upper" || f == "lower") return Value::string(ascii_case(to_output(v), f == "upper"));
  if (f == "capitalize" || f == "title") return Value::string(title_case(to_output(v), f == "capitalize"));
  if (f == "replace") {
    if (a.size() < 2) err(line, "replace needs two arguments");
    return Value::string(replace_all(to_output(v), to_output(a[0]), to_output(a[1]), a.size() > 2 ? to_int(a[2], line, "count") : -1));
  }
  if (f == "join") {
    const Value* sep = arg(a, 0, kw, "d");
    const Value* attr = arg(a, 1, kw, "attribute");
    std::string out;
    Array items = iterate(v, line);
    for (size_t k = 0; k < items.size(); ++k) {
      if (k && sep) out += to_output(*sep);
      out += to_output(attr ? get_attr(items[k], to_output(*attr), line) : items[k]);
    }
    return Value::string(out);
  }
  if (f == "first" || f == "last") {
    Array items = iterate(v, line);
    if (items.empty()) return Value();
    return f == "first" ? items.front() : items.back();
  }
  if (f == "default" || f == "d") {
    const Value* def = arg(a, 0, kw, "default_value");
    const Value* boolean = arg(a, 1, kw, "boolean");
    bool use_default = v.is_undefined() || (boolean && boolean->truthy() && !v.truthy());
    return use_default ? (def ? *def : Value::string("")) : v;
  }
  if (f == "items" || f == "dictsort") {
    if (v.is_undefined() || v.is_none()) return Value::array();
    if (!v.is_object()) err(line, std::string(f) + " needs a mapping, not a " + v.kind_name());
    Array out;
    for (const auto& [k, x] : *v.obj) out.push_back(Value::array({Value::string(k), x}));
    if (f == "dictsort")
      std::stable_sort(out.begin(), out.end(), [](const Value& p, const Value& q) { return (*p.arr)[0].s < (*q.arr)[0].s; });
    return Value::array(std::move(out));
  }
  if (f == "string") return Value::string(to_output(v));
  if (f == "list") return Value::array(iterate(v, line));
  if (f == "int") {
    if (v.is_string()) {
      try { return Value::integer(std::stoll(v.s)); } catch (const std::exception&) { return Value::integer(0); }
    }
    if (v.is_number() || v.kind == Value::Kind::Bool) return Value::integer(int64_t(v.as_double()));
    return Value::integer(0);
  }
  if (f == "float") {
    if (v.is_string()) {
      try { return Value::number(std::stod(v.s)); } catch (const std::exception&) { return Value::number(0); }
    }
    return Value::number(v.is_number() ? v.as_double() : 0.0);
  }
  if (f == "abs") {
    if (v.kind == Value::Kind::Int) return Value::integer(v.i < 0 ? -v.i : v.i);
    if (v.kind == Value::Kind::Float) return Value::number(std::fabs(v.f));
    err(line, "abs needs a number");
  }
  if (f == "reverse") {
    if (v.is_string()) {
      std::vector<std::string> cs = utf8_chars(v.s);
      std::string out;
      for (auto it = cs.rbegin(); it != cs.rend(); ++it) out += *it;
      return Value::string(out);
    }
    Array items = iterate(v, line);
    std::reverse(items.begin(), items.end());
    return Value::array(std::move(items));
  }
  if (f == "safe") return v;
  if (f == "escape" || f == "e") {
    std::string out;
    for (char c : to_output(v)) {
      switch (c) {
        case '&': out += "&amp;"; break;
        case '<': out += "&lt;"; break;
        case '>': out += "&gt;"; break;
        case '"': out += "&#34;"; break;
        case '\'': out += "&#39;"; break;
        default: out += c;
      }
    }
    return Value::string(out);
  }
  if (f == "indent") {
    const Value* w = arg(a, 0, kw, "width");
    const Value* first = arg(a, 1, kw, "first");
    const Value* blank = arg(a, 2, kw, "blank");
    std::string pad = w ? (w->is_string() ? w->s : std::string(size_t(to_int(*w, line, "width")), ' ')) : "    ";
    std::string s = to_output(v), out;
    size_t start = 0;
    bool first_line = true;
    for (;;) {
      size_t nl = s.find('\n', start);
      std::string ln = s.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
      bool indent_it = first_line ? (first && first->truthy()) : (!ln.empty() || (blank && blank->truthy()));
      out += (indent_it ? pad : "") + ln;
      if (nl == std::string::npos) break;
      out += '\n';
      start = nl + 1;
      first_line = false;
    }
    return Value::string(out);
  }
  if (f == "map") {
    Array items = iterate(v, line), out;
    const Value* attr = kwarg(kw, "attribute");
    for (const Value& x : items) {
      if (attr) {
        Value r = get_attr(x, to_output(*attr), line);
        const Value* def = kwarg(kw, "default");
        out.push_back(r.is_undefined() && def ? *def : r);
      } else {
        if (a.empty()) err(line, "map needs a filter name or attribute=");
        std::vector<Value> rest(a.begin() + 1, a.end());
        Kwargs none;
        out.push_back(filter(to_output(a[0]), x, rest, none, line, sc));
      }
    }
    return Value::array(std::move(out));
  }
  if (f == "select" || f == "reject" || f == "selectattr" || f == "rejectattr") {
    const bool by_attr = f == "selectattr" || f == "rejectattr";
    const bool keep_if = f == "select" || f == "selectattr";
    Array items = iterate(v, line), out;
    size_t test_at = by_attr ? 1 : 0;
    for (const Value& x : items) {
      Value subject = by_attr ? get_attr(x, a.empty() ? "" : to_output(a[0]), line) : x;
      bool r;
      if (a.size() > test_at) {
        std::vector<Value> targs(a.begin() + test_at + 1, a.end());
        r = test(to_output(a[test_at]), subject, targs, line);
      } else {
        r = subject.truthy();
      }
      if (r == keep_if) out.push_back(x);
    }
    return Value::array(std::move(out));
  }
  if (f == "unique") {
    Array items = iterate(v, line), out;
    for (const Value& x : items) {
      bool seen = false;
      for (const Value& y : out) seen |= equal(x, y);
      if (!seen) out.push_back(x);
    }
    return Value::array(std::move(out));
  }
  err(line, "the filter '" + f + "' is not supported");
}

bool Evaluator::apply_test(const Expr& e, Scope& sc) {
  Value v = eval(*e.args[0], sc);
  std::vector<Value> a;
  Kwargs kw;
  eval_args(e, 1, sc, a, kw);
  return test(e.name, v, a, e.line);
}

bool Evaluator::test(const std::string& t, const Value& v, const std::vector<Value>& a, int line) {
  auto need = [&](size_t n) {
    if (a.size() < n) err(line, "the test '" + t + "' needs an argument");
  };
  if (t == "defined") return !v.is_undefined();
  if (t == "undefined") return v.is_undefined();
  if (t == "none") return v.is_none();
  if (t == "string") return v.is_string();
  if (t == "number") return v.is_number();
  if (t == "integer") return v.kind == Value::Kind::Int;
  if (t == "float") return v.kind == Value::Kind::Float;
  if (t == "boolean") return v.kind == Value::Kind::Bool;
  if (t == "true") return v.kind == Value::Kind::Bool && v.b;
  if (t == "false") return v.kind == Value::Kind::Bool && !v.b;
  if (t == "mapping") return v.is_object();
  if (t == "iterable") return v.is_array() || v.is_object() || v.is_string();
  if (t == "sequence") return v.is_array() || v.is_string() || v.is_object();
  if (t == "callable") return v.kind == Value::Kind::Function;
  if (t == "odd" || t == "even") {
    int64_t x = to_int(v, line, "odd/even");
    return (x % 2 != 0) == (t == "odd");
  }
  if (t == "divisibleby") {
    need(1);
    int64_t d = to_int(a[0], line, "divisibleby");
    return d != 0 && to_int(v, line, "divisibleby") % d == 0;
  }
  if (t == "eq" || t == "equalto" || t == "==" || t == "sameas") { need(1); return equal(v, a[0]); }
  if (t == "ne" || t == "!=") { need(1); return !equal(v, a[0]); }
  if (t == "lt" || t == "gt" || t == "le" || t == "ge" || t == "lessthan" || t == "greaterthan") {
    need(1);
    double x = v.as_double(), y = a[0].as_double();
    if (t == "lt" || t == "lessthan") return x < y;
    if (t == "gt" || t == "greaterthan") return x > y;
    return t == "le" ? x <= y : x >= y;
  }
  if (t == "in") { need(1); return contains(a[0], v, line); }
  if (t == "lower") return v.is_string() && ascii_case(v.s, false) == v.s;
  if (t == "upper") return v.is_string() && ascii_case(v.s, true) == v.s;
  err(line, "the test '" + t + "' is not supported");
}

}  // namespace frugal::tokenizer::jinja::eval

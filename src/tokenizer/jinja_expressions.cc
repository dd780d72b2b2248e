// Jinja evaluation: expressions, attribute and index access, calls and global functions, operators.
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

Value Evaluator::eval(const Expr& e, Scope& sc) {
  Nest nest(*this, e.line);
  Value v = eval_node(e, sc);
  check_size(v, e.line);
  return v;
}

Value Evaluator::eval_node(const Expr& e, Scope& sc) {
  switch (e.kind) {
    case Expr::Kind::Literal: return e.value;
    case Expr::Kind::Name: return lookup(e.name, sc);
    case Expr::Kind::Attr: {
      Value obj = eval(*e.args[0], sc);
      return get_attr(obj, e.name, e.line);
    }
    case Expr::Kind::Index: return get_index(eval(*e.args[0], sc), eval(*e.args[1], sc), e.line);
    case Expr::Kind::Slice: {
      Value obj = eval(*e.args[0], sc);
      Value parts[3];
      for (int k = 0; k < 3; ++k)
        if (e.args[k + 1]) parts[k] = eval(*e.args[k + 1], sc);
      if (obj.is_array()) {
        Array a;
        for (int64_t k : slice_indices(int64_t(obj.arr->size()), parts[0], parts[1], parts[2], e.line)) a.push_back((*obj.arr)[k]);
        return Value::array(std::move(a));
      }
      if (obj.is_string()) {
        std::vector<std::string> cs = utf8_chars(obj.s);
        std::string r;
        for (int64_t k : slice_indices(int64_t(cs.size()), parts[0], parts[1], parts[2], e.line)) r += cs[k];
        return Value::string(r);
      }
      err(e.line, std::string("cannot slice a ") + obj.kind_name());
    }
    case Expr::Kind::Call: return eval_call(e, sc);
    case Expr::Kind::Filter: return apply_filter(e, eval(*e.args[0], sc), sc);
    case Expr::Kind::Test: {
      bool r = apply_test(e, sc);
      return Value::boolean(e.negated ? !r : r);
    }
    case Expr::Kind::Unary: {
      Value v = eval(*e.args[0], sc);
      if (e.name == "not") return Value::boolean(!v.truthy());
      if (v.kind == Value::Kind::Int && !(e.name == "-" && v.i == INT64_MIN))
        return Value::integer(e.name == "-" ? -v.i : v.i);
      if (v.kind == Value::Kind::Int) return Value::number(-double(v.i));
      if (v.kind == Value::Kind::Float) return Value::number(e.name == "-" ? -v.f : v.f);
      err(e.line, "unary '" + e.name + "' needs a number, not a " + v.kind_name());
    }
    case Expr::Kind::Binary: return eval_binary(e, sc);
    case Expr::Kind::List:
    case Expr::Kind::Tuple: {
      Array a;
      for (const ExprPtr& x : e.args) a.push_back(eval(*x, sc));
      Value list = Value::array(std::move(a));
      check_nesting(list, nullptr, e.line);
      return list;
    }
    case Expr::Kind::Dict: {
      Value d = Value::object();
      for (size_t k = 0; k + 1 < e.args.size(); k += 2) {
        Value key = eval(*e.args[k], sc);
        if (!key.is_string()) key = Value::string(to_output(key));
        d.set_member(key.s, eval(*e.args[k + 1], sc));
      }
      check_nesting(d, nullptr, e.line);
      return d;
    }
    case Expr::Kind::Ternary:
      return eval(*e.args[0], sc).truthy() ? eval(*e.args[1], sc) : eval(*e.args[2], sc);
  }
  return Value();
}

Value Evaluator::get_attr(const Value& obj, const std::string& name, int line) {
  if (obj.is_object()) {
    const Value* m = obj.member(name);
    return m ? *m : Value();
  }
  if (obj.is_array() && !name.empty() && std::isdigit(static_cast<unsigned char>(name[0])))
    return get_index(obj, Value::integer(std::stoll(name)), line);
  if (obj.is_undefined()) return Value();  // chained lookups on missing values stay undefined
  return Value();
}

Value Evaluator::get_index(const Value& obj, const Value& key, int line) {
  if (obj.is_array()) {
    if (key.kind != Value::Kind::Int) err(line, std::string("list index must be an integer, not ") + key.kind_name());
    int64_t n = int64_t(obj.arr->size()), k = key.i < 0 ? key.i + n : key.i;
    return k >= 0 && k < n ? (*obj.arr)[k] : Value();
  }
  if (obj.is_object()) {
    std::string k = key.is_string() ? key.s : to_output(key);
    const Value* m = obj.member(k);
    return m ? *m : Value();
  }
  if (obj.is_string()) {
    if (key.kind != Value::Kind::Int) err(line, "string index must be an integer");
    std::vector<std::string> cs = utf8_chars(obj.s);
    int64_t n = int64_t(cs.size()), k = key.i < 0 ? key.i + n : key.i;
    return k >= 0 && k < n ? Value::string(cs[k]) : Value();
  }
  if (obj.is_undefined() || obj.is_none()) return Value();
  err(line, std::string("cannot subscript a ") + obj.kind_name());
}

void Evaluator::eval_args(const Expr& e, size_t first, Scope& sc, std::vector<Value>& args, Kwargs& kwargs) {
  for (size_t k = first; k < e.args.size(); ++k) args.push_back(e.args[k] ? eval(*e.args[k], sc) : Value());
  for (const auto& [n, x] : e.kwargs) kwargs.emplace_back(n, eval(*x, sc));
}

const Value* Evaluator::kwarg(const Kwargs& kw, const char* name) {
  for (const auto& [k, v] : kw)
    if (k == name) return &v;
  return nullptr;
}

// Positional argument i or keyword `name`, else nullptr.
const Value* Evaluator::arg(const std::vector<Value>& a, size_t i, const Kwargs& kw, const char* name) {
  if (i < a.size()) return &a[i];
  return kwarg(kw, name);
}

Value Evaluator::eval_call(const Expr& e, Scope& sc) {
  const Expr& callee = *e.args[0];
  std::vector<Value> args;
  Kwargs kwargs;
  if (callee.kind == Expr::Kind::Attr) {
    Value obj = eval(*callee.args[0], sc);
    const Value* member = obj.is_object() ? obj.member(callee.name) : nullptr;
    if (!(member && member->kind == Value::Kind::Function)) {
      eval_args(e, 1, sc, args, kwargs);
      return call_method(obj, callee.name, args, kwargs, e.line);
    }
  }
  Value fn = eval(callee, sc);
  eval_args(e, 1, sc, args, kwargs);
  if (fn.kind == Value::Kind::Function) return (*fn.fn)(args, kwargs);
  if (callee.kind == Expr::Kind::Name) {
    Value r;
    if (call_global(callee.name, args, kwargs, e.line, r)) return r;
    err(e.line, "'" + callee.name + "' is not a function (or is not supported)");
  }
  err(e.line, std::string("cannot call a ") + fn.kind_name());
}

bool Evaluator::call_global(const std::string& name, std::vector<Value>& args, Kwargs& kwargs, int line, Value& r) {
  if (name == "raise_exception") {
    fail("chat template raised an exception: ", args.empty() ? std::string("(no message)") : to_output(args[0]));
  }
  if (name == "range") {
    int64_t a = 0, b = 0, st = 1;
    if (args.size() == 1) b = to_int(args[0], line, "range()");
    else if (args.size() >= 2) { a = to_int(args[0], line, "range()"); b = to_int(args[1], line, "range()"); }
    if (args.size() == 3) st = to_int(args[2], line, "range() step");
    if (args.empty() || args.size() > 3 || st == 0) err(line, "range() takes 1 to 3 integers (step not 0)");
    Array out;
    for (int64_t k = a; st > 0 ? k < b : k > b; k += st) {
      out.push_back(Value::integer(k));
      if (out.size() > limits::kMaxListItems) err(line, "range() is too long");
    }
    r = Value::array(std::move(out));
    return true;
  }
  if (name == "namespace" || name == "dict") {
    r = Value::object();
    r.is_namespace = name == "namespace";
    for (const Value& a : args)
      if (a.is_object())
        for (const auto& [k, v] : *a.obj) r.set_member(k, v);
    for (auto& [k, v] : kwargs) r.set_member(k, v);
    return true;
  }
  if (name == "strftime_now") {
    std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[256];
    std::string fmt = args.empty() ? "%Y-%m-%d" : to_output(args[0]);
    size_t n = std::strftime(buf, sizeof buf, fmt.c_str(), &tm);
    r = Value::string(std::string(buf, n));
    return true;
  }
  return false;
}

Value Evaluator::arith(const std::string& op, const Value& l, const Value& r, int line) {
  if (op == "+") {
    if (l.is_string() || r.is_string()) {
      if ((l.is_string() || l.is_number()) && (r.is_string() || r.is_number()))
        return Value::string(to_output(l) + to_output(r));
      err(line, std::string("cannot add a ") + l.kind_name() + " and a " + r.kind_name());
    }
    if (l.is_array() && r.is_array()) {
      if (l.arr->size() + r.arr->size() > limits::kMaxListItems)
        err(line, "'+' makes a list longer than the " + std::to_string(limits::kMaxListItems) + " items allowed");
      Array a = *l.arr;
      a.insert(a.end(), r.arr->begin(), r.arr->end());
      return Value::array(std::move(a));
    }
  }
  if (op == "*" && l.is_string() && r.kind == Value::Kind::Int) {
    std::string out;
    if (r.i > 0 && l.s.size() * size_t(std::min<int64_t>(r.i, 1000000)) > limits::kMaxStringBytes)
      err(line, "'*' makes too long a string");
    for (int64_t k = 0; k < r.i && k < 1000000; ++k) out += l.s;
    return Value::string(out);
  }
  auto numeric = [](const Value& v) { return v.is_number() || v.kind == Value::Kind::Bool; };
  if (!numeric(l) || !numeric(r))
    err(line, "operator '" + op + "' needs numbers, got a " + l.kind_name() + " and a " + r.kind_name());
  const bool ints = l.kind != Value::Kind::Float && r.kind != Value::Kind::Float;
  double x = l.as_double(), y = r.as_double();
  int64_t xi = ints ? (l.kind == Value::Kind::Bool ? l.b : l.i) : 0, yi = ints ? (r.kind == Value::Kind::Bool ? r.b : r.i) : 0;
  // Integers that would overflow 64 bits continue as floats, as in the
  // JavaScript renderer that Hugging Face uses (signed overflow is undefined
  // behaviour in C++; found by the chat template fuzzer with `2 ** 90`).
  int64_t r64 = 0;
  if (op == "+") return ints && !__builtin_add_overflow(xi, yi, &r64) ? Value::integer(r64) : Value::number(x + y);
  if (op == "-") return ints && !__builtin_sub_overflow(xi, yi, &r64) ? Value::integer(r64) : Value::number(x - y);
  if (op == "*") return ints && !__builtin_mul_overflow(xi, yi, &r64) ? Value::integer(r64) : Value::number(x * y);
  if (op == "/") {
    if (y == 0) err(line, "division by zero");
    return Value::number(x / y);
  }
  if (op == "//" || op == "%") {
    if (y == 0) err(line, "division by zero");
    if (ints && !(xi == INT64_MIN && yi == -1)) {
      int64_t q = xi / yi, m = xi % yi;
      if (m != 0 && ((m < 0) != (yi < 0))) { --q; m += yi; }
      return Value::integer(op == "//" ? q : m);
    }
    double q = std::floor(x / y);
    return Value::number(op == "//" ? q : x - q * y);
  }
  if (op == "**") {
    if (ints && yi >= 0) {
      if (xi == 0 || xi == 1) return Value::integer(yi == 0 ? 1 : xi);
      if (xi == -1) return Value::integer(yi % 2 ? -1 : 1);
      // |xi| >= 2: exact until the product leaves 64 bits (by the 63rd step).
      int64_t p = 1;
      bool overflow = false;
      for (int64_t k = 0; k < yi && !overflow; ++k) overflow = __builtin_mul_overflow(p, xi, &p);
      if (!overflow) return Value::integer(p);
    }
    return Value::number(std::pow(x, y));
  }
  err(line, "unknown operator '" + op + "'");
}

bool Evaluator::contains(const Value& hay, const Value& needle, int line) {
  if (hay.is_string()) {
    if (!needle.is_string()) err(line, "'in <string>' needs a string on the left");
    return hay.s.find(needle.s) != std::string::npos;
  }
  if (hay.is_array()) {
    for (const Value& x : *hay.arr)
      if (equal(x, needle)) return true;
    return false;
  }
  if (hay.is_object()) return needle.is_string() && hay.member(needle.s) != nullptr;
  if (hay.is_undefined() || hay.is_none()) return false;
  err(line, std::string("'in' needs a string, list or mapping on the right, not a ") + hay.kind_name());
}

Value Evaluator::eval_binary(const Expr& e, Scope& sc) {
  const std::string& op = e.name;
  if (op == "and") {
    Value l = eval(*e.args[0], sc);
    return l.truthy() ? eval(*e.args[1], sc) : l;
  }
  if (op == "or") {
    Value l = eval(*e.args[0], sc);
    return l.truthy() ? l : eval(*e.args[1], sc);
  }
  Value l = eval(*e.args[0], sc), r = eval(*e.args[1], sc);
  if (op == "==") return Value::boolean(equal(l, r));
  if (op == "!=") return Value::boolean(!equal(l, r));
  if (op == "in") return Value::boolean(contains(r, l, e.line));
  if (op == "not in") return Value::boolean(!contains(r, l, e.line));
  if (op == "~") return Value::string(to_output(l) + to_output(r));
  if (op == "<" || op == ">" || op == "<=" || op == ">=") {
    int c;
    if (l.is_number() && r.is_number()) c = l.as_double() < r.as_double() ? -1 : l.as_double() > r.as_double() ? 1 : 0;
    else if (l.is_string() && r.is_string()) c = l.s.compare(r.s) < 0 ? -1 : l.s == r.s ? 0 : 1;
    else err(e.line, std::string("cannot compare a ") + l.kind_name() + " with a " + r.kind_name());
    return Value::boolean(op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0);
  }
  return arith(op, l, r, e.line);
}

}  // namespace frugal::tokenizer::jinja::eval

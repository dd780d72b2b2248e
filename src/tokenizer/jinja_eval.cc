// Jinja evaluation: scopes, statements, operators, filters, tests, methods.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <map>

#include "base/error.h"
#include "tokenizer/jinja.h"
#include "tokenizer/jinja_parser.h"

namespace frugal::tokenizer::jinja {

struct Template::Parsed {
  Body body;
};

namespace {

struct Scope {
  std::map<std::string, Value, std::less<>> vars;
  Scope* parent = nullptr;
  const Value* find(const std::string& name) const {
    for (const Scope* s = this; s; s = s->parent) {
      auto it = s->vars.find(name);
      if (it != s->vars.end()) return &it->second;
    }
    return nullptr;
  }
};

enum class Flow { Normal, Break, Continue };

[[noreturn]] void err(int line, const std::string& what) { fail("chat template: line ", line, ": ", what); }

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

class Evaluator {
 public:
  explicit Evaluator(Scope& globals) : globals_(globals) {}

  Flow exec(const Body& body, Scope& sc, std::string& out) {
    for (const StmtPtr& s : body) {
      Flow f = exec_one(*s, sc, out);
      if (f != Flow::Normal) return f;
    }
    return Flow::Normal;
  }

 private:
  Scope& globals_;
  int depth_ = 0;

  Flow exec_one(const Stmt& s, Scope& sc, std::string& out) {
    switch (s.kind) {
      case Stmt::Kind::Text: out += s.text; return Flow::Normal;
      case Stmt::Kind::Output: out += to_output(eval(*s.expr, sc)); return Flow::Normal;
      case Stmt::Kind::If:
        for (size_t k = 0; k < s.conditions.size(); ++k)
          if (eval(*s.conditions[k], sc).truthy()) return exec(s.bodies[k], sc, out);
        if (s.bodies.size() > s.conditions.size()) return exec(s.bodies.back(), sc, out);
        return Flow::Normal;
      case Stmt::Kind::For: return exec_for(s, sc, out);
      case Stmt::Kind::Set: assign(s, sc, eval(*s.expr, sc)); return Flow::Normal;
      case Stmt::Kind::SetBlock: {
        std::string text;
        exec(s.bodies[0], sc, text);
        assign(s, sc, Value::string(text));
        return Flow::Normal;
      }
      case Stmt::Kind::Macro: define_macro(s, sc); return Flow::Normal;
      case Stmt::Kind::Break: return Flow::Break;
      case Stmt::Kind::Continue: return Flow::Continue;
      case Stmt::Kind::FilterBlock: {
        std::string text;
        exec(s.bodies[0], sc, text);
        out += to_output(apply_filter(*s.expr, Value::string(text), sc));
        return Flow::Normal;
      }
    }
    return Flow::Normal;
  }

  void assign(const Stmt& s, Scope& sc, Value v) {
    if (!s.target_attr.empty()) {
      const Value* ns = sc.find(s.targets[0]);
      if (!ns || !ns->is_object()) err(s.line, "cannot set '" + s.target_attr + "' on '" + s.targets[0] + "': not a namespace");
      const_cast<Value*>(ns)->set_member(s.target_attr, std::move(v));
      return;
    }
    if (s.targets.size() == 1) { sc.vars[s.targets[0]] = std::move(v); return; }
    if (!v.is_array() || v.arr->size() != s.targets.size())
      err(s.line, "cannot unpack a " + std::string(v.kind_name()) + " into " + std::to_string(s.targets.size()) + " names");
    for (size_t k = 0; k < s.targets.size(); ++k) sc.vars[s.targets[k]] = (*v.arr)[k];
  }

  Array iterate(const Value& v, int line) {
    if (v.is_array()) return *v.arr;
    if (v.is_object()) {
      Array keys;
      for (const auto& [k, x] : *v.obj) keys.push_back(Value::string(k));
      return keys;
    }
    if (v.is_string()) {
      Array cs;
      for (const std::string& c : utf8_chars(v.s)) cs.push_back(Value::string(c));
      return cs;
    }
    if (v.is_undefined() || v.is_none()) return {};
    err(line, std::string("cannot iterate over a ") + v.kind_name());
  }

  Flow exec_for(const Stmt& s, Scope& sc, std::string& out) {
    Array items = iterate(eval(*s.expr, sc), s.line);
    auto bind = [&](Scope& inner, const Value& item) {
      if (s.targets.size() == 1) { inner.vars[s.targets[0]] = item; return; }
      if (!item.is_array() || item.arr->size() != s.targets.size())
        err(s.line, "cannot unpack a loop item into " + std::to_string(s.targets.size()) + " names");
      for (size_t k = 0; k < s.targets.size(); ++k) inner.vars[s.targets[k]] = (*item.arr)[k];
    };
    if (s.filter) {
      Array kept;
      for (const Value& item : items) {
        Scope probe;
        probe.parent = &sc;
        bind(probe, item);
        if (eval(*s.filter, probe).truthy()) kept.push_back(item);
      }
      items.swap(kept);
    }
    if (items.empty()) {
      if (s.bodies.size() > 1) return exec(s.bodies[1], sc, out);
      return Flow::Normal;
    }
    const int64_t n = int64_t(items.size());
    for (int64_t k = 0; k < n; ++k) {
      Scope inner;
      inner.parent = &sc;
      bind(inner, items[k]);
      Value loop = Value::object();
      loop.set_member("index", Value::integer(k + 1));
      loop.set_member("index0", Value::integer(k));
      loop.set_member("revindex", Value::integer(n - k));
      loop.set_member("revindex0", Value::integer(n - k - 1));
      loop.set_member("first", Value::boolean(k == 0));
      loop.set_member("last", Value::boolean(k == n - 1));
      loop.set_member("length", Value::integer(n));
      loop.set_member("previtem", k > 0 ? items[k - 1] : Value());
      loop.set_member("nextitem", k + 1 < n ? items[k + 1] : Value());
      loop.set_member("cycle", Value::function([k](std::vector<Value>& args, Kwargs&) {
        if (args.empty()) fail("chat template: loop.cycle() needs at least one value");
        return args[size_t(k) % args.size()];
      }));
      inner.vars["loop"] = loop;
      Flow f = exec(s.bodies[0], inner, out);
      if (f == Flow::Break) break;
    }
    return Flow::Normal;
  }

  void define_macro(const Stmt& s, Scope& sc) {
    Scope* def_scope = &sc;
    const Stmt* m = &s;
    sc.vars[s.text] = Value::function([this, m, def_scope](std::vector<Value>& args, Kwargs& kwargs) {
      if (args.size() > m->params.size())
        err(m->line, "macro '" + m->text + "' takes " + std::to_string(m->params.size()) + " arguments, got " +
                         std::to_string(args.size()));
      Scope inner;
      inner.parent = def_scope;
      for (size_t k = 0; k < m->params.size(); ++k) {
        const auto& [pname, pdef] = m->params[k];
        Value v;
        if (k < args.size()) v = args[k];
        else if (pdef) v = eval(*pdef, *def_scope);
        inner.vars[pname] = v;
      }
      for (auto& [kname, kval] : kwargs) {
        bool known = false;
        for (const auto& p : m->params) known |= p.first == kname;
        if (!known) err(m->line, "macro '" + m->text + "' has no parameter '" + kname + "'");
        inner.vars[kname] = kval;
      }
      if (++depth_ > 200) err(m->line, "macros nest too deeply");
      std::string text;
      exec(m->bodies[0], inner, text);
      --depth_;
      return Value::string(text);
    });
  }

  Value lookup(const std::string& name, Scope& sc) {
    const Value* v = sc.find(name);
    return v ? *v : Value();
  }

  // ---------------------------------------------------------------- expressions
  Value eval(const Expr& e, Scope& sc) {
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
        if (v.kind == Value::Kind::Int) return Value::integer(e.name == "-" ? -v.i : v.i);
        if (v.kind == Value::Kind::Float) return Value::number(e.name == "-" ? -v.f : v.f);
        err(e.line, "unary '" + e.name + "' needs a number, not a " + v.kind_name());
      }
      case Expr::Kind::Binary: return eval_binary(e, sc);
      case Expr::Kind::List:
      case Expr::Kind::Tuple: {
        Array a;
        for (const ExprPtr& x : e.args) a.push_back(eval(*x, sc));
        return Value::array(std::move(a));
      }
      case Expr::Kind::Dict: {
        Value d = Value::object();
        for (size_t k = 0; k + 1 < e.args.size(); k += 2) {
          Value key = eval(*e.args[k], sc);
          if (!key.is_string()) key = Value::string(to_output(key));
          d.set_member(key.s, eval(*e.args[k + 1], sc));
        }
        return d;
      }
      case Expr::Kind::Ternary:
        return eval(*e.args[0], sc).truthy() ? eval(*e.args[1], sc) : eval(*e.args[2], sc);
    }
    return Value();
  }

  Value get_attr(const Value& obj, const std::string& name, int line) {
    if (obj.is_object()) {
      const Value* m = obj.member(name);
      return m ? *m : Value();
    }
    if (obj.is_array() && !name.empty() && std::isdigit(static_cast<unsigned char>(name[0])))
      return get_index(obj, Value::integer(std::stoll(name)), line);
    if (obj.is_undefined()) return Value();  // chained lookups on missing values stay undefined
    return Value();
  }

  Value get_index(const Value& obj, const Value& key, int line) {
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

  void eval_args(const Expr& e, size_t first, Scope& sc, std::vector<Value>& args, Kwargs& kwargs) {
    for (size_t k = first; k < e.args.size(); ++k) args.push_back(e.args[k] ? eval(*e.args[k], sc) : Value());
    for (const auto& [n, x] : e.kwargs) kwargs.emplace_back(n, eval(*x, sc));
  }

  static const Value* kwarg(const Kwargs& kw, const char* name) {
    for (const auto& [k, v] : kw)
      if (k == name) return &v;
    return nullptr;
  }
  // Positional argument i or keyword `name`, else nullptr.
  static const Value* arg(const std::vector<Value>& a, size_t i, const Kwargs& kw, const char* name) {
    if (i < a.size()) return &a[i];
    return kwarg(kw, name);
  }

  Value eval_call(const Expr& e, Scope& sc) {
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

  bool call_global(const std::string& name, std::vector<Value>& args, Kwargs& kwargs, int line, Value& r) {
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
        if (out.size() > 10000000) err(line, "range() is too long");
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

  Value call_method(const Value& obj, const std::string& m, std::vector<Value>& a, Kwargs& kw, int line) {
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

  static std::string title_case(const std::string& s, bool only_first) {
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

  Value arith(const std::string& op, const Value& l, const Value& r, int line) {
    if (op == "+") {
      if (l.is_string() || r.is_string()) {
        if ((l.is_string() || l.is_number()) && (r.is_string() || r.is_number()))
          return Value::string(to_output(l) + to_output(r));
        err(line, std::string("cannot add a ") + l.kind_name() + " and a " + r.kind_name());
      }
      if (l.is_array() && r.is_array()) {
        Array a = *l.arr;
        a.insert(a.end(), r.arr->begin(), r.arr->end());
        return Value::array(std::move(a));
      }
    }
    if (op == "*" && l.is_string() && r.kind == Value::Kind::Int) {
      std::string out;
      for (int64_t k = 0; k < r.i && k < 1000000; ++k) out += l.s;
      return Value::string(out);
    }
    auto numeric = [](const Value& v) { return v.is_number() || v.kind == Value::Kind::Bool; };
    if (!numeric(l) || !numeric(r))
      err(line, "operator '" + op + "' needs numbers, got a " + l.kind_name() + " and a " + r.kind_name());
    const bool ints = l.kind != Value::Kind::Float && r.kind != Value::Kind::Float;
    double x = l.as_double(), y = r.as_double();
    int64_t xi = ints ? (l.kind == Value::Kind::Bool ? l.b : l.i) : 0, yi = ints ? (r.kind == Value::Kind::Bool ? r.b : r.i) : 0;
    if (op == "+") return ints ? Value::integer(xi + yi) : Value::number(x + y);
    if (op == "-") return ints ? Value::integer(xi - yi) : Value::number(x - y);
    if (op == "*") return ints ? Value::integer(xi * yi) : Value::number(x * y);
    if (op == "/") {
      if (y == 0) err(line, "division by zero");
      return Value::number(x / y);
    }
    if (op == "//" || op == "%") {
      if (y == 0) err(line, "division by zero");
      if (ints) {
        int64_t q = xi / yi, m = xi % yi;
        if (m != 0 && ((m < 0) != (yi < 0))) { --q; m += yi; }
        return Value::integer(op == "//" ? q : m);
      }
      double q = std::floor(x / y);
      return Value::number(op == "//" ? q : x - q * y);
    }
    if (op == "**") {
      if (ints && yi >= 0) {
        int64_t p = 1;
        for (int64_t k = 0; k < yi && k < 64; ++k) p *= xi;
        return Value::integer(p);
      }
      return Value::number(std::pow(x, y));
    }
    err(line, "unknown operator '" + op + "'");
  }

  bool contains(const Value& hay, const Value& needle, int line) {
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

  Value eval_binary(const Expr& e, Scope& sc) {
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

  // ---------------------------------------------------------------- filters
  Value apply_filter(const Expr& e, Value v, Scope& sc) {
    std::vector<Value> a;
    Kwargs kw;
    eval_args(e, 1, sc, a, kw);
    return filter(e.name, v, a, kw, e.line, sc);
  }

  Value filter(const std::string& f, const Value& v, std::vector<Value>& a, Kwargs& kw, int line, Scope& sc) {
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

  // ---------------------------------------------------------------- tests
  bool apply_test(const Expr& e, Scope& sc) {
    Value v = eval(*e.args[0], sc);
    std::vector<Value> a;
    Kwargs kw;
    eval_args(e, 1, sc, a, kw);
    return test(e.name, v, a, e.line);
  }

  bool test(const std::string& t, const Value& v, const std::vector<Value>& a, int line) {
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
};

}  // namespace

Template::Template(std::string_view source) : parsed_(std::make_unique<Parsed>()) {
  parsed_->body = parse_template(source);
}
Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const nlohmann::ordered_json& context) const {
  Scope globals;
  if (context.is_object())
    for (auto it = context.begin(); it != context.end(); ++it) globals.vars[it.key()] = Value::from_json(it.value());
  Evaluator ev(globals);
  std::string out;
  ev.exec(parsed_->body, globals, out);
  return out;
}

}  // namespace frugal::tokenizer::jinja

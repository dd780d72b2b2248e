// Jinja evaluation: statements (output, if, for, set, macros, filter blocks) and Template.
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

namespace frugal::tokenizer::jinja {

struct Template::Parsed {
  Body body;
};

namespace eval {

Evaluator::Nest::Nest(Evaluator& ev, int line) : ev_(ev) {
  if (++ev_.nesting_ > limits::kMaxEvalNesting) {
    --ev_.nesting_;
    err(line, "rendering nests too deeply (more than " + std::to_string(limits::kMaxEvalNesting) + " levels)");
  }
  if (++ev_.steps_ > ev_.max_steps_) {
    --ev_.nesting_;
    err(line, "rendering takes more than " + std::to_string(ev_.max_steps_) + " steps");
  }
}

Flow Evaluator::exec(const Body& body, Scope& sc, std::string& out) {
  for (const StmtPtr& s : body) {
    Nest nest(*this, s->line);
    Flow f = exec_one(*s, sc, out);
    if (out.size() > limits::kMaxOutputBytes)
      err(s->line, "the rendered text is longer than " + std::to_string(limits::kMaxOutputBytes) + " bytes");
    if (f != Flow::Normal) return f;
  }
  return Flow::Normal;
}

Flow Evaluator::exec_one(const Stmt& s, Scope& sc, std::string& out) {
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

void Evaluator::assign(const Stmt& s, Scope& sc, Value v) {
  if (!s.target_attr.empty()) {
    const Value* ns = sc.find(s.targets[0]);
    if (!ns || !ns->is_object()) err(s.line, "cannot set '" + s.target_attr + "' on '" + s.targets[0] + "': not a namespace");
    check_nesting(v, ns, s.line);
    const_cast<Value*>(ns)->set_member(s.target_attr, std::move(v));
    return;
  }
  if (s.targets.size() == 1) { sc.vars[s.targets[0]] = std::move(v); return; }
  if (!v.is_array() || v.arr->size() != s.targets.size())
    err(s.line, "cannot unpack a " + std::string(v.kind_name()) + " into " + std::to_string(s.targets.size()) + " names");
  for (size_t k = 0; k < s.targets.size(); ++k) sc.vars[s.targets[k]] = (*v.arr)[k];
}

Array Evaluator::iterate(const Value& v, int line) {
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

Flow Evaluator::exec_for(const Stmt& s, Scope& sc, std::string& out) {
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
      Nest step(*this, s.line);  // an iteration is a step even when its body is empty
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
    Nest step(*this, s.line);  // an iteration is a step even when its body is empty
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

void Evaluator::define_macro(const Stmt& s, Scope& sc) {
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

Value Evaluator::lookup(const std::string& name, Scope& sc) {
  const Value* v = sc.find(name);
  return v ? *v : Value();
}

}  // namespace eval

Template::Template(std::string_view source) : parsed_(std::make_unique<Parsed>()) {
  parsed_->body = parse_template(source);
}
Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

std::string Template::render(const nlohmann::ordered_json& context) const {
  eval::Scope globals;
  const auto values = (long long)eval::check_context(context);
  if (context.is_object())
    for (auto it = context.begin(); it != context.end(); ++it) globals.vars[it.key()] = Value::from_json(it.value());
  eval::Evaluator ev(globals, limits::kBaseSteps + limits::kStepsPerContextValue * values);
  std::string out;
  ev.exec(parsed_->body, globals, out);
  return out;
}

}  // namespace frugal::tokenizer::jinja

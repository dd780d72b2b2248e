// Internal to the Jinja interpreter (not for other layers): the evaluator
// that runs a parsed template, split over one file per concern:
// jinja_eval.cc (statements and Template), jinja_expressions.cc (expressions,
// calls, operators), jinja_filters.cc (filters and tests), jinja_methods.cc
// (string, list and dict methods), jinja_text.cc (string helpers).
#pragma once
#include <map>
#include <string>
#include <vector>

#include "base/error.h"
#include "tokenizer/jinja_ast.h"
#include "tokenizer/jinja_value.h"

namespace frugal::tokenizer::jinja::eval {

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

[[noreturn]] inline void err(int line, const std::string& what) { fail("chat template: line ", line, ": ", what); }

// String helpers (jinja_text.cc).
int64_t to_int(const Value& v, int line, const char* what);
std::string ws_strip(const std::string& s, bool left, bool right, const Value* chars);
std::string ascii_case(std::string s, bool upper);
std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count);
std::vector<std::string> py_split(const std::string& s, const Value* sep, int64_t maxsplit);
Value strings_to_array(const std::vector<std::string>& v);
std::vector<int64_t> slice_indices(int64_t n, const Value& start, const Value& stop, const Value& step, int line);

// Limits on values (jinja_bounds.cc): a string or list too large, or a
// container about to hold itself or to nest too deeply -> frugal::Error.
void check_size(const Value& v, int line);
void check_nesting(const Value& inner, const Value* outer, int line);
// The render context nests no deeper than a template's own values may;
// returns how many values it holds (the step budget grows with them).
size_t check_context(const nlohmann::ordered_json& context);

class Evaluator {
 public:
  Evaluator(Scope& globals, long long max_steps) : globals_(globals), max_steps_(max_steps) {}
  Flow exec(const Body& body, Scope& sc, std::string& out);

 private:
  Scope& globals_;
  int depth_ = 0;         // macro calls in progress
  int nesting_ = 0;       // eval and exec calls in progress (jinja_limits.h)
  long long steps_ = 0;   // expressions, statements and loop iterations so far
  long long max_steps_;

  // One level of evaluator recursion and one step, for as long as it lives.
  class Nest {
   public:
    Nest(Evaluator& ev, int line);
    ~Nest() { --ev_.nesting_; }
    Nest(const Nest&) = delete;
    Nest& operator=(const Nest&) = delete;

   private:
    Evaluator& ev_;
  };

  Value eval_node(const Expr& e, Scope& sc);

  Flow exec_one(const Stmt& s, Scope& sc, std::string& out);
  void assign(const Stmt& s, Scope& sc, Value v);
  Array iterate(const Value& v, int line);
  Flow exec_for(const Stmt& s, Scope& sc, std::string& out);
  void define_macro(const Stmt& s, Scope& sc);
  Value lookup(const std::string& name, Scope& sc);
  Value eval(const Expr& e, Scope& sc);
  Value get_attr(const Value& obj, const std::string& name, int line);
  Value get_index(const Value& obj, const Value& key, int line);
  void eval_args(const Expr& e, size_t first, Scope& sc, std::vector<Value>& args, Kwargs& kwargs);
  static const Value* kwarg(const Kwargs& kw, const char* name);
  static const Value* arg(const std::vector<Value>& a, size_t i, const Kwargs& kw, const char* name);
  Value eval_call(const Expr& e, Scope& sc);
  bool call_global(const std::string& name, std::vector<Value>& args, Kwargs& kwargs, int line, Value& r);
  Value call_method(const Value& obj, const std::string& m, std::vector<Value>& a, Kwargs& kw, int line);
  static std::string title_case(const std::string& s, bool only_first);
  Value arith(const std::string& op, const Value& l, const Value& r, int line);
  bool contains(const Value& hay, const Value& needle, int line);
  Value eval_binary(const Expr& e, Scope& sc);
  Value apply_filter(const Expr& e, Value v, Scope& sc);
  Value filter(const std::string& f, const Value& v, std::vector<Value>& a, Kwargs& kw, int line, Scope& sc);
  bool apply_test(const Expr& e, Scope& sc);
  bool test(const std::string& t, const Value& v, const std::vector<Value>& a, int line);
};

}  // namespace frugal::tokenizer::jinja::eval

// Values of the Jinja subset used by chat templates. Arrays, objects and
// namespaces are shared by reference (as in Python), so `set ns.x = ...` and
// list.append are seen by every holder.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

namespace frugal::tokenizer::jinja {

struct Value;
using Array = std::vector<Value>;
using Object = std::vector<std::pair<std::string, Value>>;  // insertion order, as Python dicts
using Kwargs = std::vector<std::pair<std::string, Value>>;
using Function = std::function<Value(std::vector<Value>& args, Kwargs& kwargs)>;

struct Value {
  enum class Kind { Undefined, None, Bool, Int, Float, String, Array, Object, Function };
  Kind kind = Kind::Undefined;
  bool b = false;
  int64_t i = 0;
  double f = 0;
  std::string s;
  std::shared_ptr<jinja::Array> arr;
  std::shared_ptr<jinja::Object> obj;
  std::shared_ptr<jinja::Function> fn;
  bool is_namespace = false;

  static Value none() { Value v; v.kind = Kind::None; return v; }
  static Value boolean(bool x) { Value v; v.kind = Kind::Bool; v.b = x; return v; }
  static Value integer(int64_t x) { Value v; v.kind = Kind::Int; v.i = x; return v; }
  static Value number(double x) { Value v; v.kind = Kind::Float; v.f = x; return v; }
  static Value string(std::string x) { Value v; v.kind = Kind::String; v.s = std::move(x); return v; }
  static Value array(jinja::Array a = {}) {
    Value v; v.kind = Kind::Array; v.arr = std::make_shared<jinja::Array>(std::move(a)); return v;
  }
  static Value object(jinja::Object o = {}) {
    Value v; v.kind = Kind::Object; v.obj = std::make_shared<jinja::Object>(std::move(o)); return v;
  }
  static Value function(jinja::Function f) {
    Value v; v.kind = Kind::Function; v.fn = std::make_shared<jinja::Function>(std::move(f)); return v;
  }
  static Value from_json(const nlohmann::ordered_json& j);

  bool is_undefined() const { return kind == Kind::Undefined; }
  bool is_none() const { return kind == Kind::None; }
  bool is_string() const { return kind == Kind::String; }
  bool is_number() const { return kind == Kind::Int || kind == Kind::Float; }
  bool is_array() const { return kind == Kind::Array; }
  bool is_object() const { return kind == Kind::Object; }
  double as_double() const { return kind == Kind::Int ? double(i) : kind == Kind::Bool ? double(b) : f; }

  bool truthy() const;
  // Object member lookup (nullptr when absent or not an object).
  const Value* member(const std::string& key) const;
  void set_member(const std::string& key, Value v);
  const char* kind_name() const;
};

// Text as a template prints it: none/undefined -> "", booleans true/false,
// floats with a ".0" when whole, arrays and objects as JSON.
std::string to_output(const Value& v);
// JSON text (tojson): ", " and ": " separators, or an indent; non-ASCII kept.
std::string to_json(const Value& v, int indent = 0, bool undefined_as_null = true, int depth = 0);
bool equal(const Value& a, const Value& b);
// UTF-8 helpers: strings are indexed and measured in code points.
std::vector<std::string> utf8_chars(const std::string& s);

}  // namespace frugal::tokenizer::jinja

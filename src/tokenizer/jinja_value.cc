// Jinja values: truthiness, printing, JSON, equality.
#include "tokenizer/jinja_value.h"

#include <cmath>
#include <cstdio>

#include "base/error.h"

namespace frugal::tokenizer::jinja {

Value Value::from_json(const nlohmann::ordered_json& j) {
  switch (j.type()) {
    case nlohmann::ordered_json::value_t::null: return none();
    case nlohmann::ordered_json::value_t::boolean: return boolean(j.get<bool>());
    case nlohmann::ordered_json::value_t::number_integer:
    case nlohmann::ordered_json::value_t::number_unsigned: return integer(j.get<int64_t>());
    case nlohmann::ordered_json::value_t::number_float: return number(j.get<double>());
    case nlohmann::ordered_json::value_t::string: return string(j.get<std::string>());
    case nlohmann::ordered_json::value_t::array: {
      jinja::Array a;
      for (const auto& x : j) a.push_back(from_json(x));
      return array(std::move(a));
    }
    case nlohmann::ordered_json::value_t::object: {
      jinja::Object o;
      for (auto it = j.begin(); it != j.end(); ++it) o.emplace_back(it.key(), from_json(it.value()));
      return object(std::move(o));
    }
    default: return Value();
  }
}

bool Value::truthy() const {
  switch (kind) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return b;
    case Kind::Int: return i != 0;
    case Kind::Float: return f != 0;
    case Kind::String: return !s.empty();
    case Kind::Array: return !arr->empty();
    case Kind::Object: return is_namespace || !obj->empty();
    case Kind::Function: return true;
  }
  return false;
}

const Value* Value::member(const std::string& key) const {
  if (kind != Kind::Object) return nullptr;
  for (const auto& [k, v] : *obj)
    if (k == key) return &v;
  return nullptr;
}

void Value::set_member(const std::string& key, Value v) {
  for (auto& [k, old] : *obj)
    if (k == key) { old = std::move(v); return; }
  obj->emplace_back(key, std::move(v));
}

const char* Value::kind_name() const {
  switch (kind) {
    case Kind::Undefined: return "undefined";
    case Kind::None: return "none";
    case Kind::Bool: return "boolean";
    case Kind::Int: return "integer";
    case Kind::Float: return "float";
    case Kind::String: return "string";
    case Kind::Array: return "list";
    case Kind::Object: return is_namespace ? "namespace" : "mapping";
    case Kind::Function: return "function";
  }
  return "?";
}

namespace {

// Shortest text that reads back as the same double (as JavaScript prints numbers).
std::string shortest_double(double x) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, x);
    if (std::strtod(buf, nullptr) == x) break;
  }
  std::string s = buf;
  // %g writes 1e+21 / 1e-07; JavaScript writes 1e+21 / 1e-7 and uses plain
  // digits below 1e21.
  auto e = s.find('e');
  if (e != std::string::npos) {
    int exp = std::atoi(s.c_str() + e + 1);
    if (exp >= -6 && exp < 21) {
      std::snprintf(buf, sizeof buf, "%.*f", exp < 0 ? -exp + 16 : 0, x);
      s = buf;
      if (s.find('.') != std::string::npos) {
        while (!s.empty() && s.back() == '0') s.pop_back();
        if (!s.empty() && s.back() == '.') s.pop_back();
      }
      // Trim digits beyond the round-trip precision.
      for (size_t n = s.size(); n > 0; --n) {
        std::string t = s.substr(0, n);
        if (std::strtod(t.c_str(), nullptr) == x) s = t; else break;
      }
    } else {
      std::string mant = s.substr(0, e);
      s = mant + "e" + (exp < 0 ? "-" : "+") + std::to_string(std::abs(exp));
    }
  }
  return s;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char b[8];
          std::snprintf(b, sizeof b, "\\u%04x", c);
          out += b;
        } else {
          out += char(c);
        }
    }
  }
  return out + "\"";
}

}  // namespace

std::string to_json(const Value& v, int indent, bool undefined_as_null, int depth) {
  switch (v.kind) {
    case Value::Kind::Undefined: return undefined_as_null ? "null" : "undefined";
    case Value::Kind::None: return "null";
    case Value::Kind::Bool: return v.b ? "true" : "false";
    case Value::Kind::Int: return std::to_string(v.i);
    case Value::Kind::Float: return shortest_double(v.f);
    case Value::Kind::String: return json_string(v.s);
    case Value::Kind::Function: fail("chat template: cannot convert a function to JSON");
    case Value::Kind::Array:
    case Value::Kind::Object: {
      const bool is_arr = v.kind == Value::Kind::Array;
      size_t n = is_arr ? v.arr->size() : v.obj->size();
      if (n == 0) return is_arr ? "[]" : "{}";
      std::string pad = indent ? "\n" + std::string(size_t(indent) * (depth + 1), ' ') : "";
      std::string end_pad = indent ? "\n" + std::string(size_t(indent) * depth, ' ') : "";
      std::string sep = indent ? "," : ", ";
      std::string out = is_arr ? "[" : "{";
      for (size_t k = 0; k < n; ++k) {
        if (k) out += sep;
        out += pad;
        if (is_arr) {
          out += to_json((*v.arr)[k], indent, undefined_as_null, depth + 1);
        } else {
          out += json_string((*v.obj)[k].first) + ": ";
          out += to_json((*v.obj)[k].second, indent, undefined_as_null, depth + 1);
        }
      }
      return out + end_pad + (is_arr ? "]" : "}");
    }
  }
  return "";
}

std::string to_output(const Value& v) {
  switch (v.kind) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return "";
    case Value::Kind::Bool: return v.b ? "true" : "false";
    case Value::Kind::Int: return std::to_string(v.i);
    case Value::Kind::Float: {
      if (v.f == std::floor(v.f) && std::isfinite(v.f) && std::fabs(v.f) < 1e21) {
        char b[64];
        std::snprintf(b, sizeof b, "%.1f", v.f);
        return b;
      }
      return shortest_double(v.f);
    }
    case Value::Kind::String: return v.s;
    case Value::Kind::Function: return "[function]";
    case Value::Kind::Array:
    case Value::Kind::Object: return to_json(v, 0, false);
  }
  return "";
}

bool equal(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) return a.as_double() == b.as_double();
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Value::Kind::Undefined:
    case Value::Kind::None: return true;
    case Value::Kind::Bool: return a.b == b.b;
    case Value::Kind::String: return a.s == b.s;
    case Value::Kind::Array:
      if (a.arr->size() != b.arr->size()) return false;
      for (size_t k = 0; k < a.arr->size(); ++k)
        if (!equal((*a.arr)[k], (*b.arr)[k])) return false;
      return true;
    case Value::Kind::Object:
      if (a.obj->size() != b.obj->size()) return false;
      for (const auto& [k, v] : *a.obj) {
        const Value* o = b.member(k);
        if (!o || !equal(v, *o)) return false;
      }
      return true;
    case Value::Kind::Function: return a.fn == b.fn;
    default: return false;
  }
}

std::vector<std::string> utf8_chars(const std::string& s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
    n = std::min(n, s.size() - i);
    out.push_back(s.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace frugal::tokenizer::jinja

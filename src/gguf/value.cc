#include "gguf/value.h"

#include <cmath>
#include <limits>

#include "base/error.h"

namespace frugal::gguf {

const char* value_type_name(ValueType t) {
  switch (t) {
    case ValueType::UINT8: return "uint8";
    case ValueType::INT8: return "int8";
    case ValueType::UINT16: return "uint16";
    case ValueType::INT16: return "int16";
    case ValueType::UINT32: return "uint32";
    case ValueType::INT32: return "int32";
    case ValueType::FLOAT32: return "float32";
    case ValueType::BOOL: return "bool";
    case ValueType::STRING: return "string";
    case ValueType::ARRAY: return "array";
    case ValueType::UINT64: return "uint64";
    case ValueType::INT64: return "int64";
    case ValueType::FLOAT64: return "float64";
  }
  return "unknown";
}

namespace {

bool is_signed_type(ValueType t) {
  return t == ValueType::INT8 || t == ValueType::INT16 || t == ValueType::INT32 || t == ValueType::INT64;
}
bool is_unsigned_type(ValueType t) {
  return t == ValueType::UINT8 || t == ValueType::UINT16 || t == ValueType::UINT32 || t == ValueType::UINT64;
}
bool is_float_type(ValueType t) { return t == ValueType::FLOAT32 || t == ValueType::FLOAT64; }

Value make_signed(ValueType t, int64_t v) {
  Value x;
  x.type = t;
  x.i = v;
  return x;
}
Value make_unsigned(ValueType t, uint64_t v) {
  Value x;
  x.type = t;
  x.u = v;
  return x;
}

// Numeric conversions used by both the scalar getters and the array getters;
// `what` names the key (and the index for array items) in errors.
uint64_t to_uint(const Value& v, const std::string& what) {
  if (is_unsigned_type(v.type)) return v.u;
  if (is_signed_type(v.type)) {
    if (v.i < 0) fail(what, " is ", v.i, ", expected a non-negative integer");
    return static_cast<uint64_t>(v.i);
  }
  fail(what, " has type ", value_type_name(v.type), ", expected an unsigned integer");
}

int64_t to_int(const Value& v, const std::string& what) {
  if (is_signed_type(v.type)) return v.i;
  if (is_unsigned_type(v.type)) {
    if (v.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      fail(what, " is ", v.u, ", too large for a signed 64-bit integer");
    return static_cast<int64_t>(v.u);
  }
  fail(what, " has type ", value_type_name(v.type), ", expected an integer");
}

double to_float(const Value& v, const std::string& what) {
  if (is_float_type(v.type)) return v.f;
  if (is_signed_type(v.type)) return static_cast<double>(v.i);
  if (is_unsigned_type(v.type)) return static_cast<double>(v.u);
  fail(what, " has type ", value_type_name(v.type), ", expected a number");
}

std::string key_name(std::string_view key) { return str_cat("metadata key '", key, "'"); }

}  // namespace

Value Value::make_u8(uint8_t v) { return make_unsigned(ValueType::UINT8, v); }
Value Value::make_i8(int8_t v) { return make_signed(ValueType::INT8, v); }
Value Value::make_u16(uint16_t v) { return make_unsigned(ValueType::UINT16, v); }
Value Value::make_i16(int16_t v) { return make_signed(ValueType::INT16, v); }
Value Value::make_u32(uint32_t v) { return make_unsigned(ValueType::UINT32, v); }
Value Value::make_i32(int32_t v) { return make_signed(ValueType::INT32, v); }
Value Value::make_u64(uint64_t v) { return make_unsigned(ValueType::UINT64, v); }
Value Value::make_i64(int64_t v) { return make_signed(ValueType::INT64, v); }

Value Value::make_f32(float v) {
  Value x;
  x.type = ValueType::FLOAT32;
  x.f = v;
  return x;
}

Value Value::make_f64(double v) {
  Value x;
  x.type = ValueType::FLOAT64;
  x.f = v;
  return x;
}

Value Value::make_bool(bool v) { return make_unsigned(ValueType::BOOL, v ? 1 : 0); }

Value Value::make_string(std::string v) {
  Value x;
  x.type = ValueType::STRING;
  x.s = std::move(v);
  return x;
}

Value Value::make_array(ValueType elem_type, std::vector<Value> items) {
  for (size_t k = 0; k < items.size(); ++k)
    if (items[k].type != elem_type)
      fail("array item ", k, " has type ", value_type_name(items[k].type), ", the array holds ",
           value_type_name(elem_type));
  Value x;
  x.type = ValueType::ARRAY;
  x.elem_type = elem_type;
  x.items = std::move(items);
  return x;
}

Value Value::make_string_array(const std::vector<std::string>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (const auto& s : v) items.push_back(make_string(s));
  return make_array(ValueType::STRING, std::move(items));
}

Value Value::make_i32_array(const std::vector<int32_t>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (int32_t x : v) items.push_back(make_i32(x));
  return make_array(ValueType::INT32, std::move(items));
}

Value Value::make_f32_array(const std::vector<float>& v) {
  std::vector<Value> items;
  items.reserve(v.size());
  for (float x : v) items.push_back(make_f32(x));
  return make_array(ValueType::FLOAT32, std::move(items));
}

bool Value::is_integer() const { return is_signed_type(type) || is_unsigned_type(type); }
bool Value::is_number() const { return is_integer() || is_float_type(type); }

bool Value::operator==(const Value& o) const {
  if (type != o.type) return false;
  if (is_signed_type(type)) return i == o.i;
  if (is_unsigned_type(type) || type == ValueType::BOOL) return u == o.u;
  if (is_float_type(type)) return f == o.f || (std::isnan(f) && std::isnan(o.f));
  if (type == ValueType::STRING) return s == o.s;
  return elem_type == o.elem_type && items == o.items;
}

void Metadata::set(const std::string& key, Value v) {
  auto it = index_.find(key);
  if (it != index_.end()) {
    entries_[it->second].second = std::move(v);
    return;
  }
  index_.emplace(key, entries_.size());
  entries_.emplace_back(key, std::move(v));
}

const Value* Metadata::find(std::string_view key) const {
  auto it = index_.find(key);
  return it == index_.end() ? nullptr : &entries_[it->second].second;
}

void Metadata::erase(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(it->second));
  index_.clear();
  for (size_t k = 0; k < entries_.size(); ++k) index_.emplace(entries_[k].first, k);
}

namespace {
const Value& require(const Metadata& md, std::string_view key) {
  const Value* v = md.find(key);
  if (!v) fail(key_name(key), " is missing");
  return *v;
}
}  // namespace

uint64_t Metadata::get_uint(std::string_view key) const { return to_uint(require(*this, key), key_name(key)); }
int64_t Metadata::get_int(std::string_view key) const { return to_int(require(*this, key), key_name(key)); }
double Metadata::get_float(std::string_view key) const { return to_float(require(*this, key), key_name(key)); }

bool Metadata::get_bool(std::string_view key) const {
  const Value& v = require(*this, key);
  if (v.type == ValueType::BOOL) return v.u != 0;
  fail(key_name(key), " has type ", value_type_name(v.type), ", expected bool");
}

const std::string& Metadata::get_string(std::string_view key) const {
  const Value& v = require(*this, key);
  if (v.type != ValueType::STRING) fail(key_name(key), " has type ", value_type_name(v.type), ", expected string");
  return v.s;
}

uint64_t Metadata::get_uint_or(std::string_view key, uint64_t def) const { return has(key) ? get_uint(key) : def; }
double Metadata::get_float_or(std::string_view key, double def) const { return has(key) ? get_float(key) : def; }
bool Metadata::get_bool_or(std::string_view key, bool def) const { return has(key) ? get_bool(key) : def; }
std::string Metadata::get_string_or(std::string_view key, const std::string& def) const {
  return has(key) ? get_string(key) : def;
}

const Value& Metadata::get_array(std::string_view key) const {
  const Value& v = require(*this, key);
  if (v.type != ValueType::ARRAY) fail(key_name(key), " has type ", value_type_name(v.type), ", expected an array");
  return v;
}

std::vector<std::string> Metadata::get_string_array(std::string_view key) const {
  const Value& a = get_array(key);
  if (a.elem_type != ValueType::STRING && !a.items.empty())
    fail(key_name(key), " is an array of ", value_type_name(a.elem_type), ", expected strings");
  std::vector<std::string> out;
  out.reserve(a.items.size());
  for (const auto& v : a.items) out.push_back(v.s);
  return out;
}

std::vector<int64_t> Metadata::get_int_array(std::string_view key) const {
  const Value& a = get_array(key);
  std::vector<int64_t> out;
  out.reserve(a.items.size());
  for (size_t k = 0; k < a.items.size(); ++k) out.push_back(to_int(a.items[k], str_cat(key_name(key), " item ", k)));
  return out;
}

std::vector<double> Metadata::get_float_array(std::string_view key) const {
  const Value& a = get_array(key);
  std::vector<double> out;
  out.reserve(a.items.size());
  for (size_t k = 0; k < a.items.size(); ++k)
    out.push_back(to_float(a.items[k], str_cat(key_name(key), " item ", k)));
  return out;
}

}  // namespace frugal::gguf

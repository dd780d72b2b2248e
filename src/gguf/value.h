// GGUF metadata values: the 13 value types of the format, arrays included
// (arrays of arrays too). Accessors convert between numeric types where the
// value fits and throw frugal::Error naming the key otherwise.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace frugal::gguf {

enum class ValueType : uint32_t {
  UINT8 = 0, INT8 = 1, UINT16 = 2, INT16 = 3, UINT32 = 4, INT32 = 5, FLOAT32 = 6,
  BOOL = 7, STRING = 8, ARRAY = 9, UINT64 = 10, INT64 = 11, FLOAT64 = 12,
};
const char* value_type_name(ValueType t);

struct Value {
  ValueType type = ValueType::UINT32;
  // Scalars: integers in i (signed types) or u (unsigned types and bool),
  // floats in f, strings in s.
  int64_t i = 0;
  uint64_t u = 0;
  double f = 0;
  std::string s;
  // Arrays: element type and items (each item's type == elem_type).
  ValueType elem_type = ValueType::UINT8;
  std::vector<Value> items;

  static Value make_u8(uint8_t v);
  static Value make_i8(int8_t v);
  static Value make_u16(uint16_t v);
  static Value make_i16(int16_t v);
  static Value make_u32(uint32_t v);
  static Value make_i32(int32_t v);
  static Value make_u64(uint64_t v);
  static Value make_i64(int64_t v);
  static Value make_f32(float v);
  static Value make_f64(double v);
  static Value make_bool(bool v);
  static Value make_string(std::string v);
  static Value make_string_array(const std::vector<std::string>& v);
  static Value make_i32_array(const std::vector<int32_t>& v);
  static Value make_f32_array(const std::vector<float>& v);
  // Any array: every item must have type elem_type (checked).
  static Value make_array(ValueType elem_type, std::vector<Value> items);

  bool operator==(const Value& o) const;

  bool is_integer() const;
  bool is_number() const;
};

// Ordered key -> value map (insertion order kept, as a writer must preserve it).
class Metadata {
 public:
  // Replaces an existing key in place (its position is kept), else appends.
  void set(const std::string& key, Value v);
  const Value* find(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  void erase(std::string_view key);
  const std::vector<std::pair<std::string, Value>>& entries() const { return entries_; }
  size_t size() const { return entries_.size(); }

  // Typed reads: throw frugal::Error "metadata key 'K' ..." when missing or of
  // an incompatible type. The *_or forms return the default when missing.
  uint64_t get_uint(std::string_view key) const;
  int64_t get_int(std::string_view key) const;
  double get_float(std::string_view key) const;
  bool get_bool(std::string_view key) const;
  const std::string& get_string(std::string_view key) const;
  uint64_t get_uint_or(std::string_view key, uint64_t def) const;
  double get_float_or(std::string_view key, double def) const;
  bool get_bool_or(std::string_view key, bool def) const;
  std::string get_string_or(std::string_view key, const std::string& def) const;
  std::vector<std::string> get_string_array(std::string_view key) const;
  std::vector<int64_t> get_int_array(std::string_view key) const;
  std::vector<double> get_float_array(std::string_view key) const;
  const Value& get_array(std::string_view key) const;

 private:
  std::vector<std::pair<std::string, Value>> entries_;
  std::map<std::string, size_t, std::less<>> index_;
};

}  // namespace frugal::gguf

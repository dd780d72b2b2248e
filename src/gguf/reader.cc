#include "gguf/reader.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "base/error.h"

namespace frugal::gguf {

namespace {

// Real models hold a few hundred thousand metadata values (vocabularies);
// these caps only bound what a hostile file can make us allocate.
constexpr uint64_t kMaxValues = uint64_t{1} << 24;
constexpr int kMaxArrayDepth = 8;
constexpr uint32_t kMaxDims = 4;

// A bounds-checked little-endian cursor over the file. Every read states the
// field it reads so that an error names the field and its byte offset.
class Cursor {
 public:
  Cursor(const uint8_t* data, uint64_t size, const std::string& name) : data_(data), size_(size), name_(name) {}

  uint64_t pos() const { return pos_; }
  uint64_t remaining() const { return size_ - pos_; }

  [[noreturn]] void error_at(uint64_t offset, const std::string& what) const {
    fail(name_, ": ", what, " (at byte offset ", offset, ")");
  }

  const uint8_t* take(uint64_t n, const std::string& field) {
    if (n > remaining())
      error_at(pos_, str_cat("truncated file: ", field, " needs ", n, " bytes but only ", remaining(),
                             " remain of ", size_));
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
  }

  template <class T>
  T read(const std::string& field) {
    T v;
    std::memcpy(&v, take(sizeof(T), field), sizeof(T));
    return v;
  }

  std::string read_string(const std::string& field) {
    const uint64_t at = pos_;
    const uint64_t len = read<uint64_t>(field + " length");
    if (len > remaining())
      error_at(at, str_cat(field, " length ", len, " exceeds the ", remaining(), " bytes left in the file"));
    const uint8_t* p = take(len, field);
    return std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(len));
  }

 private:
  const uint8_t* data_;
  uint64_t size_;
  uint64_t pos_ = 0;
  const std::string& name_;
};

// Smallest encoded size of one value of type t, so a count can be checked
// against the bytes left before anything is allocated for it.
uint64_t min_encoded_size(ValueType t) {
  switch (t) {
    case ValueType::UINT8: case ValueType::INT8: case ValueType::BOOL: return 1;
    case ValueType::UINT16: case ValueType::INT16: return 2;
    case ValueType::UINT32: case ValueType::INT32: case ValueType::FLOAT32: return 4;
    case ValueType::UINT64: case ValueType::INT64: case ValueType::FLOAT64: return 8;
    case ValueType::STRING: return 8;
    case ValueType::ARRAY: return 12;
  }
  return 1;
}

struct Parser {
  Cursor& cur;
  uint64_t n_values = 0;

  ValueType read_type(const std::string& field) {
    const uint64_t at = cur.pos();
    const uint32_t t = cur.read<uint32_t>(field);
    if (t > static_cast<uint32_t>(ValueType::FLOAT64)) cur.error_at(at, str_cat(field, " ", t, " is not a GGUF value type"));
    return static_cast<ValueType>(t);
  }

  void count_value(const std::string& field) {
    if (++n_values > kMaxValues) cur.error_at(cur.pos(), str_cat(field, ": more than ", kMaxValues, " metadata values"));
  }

  Value read_value(ValueType t, const std::string& field, int depth) {
    count_value(field);
    Value v;
    v.type = t;
    switch (t) {
      case ValueType::UINT8: v.u = cur.read<uint8_t>(field); break;
      case ValueType::INT8: v.i = cur.read<int8_t>(field); break;
      case ValueType::UINT16: v.u = cur.read<uint16_t>(field); break;
      case ValueType::INT16: v.i = cur.read<int16_t>(field); break;
      case ValueType::UINT32: v.u = cur.read<uint32_t>(field); break;
      case ValueType::INT32: v.i = cur.read<int32_t>(field); break;
      case ValueType::UINT64: v.u = cur.read<uint64_t>(field); break;
      case ValueType::INT64: v.i = cur.read<int64_t>(field); break;
      case ValueType::FLOAT32: v.f = cur.read<float>(field); break;
      case ValueType::FLOAT64: v.f = cur.read<double>(field); break;
      case ValueType::BOOL: v.u = cur.read<uint8_t>(field) != 0; break;
      case ValueType::STRING: v.s = cur.read_string(field); break;
      case ValueType::ARRAY: {
        if (depth >= kMaxArrayDepth)
          cur.error_at(cur.pos(), str_cat(field, ": arrays nested more than ", kMaxArrayDepth, " deep"));
        v.elem_type = read_type(field + " element type");
        const uint64_t at = cur.pos();
        const uint64_t n = cur.read<uint64_t>(field + " length");
        if (n > cur.remaining() / min_encoded_size(v.elem_type))
          cur.error_at(at, str_cat(field, " length ", n, " cannot fit in the ", cur.remaining(),
                                   " bytes left in the file"));
        v.items.reserve(static_cast<size_t>(n));
        for (uint64_t k = 0; k < n; ++k) v.items.push_back(read_value(v.elem_type, field, depth + 1));
        break;
      }
    }
    return v;
  }
};

bool checked_mul(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_mul_overflow(a, b, out); }
bool checked_add(uint64_t a, uint64_t b, uint64_t* out) { return !__builtin_add_overflow(a, b, out); }

}  // namespace

Reader Reader::open(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  Reader r = parse(file->data(), file->size(), path);
  r.file_ = std::move(file);
  return r;
}

Reader Reader::parse(const uint8_t* data, size_t size, const std::string& name) {
  return parse_impl(data, size, size, true, name);
}

Reader Reader::parse_header(const uint8_t* header, size_t header_bytes, uint64_t file_bytes, const std::string& name) {
  if (file_bytes < header_bytes)
    fail(name, ": a file of ", file_bytes, " bytes cannot hold its ", header_bytes, "-byte header");
  return parse_impl(header, header_bytes, file_bytes, false, name);
}

Reader Reader::parse_impl(const uint8_t* data, size_t size, uint64_t file_bytes, bool with_data,
                          const std::string& name) {
  Reader r;
  r.path_ = name;
  r.size_ = file_bytes;
  Cursor cur(data, size, r.path_);
  Parser parser{cur};

  const uint32_t magic = cur.read<uint32_t>("magic");
  if (magic != kMagic) cur.error_at(0, "not a GGUF file (bad magic)");
  const uint32_t version = cur.read<uint32_t>("version");
  if (version == 1) cur.error_at(4, "GGUF version 1 is not supported (versions 2 and 3 are)");
  if (version != 2 && version != 3) {
    if ((version & 0xffff) == 0 && (version >> 16) != 0)
      cur.error_at(4, str_cat("GGUF version ", version, " looks big-endian; only little-endian files are supported"));
    cur.error_at(4, str_cat("unsupported GGUF version ", version, " (versions 2 and 3 are)"));
  }
  r.version_ = version;

  const uint64_t n_tensors = cur.read<uint64_t>("tensor count");
  const uint64_t n_kv = cur.read<uint64_t>("metadata key-value count");
  // A tensor info takes at least 8 (name length) + 4 (n_dims) + 8 (one dim) + 4 (type) + 8 (offset) bytes;
  // a key-value pair at least 8 (key length) + 4 (type) + 1 (smallest value) bytes.
  if (n_tensors > cur.remaining() / 32) cur.error_at(8, str_cat("tensor count ", n_tensors, " cannot fit in the file"));
  if (n_kv > cur.remaining() / 13) cur.error_at(16, str_cat("metadata key-value count ", n_kv, " cannot fit in the file"));

  for (uint64_t k = 0; k < n_kv; ++k) {
    const uint64_t at = cur.pos();
    std::string key = cur.read_string(str_cat("metadata key ", k));
    if (r.metadata_.has(key)) cur.error_at(at, str_cat("duplicate metadata key '", key, "'"));
    const std::string field = str_cat("metadata value '", key, "'");
    const ValueType t = parser.read_type(field + " type");
    r.metadata_.set(key, parser.read_value(t, field, 0));
  }

  if (const Value* a = r.metadata_.find("general.alignment")) {
    const bool ok = a->type == ValueType::UINT32 && a->u != 0 && (a->u & (a->u - 1)) == 0;
    if (!ok)
      fail(name, ": general.alignment must be a uint32 power of two, got ",
           a->type == ValueType::UINT32 ? std::to_string(a->u) : std::string(value_type_name(a->type)));
    r.alignment_ = static_cast<uint32_t>(a->u);
  }

  r.tensors_.reserve(static_cast<size_t>(n_tensors));
  for (uint64_t k = 0; k < n_tensors; ++k) {
    const uint64_t at = cur.pos();
    TensorInfo t;
    t.name = cur.read_string(str_cat("tensor ", k, " name"));
    const std::string what = str_cat("tensor '", t.name, "'");
    if (r.tensor_index_.count(t.name)) cur.error_at(at, str_cat("duplicate ", what));
    const uint64_t dims_at = cur.pos();
    const uint32_t n_dims = cur.read<uint32_t>(what + " dimension count");
    if (n_dims < 1 || n_dims > kMaxDims)
      cur.error_at(dims_at, str_cat(what, " has ", n_dims, " dimensions, expected 1 to ", kMaxDims));
    t.shape.resize(n_dims);
    uint64_t n_elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t dim_at = cur.pos();
      t.shape[d] = cur.read<uint64_t>(str_cat(what, " dimension ", d));
      if (t.shape[d] == 0) cur.error_at(dim_at, str_cat(what, " dimension ", d, " is 0"));
      if (!checked_mul(n_elements, t.shape[d], &n_elements) ||
          n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        cur.error_at(dim_at, str_cat(what, " element count overflows at dimension ", d));
    }
    t.n_elements = n_elements;
    const uint64_t type_at = cur.pos();
    const uint32_t type_id = cur.read<uint32_t>(what + " type");
    const auto info = tensor_type_info(type_id);
    if (!info && std::find(std::begin(kRetiredRepackedIds), std::end(kRetiredRepackedIds), type_id) !=
                     std::end(kRetiredRepackedIds))
      cur.error_at(type_at, str_cat(what, " has type id ", type_id,
                                    ", an earlier layout of frugal's repacked types: repack the original file "
                                    "again with `frugal quantize --repack`"));
    if (!info) cur.error_at(type_at, str_cat(what, " has unknown type id ", type_id));
    t.type = info->type;
    if (t.shape[0] % info->block_size != 0)
      cur.error_at(type_at, str_cat(what, " row length ", t.shape[0], " is not a multiple of ", info->block_size,
                                    ", the block size of ", info->name));
    if (!checked_mul(n_elements / info->block_size, info->block_bytes, &t.n_bytes))
      cur.error_at(type_at, str_cat(what, " byte size overflows"));
    const uint64_t offset_at = cur.pos();
    t.offset = cur.read<uint64_t>(what + " data offset");
    if (t.offset % r.alignment_ != 0)
      cur.error_at(offset_at, str_cat(what, " data offset ", t.offset, " is not a multiple of the alignment ", r.alignment_));
    r.tensor_index_.emplace(t.name, r.tensors_.size());
    r.tensors_.push_back(std::move(t));
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t end_of_infos = cur.pos();
  r.data_offset_ = (end_of_infos + r.alignment_ - 1) / r.alignment_ * r.alignment_;
  for (auto& t : r.tensors_) {
    uint64_t begin = 0, end = 0;
    if (!checked_add(r.data_offset_, t.offset, &begin) || !checked_add(begin, t.n_bytes, &end) || end > r.size_)
      fail(name, ": tensor '", t.name, "' data (", t.n_bytes, " bytes at data offset ", t.offset,
           ") extends past the end of the file (", r.size_, " bytes, data section at ", r.data_offset_, ")");
    t.data = with_data ? data + begin : nullptr;
  }
  return r;
}

const TensorInfo* Reader::find_tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& Reader::tensor(std::string_view name) const {
  const TensorInfo* t = find_tensor(name);
  if (!t) fail(path_, ": no tensor named '", name, "'");
  return *t;
}

std::string Reader::architecture() const { return metadata_.get_string_or("general.architecture", ""); }

}  // namespace frugal::gguf

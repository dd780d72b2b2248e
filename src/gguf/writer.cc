#include "gguf/writer.h"

#include <cstring>
#include <memory>
#include <algorithm>

#include "base/error.h"
#include "base/output_file.h"
#include "base/progress.h"
#include "gguf/reader.h"

namespace frugal::gguf {

namespace {

// Header bytes (magic .. tensor infos) are built in memory: they are small
// next to the data (a 150k-token vocabulary is a few MB).
struct Bytes {
  std::string buf;
  template <class T>
  void put(T v) {
    buf.append(reinterpret_cast<const char*>(&v), sizeof v);
  }
  void put_string(const std::string& s) {
    put<uint64_t>(s.size());
    buf.append(s);
  }
};

void encode_value(Bytes& b, const Value& v, const std::string& key) {
  switch (v.type) {
    case ValueType::UINT8: b.put<uint8_t>(static_cast<uint8_t>(v.u)); break;
    case ValueType::INT8: b.put<int8_t>(static_cast<int8_t>(v.i)); break;
    case ValueType::UINT16: b.put<uint16_t>(static_cast<uint16_t>(v.u)); break;
    case ValueType::INT16: b.put<int16_t>(static_cast<int16_t>(v.i)); break;
    case ValueType::UINT32: b.put<uint32_t>(static_cast<uint32_t>(v.u)); break;
    case ValueType::INT32: b.put<int32_t>(static_cast<int32_t>(v.i)); break;
    case ValueType::UINT64: b.put<uint64_t>(v.u); break;
    case ValueType::INT64: b.put<int64_t>(v.i); break;
    case ValueType::FLOAT32: b.put<float>(static_cast<float>(v.f)); break;
    case ValueType::FLOAT64: b.put<double>(v.f); break;
    case ValueType::BOOL: b.put<uint8_t>(v.u ? 1 : 0); break;
    case ValueType::STRING: b.put_string(v.s); break;
    case ValueType::ARRAY:
      b.put<uint32_t>(static_cast<uint32_t>(v.elem_type));
      b.put<uint64_t>(v.items.size());
      for (const auto& item : v.items) {
        if (item.type != v.elem_type)
          fail("metadata key '", key, "': array item of type ", value_type_name(item.type), " in an array of ",
               value_type_name(v.elem_type));
        encode_value(b, item, key);
      }
      break;
  }
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

Writer::Writer(uint32_t alignment) : alignment_(alignment) {
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) fail("GGUF alignment ", alignment, " is not a power of two");
}

void Writer::add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> shape, Producer produce) {
  if (name.empty()) fail("tensor name is empty");
  for (const auto& t : tensors_)
    if (t.name == name) fail("tensor '", name, "' added twice");
  if (shape.empty() || shape.size() > 4) fail("tensor '", name, "' has ", shape.size(), " dimensions, expected 1 to 4");
  uint64_t n = 1;
  for (uint64_t d : shape) {
    if (d == 0) fail("tensor '", name, "' has a zero dimension");
    if (__builtin_mul_overflow(n, d, &n)) fail("tensor '", name, "' element count overflows");
  }
  const auto& info = tensor_type_info(type);
  if (shape[0] % info.block_size != 0)
    fail("tensor '", name, "' row length ", shape[0], " is not a multiple of ", info.block_size, ", the block size of ",
         info.name);
  uint64_t n_bytes = 0;
  if (__builtin_mul_overflow(n / info.block_size, uint64_t{info.block_bytes}, &n_bytes))
    fail("tensor '", name, "' byte size overflows");
  tensors_.push_back({name, type, std::move(shape), n_bytes, std::move(produce)});
}

void Writer::add_tensor_data(const std::string& name, TensorType type, std::vector<uint64_t> shape, const void* data) {
  add_tensor(name, type, std::move(shape),
             [data](std::span<uint8_t> out) { std::memcpy(out.data(), data, out.size()); });
}

std::vector<uint8_t> Writer::header() const {
  Metadata md = metadata_;
  if (const Value* a = md.find("general.alignment")) {
    if (a->type != ValueType::UINT32 || a->u != alignment_)
      fail("metadata general.alignment disagrees with the writer's alignment ", alignment_);
  } else if (alignment_ != kDefaultAlignment) {
    md.set("general.alignment", Value::make_u32(alignment_));
  }

  Bytes head;
  head.put<uint32_t>(kMagic);
  head.put<uint32_t>(3);
  head.put<uint64_t>(tensors_.size());
  head.put<uint64_t>(md.size());
  for (const auto& [key, value] : md.entries()) {
    head.put_string(key);
    head.put<uint32_t>(static_cast<uint32_t>(value.type));
    encode_value(head, value, key);
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    head.put_string(t.name);
    head.put<uint32_t>(static_cast<uint32_t>(t.shape.size()));
    for (uint64_t d : t.shape) head.put<uint64_t>(d);
    head.put<uint32_t>(static_cast<uint32_t>(t.type));
    head.put<uint64_t>(offset);
    offset = align_up(offset + t.n_bytes, alignment_);
  }
  head.buf.resize(align_up(head.buf.size(), alignment_), '\0');
  return std::vector<uint8_t>(head.buf.begin(), head.buf.end());
}

uint64_t Writer::data_bytes() const {
  uint64_t data = 0;
  for (const auto& t : tensors_) data = align_up(data + t.n_bytes, alignment_);
  return data;
}

void Writer::write(const std::string& path, const std::string& label) const {
  const std::vector<uint8_t> head = header();
  uint64_t largest = 0, total = 0;
  for (const auto& t : tensors_) largest = std::max(largest, t.n_bytes), total += t.n_bytes;

  OutputFile file(path);
  file.write(head.data(), head.size());

  // One buffer, sized for the largest tensor, reused for every tensor.
  std::unique_ptr<uint8_t[]> buf(new uint8_t[std::max<uint64_t>(largest, 1)]);
  static const uint8_t zeros[256] = {};
  std::unique_ptr<Progress> bar;
  if (!label.empty()) bar = std::make_unique<Progress>(label, total, "B");
  for (const auto& t : tensors_) {
    std::span<uint8_t> out(buf.get(), static_cast<size_t>(t.n_bytes));
    std::memset(out.data(), 0, out.size());
    t.produce(out);
    file.write(out.data(), out.size());
    const uint64_t pad = align_up(t.n_bytes, alignment_) - t.n_bytes;
    for (uint64_t left = pad; left > 0;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(left, sizeof zeros));
      file.write(zeros, n);
      left -= n;
    }
    if (bar) bar->add(t.n_bytes);
  }
  if (bar) bar->finish();
  file.commit();
}

}  // namespace frugal::gguf

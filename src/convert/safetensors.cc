// Safetensors reading (bounds-checked, memory-mapped) and streamed writing.
#include "convert/safetensors.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/fp16.h"
#include "base/output_file.h"
#include "base/read_file.h"

namespace frugal::convert {
namespace {

using json = nlohmann::json;

// A header larger than this is not a checkpoint's (the largest published
// ones hold a few MB of names).
constexpr uint64_t kMaxHeaderBytes = uint64_t{100} << 20;
constexpr int64_t kMaxElements = int64_t{1} << 48;

struct DtypeName {
  StDtype dtype;
  const char* name;
  size_t bytes;
};
constexpr DtypeName kDtypes[] = {
    {.dtype = StDtype::kF32, .name = "F32", .bytes = 4},
    {.dtype = StDtype::kF16, .name = "F16", .bytes = 2},
    {.dtype = StDtype::kBF16, .name = "BF16", .bytes = 2},
    {.dtype = StDtype::kF8E4M3, .name = "F8_E4M3", .bytes = 1},
    {.dtype = StDtype::kU8, .name = "U8", .bytes = 1},
    {.dtype = StDtype::kI32, .name = "I32", .bytes = 4},
    {.dtype = StDtype::kI64, .name = "I64", .bytes = 8},
    {.dtype = StDtype::kE8M0, .name = "F8_E8M0", .bytes = 1},
    {.dtype = StDtype::kI8, .name = "I8", .bytes = 1},
};

// Bytes per element of the dtypes frugal does not read, so their ranges are
// still checked (0: unknown size, the range is then only bounded by the file).
size_t other_dtype_bytes(std::string_view name) {
  if (name == "F64" || name == "I64" || name == "U64") return 8;
  if (name == "I32" || name == "U32") return 4;
  if (name == "I16" || name == "U16") return 2;
  if (name == "I8" || name == "U8" || name == "BOOL" || name == "F8_E4M3" || name == "F8_E5M2") return 1;
  return 0;
}

uint16_t load_u16(const uint8_t* p) { return uint16_t(p[0] | (p[1] << 8)); }

}  // namespace

const char* st_dtype_name(StDtype t) {
  for (const auto& d : kDtypes)
    if (d.dtype == t) return d.name;
  return "other";
}

size_t st_dtype_bytes(StDtype t) {
  for (const auto& d : kDtypes)
    if (d.dtype == t) return d.bytes;
  return 0;
}

int64_t StTensor::n_elements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

void StTensor::read_f32(int64_t begin, std::span<float> out) const {
  if (dtype == StDtype::kOther)
    fail(file, ": tensor '", name, "' has dtype ", dtype_name, ", which convert does not read (only F32, F16, BF16)");
  if (dtype == StDtype::kF8E4M3) fail(file, ": tensor '", name, "' has dtype F8_E4M3, read only with its block scales");
  if (dtype == StDtype::kU8) fail(file, ": tensor '", name, "' has dtype U8, read only as MXFP4 blocks");
  if (dtype == StDtype::kI32 || dtype == StDtype::kI64)
    fail(file, ": tensor '", name, "' has dtype ", dtype_name, ", read only as expert ids");
  if (dtype == StDtype::kI8) fail(file, ": tensor '", name, "' has dtype I8, read only as FP4 experts with their scales");
  const int64_t n = int64_t(out.size());
  FRUGAL_CHECK(begin >= 0 && begin + n <= n_elements());
  if (n == 0) return;  // memcpy's pointers must not be null, even for no bytes
  switch (dtype) {
    case StDtype::kF32:
      std::memcpy(out.data(), data + begin * 4, size_t(n) * 4);  // little-endian host
      break;
    case StDtype::kF16:
      for (int64_t i = 0; i < n; ++i) out[size_t(i)] = fp16_to_f32(load_u16(data + (begin + i) * 2));
      break;
    case StDtype::kBF16:
      for (int64_t i = 0; i < n; ++i) out[size_t(i)] = bf16_to_f32(load_u16(data + (begin + i) * 2));
      break;
    case StDtype::kE8M0:  // 255 is NaN
      for (int64_t i = 0; i < n; ++i)
        out[size_t(i)] = data[begin + i] == 255 ? std::numeric_limits<float>::quiet_NaN()
                                                : std::ldexp(1.0f, int(data[begin + i]) - 127);
      break;
    case StDtype::kF8E4M3:
    case StDtype::kU8:
    case StDtype::kI8:
    case StDtype::kI32:
    case StDtype::kI64:
    case StDtype::kOther:
      break;
  }
}

std::vector<int64_t> StTensor::read_ids() const {
  if (dtype != StDtype::kI32 && dtype != StDtype::kI64)
    fail(file, ": tensor '", name, "' has dtype ", dtype_name, " where integer ids (I32 or I64) belong");
  std::vector<int64_t> out(static_cast<size_t>(n_elements()));
  for (size_t i = 0; i < out.size(); ++i) {
    if (dtype == StDtype::kI32) {
      int32_t v;
      std::memcpy(&v, data + i * 4, 4);  // little-endian host
      out[i] = v;
    } else {
      std::memcpy(&out[i], data + i * 8, 8);
    }
  }
  return out;
}

SafetensorsFile SafetensorsFile::open(const std::string& path) {
  auto file = std::make_shared<MappedFile>(path);
  SafetensorsFile f = parse(file->data(), file->size(), path);
  f.file_ = std::move(file);
  return f;
}

SafetensorsFile SafetensorsFile::parse(const uint8_t* data, size_t size, const std::string& name) {
  SafetensorsFile f;
  f.path_ = name;
  if (size < 8) fail(name, ": not a safetensors file (", size, " bytes, shorter than the 8-byte header length)");
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | data[i];
  if (header_len > size - 8)
    fail(name, ": truncated safetensors file: the header says ", header_len, " bytes of JSON but only ", size - 8,
         " follow");
  if (header_len > kMaxHeaderBytes) fail(name, ": safetensors header of ", header_len, " bytes is too large");
  const uint8_t* base = data + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;
  json header;
  try {
    header = json::parse(data + 8, data + 8 + header_len);
  } catch (const json::exception& e) {
    fail(name, ": the safetensors header is not valid JSON: ", e.what());
  }
  if (!header.is_object()) fail(name, ": the safetensors header is not a JSON object");
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const json& e = it.value();
    const std::string& tname = it.key();
    auto bad = [&](const std::string& what) { fail(name, ": tensor '", tname, "': ", what); };
    if (!e.is_object()) bad("header entry is not an object");
    if (!e.contains("dtype") || !e["dtype"].is_string()) bad("no dtype");
    if (!e.contains("shape") || !e["shape"].is_array()) bad("no shape");
    if (!e.contains("data_offsets") || !e["data_offsets"].is_array() || e["data_offsets"].size() != 2 ||
        !e["data_offsets"][0].is_number_unsigned() || !e["data_offsets"][1].is_number_unsigned())
      bad("data_offsets is not [begin, end]");
    StTensor t;
    t.name = tname;
    t.file = name;
    t.dtype_name = e["dtype"].get<std::string>();
    t.dtype = StDtype::kOther;
    size_t el_bytes = other_dtype_bytes(t.dtype_name);
    for (const auto& d : kDtypes)
      if (t.dtype_name == d.name) t.dtype = d.dtype, el_bytes = d.bytes;
    int64_t n = 1;
    for (const json& d : e["shape"]) {
      if (!d.is_number_unsigned()) bad("shape holds a value that is not a non-negative integer");
      const uint64_t v = d.get<uint64_t>();
      if (v > uint64_t(kMaxElements) || (v > 0 && uint64_t(n) > uint64_t(kMaxElements) / v))
        bad("shape has too many elements");
      t.shape.push_back(int64_t(v));
      n *= int64_t(v);
    }
    const uint64_t begin = e["data_offsets"][0].get<uint64_t>(), end = e["data_offsets"][1].get<uint64_t>();
    if (begin > end || end > data_size)
      bad(str_cat("data range [", begin, ", ", end, ") lies outside the ", data_size, " bytes of data (truncated file?)"));
    if (el_bytes != 0 && end - begin != uint64_t(n) * el_bytes)
      bad(str_cat("data range of ", end - begin, " bytes does not hold ", n, " ", t.dtype_name, " elements"));
    t.data = base + begin;
    t.n_bytes = end - begin;
    f.tensors_.push_back(std::move(t));
  }
  return f;
}

Checkpoint Checkpoint::open(const std::string& dir) {
  namespace fs = std::filesystem;
  Checkpoint c;
  const fs::path index_path = fs::path(dir) / "model.safetensors.index.json";
  std::vector<std::string> shards;
  std::map<std::string, std::string> expected;  // tensor -> shard the index names
  if (fs::exists(index_path)) {
    json index;
    try {
      index = json::parse(read_whole_file(index_path.string()));
    } catch (const json::exception& e) {
      fail(index_path.string(), ": not valid JSON: ", e.what());
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
      fail(index_path.string(), ": no \"weight_map\" object");
    for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
      if (!it.value().is_string()) fail(index_path.string(), ": weight_map entry of '", it.key(), "' is not a file name");
      const std::string shard = it.value().get<std::string>();
      if (shard.find('/') != std::string::npos || shard == "..")
        fail(index_path.string(), ": shard name '", shard, "' of '", it.key(), "' is not a file in the folder");
      if (std::find(shards.begin(), shards.end(), shard) == shards.end()) {
        if (!fs::exists(fs::path(dir) / shard))
          fail(index_path.string(), ": shard '", shard, "' (holding '", it.key(), "') is missing from ", dir);
        shards.push_back(shard);
      }
      expected[it.key()] = shard;
    }
  } else if (fs::exists(fs::path(dir) / "model.safetensors")) {
    shards.push_back("model.safetensors");
  } else {
    fail(dir, ": neither model.safetensors nor model.safetensors.index.json");
  }
  c.files_.reserve(shards.size());
  for (const std::string& s : shards) c.files_.push_back(SafetensorsFile::open((fs::path(dir) / s).string()));
  for (const SafetensorsFile& f : c.files_)
    for (const StTensor& t : f.tensors()) {
      if (!c.index_.emplace(t.name, &t).second) fail(f.path(), ": tensor '", t.name, "' is also in another shard");
    }
  for (const auto& [tensor, shard] : expected)
    if (!c.index_.contains(tensor)) fail(index_path.string(), ": tensor '", tensor, "' is not in its shard '", shard, "'");
  return c;
}

const StTensor* Checkpoint::find(std::string_view name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : it->second;
}

const StTensor& Checkpoint::get(std::string_view name) const {
  const StTensor* t = find(name);
  if (t == nullptr) fail("checkpoint: tensor '", name, "' is missing");
  return *t;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : index_) out.push_back(name);
  return out;
}

void write_safetensors(const std::string& path, const std::vector<StWriteTensor>& tensors) {
  json header = json::object();
  uint64_t offset = 0;
  std::vector<uint64_t> sizes;
  for (const StWriteTensor& t : tensors) {
    uint64_t n = st_dtype_bytes(t.dtype);
    FRUGAL_CHECK(n != 0);
    for (int64_t d : t.shape) n *= uint64_t(d);
    header[t.name] = {{"dtype", st_dtype_name(t.dtype)}, {"shape", t.shape}, {"data_offsets", {offset, offset + n}}};
    sizes.push_back(n);
    offset += n;
  }
  header["__metadata__"] = {{"format", "pt"}};
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  OutputFile out(path);
  uint8_t len[8];
  for (int i = 0; i < 8; ++i) len[i] = uint8_t(uint64_t(text.size()) >> (8 * i));
  out.write(len, 8);
  out.write(text);
  std::vector<uint8_t> buf;
  for (size_t i = 0; i < tensors.size(); ++i) {
    buf.assign(size_t(sizes[i]), 0);
    tensors[i].produce(buf);
    out.write(buf.data(), buf.size());
  }
  out.commit();
}

}  // namespace frugal::convert

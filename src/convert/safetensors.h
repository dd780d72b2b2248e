// The safetensors format of Hugging Face checkpoints: an 8-byte little-endian
// header length, a JSON header mapping each tensor name to its dtype, shape
// and [begin, end) byte range in the data that follows, then the data. The
// reader maps the file and checks every length, shape and range against the
// file size before use: a truncated or hostile file is a frugal::Error naming
// the file and the tensor, never a crash or an out-of-bounds read.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/mapped_file.h"

namespace frugal::convert {

// The element types frugal reads; kOther stands for any other (I64, I16,
// ...): such a tensor is listed, and reading it is an error naming its dtype.
// kF8E4M3 is read with its block scales (convert/fp8_blocks.h), kU8 as
// MXFP4 blocks and scales (convert/mxfp4_layout.h), kI8 as DeepSeek-V4's
// FP4 experts (two E2M1 codes a byte, with their scales), and kI32/kI64 as
// integers (read_ids: DeepSeek-V4's token -> experts tables), not as values.
// kE8M0 (F8_E8M0, DeepSeek-V4's block scales) reads as the power of two
// 2^(byte - 127).
enum class StDtype { kF32, kF16, kBF16, kF8E4M3, kU8, kI32, kI64, kE8M0, kI8, kOther };
const char* st_dtype_name(StDtype t);
size_t st_dtype_bytes(StDtype t);

struct StTensor {
  std::string name;
  StDtype dtype = StDtype::kF32;
  std::string dtype_name;      // as the header spells it: "BF16"
  std::vector<int64_t> shape;  // row-major, as PyTorch: shape.back() is contiguous
  const uint8_t* data = nullptr;
  uint64_t n_bytes = 0;
  std::string file;  // the file it lives in (for messages)

  int64_t n_elements() const;
  // Elements [begin, begin + out.size()) as f32.
  void read_f32(int64_t begin, std::span<float> out) const;
  // Every element of an I32 or I64 tensor as int64.
  std::vector<int64_t> read_ids() const;
};

class SafetensorsFile {
 public:
  static SafetensorsFile open(const std::string& path);
  // Parses a buffer the caller keeps alive (fuzzing, tests).
  static SafetensorsFile parse(const uint8_t* data, size_t size, const std::string& name = "<memory>");

  const std::vector<StTensor>& tensors() const { return tensors_; }
  const std::string& path() const { return path_; }

 private:
  std::shared_ptr<MappedFile> file_;
  std::string path_;
  std::vector<StTensor> tensors_;
};

// Every tensor of a checkpoint folder: the shards that
// model.safetensors.index.json lists, or the one model.safetensors.
class Checkpoint {
 public:
  static Checkpoint open(const std::string& dir);

  const StTensor* find(std::string_view name) const;  // nullptr if absent
  const StTensor& get(std::string_view name) const;   // frugal::Error naming the tensor if absent
  // Names in sorted order.
  std::vector<std::string> names() const;
  size_t n_files() const { return files_.size(); }

 private:
  std::vector<SafetensorsFile> files_;
  std::map<std::string, const StTensor*, std::less<>> index_;
};

// Writes a safetensors file (F32 or BF16 tensors), streamed one tensor at a
// time through base/output_file.h (atomic replace). Producer fills the
// tensor's bytes, little-endian in its dtype.
struct StWriteTensor {
  std::string name;
  StDtype dtype = StDtype::kF32;
  std::vector<int64_t> shape;
  std::function<void(std::span<uint8_t>)> produce;
};
void write_safetensors(const std::string& path, const std::vector<StWriteTensor>& tensors);

}  // namespace frugal::convert

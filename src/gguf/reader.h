// GGUF reader (versions 2 and 3). The file is mmap'd and every count, length,
// size and offset is checked against the file size before use: a truncated or
// hostile file is a frugal::Error naming the field and the byte offset, never
// a crash, a hang, a huge allocation or an out-of-bounds read.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/mapped_file.h"
#include "gguf/tensor_type.h"
#include "gguf/value.h"

namespace frugal::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
inline constexpr uint32_t kDefaultAlignment = 32;

struct TensorInfo {
  std::string name;
  TensorType type = TensorType::F32;
  std::vector<uint64_t> shape;  // ggml order: shape[0] is the row length (contiguous)
  uint64_t offset = 0;          // from the start of the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // into the mapping (or the caller's buffer)

  uint64_t rows() const { return shape.empty() ? 0 : n_elements / shape[0]; }
};

class Reader {
 public:
  // Maps and parses the file.
  static Reader open(const std::string& path);
  // Parses a buffer the caller keeps alive (fuzzing, tests).
  static Reader parse(const uint8_t* data, size_t size, const std::string& name = "<memory>");
  // Parses a file's header alone (gguf::Writer::header()): the tensors are
  // checked against `file_bytes`, the size the whole file would have, and
  // have no data (TensorInfo::data null).
  static Reader parse_header(const uint8_t* header, size_t header_bytes, uint64_t file_bytes, const std::string& name);

  uint32_t version() const { return version_; }
  uint32_t alignment() const { return alignment_; }
  const Metadata& metadata() const { return metadata_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;  // nullptr if absent
  const TensorInfo& tensor(std::string_view name) const;        // throws if absent
  uint64_t data_offset() const { return data_offset_; }          // start of the tensor data section
  uint64_t file_size() const { return size_; }
  const std::string& path() const { return path_; }
  // The mapping behind open() (for read-ahead hints); nullptr after parse().
  const MappedFile* mapping() const { return file_.get(); }
  // "general.architecture", or "" when absent.
  std::string architecture() const;

 private:
  static Reader parse_impl(const uint8_t* data, size_t size, uint64_t file_bytes, bool with_data,
                           const std::string& name);

  std::shared_ptr<MappedFile> file_;
  std::string path_;
  uint64_t size_ = 0;
  uint32_t version_ = 0;
  uint32_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  Metadata metadata_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> tensor_index_;
};

}  // namespace frugal::gguf

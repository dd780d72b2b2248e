// GGUF writer (version 3): metadata in insertion order, tensor infos, then the
// tensor data, each tensor aligned to general.alignment. Tensor data is
// produced on demand at write time, one tensor at a time, so writing a 10 GB
// model needs memory for its largest tensor only. Output goes through
// base/output_file.h: a regular file is replaced atomically (a crash never
// leaves a half file at PATH), a device such as /dev/null is written in place.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "gguf/tensor_type.h"
#include "gguf/value.h"

namespace frugal::gguf {

class Writer {
 public:
  // Fills exactly `out.size()` bytes of one tensor's data.
  using Producer = std::function<void(std::span<uint8_t> out)>;

  explicit Writer(uint32_t alignment = 32);

  Metadata& metadata() { return metadata_; }
  void set(const std::string& key, Value v) { metadata_.set(key, std::move(v)); }

  // shape in ggml order (shape[0] = row length). Byte size is computed from type.
  void add_tensor(const std::string& name, TensorType type, std::vector<uint64_t> shape, Producer produce);
  // Convenience: copies from memory that stays alive until write().
  void add_tensor_data(const std::string& name, TensorType type, std::vector<uint64_t> shape, const void* data);

  // Writes the file; shows a progress bar labelled `label` when not empty.
  void write(const std::string& path, const std::string& label = "") const;

  // The file's bytes before the tensor data (magic, metadata, tensor infos,
  // padding), the size of the data section after them, and the two
  // together: what a file would hold, told without producing any tensor
  // (`frugal inspect --arch`).
  std::vector<uint8_t> header() const;
  uint64_t data_bytes() const;
  uint64_t file_bytes() const { return header().size() + data_bytes(); }

 private:
  struct Pending {
    std::string name;
    TensorType type;
    std::vector<uint64_t> shape;
    uint64_t n_bytes;
    Producer produce;
  };
  uint32_t alignment_;
  Metadata metadata_;
  std::vector<Pending> tensors_;
};

}  // namespace frugal::gguf

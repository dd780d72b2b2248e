// A read-only memory-mapped file: the model's weights are used in place, never
// copied. Move-only; unmapped on destruction.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace frugal {

class MappedFile {
 public:
  MappedFile() = default;
  // Maps the whole file read-only; throws frugal::Error naming the path on failure.
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }
  // Hint the kernel to read ahead (sequential load) or not (random expert access).
  void advise_willneed() const;

 private:
  void reset();
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

}  // namespace frugal

// Memory mapped from no file, on transparent huge pages where the kernel
// gives them, its pages made on first touch: for large arrays made at load
// time, such as repacked or copied weights (fill it from several threads).
// Move-only; unmapped on destruction.
#pragma once
#include <cstddef>
#include <cstdint>

namespace frugal {

class AnonymousMemory {
 public:
  AnonymousMemory() = default;
  // n bytes, zero; throws frugal::Error when the system refuses them.
  explicit AnonymousMemory(size_t n);
  ~AnonymousMemory();
  AnonymousMemory(AnonymousMemory&& o) noexcept;
  AnonymousMemory& operator=(AnonymousMemory&& o) noexcept;
  AnonymousMemory(const AnonymousMemory&) = delete;
  AnonymousMemory& operator=(const AnonymousMemory&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Lets the process drop the whole pages inside [p, p + n) of a read-only file
// mapping (they stay in the page cache and are read again if touched): for
// file data that has been copied elsewhere and will not be read here again.
void release_file_pages(const void* p, size_t n);

}  // namespace frugal

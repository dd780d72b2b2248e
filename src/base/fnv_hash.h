// FNV-1a, 64-bit: the checksum and identity hashes of the checkpoint files
// (train and finetune), which must stay the same bytes from one build to the
// next, so no std::hash.
#pragma once
#include <cstddef>
#include <cstdint>

namespace frugal {

struct Fnv {
  uint64_t h = 0xCBF29CE484222325ull;
  void add(const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001B3ull;
  }
  // The value's bytes as they lie in memory (trivially copyable types only).
  template <class T>
  void put(const T& v) {
    add(&v, sizeof(v));
  }
};

}  // namespace frugal

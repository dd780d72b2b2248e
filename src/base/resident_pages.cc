#include "base/resident_pages.h"

#include <fcntl.h>
#include <unistd.h>

#include <vector>

namespace frugal {

uint64_t present_bytes(const void* p, size_t n) {
  if (n == 0) return 0;
  const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  const uint64_t first = reinterpret_cast<uintptr_t>(p) / page;
  const uint64_t last = (reinterpret_cast<uintptr_t>(p) + n - 1) / page;
  const int fd = ::open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  // One 64-bit entry per page; bit 63: present in RAM and mapped here.
  constexpr uint64_t kPresent = uint64_t{1} << 63;
  constexpr uint64_t kChunk = 4096;
  std::vector<uint64_t> entries(kChunk);
  uint64_t present = 0;
  for (uint64_t at = first; at <= last; at += kChunk) {
    const uint64_t count = std::min(kChunk, last + 1 - at);
    const ssize_t got = ::pread(fd, entries.data(), count * sizeof(uint64_t), static_cast<off_t>(at * sizeof(uint64_t)));
    if (got <= 0) break;
    for (uint64_t i = 0; i < static_cast<uint64_t>(got) / sizeof(uint64_t); ++i)
      if (entries[i] & kPresent) present += page;
  }
  ::close(fd);
  return present;
}

}  // namespace frugal

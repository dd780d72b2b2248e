#include "base/anonymous_memory.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "base/error.h"
#include "base/human_format.h"

namespace frugal {

namespace {

constexpr size_t kHugePage = size_t{2} << 20;

// n bytes at a 2 MiB boundary, advised to be transparent huge pages before
// any page is touched. Weights are streamed through gigabytes a step; with
// 4 KiB pages every 64 cache lines cost a page walk. The pages are not
// populated here: they come on first touch by the threads that fill the
// memory, in parallel (4 GB on the 2-core VM of docs/BENCHMARKS.md: 3.4-5.4 s
// populated in one MADV_POPULATE_WRITE call, 0.6-1.2 s faulted as two threads
// fill it; small pages faulted one by one took 15 s). Populating in the mmap
// call itself, as MAP_POPULATE does, would fault before the advice applies.
// Returns null where the kernel refuses the mapping.
uint8_t* map_huge(size_t n) {
  const size_t span = n + kHugePage;
  void* p = ::mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  const auto base = reinterpret_cast<uintptr_t>(p);
  const uintptr_t begin = (base + kHugePage - 1) & ~(kHugePage - 1);
  // The unaligned head and the tail beyond n go back at once.
  if (begin > base) ::munmap(p, begin - base);
  const uintptr_t end = begin + n, span_end = base + span;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t tail = (end + page - 1) / page * page;
  if (span_end > tail) ::munmap(reinterpret_cast<void*>(tail), span_end - tail);
  ::madvise(reinterpret_cast<void*>(begin), tail - begin, MADV_HUGEPAGE);  // a kernel without THP says no: small pages then
  return reinterpret_cast<uint8_t*>(begin);
}

}  // namespace

AnonymousMemory::AnonymousMemory(size_t n) {
  if (n == 0) return;
  data_ = map_huge(n);
  if (!data_) {
    const int e = errno;
    fail("cannot allocate ", human_bytes(n), ": ", std::strerror(e));
  }
  size_ = n;
}

AnonymousMemory::~AnonymousMemory() {
  if (data_) ::munmap(data_, size_);
}

AnonymousMemory::AnonymousMemory(AnonymousMemory&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}

AnonymousMemory& AnonymousMemory::operator=(AnonymousMemory&& o) noexcept {
  if (this != &o) {
    if (data_) ::munmap(data_, size_);
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

void release_file_pages(const void* p, size_t n) {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = (reinterpret_cast<uintptr_t>(p) + page - 1) / page * page;
  const auto end = (reinterpret_cast<uintptr_t>(p) + n) / page * page;
  if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

}  // namespace frugal

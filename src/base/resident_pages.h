// How much of a range of this process's memory is mapped in its page table
// (read from /proc/self/pagemap): for a file mapping, the pages that this
// process has touched (plus the kernel's fault-around neighbours), not
// merely those in the page cache, which other processes share.
#pragma once
#include <cstddef>
#include <cstdint>

namespace frugal {

// Bytes of the whole pages overlapping [p, p + n) that are present; 0 when
// /proc/self/pagemap cannot be read.
uint64_t present_bytes(const void* p, size_t n);

}  // namespace frugal

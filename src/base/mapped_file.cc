#include "base/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "base/error.h"

namespace frugal {

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22  // Linux 5.14
#endif

// The background threads of populate_in_background(): each takes the next
// chunk of the file from a counter, so the pages arrive roughly in file
// order (the order of the layers) with n_threads disk reads in flight.
struct MappedFile::Populator {
  static constexpr size_t kChunk = size_t{4} << 20;
  const uint8_t* data;
  size_t size;
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;

  Populator(const uint8_t* d, size_t n, int n_threads) : data(d), size(n) {
    for (int i = 0; i < n_threads; ++i) threads.emplace_back([this] { run(); });
  }
  ~Populator() {
    stop.store(true, std::memory_order_relaxed);
    for (auto& t : threads) t.join();
  }
  void run() {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    while (!stop.load(std::memory_order_relaxed)) {
      const size_t begin = next.fetch_add(kChunk, std::memory_order_relaxed);
      if (begin >= size) return;
      const size_t len = std::min(kChunk, size - begin);
      if (::madvise(const_cast<uint8_t*>(data + begin), len, MADV_POPULATE_READ) != 0) {
        // Older kernels: read one byte of every page instead.
        uint8_t sum = 0;
        for (size_t o = 0; o < len; o += page) sum ^= reinterpret_cast<const volatile uint8_t*>(data + begin)[o];
        (void)sum;
      }
    }
  }
};

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot open '", path, "': ", std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    fail("cannot stat '", path, "': ", std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    fail("'", path, "' is not a regular file");
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      fail("cannot mmap '", path, "': ", std::strerror(e));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  fd_ = fd;
}

MappedFile::MappedFile() = default;
MappedFile::~MappedFile() { reset(); }

MappedFile::MappedFile(MappedFile&& o) noexcept
    : populator_(std::move(o.populator_)),
      populate_skipped_(o.populate_skipped_.load()),
      data_(o.data_),
      size_(o.size_),
      fd_(std::exchange(o.fd_, -1)),
      path_(std::move(o.path_)) {
  o.data_ = nullptr;
  o.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    reset();
    populator_ = std::move(o.populator_);
    populate_skipped_ = o.populate_skipped_.load();
    data_ = o.data_;
    size_ = o.size_;
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

void MappedFile::reset() {
  populator_.reset();  // its threads stop before the pages go
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
  data_ = nullptr;
  size_ = 0;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void MappedFile::read(size_t offset, void* dst, size_t n) const {
  if (offset > size_ || n > size_ - offset) fail("'", path_, "': read of ", n, " bytes at ", offset, " is past the end");
  auto* out = static_cast<uint8_t*>(dst);
  while (n > 0) {
    const ssize_t r = ::pread(fd_, out, n, static_cast<off_t>(offset));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) fail("cannot read '", path_, "': ", r < 0 ? std::strerror(errno) : "the file was shortened");
    out += r;
    offset += static_cast<size_t>(r);
    n -= static_cast<size_t>(r);
  }
}

void MappedFile::advise_willneed() const {
  if (data_) ::madvise(const_cast<uint8_t*>(data_), size_, MADV_WILLNEED);
}

void advise_willneed(const void* p, size_t n) {
  if (!p || n == 0) return;
  static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t b = reinterpret_cast<uintptr_t>(p) & ~(page - 1);
  const uintptr_t e = reinterpret_cast<uintptr_t>(p) + n;
  ::madvise(reinterpret_cast<void*>(b), e - b, MADV_WILLNEED);
}

void MappedFile::populate_in_background(int n_threads) const {
  static std::mutex mu;  // two engines of one model may start at once
  std::lock_guard<std::mutex> lock(mu);
  if (!data_ || populator_ || n_threads <= 0 || populate_skipped_) return;
  populator_ = std::make_unique<Populator>(data_, size_, n_threads);
}

}  // namespace frugal

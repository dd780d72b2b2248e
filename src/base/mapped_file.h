// A read-only memory-mapped file: the model's weights are used in place, or
// copied out of it once at load (model/repack_weights.h). Move-only; unmapped on destruction.
#pragma once
#include <cstddef>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace frugal {

// Asks the kernel to start reading [p, p + n) of a file mapping into the page
// cache now (asynchronously; whole pages around the range). Cheap for pages
// already there.
void advise_willneed(const void* p, size_t n);

class MappedFile {
 public:
  MappedFile();
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
  // Copies n bytes from the file at `offset` into dst with pread, not through
  // the mapping: no page of the mapping is faulted in (on the 2-core VM of
  // docs/BENCHMARKS.md a page-cached 4 GB file copied in 0.6-1 s this way,
  // 3-5.6 s through the mapping's 4 KiB page faults). Throws frugal::Error.
  void read(size_t offset, void* dst, size_t n) const;

  // Maps every page of the file into this process in the background, from
  // the start of the file on, with n_threads threads (blocked on disk reads
  // when the file is not in the page cache, so more threads than cores pay):
  // the first pass over the weights then neither faults page by page nor
  // waits on one disk read at a time. Memory stays the page cache's (no
  // copy). Returns at once; a second call does nothing; destruction stops
  // and joins the threads before unmapping.
  void populate_in_background(int n_threads = 8) const;
  // Makes populate_in_background() do nothing: the user of the mapping has
  // copied what it reads in bulk elsewhere (repacked weights) and released
  // those pages, which populating would map again.
  void skip_populate() const { populate_skipped_ = true; }

 private:
  struct Populator;
  void reset();
  mutable std::unique_ptr<Populator> populator_;
  mutable std::atomic<bool> populate_skipped_{false};
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;  // kept open for read()
  std::string path_;
};

}  // namespace frugal

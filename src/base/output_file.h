// Writing a file the user named (-o, --checkpoint, --json, the data corpus).
// A regular file is never left half written: the bytes go to a temporary
// file beside it, which is fsync'd and renamed over it (the folder fsync'd
// too), so a kill at any moment leaves the old file or the new one. A
// symbolic link is followed and its target replaced, so the link stays a
// link. A path that is not a regular file (/dev/null, /dev/stdout, a FIFO, a
// terminal) cannot be replaced by a rename without destroying it, so it is
// written through in place. A folder is an error.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace frugal {

// The path whose contents writing to `path` changes: symbolic links followed,
// also a dangling one (its target is where the file will be created).
// frugal::Error for a loop of links.
std::string resolve_output_path(const std::string& path);

class OutputFile {
 public:
  // Opens the temporary file (or the device); frugal::Error naming `path`
  // when that is impossible (no folder, no permission, a folder).
  explicit OutputFile(std::string path);
  // Without commit(): the temporary file is removed and the old file stays.
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  // Flushes, syncs and puts the file in place; frugal::Error on failure
  // (a full disk shows here or in write()).
  void commit();

  const std::string& path() const { return path_; }
  // False when the path is written through in place (not a regular file).
  bool atomic() const { return !temp_.empty(); }

 private:
  void flush();
  void close_fd();
  std::string path_, target_, temp_;
  std::string buffer_;
  int fd_ = -1;
  bool committed_ = false;
};

// The whole file at once.
void write_output_file(const std::string& path, std::string_view contents);

}  // namespace frugal

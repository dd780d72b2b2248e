#include "base/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"

namespace frugal {

namespace {

// Small writes gather here so that a corpus of many short documents is not a
// system call per document; big ones (tensor data) go straight to the file.
constexpr size_t kBufferBytes = 1 << 20;

std::string folder_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

void write_all(int fd, const void* data, size_t n, const std::string& path) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail("cannot write '", path, "': ", std::strerror(errno));
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
}

}  // namespace

std::string resolve_output_path(const std::string& path) {
  std::string current = path;
  for (int hops = 0; hops < 40; ++hops) {  // the kernel's own limit on a chain of links
    struct stat st;
    if (::lstat(current.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return current;
    std::string link(static_cast<size_t>(st.st_size > 0 ? st.st_size : 4096), '\0');
    const ssize_t n = ::readlink(current.c_str(), link.data(), link.size());
    if (n < 0) fail("cannot read the link '", current, "': ", std::strerror(errno));
    link.resize(static_cast<size_t>(n));
    // A relative target is relative to the folder holding the link.
    current = (!link.empty() && link[0] == '/') ? link : folder_of(current) + "/" + link;
  }
  fail("cannot write '", path, "': too many levels of symbolic links");
}

OutputFile::OutputFile(std::string path) : path_(std::move(path)) {
  if (path_.empty()) fail("no output file named");
  struct stat st;
  const bool exists = ::stat(path_.c_str(), &st) == 0;
  if (!exists && errno != ENOENT) fail("cannot write '", path_, "': ", std::strerror(errno));
  if (exists && S_ISDIR(st.st_mode)) fail("cannot write '", path_, "': it is a folder");
  if (exists && !S_ISREG(st.st_mode)) {
    // A device, FIFO or terminal: renaming over it would replace the node
    // itself (as root, /dev/null would become a plain file), so write in place.
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) fail("cannot write '", path_, "': ", std::strerror(errno));
    return;
  }
  target_ = resolve_output_path(path_);
  // A name of our own beside the target (same file system, so the rename is
  // atomic); the process id keeps two writers of one path apart.
  const std::string stem = target_ + ".tmp." + std::to_string(::getpid());
  for (int attempt = 0; fd_ < 0; ++attempt) {
    temp_ = attempt == 0 ? stem : stem + "." + std::to_string(attempt);
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0 && (errno != EEXIST || attempt >= 100)) {
      const int err = errno;
      temp_.clear();
      fail("cannot write '", path_, "': ", std::strerror(err));
    }
  }
  // A replaced file keeps its permissions (a model made read-only for others stays so).
  if (exists) (void)::fchmod(fd_, st.st_mode & 07777);
}

OutputFile::~OutputFile() {
  close_fd();
  if (!committed_ && !temp_.empty()) ::unlink(temp_.c_str());
}

void OutputFile::close_fd() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void OutputFile::write(const void* data, size_t n) {
  if (committed_ || fd_ < 0) fail("'", path_, "' is already closed");
  if (buffer_.size() + n > kBufferBytes) flush();
  if (n < kBufferBytes) buffer_.append(static_cast<const char*>(data), n);
  else write_all(fd_, data, n, path_);
}

void OutputFile::flush() {
  std::string pending;
  pending.swap(buffer_);
  write_all(fd_, pending.data(), pending.size(), path_);
}

void OutputFile::commit() {
  if (committed_ || fd_ < 0) fail("'", path_, "' is already closed");
  flush();
  if (!atomic()) {  // written in place; a device has nothing to sync
    const int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) fail("cannot write '", path_, "': ", std::strerror(errno));
    committed_ = true;
    return;
  }
  if (::fsync(fd_) != 0) fail("cannot write '", path_, "': ", std::strerror(errno));
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) fail("cannot write '", path_, "': ", std::strerror(errno));
  if (::rename(temp_.c_str(), target_.c_str()) != 0)
    fail("cannot put '", path_, "' in place: ", std::strerror(errno));
  committed_ = true;
  // Make the rename itself durable.
  const int dir = ::open(folder_of(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
}

void write_output_file(const std::string& path, std::string_view contents) {
  OutputFile out(path);
  out.write(contents);
  out.commit();
}

}  // namespace frugal

#include "base/file_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"
#include "base/output_file.h"

namespace frugal {

FileLock::FileLock(const std::string& path, const std::string& what) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    // A device or FIFO: no lock file beside it (that would be a new file in
    // /dev); the node itself is locked (opened without blocking on a FIFO).
    lock_path_ = path;
    owns_file_ = false;
    fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd_ < 0) fail("cannot open '", path, "' for ", what, ": ", std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd_);
      fd_ = -1;
      if (err == EWOULDBLOCK) fail(what, " '", path, "' is in use by another process");
      fail("cannot lock '", path, "' for ", what, ": ", std::strerror(err));
    }
    return;
  }
  lock_path_ = resolve_output_path(path) + ".lock";
  // The lock file is removed on release, so a process may lock a file that
  // another has just unlinked; it then sees the name point elsewhere and
  // tries again on the new one.
  for (int attempt = 0; attempt < 100; ++attempt) {
    fd_ = ::open(lock_path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd_ < 0) fail("cannot create the lock file '", lock_path_, "' for ", what, ": ", std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      char holder[32] = {};
      const ssize_t n = ::pread(fd_, holder, sizeof holder - 1, 0);
      ::close(fd_);
      fd_ = -1;
      if (err == EWOULDBLOCK)
        fail(what, " '", path, "' is in use by another process",
             n > 0 ? std::string(" (pid ") + std::string(holder, static_cast<size_t>(n)) + ")" : std::string(),
             "; lock file '", lock_path_, "'");
      fail("cannot lock '", lock_path_, "' for ", what, ": ", std::strerror(err));
    }
    struct stat held, named;
    if (::fstat(fd_, &held) == 0 && ::stat(lock_path_.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
        held.st_dev == named.st_dev) {
      const std::string pid = std::to_string(::getpid());
      if (::ftruncate(fd_, 0) == 0) (void)!::pwrite(fd_, pid.data(), pid.size(), 0);
      return;
    }
    ::close(fd_);
    fd_ = -1;
  }
  fail("cannot lock '", lock_path_, "' for ", what, ": it keeps being replaced");
}

FileLock::~FileLock() {
  if (fd_ < 0) return;
  // Unlink while still holding the lock, so nobody locks a name that is going away.
  if (owns_file_) ::unlink(lock_path_.c_str());
  ::close(fd_);
}

}  // namespace frugal

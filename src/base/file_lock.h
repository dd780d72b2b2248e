// One process at a time on a file: an advisory lock (flock) on PATH.lock,
// held while the object lives, so that two runs sharing one output (two
// trainers on one checkpoint) fail clearly instead of overwriting each
// other's work. The kernel drops the lock when the process dies, so a
// killed run never leaves a stale lock behind. A device or FIFO is locked
// itself, without a lock file beside it.
#pragma once
#include <string>

namespace frugal {

class FileLock {
 public:
  // Locks the file that `path` names (symbolic links followed); without
  // waiting: frugal::Error naming `what` and the holder's process id when
  // another process holds it.
  FileLock(const std::string& path, const std::string& what);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  const std::string& lock_path() const { return lock_path_; }

 private:
  std::string lock_path_;
  int fd_ = -1;
  bool owns_file_ = true;  // the PATH.lock file, removed on release
};

}  // namespace frugal

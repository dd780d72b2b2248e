// Output files: a regular file is replaced whole or not at all, a symbolic
// link keeps being a link (its target changes), a device or FIFO is written
// in place (never replaced by a plain file), a folder is refused, and the
// checkpoint lock lets one process at a time hold a path.
#include "base/output_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "base/error.h"
#include "base/file_lock.h"

namespace frugal {
namespace {

namespace fs = std::filesystem;

struct ScratchDir {
  fs::path path;
  ScratchDir() {
    path = fs::path(testing::TempDir()) / ("output_file_" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() { fs::remove_all(path); }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
  size_t entries() const { return static_cast<size_t>(std::distance(fs::directory_iterator(path), {})); }
};

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(OutputFile, ReplacesARegularFileOnlyOnCommit) {
  ScratchDir d;
  const std::string path = d / "out.txt";
  write_output_file(path, "old");
  ::chmod(path.c_str(), 0640);
  {
    OutputFile f(path);
    EXPECT_TRUE(f.atomic());
    f.write("new contents");
    EXPECT_EQ(slurp(path), "old");  // nothing visible before commit
    f.commit();
  }
  EXPECT_EQ(slurp(path), "new contents");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);  // the replaced file's permissions stay
  EXPECT_EQ(d.entries(), 1u);           // no temporary file left
}

TEST(OutputFile, WithoutCommitTheOldFileStaysAndNoTemporaryIsLeft) {
  ScratchDir d;
  const std::string path = d / "out.txt";
  write_output_file(path, "old");
  {
    OutputFile f(path);
    f.write(std::string(3 << 20, 'x'));  // larger than the buffer: part is on disk
  }
  EXPECT_EQ(slurp(path), "old");
  EXPECT_EQ(d.entries(), 1u);
}

TEST(OutputFile, FollowsSymbolicLinksAndKeepsThem) {
  ScratchDir d;
  fs::create_directories(d.path / "real");
  write_output_file(d / "real/model.gguf", "old");
  fs::create_symlink("real/model.gguf", d.path / "link.gguf");  // relative, as ln -s makes it
  fs::create_symlink(d / "link.gguf", d.path / "link2.gguf");   // a chain of two
  write_output_file(d / "link2.gguf", "through two links");
  EXPECT_TRUE(fs::is_symlink(d.path / "link.gguf"));
  EXPECT_TRUE(fs::is_symlink(d.path / "link2.gguf"));
  EXPECT_EQ(slurp(d / "real/model.gguf"), "through two links");

  // A dangling link: its target is created.
  fs::create_symlink("real/new.gguf", d.path / "dangling");
  write_output_file(d / "dangling", "created");
  EXPECT_TRUE(fs::is_symlink(d.path / "dangling"));
  EXPECT_EQ(slurp(d / "real/new.gguf"), "created");
  EXPECT_EQ(resolve_output_path(d / "dangling"), d / "real/new.gguf");
}

TEST(OutputFile, ALoopOfLinksIsAClearError) {
  ScratchDir d;
  fs::create_symlink("b", d.path / "a");
  fs::create_symlink("a", d.path / "b");
  try {
    write_output_file(d / "a", "x");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("symbolic links"), std::string::npos) << e.what();
  }
}

TEST(OutputFile, WritesThroughToADeviceAndLeavesItADevice) {
  {
    OutputFile f("/dev/null");
    EXPECT_FALSE(f.atomic());
    f.write(std::string(5 << 20, 'x'));
    f.commit();
  }
  struct stat st;
  ASSERT_EQ(::stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  // A full device is an error naming the path, not a silent success.
  if (::access("/dev/full", W_OK) == 0) {
    try {
      write_output_file("/dev/full", "x");
      FAIL() << "no error for /dev/full";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("/dev/full"), std::string::npos) << e.what();
    }
    ASSERT_EQ(::stat("/dev/full", &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
  }
}

TEST(OutputFile, WritesThroughToAFifo) {
  ScratchDir d;
  const std::string fifo = d / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string got;
  std::thread reader([&] { got = slurp(fifo); });
  write_output_file(fifo, "through the pipe");
  reader.join();
  EXPECT_EQ(got, "through the pipe");
  struct stat st;
  ASSERT_EQ(::lstat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

TEST(OutputFile, AFolderOrAMissingFolderIsAClearError) {
  ScratchDir d;
  EXPECT_THROW(OutputFile f(d.path.string()), Error);
  EXPECT_THROW(OutputFile f(d / "no/such/folder/x"), Error);
  EXPECT_THROW(OutputFile f(""), Error);
}

TEST(FileLock, OneHolderAtATime) {
  ScratchDir d;
  const std::string ck = d / "run.ck";
  fs::create_symlink("run.ck", d.path / "alias.ck");
  {
    FileLock first(ck, "the checkpoint");
    // Another open file description of the same lock, as a second process would have.
    try {
      FileLock second(d / "alias.ck", "the checkpoint");  // the same file by another name
      FAIL() << "locked twice";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("in use by another process"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(std::to_string(::getpid())), std::string::npos) << e.what();
    }
  }
  FileLock again(ck, "the checkpoint");  // released with its holder
  EXPECT_TRUE(fs::exists(again.lock_path()));
}

TEST(FileLock, ADeviceIsLockedWithoutALockFileBesideIt) {
  ScratchDir d;  // a FIFO stands for a device: locking /dev/null would meet other tests running at once
  const std::string fifo = d / "fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  {
    FileLock lock(fifo, "the checkpoint");  // opening does not wait for a writer
    EXPECT_EQ(lock.lock_path(), fifo);
    EXPECT_THROW(FileLock(fifo, "the checkpoint"), Error);
  }
  EXPECT_EQ(d.entries(), 1u);  // no lock file made, the FIFO kept
  struct stat st;
  ASSERT_EQ(::stat(fifo.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
}

}  // namespace
}  // namespace frugal

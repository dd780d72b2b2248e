// The read-only mapping: contents, reads beside the mapping, errors, and the background population
// (its threads never change what the mapping reads and are stopped and
// joined on destruction or move, even mid-way).
#include "base/mapped_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "base/error.h"

namespace frugal {
namespace {

std::string write_file(const std::string& name, size_t n) {
  const std::string path = testing::TempDir() + name + std::to_string(::getpid());
  std::vector<char> data(n);
  for (size_t i = 0; i < n; ++i) data[i] = static_cast<char>((i * 131) ^ (i >> 12));
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(n));
  return path;
}

bool contents_ok(const MappedFile& f) {
  for (size_t i = 0; i < f.size(); i += 977)
    if (f.data()[i] != static_cast<uint8_t>((i * 131) ^ (i >> 12))) return false;
  return true;
}

TEST(MappedFile, PopulatingInTheBackgroundLeavesTheContents) {
  const std::string path = write_file("populate", (size_t{9} << 20) + 12345);  // chunks and a partial one
  {
    MappedFile f(path);
    f.populate_in_background(3);
    f.populate_in_background(3);  // a second call does nothing
    EXPECT_TRUE(contents_ok(f));
    advise_willneed(f.data() + 5000, 70000);  // unaligned ranges are fine
    advise_willneed(nullptr, 0);
  }
  // Destroyed, moved and reassigned while the threads may still run.
  for (int i = 0; i < 5; ++i) {
    MappedFile a(path);
    a.populate_in_background(4);
    MappedFile b(std::move(a));
    EXPECT_TRUE(contents_ok(b));
    MappedFile c(path);
    c = std::move(b);
    EXPECT_TRUE(contents_ok(c));
  }
  std::remove(path.c_str());
}

TEST(MappedFile, ReadCopiesTheFileWithoutTheMapping) {
  const std::string path = write_file("read", (size_t{3} << 20) + 777);
  MappedFile a(path);
  MappedFile f(std::move(a));  // the descriptor moves with the mapping
  std::vector<uint8_t> got(f.size());
  f.read(0, got.data(), got.size());
  EXPECT_EQ(0, std::memcmp(got.data(), f.data(), f.size()));
  uint8_t piece[100];
  f.read(f.size() - 100, piece, 100);  // the very end
  EXPECT_EQ(0, std::memcmp(piece, f.data() + f.size() - 100, 100));
  EXPECT_THROW(f.read(f.size() - 99, piece, 100), Error);  // one past the end
  EXPECT_THROW(f.read(f.size() + 1, piece, 0), Error);
  std::remove(path.c_str());
}

TEST(MappedFile, MissingFileIsAnError) {
  EXPECT_THROW(MappedFile("/nonexistent/frugal-mapped-file"), Error);
  MappedFile empty;
  empty.populate_in_background();  // nothing mapped: nothing to do
  EXPECT_EQ(empty.size(), 0u);
}

}  // namespace
}  // namespace frugal

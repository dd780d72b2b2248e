// TokenStream and TokenFile: a token file gives back, read at any offset,
// the ids it was written with, the training ids' hash that a checkpoint
// holds for the same ids in memory, and counts what was read; a short file,
// a text file and an id outside the vocabulary are errors, not bad reads.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "train/checkpoint.h"
#include "train/token_stream.h"

namespace frugal::train {
namespace {

struct TempPath {
  std::string path = "/tmp/frugal_token_stream_test_" + std::to_string(::getpid()) + ".tok";
  ~TempPath() { std::remove(path.c_str()); }
};

std::vector<int32_t> ids(int32_t n, int32_t vocab) {
  std::vector<int32_t> v;
  for (int32_t i = 0; i < n; ++i) v.push_back((i * 37 + 11) % vocab);
  return v;
}

TEST(TokenFile, ReadsBackItsIdsAtAnyOffset) {
  TempPath tmp;
  const std::vector<int32_t> train = ids(1000, 300), val = ids(77, 300);
  TokenFile::write(tmp.path, train, val, 300);
  ASSERT_TRUE(TokenFile::is_one(tmp.path));
  TokenFile f = TokenFile::open(tmp.path);
  EXPECT_EQ(f.n_vocab, 300);
  ASSERT_EQ(f.train.size(), train.size());
  ASSERT_EQ(f.val.size(), val.size());
  EXPECT_EQ(f.train.hash(), training_data_hash(train));
  EXPECT_EQ(TokenStream(train).hash(), training_data_hash(train));
  std::vector<int32_t> got(33);
  for (size_t start : {size_t{0}, size_t{1}, size_t{500}, train.size() - 33}) {
    f.train.read(start, got.size(), got.data());
    EXPECT_EQ(got, std::vector<int32_t>(train.begin() + start, train.begin() + start + 33)) << start;
  }
  f.val.read(val.size() - 33, got.size(), got.data());
  EXPECT_EQ(got, std::vector<int32_t>(val.end() - 33, val.end()));
  EXPECT_EQ(f.train.ids_read(), 4u * 33);
  EXPECT_EQ(f.val.ids_read(), 33u);
  EXPECT_THROW(f.train.read(train.size() - 10, 33, got.data()), Error);
}

TEST(TokenFile, RefusesWhatIsNotOne) {
  TempPath tmp;
  TokenFile::write(tmp.path, ids(100, 50), {}, 50);
  {  // cut short
    std::ifstream in(tmp.path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(tmp.path, std::ios::binary | std::ios::trunc).write(bytes.data(), 48 + 4 * 50);
  }
  EXPECT_THROW(TokenFile::open(tmp.path), Error);
  std::ofstream(tmp.path, std::ios::binary | std::ios::trunc) << "plain text, not ids\n";
  EXPECT_FALSE(TokenFile::is_one(tmp.path));
  EXPECT_THROW(TokenFile::open(tmp.path), Error);
  // An id past the vocabulary it says it has.
  TokenFile::write(tmp.path, {1, 2, 3, 99, 4}, {}, 50);
  TokenFile f = TokenFile::open(tmp.path);
  std::vector<int32_t> got(3);
  f.train.read(0, 3, got.data());
  EXPECT_THROW(f.train.read(2, 3, got.data()), Error);
}

}  // namespace
}  // namespace frugal::train

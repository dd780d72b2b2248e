// Cutting files into documents and walking input folders.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "data/documents.h"

namespace frugal::data {
namespace {

TEST(Documents, FortuneEntriesSplitAtPercentLines) {
  std::string f = "First fortune\nsecond line\n%\nSecond one\n%\n%\nThird 100% sure\n%\n";
  EXPECT_TRUE(looks_like_fortune_file(f));
  auto docs = split_documents(f, SplitFormat::kAuto);
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0], "First fortune\nsecond line\n");
  EXPECT_EQ(docs[1], "Second one\n");
  EXPECT_EQ(docs[2], "Third 100% sure\n");
}

TEST(Documents, ParagraphsLinesAndFile) {
  std::string t = "A para\ngraph.\n\n  \nB.\r\n\r\nC.";
  EXPECT_FALSE(looks_like_fortune_file(t));
  auto p = split_documents(t, SplitFormat::kAuto);
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0], "A para\ngraph.\n");
  EXPECT_EQ(p[2], "C.");
  EXPECT_EQ(split_documents(t, SplitFormat::kLines).size(), 4u);
  EXPECT_EQ(split_documents(t, SplitFormat::kFile).size(), 1u);
  EXPECT_TRUE(split_documents(" \n\n", SplitFormat::kFile).empty());
  EXPECT_THROW(parse_split_format("words"), Error);
}

TEST(Documents, WalksFoldersSkippingIndexesLinksAndOffensive) {
  namespace fs = std::filesystem;
  fs::path root = fs::temp_directory_path() / ("frugal_docs_test_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "sub");
  fs::create_directories(root / "off");
  for (auto p : {"b", "a", "a.dat", "a.u8", "sub/c", "off/rude", ".hidden"}) std::ofstream(root / p) << "x";
  fs::create_symlink(root / "a", root / "link");
  auto files = list_input_files({root.string()});
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0], (root / "a").string());
  EXPECT_EQ(files[1], (root / "b").string());
  EXPECT_EQ(files[2], (root / "sub/c").string());
  EXPECT_THROW(list_input_files({(root / "missing").string()}), Error);
  fs::remove_all(root);
}

TEST(Documents, AWalkSkipsTheGivenPathsAndCorporaSplitAtTheirSeparator) {
  namespace fs = std::filesystem;
  fs::path root = fs::temp_directory_path() / ("frugal_docs_skip_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "out");
  for (auto p : {"a", "train.txt", "out/train.txt"}) std::ofstream(root / p) << "x";
  // Named by another spelling of the same paths.
  auto files = list_input_files({root.string()}, {(root / "out/../out").string(), (root / "./train.txt").string()});
  ASSERT_EQ(files.size(), 1u);
  EXPECT_EQ(files[0], (root / "a").string());
  fs::remove_all(root);

  const std::string corpus = "first doc\n\nwith a paragraph\n<|endoftext|>\nsecond\r\n<|endoftext|>\r\n";
  EXPECT_TRUE(has_line(corpus, "<|endoftext|>"));
  EXPECT_FALSE(has_line("a <|endoftext|> inside a line\n", "<|endoftext|>"));
  auto docs = split_at_separator(corpus, "<|endoftext|>");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0], "first doc\n\nwith a paragraph\n");
  EXPECT_EQ(docs[1], "second\r\n");
}

}  // namespace
}  // namespace frugal::data

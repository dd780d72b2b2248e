// The whole pipeline on a small folder: counts, dedup, split, separators.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "base/progress.h"
#include "data/corpus.h"
#include "data/language.h"

namespace frugal::data {
namespace {
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Corpus, LanguageGuess) {
  EXPECT_EQ(guess_language("The cat is on the mat and it was happy."), "en");
  EXPECT_EQ(guess_language("Der Hund ist nicht auf der Straße und ich auch nicht."), "de");
  EXPECT_EQ(guess_language("Il gatto non è sulla strada con gli amici della scuola."), "it");
  EXPECT_EQ(guess_language("Привет, как дела?"), "cyrillic");
  EXPECT_EQ(guess_language("これは日本語の文です"), "japanese");
  EXPECT_EQ(guess_language("1234 !!"), "none");
}

TEST(Corpus, SplitIsDeterministicAndNearTheFraction) {
  int val = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string t = "document " + std::to_string(i);
    bool v = is_validation(t, 0.1, 3);
    EXPECT_EQ(v, is_validation(t, 0.1, 3));
    val += v;
  }
  EXPECT_NEAR(val, 1000, 120);
}

TEST(Corpus, PipelineDedupsAndSplits) {
  Progress::set_enabled(false);
  fs::path root = fs::temp_directory_path() / ("frugal_corpus_test_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "in");
  std::string fortunes;
  static const char* kWords[] = {"river", "stone", "cloud", "lantern", "orchard", "violet", "copper", "meadow"};
  std::vector<std::string> texts;
  uint32_t x = 12345;
  for (int i = 0; i < 40; ++i) {
    std::string t = "The";
    for (int w = 0; w < 12; ++w) {
      x = x * 1664525u + 1013904223u;
      t += std::string(" ") + kWords[x >> 29];
    }
    texts.push_back(t + " is the fortune.");
    fortunes += texts.back() + "\n%\n";
  }
  fortunes += texts[0] + "  \n%\n";                      // exact repeat (after cleaning)
  fortunes += "THE" + texts[1].substr(3) + " Indeed\n%\n";  // near-duplicate
  fortunes += "short\n%\n";                                                // too short
  std::ofstream(root / "in" / "f") << fortunes;
  std::ofstream(root / "in" / "t.txt") << "A paragraph of plain text\nthat spans two lines.\n\nAnother paragraph, and it is the one with a bad byte \xFF.\n";
  CorpusOptions o;
  o.inputs = {(root / "in").string()};
  o.out_dir = (root / "out").string();
  o.val_fraction = 0.2;
  CorpusStats s = build_corpus(o);
  EXPECT_EQ(s.files, 2u);
  EXPECT_EQ(s.docs_in, 45u);
  EXPECT_EQ(s.too_short, 1u);
  EXPECT_EQ(s.exact_dups, 1u);
  EXPECT_EQ(s.near_dups, 1u);
  EXPECT_EQ(s.invalid_bytes, 1u);
  EXPECT_EQ(s.train_docs + s.val_docs, 42u);
  EXPECT_GT(s.val_docs, 0u);
  EXPECT_EQ(s.languages["en"], 42u);
  std::string train = slurp(root / "out" / "train.txt"), val = slurp(root / "out" / "val.txt");
  EXPECT_EQ(train.size(), s.train_bytes);
  size_t seps = 0;
  for (size_t p = 0; (p = (train + val).find("\n<|endoftext|>\n", p)) != std::string::npos; ++p) ++seps;
  EXPECT_EQ(seps, 42u);
  EXPECT_NE(train.find("A paragraph of plain text\nthat spans two lines.\n<|endoftext|>\n"), std::string::npos);
  // The same inputs give the same files.
  CorpusStats s2 = build_corpus(o);
  EXPECT_EQ(slurp(root / "out" / "train.txt"), train);
  EXPECT_EQ(s2.val_docs, s.val_docs);
  o.val_fraction = 1.0;
  EXPECT_THROW(build_corpus(o), Error);
  fs::remove_all(root);
}

}  // namespace
}  // namespace frugal::data

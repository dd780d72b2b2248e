// The whole pipeline on a small folder: counts, dedup, split, separators.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
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

std::multiset<std::string> documents_of(const std::string& corpus) {
  std::multiset<std::string> docs;
  for (size_t start = 0, end; (end = corpus.find("\n<|endoftext|>\n", start)) != std::string::npos; start = end + 15)
    docs.insert(corpus.substr(start, end - start));
  return docs;
}

// The output folder inside the input folder (or the same folder): a second
// run must not read the first one's train.txt back as one more document.
// A corpus of this format found elsewhere is cut at its separator lines, so
// dedup sees each of its documents and drops them as the repeats they are.
TEST(Corpus, OwnOutputIsNotReadBackAndOwnFormatIsDeduplicated) {
  Progress::set_enabled(false);
  fs::path root = fs::temp_directory_path() / ("frugal_corpus_own_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "in");
  std::string text;
  for (int i = 0; i < 30; ++i) text += "Document number " + std::to_string(i) + " has enough words to be kept.\n\n";
  std::ofstream(root / "in" / "a.txt") << text;
  std::ofstream(root / "in" / "z.txt") << "The last file's own paragraph, long enough.\n";
  CorpusOptions o;
  o.inputs = {(root / "in").string()};
  o.out_dir = (root / "in" / "out").string();
  o.val_fraction = 0.2;
  o.near_dedup = false;  // the documents differ in one number only
  const CorpusStats first = build_corpus(o);
  EXPECT_EQ(first.files, 2u);
  EXPECT_EQ(first.train_docs + first.val_docs, 31u);
  const std::string train = slurp(root / "in" / "out" / "train.txt"), val = slurp(root / "in" / "out" / "val.txt");

  const CorpusStats again = build_corpus(o);  // the output folder is skipped
  EXPECT_EQ(again.files, 2u);
  EXPECT_EQ(again.exact_dups, 0u);
  EXPECT_EQ(slurp(root / "in" / "out" / "train.txt"), train);
  EXPECT_EQ(slurp(root / "in" / "out" / "val.txt"), val);

  o.out_dir = (root / "in" / "out2").string();  // now in/out is an earlier corpus among the inputs
  const CorpusStats other = build_corpus(o);
  EXPECT_EQ(other.files, 4u);
  EXPECT_EQ(other.corpus_files, 2u);
  EXPECT_EQ(other.exact_dups, 31u);  // every document of the old corpus seen by dedup
  EXPECT_EQ(other.train_docs + other.val_docs, 31u);
  EXPECT_EQ(documents_of(slurp(root / "in" / "out2" / "train.txt")), documents_of(train));
  EXPECT_EQ(documents_of(slurp(root / "in" / "out2" / "val.txt")), documents_of(val));
  fs::remove_all(root / "in" / "out2");

  o.out_dir = (root / "in").string();  // the input folder itself
  build_corpus(o);
  const CorpusStats same = build_corpus(o);
  EXPECT_EQ(same.corpus_files, 2u);  // in/out only: in/train.txt and in/val.txt are this run's output
  EXPECT_EQ(documents_of(slurp(root / "in" / "train.txt")), documents_of(train));
  fs::remove_all(root);
}

}  // namespace
}  // namespace frugal::data

// Exact and near-duplicate detection.
#include <gtest/gtest.h>

#include <random>

#include "base/error.h"
#include "data/dedup.h"

namespace frugal::data {
namespace {

std::string random_words(std::mt19937& rng, int n) {
  static const char* kWords[] = {"river", "stone", "cloud", "lantern", "orchard", "violet", "copper", "meadow",
                                 "harbor", "thistle", "ember", "willow", "quartz", "falcon", "saffron", "ribbon"};
  std::string s;
  for (int i = 0; i < n; ++i) {
    if (i) s += ' ';
    s += kWords[rng() % 16];
  }
  return s;
}

TEST(Dedup, ExactRepeatsOnly) {
  ExactDedup d;
  EXPECT_TRUE(d.insert("hello"));
  EXPECT_FALSE(d.insert("hello"));
  EXPECT_TRUE(d.insert("hello "));
}

TEST(Dedup, SignatureSimilarityTracksJaccard) {
  MinHashParams p;
  p.num_hashes = 256;
  p.bands = 32;
  std::mt19937 rng(1);
  std::string a = random_words(rng, 200);
  EXPECT_EQ(signature_similarity(minhash_signature(a, p), minhash_signature(a, p)), 1.0);
  // Case and layout do not matter.
  std::string b = a;
  for (auto& c : b) if (c == ' ') c = '\n';
  b[0] = char(std::toupper(b[0]));
  EXPECT_EQ(signature_similarity(minhash_signature(a, p), minhash_signature(b, p)), 1.0);
  // Unrelated texts of the same words share few 5-character shingles.
  std::string c = random_words(rng, 200);
  EXPECT_LT(signature_similarity(minhash_signature(a, p), minhash_signature(c, p)), 0.6);
}

TEST(Dedup, NearDuplicatesFoundDistinctTextsKept) {
  std::mt19937 rng(7);
  NearDedup d{MinHashParams{}};
  std::vector<std::string> originals;
  for (int i = 0; i < 50; ++i) {
    originals.push_back(random_words(rng, 120));
    EXPECT_TRUE(d.insert(originals.back())) << i;
  }
  int found = 0;
  for (const auto& o : originals) {
    std::string edited = o;
    edited.replace(edited.size() / 2, 6, "zzzzzz");  // one small edit
    edited += " the end";
    found += !d.insert(edited);
  }
  EXPECT_GE(found, 48);  // LSH may miss a rare pair; nearly all are caught
  EXPECT_THROW(NearDedup(MinHashParams{64, 10, 5, 0.8}), Error);
  EXPECT_THROW(NearDedup(MinHashParams{64, 16, 5, 1.5}), Error);
}

}  // namespace
}  // namespace frugal::data

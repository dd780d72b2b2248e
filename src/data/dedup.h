// Deduplication of documents: exact (a 64-bit xxHash of the cleaned text) and
// near-duplicate (MinHash signatures over character shingles, bucketed by
// locality-sensitive hashing, a candidate confirmed when the signatures agree
// on at least `threshold` of their positions: an estimate of the Jaccard
// similarity of the two shingle sets).
#pragma once
#include <cstdint>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace frugal::data {

class ExactDedup {
 public:
  // True the first time a text is seen, false for an exact repeat.
  bool insert(std::string_view text);

 private:
  std::unordered_set<uint64_t> seen_;
};

struct MinHashParams {
  int num_hashes = 64;     // signature length
  int bands = 16;          // LSH bands (num_hashes must be a multiple)
  int shingle_chars = 5;   // characters per shingle
  double threshold = 0.8;  // estimated Jaccard similarity at which a document is a near-duplicate
};

// The text compared for near-duplicates: ASCII letters lower-cased, every run
// of white space one ' ', so that case and layout changes do not hide a copy.
std::string shingle_text(std::string_view text);

// MinHash signature of the character shingles of shingle_text(text). A text
// shorter than one shingle is a single shingle.
std::vector<uint32_t> minhash_signature(std::string_view text, const MinHashParams& p);

// Share of positions where two signatures agree (estimated Jaccard similarity).
double signature_similarity(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b);

class NearDedup {
 public:
  explicit NearDedup(MinHashParams params);  // bad params -> frugal::Error
  // True when the text is kept (no kept text is a near-duplicate of it); a
  // kept text joins the index.
  bool insert(std::string_view text);

 private:
  MinHashParams p_;
  std::vector<std::vector<uint32_t>> kept_;                          // signatures of kept texts
  std::vector<std::unordered_map<uint64_t, std::vector<uint32_t>>> buckets_;  // per band: band hash -> kept ids
};

}  // namespace frugal::data

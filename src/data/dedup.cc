#include "data/dedup.h"

#include <string>
#include <xxhash.h>

#include "base/error.h"
#include "base/mix64.h"

namespace frugal::data {

bool ExactDedup::insert(std::string_view text) {
  return seen_.insert(XXH3_64bits(text.data(), text.size())).second;
}

std::string shingle_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool space = false;
  for (char ch : text) {
    unsigned char c = static_cast<unsigned char>(ch);
    if (c == ' ' || c == '\n' || c == '\t' || c == '\r') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += (c >= 'A' && c <= 'Z') ? char(c + 32) : char(c);
  }
  return out;
}

namespace {


}  // namespace

std::vector<uint32_t> minhash_signature(std::string_view text, const MinHashParams& p) {
  const std::string s = shingle_text(text);
  // Start offset of every character (UTF-8 lead bytes), then one past the end.
  std::vector<size_t> starts;
  starts.reserve(s.size() + 1);
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  const size_t n_chars = starts.size();
  starts.push_back(s.size());
  const size_t k = static_cast<size_t>(p.shingle_chars);
  const size_t n_shingles = n_chars >= k ? n_chars - k + 1 : 1;

  std::vector<uint32_t> sig(p.num_hashes, UINT32_MAX);
  for (size_t i = 0; i < n_shingles; ++i) {
    const size_t b = starts[i], e = starts[std::min(i + k, n_chars)];
    const uint64_t h = XXH3_64bits(s.data() + b, e - b);
    for (int j = 0; j < p.num_hashes; ++j) {
      const uint32_t v = static_cast<uint32_t>(mix64(h + 0x9e3779b97f4a7c15ULL * (j + 1)) >> 32);
      if (v < sig[j]) sig[j] = v;
    }
  }
  return sig;
}

double signature_similarity(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  FRUGAL_CHECK(a.size() == b.size() && !a.empty());
  size_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return static_cast<double>(same) / static_cast<double>(a.size());
}

NearDedup::NearDedup(MinHashParams params) : p_(params) {
  if (p_.num_hashes <= 0 || p_.bands <= 0 || p_.num_hashes % p_.bands != 0) {
    fail("data: MinHash needs a positive number of hashes that the number of bands divides (got ",
         p_.num_hashes, " hashes, ", p_.bands, " bands)");
  }
  if (p_.shingle_chars <= 0) fail("data: shingle length must be positive");
  if (!(p_.threshold > 0.0 && p_.threshold <= 1.0)) fail("data: near-duplicate threshold must be in (0, 1]");
  buckets_.resize(p_.bands);
}

bool NearDedup::insert(std::string_view text) {
  std::vector<uint32_t> sig = minhash_signature(text, p_);
  const int rows = p_.num_hashes / p_.bands;
  std::vector<uint64_t> band_hash(p_.bands);
  for (int b = 0; b < p_.bands; ++b) {
    band_hash[b] = XXH3_64bits(sig.data() + b * rows, rows * sizeof(uint32_t));
    auto it = buckets_[b].find(band_hash[b]);
    if (it == buckets_[b].end()) continue;
    for (uint32_t id : it->second) {
      if (signature_similarity(sig, kept_[id]) >= p_.threshold) return false;
    }
  }
  const uint32_t id = static_cast<uint32_t>(kept_.size());
  kept_.push_back(std::move(sig));
  for (int b = 0; b < p_.bands; ++b) buckets_[b][band_hash[b]].push_back(id);
  return true;
}

}  // namespace frugal::data

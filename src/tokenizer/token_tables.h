// Flat hash tables for the lookups the tokenizer makes once per symbol or
// pair of symbols: text -> token id, and (left id, right id) -> merge.
// std::unordered_map keeps one heap node per entry and hashes std::string
// keys that first have to be built; these probe one contiguous array with a
// string_view or two integers, which is what long and hostile pieces (a
// megabyte of spaces, random bytes) spend their time on.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace frugal::tokenizer {

uint64_t hash_bytes(std::string_view s);

// Strings -> ids. The first id added for a string is the one found (a
// vocabulary may spell two tokens alike; the lower id wins, as before).
class StringIndex {
 public:
  // `expected`: about how many strings will be added (sizes the table once).
  void reserve(size_t expected);
  void add(std::string_view s, int32_t id);
  int32_t find(std::string_view s) const;  // -1 when absent
  size_t size() const { return count_; }

 private:
  struct Slot {
    uint32_t check;  // high bits of the hash; with id < 0 the slot is empty
    int32_t id;
    uint32_t offset, length;  // the string in chars_
  };
  void grow();
  // One bit per string's hash, four bits per slot (about one in eight set):
  // a string that is absent, as most words of random bytes are, is turned
  // away by a small array that stays in cache instead of a probe of the big one.
  bool maybe_has(uint64_t h) const {
    const uint64_t bit = (h >> 20) & (filter_.size() * 64 - 1);
    return (filter_[bit >> 6] >> (bit & 63)) & 1;
  }
  void mark(uint64_t h) {
    const uint64_t bit = (h >> 20) & (filter_.size() * 64 - 1);
    filter_[bit >> 6] |= uint64_t(1) << (bit & 63);
  }
  std::vector<Slot> slots_;
  std::vector<uint64_t> filter_;
  std::string chars_;
  size_t count_ = 0;
};

// The merge of two tokens: its order (lowest merges first) and the id of the
// merged piece (-1 when that piece is no token).
struct PairMerge {
  uint32_t order;
  int32_t result;
};

// (left id, right id) -> PairMerge; the first insertion of a pair wins.
class PairTable {
 public:
  void reserve(size_t expected);
  void insert(int32_t left, int32_t right, PairMerge m);
  // nullptr when the pair is absent. REQUIRES: left, right >= 0.
  const PairMerge* find(int32_t left, int32_t right) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = pack(left, right);
    for (size_t i = slot_of(key);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.merge;
      if (s.key == kEmpty) return nullptr;
    }
  }
  size_t size() const { return count_; }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t(0);  // no pair of non-negative ids packs to it
  static uint64_t pack(int32_t l, int32_t r) { return (uint64_t(uint32_t(l)) << 32) | uint32_t(r); }
  // Fibonacci hashing: the top bits of the product, which every bit of the key reaches.
  size_t slot_of(uint64_t key) const { return size_t((key * 0x9E3779B97F4A7C15ull) >> shift_); }
  void grow();
  struct Slot {
    uint64_t key = kEmpty;
    PairMerge merge{};
  };
  std::vector<Slot> slots_;
  size_t mask_ = 0, count_ = 0;
  int shift_ = 64;
};

}  // namespace frugal::tokenizer

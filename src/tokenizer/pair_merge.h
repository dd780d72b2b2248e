// The merge loop shared by SentencePiece and byte-level BPE: start from one
// symbol per character and repeatedly join the adjacent pair that merges
// first, until no pair can. Symbols live in a doubly linked list and the
// candidate pairs in a priority queue, so a piece of n characters costs
// O(n log n) whatever its content (a naive rescan of all pairs after each
// merge is O(n^2): a megabyte of spaces would take hours).
#pragma once
#include <cstddef>
#include <array>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace frugal::tokenizer {

// Each symbol carries a tag, the caller's name for its text (a token id, or
// -1 when it is no token), so that pairs can be looked up by two integers
// instead of by their text.
using InitialTag = std::function<int32_t(std::string_view symbol)>;

// Says whether the pair (left, right) may merge and, if so, its order (the
// lowest order merges first; among equals the leftmost pair does) and the
// tag of the merged symbol.
using PairOrder = std::function<bool(std::string_view left, int32_t left_tag, std::string_view right,
                                     int32_t right_tag, uint32_t& order, int32_t& merged_tag)>;

// An order for a score where the highest score merges first (SentencePiece):
// maps floats onto uint32 so that higher scores get lower orders.
uint32_t order_of_score(float score);

struct Span {
  size_t offset = 0, length = 0;
  int32_t tag = -1;
};

// Work done, for tests that check the cost stays O(n log n).
// A direct-mapped memo of a priority function's answers for callers whose
// tags are token ids: the answer for two tokens then depends on the two ids
// alone, and a run of one character (a megabyte of spaces) asks about the
// same few pairs again and again. Negative tags are always computed.
class PairMemo {
 public:
  template <class Compute>
  bool find_or(int32_t left, int32_t right, uint32_t& order, int32_t& merged, Compute&& compute) {
    if (left < 0 || right < 0) return compute(order, merged);
    Entry& e = table_[((static_cast<uint32_t>(left) * 0x9E3779B1u) ^ static_cast<uint32_t>(right)) & (kSize - 1)];
    if (e.left != left || e.right != right) {
      e.ok = compute(e.order, e.merged);
      e.left = left;
      e.right = right;
    }
    order = e.order;
    merged = e.merged;
    return e.ok;
  }

 private:
  static constexpr uint32_t kSize = 256;
  struct Entry {
    int32_t left = -1, right = -1;
    bool ok = false;
    uint32_t order = 0;
    int32_t merged = -1;
  };
  std::array<Entry, kSize> table_;
};

struct MergeStats {
  uint64_t pairs_scored = 0;  // calls of the priority function
  uint64_t queue_pops = 0;    // candidates taken off the queue, stale ones included
  uint64_t merges = 0;
};

// The symbols `text` ends as, in order, as byte ranges of `text`. Initial
// symbols are the UTF-8 characters of `text`; each byte that belongs to no
// well-formed character is a symbol of its own.
// A text longer than 4 GiB -> frugal::Error.
std::vector<Span> merge_pairs(std::string_view text, const InitialTag& initial, const PairOrder& order,
                              MergeStats* stats = nullptr);

}  // namespace frugal::tokenizer

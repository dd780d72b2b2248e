// The priority queue of the merge loop (pair_merge.h): 64-bit keys (merge
// order in the high half, position in the low half), smallest first.
//
// Trained BPE vocabularies pop keys in increasing order: a merge that uses a
// piece comes after the merge that made it, so every key pushed after a pop
// is larger than it. Such keys also arrive in long ascending streaks: the
// pairs of a piece are queued from left to right, and the merges of one
// order happen from left to right and queue their new pairs in that order.
// A megabyte of spaces is a few such streaks. So a key goes to the first of
// a few sorted runs whose last key is not above it (an append), else to a
// radix heap (buckets by the highest bit in which a key differs from the
// last key taken out of it: each key moves O(log) times), else, when it is
// below that last key (hand-made merge lists, SentencePiece scores), to a
// binary heap. A pop takes the smallest of the runs' heads and the two
// heaps' minimums, so the order is exact whatever the keys.
#pragma once
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <functional>
#include <vector>

namespace frugal::tokenizer {

class MergeQueue {
 public:
  // Starts a new round of merging, dropping anything left from the last
  // (an exception mid-round). The buffers keep their memory.
  void reset() {
    size_ = 0;
    for (Run& r : runs_) r.clear();
    radix_last_ = 0;
    radix_size_ = 0;
    for (auto& b : buckets_) b.clear();
    heap_.clear();
  }
  bool empty() const { return size_ == 0; }

  void push(uint64_t key) {
    ++size_;
    for (Run& r : runs_) {
      if (r.empty() || r.keys.back() <= key) {
        if (r.empty()) r.clear();
        r.keys.push_back(key);
        return;
      }
    }
    if (key >= radix_last_) {  // the radix heap's invariant: nothing below the last key taken out
      ++radix_size_;
      buckets_[bucket(key)].push_back(key);
      return;
    }
    heap_.push_back(key);
    std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
  }

  // REQUIRES: !empty().
  uint64_t pop() {
    --size_;
    enum { kNone, kRun, kRadix, kHeap } from = kNone;
    Run* best_run = nullptr;
    uint64_t best = 0;
    for (Run& r : runs_)
      if (!r.empty() && (from == kNone || r.front() < best)) {
        from = kRun;
        best_run = &r;
        best = r.front();
      }
    if (radix_size_ > 0) {
      fill_radix_front();
      if (from == kNone || radix_last_ < best) {
        from = kRadix;
        best = radix_last_;
      }
    }
    if (!heap_.empty() && (from == kNone || heap_.front() < best)) {
      from = kHeap;
      best = heap_.front();
    }
    switch (from) {
      case kRun:
        ++best_run->head;
        break;
      case kRadix:
        --radix_size_;
        buckets_[0].pop_back();
        break;
      case kHeap:
        std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
        heap_.pop_back();
        break;
      case kNone:
        break;  // unreachable when !empty()
    }
    return best;
  }

 private:
  struct Run {
    std::vector<uint64_t> keys;
    size_t head = 0;
    bool empty() const { return head == keys.size(); }
    uint64_t front() const { return keys[head]; }
    void clear() {
      keys.clear();
      head = 0;
    }
  };
  // Makes bucket 0 hold the radix heap's minimum (as radix_last_).
  // REQUIRES: radix_size_ > 0.
  void fill_radix_front() {
    if (!buckets_[0].empty()) return;
    size_t i = 1;
    while (buckets_[i].empty()) ++i;
    // The smallest key of the first non-empty bucket becomes the new base;
    // every entry of that bucket then falls into a lower bucket.
    std::vector<uint64_t>& from = buckets_[i];
    radix_last_ = *std::min_element(from.begin(), from.end());
    for (uint64_t k : from) buckets_[bucket(k)].push_back(k);
    from.clear();
  }
  size_t bucket(uint64_t key) const { return key == radix_last_ ? 0 : size_t(64 - std::countl_zero(key ^ radix_last_)); }

  static constexpr size_t kRuns = 8;
  size_t size_ = 0;
  std::array<Run, kRuns> runs_;
  uint64_t radix_last_ = 0;
  size_t radix_size_ = 0;
  std::array<std::vector<uint64_t>, 65> buckets_;
  std::vector<uint64_t> heap_;  // a min-heap
};

}  // namespace frugal::tokenizer

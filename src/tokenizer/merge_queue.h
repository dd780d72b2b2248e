// The priority queue of pair_merge.cc: candidates ordered by a 64-bit key
// (merge order in the high half, position in the low half), smallest first.
//
// Trained BPE vocabularies pop keys in increasing order: a merge that uses a
// piece comes after the merge that made it, so every candidate pushed after
// a pop has a larger key. For such monotone use a radix heap is much faster
// than a binary heap on long pieces (a megabyte of spaces: buckets filled and
// emptied in order instead of a million-entry heap walked at random). A key
// below the last one popped (hand-made merge lists, SentencePiece scores)
// goes to a binary heap beside it: such keys are smaller than every key in
// the radix heap, so that heap is emptied first and the order stays exact.
#pragma once
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <functional>
#include <queue>
#include <vector>

namespace frugal::tokenizer {

template <typename Payload>
class MergeQueue {
 public:
  struct Entry {
    uint64_t key;
    Payload payload;
  };

  // `expected`: about how many entries will be queued at once (the initial
  // pairs), reserved for the binary heap that non-monotone keys use.
  explicit MergeQueue(size_t expected = 0) {
    std::vector<Entry> storage;
    storage.reserve(expected);
    heap_ = std::priority_queue<Entry, std::vector<Entry>, Later>(Later{}, std::move(storage));
  }
  bool empty() const { return size_ == 0; }

  void push(uint64_t key, const Payload& p) {
    ++size_;
    if (key < last_) heap_.push({key, p});
    else buckets_[bucket(key)].push_back({key, p});
  }

  // REQUIRES: !empty().
  Entry pop() {
    --size_;
    if (!heap_.empty()) {
      Entry e = heap_.top();
      heap_.pop();
      return e;
    }
    if (buckets_[0].empty()) {
      size_t i = 1;
      while (buckets_[i].empty()) ++i;
      // The smallest key of the first non-empty bucket becomes the new base;
      // every entry of that bucket then falls into a lower bucket.
      std::vector<Entry>& from = buckets_[i];
      last_ = std::min_element(from.begin(), from.end(), [](const Entry& a, const Entry& b) { return a.key < b.key; })->key;
      for (const Entry& e : from) buckets_[bucket(e.key)].push_back(e);
      from.clear();
    }
    Entry e = buckets_[0].back();
    buckets_[0].pop_back();
    return e;
  }

 private:
  struct Later {
    bool operator()(const Entry& a, const Entry& b) const { return a.key > b.key; }
  };
  size_t bucket(uint64_t key) const { return key == last_ ? 0 : size_t(64 - std::countl_zero(key ^ last_)); }

  uint64_t last_ = 0;
  size_t size_ = 0;
  std::array<std::vector<Entry>, 65> buckets_;
  std::priority_queue<Entry, std::vector<Entry>, Later> heap_;
};

}  // namespace frugal::tokenizer

// The merge loop shared by SentencePiece and byte-level BPE: start from the
// caller's symbols (characters, or bytes) and repeatedly join the adjacent
// pair that merges first (the lowest order; among equals the leftmost pair),
// until no pair can.
//
// A long piece keeps its symbols in a doubly linked list and the candidate
// pairs in a priority queue, so a piece of n symbols costs O(n log n)
// whatever its content (a rescan of all pairs after each merge is O(n^2): a
// megabyte of spaces would take hours). A short piece (most words) is merged
// by that rescan over an array instead: for a dozen symbols it does the same
// work with no queue at all.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "tokenizer/merge_queue.h"

namespace frugal::tokenizer {

// An order for a score where the highest score merges first (SentencePiece):
// maps floats onto uint32 so that higher scores get lower orders.
uint32_t order_of_score(float score);

struct Span {
  size_t offset = 0, length = 0;
  int32_t tag = -1;
};

// Work done, for tests that check the cost stays O(n log n).
struct MergeStats {
  uint64_t pairs_scored = 0;  // pairs scored to be queued (or rescanned)
  uint64_t queue_pops = 0;    // candidates taken off the queue (each scored again), stale ones included
  uint64_t merges = 0;
};

// One symbol: a byte range of the caller's text and a tag, the caller's name
// for its text (a token id, or -1 when it is no token), so that pairs can be
// looked up by two integers instead of by their text.
struct MergeSymbol {
  uint32_t prev, next;      // neighbours in the list (long pieces), kNoSymbol at the ends
  uint32_t offset, length;  // length 0: merged into its left neighbour
  int32_t tag;
};
inline constexpr uint32_t kNoSymbol = 0xFFFFFFFFu;

// Merges one piece at a time, keeping its buffers from piece to piece (a
// text of many short words allocates nothing per word).
//
// `order(left, right, order, merged_tag)` says whether two adjacent symbols
// may merge and, if so, the pair's order and the tag of the merged symbol.
class PairMerger {
 public:
  // Pieces of at most this many symbols are merged by rescanning.
  static constexpr size_t kShortPiece = 16;

  // Starts a piece of about `symbols` symbols (reserved once: a megabyte
  // piece must not be regrown, copied and faulted in again).
  void start(size_t symbols) {
    sym_.clear();
    sym_.reserve(symbols);
  }
  // Appends the next symbol. A piece of 4 GiB or more -> frugal::Error.
  void add(size_t offset, size_t length, int32_t tag) {
    if (offset + length >= kNoSymbol) too_long(offset + length);
    const auto i = uint32_t(sym_.size());
    sym_.push_back({i - 1, i + 1, uint32_t(offset), uint32_t(length), tag});
  }

  template <class Order>
  void run(Order&& order, MergeStats* stats = nullptr) {
    MergeStats local;
    MergeStats& st = stats ? *stats : local;
    if (sym_.size() <= kShortPiece) run_short(order, st);
    else run_long(order, st);
  }

  // The symbols the piece ended as, in order.
  template <class F>
  void for_each(F&& f) const {
    if (sym_.empty()) return;
    for (uint32_t i = 0; i != kNoSymbol; i = sym_[i].next) f(sym_[i]);
  }

 private:
  [[noreturn]] static void too_long(size_t bytes);

  template <class Order>
  void run_short(Order& order, MergeStats& st) {
    // sym_ is the live sequence itself; pair k joins sym_[k] and sym_[k + 1].
    size_t n = sym_.size();
    std::array<uint32_t, kShortPiece> ord;
    std::array<int32_t, kShortPiece> tag;
    std::array<bool, kShortPiece> ok;
    auto score = [&](size_t k) {
      ++st.pairs_scored;
      ok[k] = order(sym_[k], sym_[k + 1], ord[k], tag[k]);
    };
    for (size_t k = 0; k + 1 < n; ++k) score(k);
    for (;;) {
      size_t best = n;
      for (size_t k = 0; k + 1 < n; ++k)
        if (ok[k] && (best == n || ord[k] < ord[best])) best = k;
      if (best == n) break;
      ++st.merges;
      sym_[best].length += sym_[best + 1].length;
      sym_[best].tag = tag[best];
      for (size_t k = best + 1; k + 1 < n; ++k) sym_[k] = sym_[k + 1];
      for (size_t k = best + 1; k + 2 < n; ++k) {  // pairs after the merged one move down with their symbols
        ord[k] = ord[k + 1];
        tag[k] = tag[k + 1];
        ok[k] = ok[k + 1];
      }
      --n;
      if (best > 0) score(best - 1);
      if (best + 1 < n) score(best);
    }
    sym_.resize(n);
    for (size_t k = 0; k < n; ++k) sym_[k].next = k + 1 < n ? uint32_t(k + 1) : kNoSymbol;
  }

  template <class Order>
  void run_long(Order& order, MergeStats& st) {
    sym_.front().prev = kNoSymbol;
    sym_.back().next = kNoSymbol;
    queue_.reset();
    // A queued pair is its order and its left symbol, nothing more: when it
    // comes out, the left symbol's pair as it is now is scored again, and
    // only if it still has that order is it merged. Every adjacent pair that
    // can merge was queued with exactly that key when it was formed, so a
    // pair that changed since is either skipped or, having the same key,
    // merged exactly when its own entry would have been.
    auto consider = [&](uint32_t l, uint32_t r) {
      if (l == kNoSymbol || r == kNoSymbol) return;
      uint32_t o = 0;
      int32_t merged = -1;
      ++st.pairs_scored;
      if (order(sym_[l], sym_[r], o, merged)) queue_.push((uint64_t(o) << 32) | l);
    };
    for (size_t i = 1; i < sym_.size(); ++i) consider(uint32_t(i - 1), uint32_t(i));
    while (!queue_.empty()) {
      const uint64_t key = queue_.pop();
      ++st.queue_pops;
      const auto left = uint32_t(key & 0xFFFFFFFFu);
      MergeSymbol& l = sym_[left];
      if (l.length == 0 || l.next == kNoSymbol) continue;
      MergeSymbol& r = sym_[l.next];
      uint32_t o = 0;
      int32_t merged = -1;
      if (!order(l, r, o, merged) || o != uint32_t(key >> 32)) continue;
      ++st.merges;
      l.length += r.length;
      l.tag = merged;
      r.length = 0;
      l.next = r.next;
      if (r.next != kNoSymbol) sym_[r.next].prev = left;
      consider(l.prev, left);
      consider(left, l.next);
    }
  }

  std::vector<MergeSymbol> sym_;
  MergeQueue queue_;
};

// The convenience form, for callers that tag symbols by their text.
using InitialTag = std::function<int32_t(std::string_view symbol)>;
using PairOrder = std::function<bool(std::string_view left, int32_t left_tag, std::string_view right,
                                     int32_t right_tag, uint32_t& order, int32_t& merged_tag)>;

// The symbols `text` ends as, in order, as byte ranges of `text`. Initial
// symbols are the UTF-8 characters of `text`; each byte that belongs to no
// well-formed character is a symbol of its own.
// A text of 4 GiB or more -> frugal::Error.
std::vector<Span> merge_pairs(std::string_view text, const InitialTag& initial, const PairOrder& order,
                              MergeStats* stats = nullptr);

}  // namespace frugal::tokenizer

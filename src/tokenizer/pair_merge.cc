#include "tokenizer/pair_merge.h"

#include <bit>
#include <limits>

#include "base/error.h"
#include "tokenizer/merge_queue.h"
#include "tokenizer/utf8_scan.h"

namespace frugal::tokenizer {
namespace {

constexpr uint32_t kNone = std::numeric_limits<uint32_t>::max();

struct Symbol {
  uint32_t prev, next;      // neighbours in the list, kNone at the ends
  uint32_t offset, length;  // length 0: merged into its left neighbour
  int32_t tag;
};

// A pair as it was when queued (its left symbol is in the key). It is stale
// once either side has changed length (grown by a merge, or been merged
// away): a symbol only ever grows, and its right neighbour changes only when
// it absorbs that neighbour.
struct Pair {
  uint32_t right, left_length, right_length;
  int32_t merged_tag;
};

}  // namespace

uint32_t order_of_score(float score) {
  // IEEE-754 bits made monotone as unsigned integers, then reversed.
  const uint32_t bits = std::bit_cast<uint32_t>(score);
  const uint32_t ascending = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return ~ascending;
}

std::vector<Span> merge_pairs(std::string_view text, const InitialTag& initial, const PairOrder& order,
                              MergeStats* stats) {
  if (text.size() >= kNone) fail("tokenizer: a piece of ", text.size(), " bytes is too long to merge");
  MergeStats local;
  MergeStats& st = stats ? *stats : local;
  std::vector<Symbol> sym;
  sym.reserve(text.size());  // at most one symbol a byte: no regrowth (a megabyte piece copied and faulted in again)
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_char_len(text, i);
    if (n == 0) n = 1;
    sym.push_back({uint32_t(sym.size()) - 1, uint32_t(sym.size()) + 1, uint32_t(i), uint32_t(n), initial(text.substr(i, n))});
    i += n;
  }
  if (sym.empty()) return {};
  sym.front().prev = kNone;
  sym.back().next = kNone;

  MergeQueue<Pair> queue(sym.size());
  auto consider = [&](uint32_t l, uint32_t r) {
    if (l == kNone || r == kNone) return;
    const Symbol& a = sym[l];
    const Symbol& b = sym[r];
    uint32_t o = 0;
    int32_t merged = -1;
    ++st.pairs_scored;
    if (order(text.substr(a.offset, a.length), a.tag, text.substr(b.offset, b.length), b.tag, o, merged))
      queue.push((uint64_t(o) << 32) | l, {r, a.length, b.length, merged});
  };
  for (size_t i = 1; i < sym.size(); ++i) consider(uint32_t(i - 1), uint32_t(i));

  while (!queue.empty()) {
    const auto c = queue.pop();
    ++st.queue_pops;
    const auto left = uint32_t(c.key & 0xFFFFFFFFu);
    Symbol& l = sym[left];
    Symbol& r = sym[c.payload.right];
    if (l.length != c.payload.left_length || r.length != c.payload.right_length || l.length == 0 || r.length == 0)
      continue;
    ++st.merges;
    l.length += r.length;
    l.tag = c.payload.merged_tag;
    r.length = 0;
    l.next = r.next;
    if (r.next != kNone) sym[r.next].prev = left;
    consider(l.prev, left);
    consider(left, l.next);
  }

  std::vector<Span> out;
  for (uint32_t i = 0; i != kNone; i = sym[i].next) out.push_back({sym[i].offset, sym[i].length, sym[i].tag});
  return out;
}

}  // namespace frugal::tokenizer

#include "tokenizer/pair_merge.h"

#include <queue>

#include "tokenizer/utf8_scan.h"

namespace frugal::tokenizer {
namespace {

struct Symbol {
  int64_t prev, next;  // neighbours in the list, -1 at the ends
  size_t offset, length;  // length 0: merged into its left neighbour
};

// A pair as it was when queued. It is stale once either side has changed
// length (grown by a merge, or been merged away): a symbol only ever grows,
// and its right neighbour changes only when it absorbs that neighbour.
struct Candidate {
  double priority;
  int64_t left, right;
  size_t left_length, right_length;
};

struct MergesFirst {
  bool operator()(const Candidate& a, const Candidate& b) const {
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.left > b.left;  // equal priority: the leftmost pair first
  }
};

}  // namespace

std::vector<Span> merge_pairs(std::string_view text, const PairPriority& priority, MergeStats* stats) {
  MergeStats local;
  MergeStats& st = stats ? *stats : local;
  std::vector<Symbol> sym;
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_char_len(text, i);
    if (n == 0) n = 1;
    sym.push_back({int64_t(sym.size()) - 1, int64_t(sym.size()) + 1, i, n});
    i += n;
  }
  if (sym.empty()) return {};
  sym.back().next = -1;

  std::vector<Candidate> storage;
  storage.reserve(sym.size());
  std::priority_queue<Candidate, std::vector<Candidate>, MergesFirst> queue(MergesFirst{}, std::move(storage));
  auto consider = [&](int64_t l, int64_t r) {
    if (l < 0 || r < 0) return;
    const Symbol& a = sym[size_t(l)];
    const Symbol& b = sym[size_t(r)];
    double p = 0;
    ++st.pairs_scored;
    if (priority(text.substr(a.offset, a.length), text.substr(b.offset, b.length), p))
      queue.push({p, l, r, a.length, b.length});
  };
  for (size_t i = 1; i < sym.size(); ++i) consider(int64_t(i) - 1, int64_t(i));

  while (!queue.empty()) {
    const Candidate c = queue.top();
    queue.pop();
    ++st.queue_pops;
    Symbol& l = sym[size_t(c.left)];
    Symbol& r = sym[size_t(c.right)];
    if (l.length != c.left_length || r.length != c.right_length || l.length == 0 || r.length == 0) continue;
    ++st.merges;
    l.length += r.length;
    r.length = 0;
    l.next = r.next;
    if (r.next >= 0) sym[size_t(r.next)].prev = c.left;
    consider(l.prev, c.left);
    consider(c.left, l.next);
  }

  std::vector<Span> out;
  for (int64_t i = 0; i >= 0; i = sym[size_t(i)].next) out.push_back({sym[size_t(i)].offset, sym[size_t(i)].length});
  return out;
}

}  // namespace frugal::tokenizer

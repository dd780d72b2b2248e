// The shared merge loop: the same result as the textbook algorithm (rescan
// every adjacent pair, merge the best, repeat) on random inputs, and work
// that grows as n log n, not n^2, on one long run of a single character,
// the input that made tokenizing a megabyte of spaces take hours.
#include "tokenizer/pair_merge.h"

#include <gtest/gtest.h>

#include <iterator>
#include <map>
#include <random>
#include <string>

namespace frugal::tokenizer {
namespace {

using Table = std::map<std::string, uint32_t>;  // "left right" -> merge order (lowest first)

bool lookup(const Table& t, std::string_view l, std::string_view r, uint32_t& p) {
  auto it = t.find(std::string(l) + " " + std::string(r));
  if (it == t.end()) return false;
  p = it->second;
  return true;
}

// The O(n^2) definition: after every merge, look at all pairs again.
std::vector<std::string> textbook(const std::string& text, const Table& t) {
  std::vector<std::string> parts;
  for (char c : text) parts.emplace_back(1, c);
  for (;;) {
    int best = -1;
    uint32_t best_p = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      uint32_t p;
      if (lookup(t, parts[i], parts[i + 1], p) && (best < 0 || p < best_p)) { best = int(i); best_p = p; }
    }
    if (best < 0) return parts;
    parts[size_t(best)] += parts[size_t(best) + 1];
    parts.erase(parts.begin() + best + 1);
  }
}

std::vector<std::string> fast(const std::string& text, const Table& t, MergeStats* st = nullptr) {
  std::vector<std::string> out;
  // Tags count the symbol's bytes, to check that each merge hands the right tag on.
  auto initial = [](std::string_view c) { return int32_t(c.size()); };
  auto pr = [&](std::string_view l, int32_t lt, std::string_view r, int32_t rt, uint32_t& p, int32_t& merged) {
    EXPECT_EQ(size_t(lt), l.size());
    EXPECT_EQ(size_t(rt), r.size());
    merged = lt + rt;
    return lookup(t, l, r, p);
  };
  for (const Span& s : merge_pairs(text, initial, pr, st)) {
    out.push_back(text.substr(s.offset, s.length));
    EXPECT_EQ(size_t(s.tag), s.length);
  }
  return out;
}

TEST(PairMerge, SameResultAsRescanningEveryPair) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 600; ++trial) {
    // A random merge table over a 3-letter alphabet, built bottom up so that
    // longer pieces can merge too. Half the tables are ordered as training
    // makes them (a merge after those that made its parts: the queue's fast
    // path), half at random with repeats (ties, and the queue's fallback).
    const bool trained = trial % 2 == 0;
    Table t;
    std::vector<std::string> pieces = {"a", "b", "c"};
    for (int k = 0; k < 12; ++k) {
      const std::string l = pieces[rng() % pieces.size()];
      const std::string r = pieces[rng() % pieces.size()];
      if (t.count(l + " " + r)) continue;
      t[l + " " + r] = trained ? uint32_t(k) : uint32_t(rng() % 5);
      pieces.push_back(l + r);
    }
    std::string text;
    const int n = int(rng() % 40);
    for (int i = 0; i < n; ++i) text += char('a' + rng() % 3);
    EXPECT_EQ(fast(text, t), textbook(text, t)) << "text " << text;
  }
}

TEST(PairMerge, LongPiecesSameResultAsRescanning) {
  // Past PairMerger::kShortPiece symbols the queue does the work instead of
  // the rescan; both must give the definition's result.
  std::mt19937 rng(11);
  for (int trial = 0; trial < 200; ++trial) {
    const bool trained = trial % 2 == 0;
    Table t;
    std::vector<std::string> pieces = {"a", "b", "c"};
    for (int k = 0; k < 30; ++k) {
      const std::string l = pieces[rng() % pieces.size()];
      const std::string r = pieces[rng() % pieces.size()];
      if (t.count(l + " " + r)) continue;
      t[l + " " + r] = trained ? uint32_t(k) : uint32_t(rng() % 8);
      pieces.push_back(l + r);
    }
    std::string text;
    const int n = int(PairMerger::kShortPiece) + 1 + int(rng() % 300);
    const int alphabet = 1 + int(rng() % 3);  // runs of one letter too
    for (int i = 0; i < n; ++i) text += char('a' + rng() % alphabet);
    EXPECT_EQ(fast(text, t), textbook(text, t)) << "text " << text;
  }
}

TEST(PairMerge, TiesGoToTheLeftmostPair) {
  const Table t = {{"a a", 1}};
  EXPECT_EQ(fast("aaa", t), (std::vector<std::string>{"aa", "a"}));
  std::vector<std::string> long_run(20, "aa");  // the same past the rescanned length
  long_run.push_back("a");
  EXPECT_EQ(fast(std::string(41, 'a'), t), long_run);
}

TEST(PairMerge, CharactersAndInvalidBytesAreTheStartingSymbols) {
  // No merges: one symbol per character, each ill-formed byte on its own.
  EXPECT_EQ(fast("\xC3\xA9x\xE9\xFF", {}), (std::vector<std::string>{"\xC3\xA9", "x", "\xE9", "\xFF"}));
}

TEST(PairMerge, WorkOnALongRunIsNLogNNotQuadratic) {
  // "a a" -> aa, "aa aa" -> aaaa, ... up to 64 a's: a run of n a's ends as
  // n/64 pieces. Rescanning all pairs after each merge would score about
  // n^2/2 pairs (2*10^9 here); the queue scores a few per symbol.
  Table t;
  std::string piece = "a";
  for (int k = 0; k < 6; ++k) {
    t[piece + " " + piece] = uint32_t(k);
    piece += piece;
  }
  const size_t n = size_t(1) << 16;
  MergeStats st;
  const auto out = fast(std::string(n, 'a'), t, &st);
  ASSERT_EQ(out.size(), n / 64);
  for (const std::string& p : out) EXPECT_EQ(p, piece);
  EXPECT_EQ(st.merges, n - n / 64);
  EXPECT_LE(st.pairs_scored, 4 * n);
  EXPECT_LE(st.queue_pops, 4 * n);
}

TEST(PairMerge, ScoresMapToOrdersHighestFirst) {
  const float scores[] = {-1e30f, -5.5f, -1.0f, -0.0f, 0.0f, 0.25f, 3.0f, 1e30f};
  for (size_t i = 1; i < std::size(scores); ++i)
    EXPECT_GE(order_of_score(scores[i - 1]), order_of_score(scores[i])) << scores[i];
  EXPECT_GT(order_of_score(-1.0f), order_of_score(0.25f));
}

}  // namespace
}  // namespace frugal::tokenizer

#include "tokenizer/pair_merge.h"

#include <bit>

#include "base/error.h"
#include "base/utf8.h"

namespace frugal::tokenizer {

uint32_t order_of_score(float score) {
  // IEEE-754 bits made monotone as unsigned integers, then reversed.
  const uint32_t bits = std::bit_cast<uint32_t>(score);
  const uint32_t ascending = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  return ~ascending;
}

void PairMerger::too_long(size_t bytes) { fail("tokenizer: a piece of ", bytes, " bytes or more is too long to merge"); }

std::vector<Span> merge_pairs(std::string_view text, const InitialTag& initial, const PairOrder& order,
                              MergeStats* stats) {
  PairMerger merger;
  merger.start(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_char_len(text, i);
    if (n == 0) n = 1;
    merger.add(i, n, initial(text.substr(i, n)));
    i += n;
  }
  merger.run(
      [&](const MergeSymbol& l, const MergeSymbol& r, uint32_t& o, int32_t& merged) {
        return order(text.substr(l.offset, l.length), l.tag, text.substr(r.offset, r.length), r.tag, o, merged);
      },
      stats);
  std::vector<Span> out;
  merger.for_each([&](const MergeSymbol& s) { out.push_back({s.offset, s.length, s.tag}); });
  return out;
}

}  // namespace frugal::tokenizer

// The tokenizer's flat tables: strings and id pairs found as std::map finds
// them (the first id of a string wins), absent ones not found, through growth.
#include "tokenizer/token_tables.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

namespace frugal::tokenizer {
namespace {

TEST(StringIndex, FindsWhatAMapFinds) {
  std::mt19937 rng(5);
  StringIndex index;  // no reserve: it grows as strings are added
  std::map<std::string, int32_t> ref;
  for (int32_t id = 0; id < 20000; ++id) {
    std::string s;
    const size_t n = rng() % 12;  // some repeats among the short ones, and the empty string
    for (size_t i = 0; i < n; ++i) s += char('a' + rng() % 4);
    index.add(s, id);
    ref.emplace(s, id);  // the first id of a string wins
  }
  EXPECT_EQ(index.size(), ref.size());
  for (const auto& [s, id] : ref) EXPECT_EQ(index.find(s), id) << s;
  for (int k = 0; k < 20000; ++k) {
    std::string s;
    const size_t n = rng() % 16;
    for (size_t i = 0; i < n; ++i) s += char('a' + rng() % 5);
    const auto it = ref.find(s);
    EXPECT_EQ(index.find(s), it == ref.end() ? -1 : it->second) << s;
  }
}

TEST(StringIndex, BytesOfAnyValueAndLongStrings) {
  StringIndex index;
  index.reserve(4);
  const std::string zero("a\0b", 3), high = "\xFF\xFE", long_one(100000, ' ');
  index.add(zero, 1);
  index.add(high, 2);
  index.add(long_one, 3);
  EXPECT_EQ(index.find(zero), 1);
  EXPECT_EQ(index.find("a"), -1);
  EXPECT_EQ(index.find(high), 2);
  EXPECT_EQ(index.find(long_one), 3);
  EXPECT_EQ(index.find(std::string(99999, ' ')), -1);
  EXPECT_EQ(index.find(std::string_view()), -1);
  EXPECT_EQ(StringIndex().find("x"), -1);
}

TEST(PairTable, FindsWhatAMapFinds) {
  std::mt19937 rng(6);
  PairTable table;
  std::map<std::pair<int32_t, int32_t>, PairMerge> ref;
  for (uint32_t r = 0; r < 50000; ++r) {
    const int32_t a = int32_t(rng() % 300), b = int32_t(rng() % 300);
    const PairMerge m{.order = r, .result = int32_t(rng() % 1000) - 1};
    table.insert(a, b, m);
    ref.emplace(std::pair{a, b}, m);  // the first insertion wins
  }
  EXPECT_EQ(table.size(), ref.size());
  for (int32_t a = 0; a < 310; ++a)
    for (int32_t b = 0; b < 310; ++b) {
      const PairMerge* got = table.find(a, b);
      const auto it = ref.find({a, b});
      ASSERT_EQ(got != nullptr, it != ref.end()) << a << " " << b;
      if (got) {
        EXPECT_EQ(got->order, it->second.order);
        EXPECT_EQ(got->result, it->second.result);
      }
    }
  EXPECT_EQ(PairTable().find(1, 2), nullptr);
  EXPECT_TRUE(table.find(0x7FFFFFFF, 0x7FFFFFFF) == nullptr);
}

}  // namespace
}  // namespace frugal::tokenizer

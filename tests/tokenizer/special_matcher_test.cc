// The special-token trie: longest match wins, the first id added wins among
// equal texts, and it agrees with a plain scan over every token on random text.
#include "tokenizer/special_matcher.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace frugal::tokenizer {
namespace {

TEST(SpecialMatcher, LongestMatchAndFirstIdAmongEqualTexts) {
  SpecialMatcher m;
  EXPECT_TRUE(m.empty());
  m.add("<|a|>", 5);
  m.add("<|a|><|b|>", 9);
  m.add("<|a|>", 7);  // same text: id 5 stays
  m.add("", 3);       // empty text is never matched
  EXPECT_FALSE(m.empty());
  const std::string text = "x<|a|><|b|> <|a|><|c";
  EXPECT_EQ(m.match(text, 0), std::make_pair(int32_t(-1), size_t(0)));
  EXPECT_EQ(m.match(text, 1), std::make_pair(int32_t(9), size_t(10)));
  EXPECT_EQ(m.match(text, 12), std::make_pair(int32_t(5), size_t(5)));
  EXPECT_EQ(m.match(text, 17), std::make_pair(int32_t(-1), size_t(0)));  // "<|c" runs out
  EXPECT_EQ(m.match(text, text.size()), std::make_pair(int32_t(-1), size_t(0)));
}

TEST(SpecialMatcher, AgreesWithAScanOverEveryToken) {
  std::mt19937 rng(std::random_device{}());
  const std::string alphabet = "<|>ab\xE2\x96\x81";
  auto random_string = [&](size_t max_len) {
    std::string s(1 + rng() % max_len, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    return s;
  };
  std::vector<std::string> tokens;
  SpecialMatcher m;
  for (int i = 0; i < 60; ++i) {
    tokens.push_back(random_string(6));
    m.add(tokens.back(), i);
  }
  const std::string text = random_string(400) + random_string(400);
  for (size_t pos = 0; pos < text.size(); ++pos) {
    int32_t want = -1;
    size_t want_len = 0;
    for (size_t id = 0; id < tokens.size(); ++id)
      if (text.compare(pos, tokens[id].size(), tokens[id]) == 0 && tokens[id].size() > want_len) {
        want = int32_t(id);
        want_len = tokens[id].size();
      }
    ASSERT_EQ(m.match(text, pos), std::make_pair(want, want_len)) << "at " << pos;
  }
}

}  // namespace
}  // namespace frugal::tokenizer

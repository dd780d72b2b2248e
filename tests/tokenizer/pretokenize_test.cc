// Pre-tokenizer splits worked out by hand from each regex definition, and the
// invariant every one must keep: the pieces put back together are the text,
// for any input (random UTF-8 of all planes, and invalid bytes).
#include "tokenizer/pretokenize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <random>

#include "base/error.h"

namespace frugal::tokenizer {
namespace {

std::vector<std::string> pieces(const std::string& name, const std::string& text) {
  std::vector<std::string> out;
  for (std::string_view p : make_pretokenizer(name)->split(text)) out.emplace_back(p);
  return out;
}

using V = std::vector<std::string>;

TEST(PreTokenize, Gpt2SplitsContractionsWordsNumbersAndSpaces) {
  EXPECT_EQ(pieces("gpt-2", "I'll pay 42 dollars!!  ok"),
            (V{"I", "'ll", " pay", " 42", " dollars", "!!", " ", " ok"}));
}

TEST(PreTokenize, Qwen2PutsEachDigitAlone) {
  EXPECT_EQ(pieces("qwen2", "abc 2024"), (V{"abc", " ", "2", "0", "2", "4"}));
  EXPECT_EQ(pieces("llama3", "abc 2024"), (V{"abc", " ", "202", "4"}));
  // GLM-4.5's files name Llama 3's split glm4 (or chatglm-bpe).
  for (const char* glm : {"glm4", "chatglm-bpe"})
    EXPECT_EQ(pieces(glm, "I'LL pay 2024!\n"), pieces("llama3", "I'LL pay 2024!\n")) << glm;
  EXPECT_EQ(pieces("glm4", "I'LL pay 2024!\n"), (V{"I", "'LL", " pay", " ", "202", "4", "!\n"}));
}

TEST(PreTokenize, DeepseekLlmFollowsItsSplitSequence) {
  // Newline alone; Latin words with their space; CJK run; digit run;
  // full-width punctuation; the space before CJK stays a piece of its own.
  EXPECT_EQ(pieces("deepseek-llm", "Hello world\n123 你好！"),
            (V{"Hello", " world", "\n", "123", " ", "你好", "！"}));
  // Trailing whitespace is one piece; Greek and Cyrillic are letters too.
  EXPECT_EQ(pieces("deepseek-llm", "αβγ мир,  "), (V{"αβγ", " мир", ",", "  "}));
}

TEST(PreTokenize, KimiK2KeepsHanRunsApartFromOtherLetters) {
  // o200k counts Han characters as letters (Lo) and keeps them in the word;
  // Kimi-K2 cuts them out as runs of their own. Numbers by three, a space
  // before a number alone, contractions of any case.
  EXPECT_EQ(pieces("gpt-4o", "Hello世界World"), (V{"Hello世界", "World"}));
  EXPECT_EQ(pieces("llama4", "Hello世界World"), pieces("gpt-4o", "Hello世界World"));  // Llama 4 names o200k's split
  EXPECT_EQ(pieces("minimax-m2", "I'LL see 12345\n\nok"), (V{"I'LL", " see", " ", "123", "45", "\n\n", "ok"}));
  EXPECT_EQ(pieces("kimi-k2", "Hello世界World 12345"), (V{"Hello", "世界", "World", " ", "123", "45"}));
  EXPECT_EQ(pieces("kimi-k2", "I'LL see 東京's café\n\nok"),
            (V{"I'LL", " see", " ", "東京", "'s", " café", "\n\n", "ok"}));
  // Kana are letters but not Han: they stay with the word.
  EXPECT_EQ(pieces("kimi-k2", "ひらがな漢字"), (V{"ひらがな", "漢字"}));
  // Han is the Script property, as Kimi-K2's own tokenizer (tiktoken's Rust
  // expressions) reads \p{Han}: CJK punctuation (script Common, though its
  // Script_Extensions include Han) is not part of a Han run.
  EXPECT_EQ(pieces("kimi-k2", "中文。「好」"), (V{"中文", "。「", "好", "」"}));
}

TEST(PreTokenize, PiecesAlwaysConcatenateToTheText) {
  std::mt19937 rng(std::random_device{}());
  const uint32_t seed = rng();
  std::printf("pretokenize test seed %u\n", seed);
  rng.seed(seed);
  for (const char* name : {"default", "llama3", "qwen2", "deepseek-llm", "deepseek-v3", "kimi-k2", "gpt-4o"}) {
    const auto pre = make_pretokenizer(name);
    for (int trial = 0; trial < 200; ++trial) {
      std::string text;
      const int n = int(rng() % 40);
      for (int i = 0; i < n; ++i) {
        uint32_t cp;
        switch (rng() % 5) {
          case 0: cp = " \n\t'!1aZ"[rng() % 8]; break;
          case 1: cp = 0x4E00 + rng() % 0x5000; break;     // CJK
          case 2: cp = 0x1F300 + rng() % 0x300; break;    // emoji
          case 3: cp = 0x80 + rng() % 0x700; break;       // Latin-1 .. Arabic
          default: cp = 0x20 + rng() % 0x5F; break;       // ASCII
        }
        if (cp < 0x80) text += char(cp);
        else if (cp < 0x800) text += {char(0xC0 | (cp >> 6)), char(0x80 | (cp & 0x3F))};
        else if (cp < 0x10000)
          text += {char(0xE0 | (cp >> 12)), char(0x80 | ((cp >> 6) & 0x3F)), char(0x80 | (cp & 0x3F))};
        else
          text += {char(0xF0 | (cp >> 18)), char(0x80 | ((cp >> 12) & 0x3F)), char(0x80 | ((cp >> 6) & 0x3F)),
                   char(0x80 | (cp & 0x3F))};
      }
      if (trial % 10 == 0) text += "\xff\xfe";  // invalid UTF-8 is kept, not dropped
      std::string joined;
      for (std::string_view p : pre->split(text)) {
        EXPECT_FALSE(p.empty()) << name;
        joined += p;
      }
      EXPECT_EQ(joined, text) << name;
    }
  }
}

TEST(PreTokenize, UnknownNameIsAnError) { EXPECT_THROW(make_pretokenizer("no-such-pre"), Error); }

}  // namespace
}  // namespace frugal::tokenizer

namespace frugal::tokenizer {
namespace {

// Ill-formed byte sequences, as the maximal subparts a decoder turns into one
// U+FFFD each (a UTF-8-encoded surrogate is three of them).
const std::vector<std::vector<std::string>> kBad = {
    {"\xE9"}, {"\xFF"}, {"\xC0"}, {"\xE2\x82"}, {"\xF0\x9F\x98"}, {"\xED", "\xA0", "\x80"}};
const std::string kFffd = "\xEF\xBF\xBD";

TEST(PreTokenizeInvalidUtf8, ABadByteSplitsTheTextLikeAReplacementCharacter) {
  // Hugging Face's tokenizers see decoded text, where a Latin-1 byte is
  // U+FFFD, a symbol: it splits there and the rest of the text is cut as usual.
  EXPECT_EQ(pieces("gpt-2", "hello world, caf\xE9 ok"), (V{"hello", " world", ",", " caf", "\xE9", " ok"}));
  EXPECT_EQ(pieces("gpt-2", "caf\xE9."), (V{"caf", "\xE9."}));
  // A cut character is one unit (one U+FFFD), a stray continuation byte too.
  EXPECT_EQ(pieces("gpt-2", "a\xE2\x82z"), (V{"a", "\xE2\x82", "z"}));
  EXPECT_EQ(pieces("llama3", "x \x80y"), (V{"x", " \x80", "y"}));
  EXPECT_EQ(pieces("qwen2", "12\xFF" "34"), (V{"1", "2", "\xFF", "3", "4"}));
}

TEST(PreTokenizeInvalidUtf8, OneBadByteLeavesTheRestOfALongTextAlone) {
  // Used to turn the whole text into one piece (and its BPE quadratic).
  std::string good;
  for (int i = 0; i < 1000; ++i) good += "hello world, the quick brown fox. ";
  for (const char* name : {"default", "llama3", "qwen2", "deepseek-llm", "deepseek-v3", "kimi-k2", "gpt-4o"}) {
    const V before = pieces(name, good + "caf");
    V after = pieces(name, good + "caf\xE9");
    ASSERT_GE(after.size(), before.size()) << name;
    EXPECT_TRUE(std::equal(before.begin(), before.end() - 1, after.begin())) << name;
    EXPECT_LE(after.back().size(), 4u) << name;
  }
}

TEST(PreTokenizeInvalidUtf8, SplitsAsTheTextWithReplacementCharacters) {
  // Random text with ill-formed subparts: the pieces are those of the same
  // text with each subpart decoded to U+FFFD, with the bytes put back.
  std::mt19937 rng(5);
  const char* words[] = {"the", " cat", "  ", "\n", "42", "你好", "é", "!?", "'s", " ", "x"};
  for (const char* name : {"default", "llama3", "qwen2", "deepseek-llm", "deepseek-v3", "kimi-k2", "gpt-4o"}) {
    const auto pre = make_pretokenizer(name);
    for (int trial = 0; trial < 200; ++trial) {
      std::string raw, decoded;
      std::vector<std::string> originals;  // per U+FFFD, in order: the bytes it stands for
      const int n = 1 + int(rng() % 12);
      for (int i = 0; i < n; ++i) {
        if (rng() % 3 == 0) {
          for (const std::string& part : kBad[rng() % kBad.size()]) {
            raw += part;
            decoded += kFffd;
            originals.push_back(part);
          }
        } else {
          const char* w = words[rng() % std::size(words)];
          raw += w;
          decoded += w;
        }
      }
      V want;
      size_t next = 0;
      for (std::string_view p : pre->split(decoded)) {
        std::string piece;
        for (size_t i = 0; i < p.size();) {
          if (p.substr(i, 3) == kFffd) { piece += originals[next++]; i += 3; }
          else piece += p[i++];
        }
        want.push_back(piece);
      }
      V got;
      for (std::string_view p : pre->split(raw)) got.emplace_back(p);
      EXPECT_EQ(got, want) << name << " text: " << ::testing::PrintToString(raw);
    }
  }
}

}  // namespace
}  // namespace frugal::tokenizer

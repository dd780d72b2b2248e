// take_valid_utf8 against an independent decoder written from the code-point
// arithmetic (not from the byte-range table the implementation uses), the
// Unicode Standard's own example of maximal subparts, and the promise that
// matters to a stream: however the bytes are split, the text is the same.
#include "base/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>

namespace frugal {
namespace {

std::string encode(uint32_t cp) {
  std::string s;
  append_utf8(s, cp);
  return s;
}

// Reference: at each position try the longest prefix (4..1 bytes) that
// decodes by arithmetic to a scalar value in the shortest form; else the
// ill-formed subpart is the longest prefix that some valid sequence starts
// with (found by trying every completion), replaced by one U+FFFD.
bool decodes(const std::string& s, size_t at, size_t len) {
  if (at + len > s.size()) return false;
  const auto b = [&](size_t k) { return static_cast<uint8_t>(s[at + k]); };
  uint32_t cp;
  if (len == 1) return b(0) < 0x80;
  const uint8_t lead_bits = len == 2 ? 0xC0 : len == 3 ? 0xE0 : 0xF0;
  const uint8_t lead_mask = len == 2 ? 0xE0 : len == 3 ? 0xF0 : 0xF8;
  if ((b(0) & lead_mask) != lead_bits) return false;
  cp = b(0) & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    if ((b(k) & 0xC0) != 0x80) return false;
    cp = (cp << 6) | (b(k) & 0x3F);
  }
  const uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
  return cp >= min && cp <= 0x10FFFF && !(cp >= 0xD800 && cp <= 0xDFFF);
}

bool starts_some_character(const std::string& prefix) {
  for (size_t len = prefix.size(); len <= 4; ++len) {
    // Complete it with the smallest and the largest continuation bytes: the
    // limits (shortest form, surrogates, U+10FFFF) sit in the top bits, which
    // the prefix of two or more bytes already fixes.
    for (const char fill : {'\x80', '\xBF'})
      if (decodes(prefix + std::string(len - prefix.size(), fill), 0, len)) return true;
  }
  return false;
}

std::string reference(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size();) {
    size_t len = 0;
    for (size_t l = 4; l >= 1 && !len; --l)
      if (decodes(s, i, l)) len = l;
    if (len) {
      out += s.substr(i, len);
      i += len;
      continue;
    }
    size_t bad = 1;
    while (i + bad < s.size() && bad < 3 && starts_some_character(s.substr(i, bad + 1))) ++bad;
    out += kReplacementCharacter;
    i += bad;
  }
  return out;
}

TEST(Utf8, EveryScalarValueIsKeptAsItIs) {
  for (uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    const std::string s = encode(cp);
    ASSERT_TRUE(is_valid_utf8(s)) << cp;
    ASSERT_EQ(to_valid_utf8(s), s) << cp;
  }
}

TEST(Utf8, SurrogatesOverlongFormsAndTooLargeAreReplaced) {
  EXPECT_EQ(to_valid_utf8(encode(0xD800)), "\uFFFD\uFFFD\uFFFD");  // ED A0 80: ED's second byte stops at 9F
  EXPECT_EQ(to_valid_utf8("\xC0\xAF"), "\uFFFD\uFFFD");             // an overlong '/'
  EXPECT_EQ(to_valid_utf8("\xE0\x80\xAF"), "\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(to_valid_utf8("\xF4\x90\x80\x80"), "\uFFFD\uFFFD\uFFFD\uFFFD");  // U+110000
  EXPECT_FALSE(is_valid_utf8("\xF5"));
  EXPECT_FALSE(is_valid_utf8("\xE4\xBD"));  // unfinished
}

TEST(Utf8, TheStandardsExampleOfMaximalSubparts) {
  // Unicode Standard 3.9, Table 3-8: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64.
  EXPECT_EQ(to_valid_utf8("a\xF1\x80\x80\xE1\x80\xC2" "b\x80" "c\x80\xBF" "d"),
            "a\uFFFD\uFFFD\uFFFDb\uFFFDc\uFFFD\uFFFDd");
}

TEST(Utf8, AgreesWithTheReferenceOnRandomBytes) {
  std::mt19937 rng(5);
  // Bytes drawn near the boundaries where rules change.
  const uint8_t pool[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                          0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF};
  for (int trial = 0; trial < 20000; ++trial) {
    std::string s;
    for (int k = int(rng() % 10); k > 0; --k) s += char(pool[rng() % sizeof(pool)]);
    ASSERT_EQ(to_valid_utf8(s), reference(s)) << "trial " << trial;
  }
}

TEST(Utf8, SplittingTheBytesAnywhereGivesTheSameText) {
  std::mt19937 rng(9);
  for (int trial = 0; trial < 5000; ++trial) {
    std::string s;
    for (int k = int(rng() % 24); k > 0; --k)
      s += rng() % 3 ? encode(rng() % 0x11000 + (rng() % 2 ? 0x10000 : 0)).substr(0, rng() % 5)
                     : std::string(1, char(rng()));
    std::string pending, streamed;
    for (size_t i = 0; i < s.size();) {
      const size_t n = std::min(s.size() - i, size_t(rng() % 4));
      pending.append(s, i, n);
      i += n;
      const std::string piece = take_valid_utf8(pending, false);
      ASSERT_TRUE(is_valid_utf8(piece));
      ASSERT_LE(pending.size(), 3u);  // only an unfinished character waits
      streamed += piece;
    }
    streamed += take_valid_utf8(pending, true);
    ASSERT_TRUE(pending.empty());
    ASSERT_EQ(streamed, to_valid_utf8(s)) << "trial " << trial;
  }
}

}  // namespace
}  // namespace frugal

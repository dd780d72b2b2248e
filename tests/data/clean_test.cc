// Cleaning: UTF-8 validity, NFC, control characters, white space.
#include <gtest/gtest.h>

#include "data/clean.h"

namespace frugal::data {
namespace {

TEST(Clean, DropsInvalidUtf8AndCountsIt) {
  CleanCounts c;
  // A lone continuation byte, an overlong '/', a surrogate, a truncated sequence.
  std::string raw = std::string("a\x80") + "b\xC0\xAF" + "c\xED\xA0\x80" + "d\xE2\x82";
  EXPECT_EQ(clean_text(raw, &c), "abcd");
  EXPECT_EQ(c.invalid_bytes, 1u + 2u + 3u + 2u);
  EXPECT_TRUE(is_valid_utf8(clean_text(raw)));
}

TEST(Clean, ValidatorAgreesOnEveryPlane) {
  for (uint32_t cp : {0x41u, 0x7FFu, 0x800u, 0xFFFDu, 0x10000u, 0x1F600u, 0x10FFFFu}) {
    std::string s;
    if (cp < 0x80) s = char(cp);
    else if (cp < 0x800) s = {char(0xC0 | (cp >> 6)), char(0x80 | (cp & 0x3F))};
    else if (cp < 0x10000) s = {char(0xE0 | (cp >> 12)), char(0x80 | ((cp >> 6) & 0x3F)), char(0x80 | (cp & 0x3F))};
    else s = {char(0xF0 | (cp >> 18)), char(0x80 | ((cp >> 12) & 0x3F)), char(0x80 | ((cp >> 6) & 0x3F)), char(0x80 | (cp & 0x3F))};
    uint32_t got = 0;
    EXPECT_EQ(utf8_decode(s, 0, got), s.size());
    EXPECT_EQ(got, cp);
  }
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // U+110000
}

TEST(Clean, NormalisesToNfc) {
  // "é" as e + combining acute becomes the single code point U+00E9.
  EXPECT_EQ(clean_text("caf\x65\xCC\x81"), "caf\xC3\xA9");
  // Already composed text is unchanged; Hangul jamo compose too.
  EXPECT_EQ(clean_text("\xE1\x84\x92\xE1\x85\xA1"), "\xED\x95\x98");
}

TEST(Clean, RemovesControlCharactersAndOverstrike) {
  CleanCounts c;
  EXPECT_EQ(clean_text(std::string("a\x01" "b\x7F" "c\0d", 7) + "\xEF\xBB\xBF" "e", &c), "abcde");
  EXPECT_EQ(c.control_chars, 4u);
  // "_\bH" (underlined H in old man pages and fortunes) keeps the H.
  EXPECT_EQ(clean_text("_\bH_\bi!"), "Hi!");
}

TEST(Clean, NormalisesWhiteSpace) {
  EXPECT_EQ(clean_text("\n\n  Hello   world  \r\n\r\n\r\n\tnext\xC2\xA0line \n\n"),
            "  Hello world\n\n    next line");
  EXPECT_EQ(clean_text("a\u2028b"), "a\nb");
  EXPECT_EQ(clean_text(" \t \n  "), "");
}

}  // namespace
}  // namespace frugal::data

// StreamDecoder: text comes out token by token and never splits a UTF-8
// character; the bytes of an incomplete character wait for the rest (or for
// flush()), and what comes out, put together, is decode() of all the ids.
#include <gtest/gtest.h>

#include <random>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_fixtures.h"

namespace frugal::tokenizer {
namespace {

using Ids = std::vector<int32_t>;

// Byte tokens 0..255, plus tokens that end or start in the middle of a
// character: "a" + C3 (first half of é), A9 (second half) + "b", and the
// first three bytes of 😀 (F0 9F 98 80).
struct StreamVocab {
  std::vector<testing::VocabEntry> tokens = testing::gpt2_byte_tokens();
  int32_t a_half, half_b, emoji_head;
  StreamVocab() {
    a_half = add("a\xC3");
    half_b = add("\xA9" "b");
    emoji_head = add("\xF0\x9F\x98");
  }
  int32_t add(const std::string& bytes) {
    tokens.push_back({testing::gpt2_spelling(bytes)});
    return int32_t(tokens.size() - 1);
  }
  Tokenizer make() const {
    gguf::Metadata md;
    testing::set_vocab(md, "gpt2", tokens);
    md.set("tokenizer.ggml.pre", gguf::Value::make_string("default"));
    return Tokenizer::from_metadata(md);
  }
};

std::vector<std::string> pushes(StreamDecoder& d, const Ids& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(d.push(id));
  return out;
}

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = s[i];
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += n;
  }
  return true;
}

TEST(StreamDecoder, HoldsBackEachIncompleteCharacter) {
  StreamVocab v;
  Tokenizer tok = v.make();
  StreamDecoder d(tok);
  using S = std::vector<std::string>;
  EXPECT_EQ(pushes(d, {'h', 0xC3, 0xA9, '!'}), (S{"h", "", "é", "!"}));
  EXPECT_EQ(pushes(d, {0xE4, 0xBD, 0xA0}), (S{"", "", "你"}));
  EXPECT_EQ(pushes(d, {0xF0, 0x9F, 0x98, 0x80}), (S{"", "", "", "😀"}));
  EXPECT_EQ(d.flush(), "");
}

TEST(StreamDecoder, TokensThatCutACharacterInTwo) {
  StreamVocab v;
  Tokenizer tok = v.make();
  StreamDecoder d(tok);
  EXPECT_EQ(d.push(v.a_half), "a");  // the complete part goes out at once
  EXPECT_EQ(d.push(v.half_b), "éb");
  EXPECT_EQ(d.push(v.emoji_head), "");
  EXPECT_EQ(d.push(0x80), "😀");
}

TEST(StreamDecoder, FlushGivesBackWhatIsHeld) {
  StreamVocab v;
  Tokenizer tok = v.make();
  StreamDecoder d(tok);
  EXPECT_EQ(d.push(0xE4), "");
  EXPECT_EQ(d.push(0xBD), "");
  EXPECT_EQ(d.flush(), "\uFFFD");  // one unfinished character, one replacement
  EXPECT_EQ(d.flush(), "");
  EXPECT_EQ(d.push('x'), "x");  // usable again after a flush
}

TEST(StreamDecoder, InvalidBytesComeOutAsReplacementCharacters) {
  StreamVocab v;
  Tokenizer tok = v.make();
  StreamDecoder d(tok);
  EXPECT_EQ(d.push(0xFF), "\uFFFD");  // no character starts with FF: nothing to wait for
  EXPECT_EQ(d.push(0xC3), "");
  EXPECT_EQ(d.push('z'), "\uFFFDz");  // the awaited continuation never came
  EXPECT_EQ(d.push(0xA9), "\uFFFD");  // a continuation byte with no lead
  EXPECT_EQ(d.push(0xED), "");
  EXPECT_EQ(d.push(0xA0), "\uFFFD\uFFFD");  // ED A0: a surrogate, never a character (nor is A0 alone)
  EXPECT_EQ(d.push(0x80), "\uFFFD");
}

TEST(StreamDecoder, EveryPieceOfRandomBytesIsValid) {
  StreamVocab v;
  Tokenizer tok = v.make();
  std::mt19937 rng(11);
  for (int trial = 0; trial < 500; ++trial) {
    StreamDecoder d(tok);
    for (int k = 0; k < 40; ++k) {
      const int32_t id = rng() % 4 == 0 ? v.tokens.size() - 1 - rng() % 3 : int32_t(rng() % 256);
      EXPECT_TRUE(valid_utf8(d.push(id))) << "trial " << trial;
    }
    EXPECT_TRUE(valid_utf8(d.flush())) << "trial " << trial;
  }
}

TEST(StreamDecoder, PiecesAddUpToDecodeAndEachIsWholeCharacters) {
  StreamVocab v;
  Tokenizer tok = v.make();
  std::mt19937 rng(3);
  const std::vector<std::string> alphabet = {"a", "é", "你", "😀", " ", "\n", "ü", "ab"};
  for (int trial = 0; trial < 200; ++trial) {
    std::string text;
    for (int k = int(rng() % 12); k > 0; --k) text += alphabet[rng() % alphabet.size()];
    // Random ids whose bytes make up `text`: byte tokens mostly, and the
    // split-character tokens where they fit.
    Ids ids;
    for (size_t i = 0; i < text.size();) {
      if (rng() % 2 && text.compare(i, 3, "a\xC3\xA9") == 0) {
        ids.push_back(v.a_half);
        ids.push_back(0xA9);
        i += 3;
      } else if (rng() % 2 && text.compare(i, 4, "\xF0\x9F\x98\x80") == 0) {
        ids.push_back(v.emoji_head);
        ids.push_back(0x80);
        i += 4;
      } else {
        ids.push_back(static_cast<unsigned char>(text[i++]));
      }
    }
    ASSERT_EQ(tok.decode(ids), text);
    StreamDecoder d(tok);
    std::string streamed;
    for (int32_t id : ids) {
      std::string piece = d.push(id);
      EXPECT_TRUE(valid_utf8(piece)) << "trial " << trial;
      streamed += piece;
    }
    EXPECT_EQ(d.flush(), "");
    EXPECT_EQ(streamed, text);
  }
}

}  // namespace
}  // namespace frugal::tokenizer

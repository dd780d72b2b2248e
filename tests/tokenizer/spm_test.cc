// SentencePiece-style ("llama") tokenization on a hand-built vocabulary: the
// highest-scoring adjacent pair merges first (leftmost on a tie), the text
// gets a leading space (shown as U+2581) that decode takes off again, and
// characters without a piece fall back to <0xXX> byte tokens or <unk>.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "base/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_fixtures.h"

namespace frugal::tokenizer {
namespace {

using testing::VocabEntry;
using Ids = std::vector<int32_t>;
const std::string kSpace = "\xE2\x96\x81";  // U+2581, SentencePiece's space

// <unk>, <s>, </s>, 256 byte tokens, then pieces whose scores fix the merge
// order worked out by hand in the tests below.
std::vector<VocabEntry> spm_vocab(bool with_bytes = true) {
  std::vector<VocabEntry> v = {{"<unk>", TokenType::UNKNOWN}, {"<s>", TokenType::CONTROL}, {"</s>", TokenType::CONTROL}};
  if (with_bytes)
    for (const VocabEntry& b : testing::spm_byte_tokens()) v.push_back(b);
  for (const char* c : {"h", "e", "l", "o", "w", "r", "d", "a", "b", "c"}) v.push_back({c, TokenType::NORMAL, -10});
  v.push_back({kSpace, TokenType::NORMAL, -10});
  v.push_back({"ll", TokenType::NORMAL, -1});
  v.push_back({"he", TokenType::NORMAL, -2});
  v.push_back({kSpace + "he", TokenType::NORMAL, -3});
  v.push_back({"llo", TokenType::NORMAL, -4});
  v.push_back({kSpace + "hello", TokenType::NORMAL, -5});
  v.push_back({kSpace + "w", TokenType::NORMAL, -6});
  v.push_back({"or", TokenType::NORMAL, -6});
  v.push_back({"ld", TokenType::NORMAL, -6});
  v.push_back({kSpace + "wor", TokenType::NORMAL, -7});
  v.push_back({kSpace + "world", TokenType::NORMAL, -8});
  v.push_back({"aa", TokenType::NORMAL, -1});
  v.push_back({"ab", TokenType::NORMAL, -1});
  v.push_back({"bc", TokenType::NORMAL, -0.5});
  return v;
}

Tokenizer make(const std::vector<VocabEntry>& v, bool space_prefix = true) {
  gguf::Metadata md;
  testing::set_vocab(md, "llama", v);
  md.set("tokenizer.ggml.bos_token_id", gguf::Value::make_u32(1));
  md.set("tokenizer.ggml.eos_token_id", gguf::Value::make_u32(2));
  md.set("tokenizer.ggml.add_space_prefix", gguf::Value::make_bool(space_prefix));
  return Tokenizer::from_metadata(md);
}

struct Spm : ::testing::Test {
  std::vector<VocabEntry> v = spm_vocab();
  Tokenizer tok = make(v);
  int32_t id(const std::string& piece) const {
    int32_t i = testing::id_in(v, piece);
    EXPECT_GE(i, 0) << piece;
    return i;
  }
};

TEST_F(Spm, MergesByScoreIntoTheWholeWord) {
  // " hello": ll (-1), he (-2), ▁he (-3), llo (-4), ▁hello (-5).
  EXPECT_EQ(tok.encode("hello", false, false), (Ids{id(kSpace + "hello")}));
  // " world": ▁w, or, ld tie at -6 (leftmost first), then ▁wor, ▁world.
  EXPECT_EQ(tok.encode("hello world", false, false), (Ids{id(kSpace + "hello"), id(kSpace + "world")}));
}

TEST_F(Spm, WithoutTheSpacePrefixTheMergesStopEarlier) {
  Tokenizer plain = make(v, /*space_prefix=*/false);
  // h e l l o -> h e ll o -> he ll o -> he llo; "hello" itself is no piece.
  EXPECT_EQ(plain.encode("hello", false, false), (Ids{id("he"), id("llo")}));
  EXPECT_EQ(plain.decode(plain.encode("hello", false, false)), "hello");
}

TEST_F(Spm, HigherScoreWinsAndTiesGoLeft) {
  Tokenizer plain = make(v, false);
  // ab (-1) against bc (-0.5): bc merges first, then "abc" is no piece.
  EXPECT_EQ(plain.encode("abc", false, false), (Ids{id("a"), id("bc")}));
  // aa at both positions with one score: the left pair merges.
  EXPECT_EQ(plain.encode("aaa", false, false), (Ids{id("aa"), id("a")}));
}

TEST_F(Spm, LeadingSpaceRuleOnDecode) {
  // The prefix space is added once and taken off once: a text that starts
  // with its own space keeps it.
  EXPECT_EQ(tok.decode(tok.encode("hello", false, false)), "hello");
  Ids two_spaces = tok.encode(" hello", false, false);
  EXPECT_EQ(two_spaces, (Ids{id(kSpace), id(kSpace + "hello")}));
  EXPECT_EQ(tok.decode(two_spaces), " hello");
  EXPECT_EQ(tok.token_bytes(id(kSpace + "world")), " world");
}

TEST_F(Spm, ByteFallbackForCharactersWithoutAPiece) {
  // "é" (C3 A9) has no piece: its bytes become <0xC3> <0xA9>.
  EXPECT_EQ(tok.encode("é", false, false), (Ids{id(kSpace), id("<0xC3>"), id("<0xA9>")}));
  EXPECT_EQ(tok.token_bytes(id("<0xC3>")), "\xC3");
  EXPECT_EQ(tok.decode(tok.encode("é", false, false)), "é");
}

TEST_F(Spm, ACharacterWithoutAPieceStillMergesIntoAPieceThatHoldsIt) {
  // "é" has no piece but "cé" has: the pair (c, é) is found by its text.
  auto with = v;
  with.push_back({"c\xC3\xA9", TokenType::NORMAL, -0.1f});
  Tokenizer plain = make(with, false);
  EXPECT_EQ(plain.encode("c\xC3\xA9", false, false), (Ids{testing::id_in(with, "c\xC3\xA9")}));
  EXPECT_EQ(plain.encode("\xC3\xA9" "c", false, false), (Ids{id("<0xC3>"), id("<0xA9>"), id("c")}));
}

TEST_F(Spm, UnknownWithoutByteTokensAndAnErrorWithNeither) {
  auto no_bytes = spm_vocab(false);
  Tokenizer t = make(no_bytes);
  EXPECT_EQ(t.encode("é", false, false), (Ids{testing::id_in(no_bytes, kSpace), 0, 0}));  // one <unk> per byte
  no_bytes[0].type = TokenType::NORMAL;  // no <unk> either
  Tokenizer bare = make(no_bytes);
  EXPECT_THROW(bare.encode("é", false, false), Error);
}

TEST_F(Spm, BosAndSpecialTokens) {
  EXPECT_TRUE(tok.add_bos_default());  // "llama" vocabularies add BOS unless told otherwise
  EXPECT_EQ(tok.bos(), 1);
  EXPECT_EQ(tok.eos(), 2);
  EXPECT_TRUE(tok.is_end_of_generation(2));
  EXPECT_FALSE(tok.is_end_of_generation(1));
  Ids ids = tok.encode("hello</s>", true, true);
  EXPECT_EQ(ids, (Ids{1, id(kSpace + "hello"), 2}));
  // Without parse_special "</s>" is plain text: no id 2, and it decodes back.
  Ids plain = tok.encode("hello</s>", false, false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 2), 0);
  EXPECT_EQ(tok.decode(plain), "hello</s>");
  EXPECT_EQ(tok.token_bytes(2), "</s>");  // control tokens render as their text
  // Each text fragment after a special token gets the space prefix again (as
  // llama.cpp and Llama 2's Prepend normalizer do).
  EXPECT_EQ(tok.encode("hello</s>hello", false, true), (Ids{id(kSpace + "hello"), 2, id(kSpace + "hello")}));
}

TEST_F(Spm, RoundTripOfRandomUtf8) {
  std::mt19937 rng(7);
  const std::vector<std::string> alphabet = {"h", "e", "l", "o", " ", "  ", "w", "é", "你", "😀", "\n", "\t", "ab", "c", "\x01"};
  for (int trial = 0; trial < 300; ++trial) {
    std::string s;
    int n = int(rng() % 20);
    for (int k = 0; k < n; ++k) s += alphabet[rng() % alphabet.size()];
    EXPECT_EQ(tok.decode(tok.encode(s, false, false)), s) << "text: '" << s << "'";
  }
}

TEST_F(Spm, BadInputIsAClearError) {
  EXPECT_THROW(tok.decode(Ids{int32_t(v.size())}), Error);
  EXPECT_THROW(tok.decode(Ids{-1}), Error);
  EXPECT_THROW(tok.token_piece(int32_t(v.size())), Error);
  gguf::Metadata md;
  testing::set_vocab(md, "llama", v);
  md.set("tokenizer.ggml.scores", gguf::Value::make_f32_array({1.0f, 2.0f}));  // wrong length
  EXPECT_THROW(Tokenizer::from_metadata(md), Error);
  testing::set_vocab(md, "llama", v);
  md.set("tokenizer.ggml.bos_token_id", gguf::Value::make_u32(uint32_t(v.size())));  // outside the vocabulary
  EXPECT_THROW(Tokenizer::from_metadata(md), Error);
  md.erase("tokenizer.ggml.bos_token_id");
  Tokenizer no_bos = Tokenizer::from_metadata(md);
  EXPECT_THROW(no_bos.encode("hello", true, false), Error);  // BOS asked for, none defined
}

}  // namespace
}  // namespace frugal::tokenizer

namespace frugal::tokenizer {
namespace {

TEST_F(Spm, AnInvalidByteIsOneByteTokenAndLeavesItsNeighboursAlone) {
  // 0xE9 leads a three-byte character: it used to swallow the two bytes after
  // it (here the first two bytes of the escaped space), breaking "▁world".
  EXPECT_EQ(tok.encode("hello\xE9 world", false, false),
            (Ids{id(kSpace + "hello"), id("<0xE9>"), id(kSpace + "world")}));
  EXPECT_EQ(tok.decode(tok.encode("hello\xE9 world", false, false)), "hello\xE9 world");
}

TEST_F(Spm, ALongRunOfOneCharacterMergesFully) {
  // 2^18 "a": "aa" merges pairwise; quadratic merging would take many minutes.
  Tokenizer plain = make(v, false);
  const size_t n = size_t(1) << 18;
  const Ids ids = plain.encode(std::string(n, 'a'), false, false);
  ASSERT_EQ(ids.size(), n / 2);
  EXPECT_TRUE(std::all_of(ids.begin(), ids.end(), [&](int32_t x) { return x == id("aa"); }));
}

}  // namespace
}  // namespace frugal::tokenizer

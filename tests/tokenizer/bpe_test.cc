// Byte-level BPE ("gpt2") on a hand-built vocabulary: 256 byte tokens in
// GPT-2's byte-to-character spelling, a few merges whose ranks decide the
// order, the pre-tokenizer's word boundaries that no merge crosses, special
// tokens split out (longest first), and clear errors for broken metadata.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "base/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_fixtures.h"

namespace frugal::tokenizer {
namespace {

using testing::gpt2_spelling;
using testing::VocabEntry;
using Ids = std::vector<int32_t>;
using Strings = std::vector<std::string>;

struct BpeVocab {
  std::vector<VocabEntry> tokens = testing::gpt2_byte_tokens();
  Strings merges;
  std::string pre = "default";

  // Adds the merge "left right" (byte-level spellings) and its result token.
  void merge(const std::string& left, const std::string& right, bool add_token = true) {
    merges.push_back(gpt2_spelling(left) + " " + gpt2_spelling(right));
    if (add_token) tokens.push_back({gpt2_spelling(left + right)});
  }
  void special(const std::string& text, TokenType type = TokenType::CONTROL) { tokens.push_back({text, type}); }
  int32_t id(const std::string& text) const {
    int32_t i = testing::id_in(tokens, gpt2_spelling(text));
    if (i < 0) i = testing::id_in(tokens, text);  // specials are spelled as they are
    EXPECT_GE(i, 0) << text;
    return i;
  }
  gguf::Metadata metadata() const {
    gguf::Metadata md;
    testing::set_vocab(md, "gpt2", tokens);
    md.erase("tokenizer.ggml.scores");
    md.set("tokenizer.ggml.merges", gguf::Value::make_string_array(merges));
    md.set("tokenizer.ggml.pre", gguf::Value::make_string(pre));
    return md;
  }
  Tokenizer make() const { return Tokenizer::from_metadata(metadata()); }
};

Ids ids_of_bytes(const std::string& s) {
  Ids out;
  for (unsigned char c : s) out.push_back(int32_t(c));  // byte tokens have ids 0..255
  return out;
}

TEST(BpeFixture, ByteSpellingFollowsGpt2) {
  EXPECT_EQ(testing::gpt2_byte_char(' '), "Ġ");
  EXPECT_EQ(testing::gpt2_byte_char('\n'), "Ċ");
  EXPECT_EQ(testing::gpt2_byte_char('\t'), "ĉ");
  EXPECT_EQ(testing::gpt2_byte_char(0), "Ā");
  EXPECT_EQ(testing::gpt2_byte_char('A'), "A");
  EXPECT_EQ(testing::gpt2_byte_char(0xAD), "Ń");  // soft hyphen: the last of the 68 remapped bytes
  EXPECT_EQ(testing::gpt2_byte_char(0xE9), "é");
}

TEST(Bpe, LowestRankMergesFirst) {
  BpeVocab a;
  a.merge("b", "c");  // rank 0
  a.merge("a", "b");  // rank 1
  EXPECT_EQ(a.make().encode("abc", false, false), (Ids{'a', a.id("bc")}));
  BpeVocab b;
  b.merge("a", "b");
  b.merge("b", "c");
  EXPECT_EQ(b.make().encode("abc", false, false), (Ids{b.id("ab"), 'c'}));
}

TEST(Bpe, MergesChainIntoAWordWithItsSpace) {
  BpeVocab v;
  v.merge(" ", "t");
  v.merge("h", "e");
  v.merge(" t", "he");
  Tokenizer tok = v.make();
  EXPECT_EQ(tok.encode(" the", false, false), (Ids{v.id(" the")}));
  EXPECT_EQ(tok.encode("the", false, false), (Ids{'t', v.id("he")}));
  EXPECT_EQ(tok.encode("the the", false, false), (Ids{'t', v.id("he"), v.id(" the")}));
  EXPECT_EQ(tok.token_piece(v.id(" the")), "Ġthe");
  EXPECT_EQ(tok.token_bytes(v.id(" the")), " the");
  EXPECT_EQ(tok.decode(tok.encode("the the", false, false)), "the the");
}

TEST(Bpe, NoMergeCrossesAPreTokenizerBoundary) {
  BpeVocab v;
  v.merge("o", " ");  // "o" then a space: the pre-tokenizer puts them in two words
  v.merge("g", "o");
  Tokenizer tok = v.make();
  EXPECT_EQ(tok.encode("go on", false, false), (Ids{v.id("go"), ' ', 'o', 'n'}));
}

TEST(Bpe, AMergeWhoseResultIsNoTokenFallsBackToBytes) {
  BpeVocab v;
  v.merge("x", "y", /*add_token=*/false);
  EXPECT_EQ(v.make().encode("xy", false, false), (Ids{'x', 'y'}));
}

TEST(Bpe, AMergeWithASideThatIsNoTokenIsFoundByItsText) {
  // "x y" makes no token, yet "xy z" merges it on: such a line is looked up
  // by the text of its sides, as is a line whose text has several spaces.
  BpeVocab v;
  v.merge("x", "y", /*add_token=*/false);
  v.merge("xy", "z");
  Tokenizer tok = v.make();
  EXPECT_EQ(tok.encode("xyz", false, false), (Ids{v.id("xyz")}));
  EXPECT_EQ(tok.encode("xyw", false, false), (Ids{'x', 'y', 'w'}));
}

// The definition: merge the lowest-ranked adjacent pair (the leftmost among
// equal ranks) until none is left, on the pieces' text; then each piece is
// its token, or its bytes' tokens when it is none.
Ids textbook_bpe(const std::string& word, const BpeVocab& v) {
  std::map<std::string, size_t> rank;
  for (size_t r = 0; r < v.merges.size(); ++r) rank.emplace(v.merges[r], r);
  Strings parts;
  for (char c : word) parts.emplace_back(1, c);
  for (;;) {
    size_t best = parts.size(), best_rank = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      const auto it = rank.find(gpt2_spelling(parts[i]) + " " + gpt2_spelling(parts[i + 1]));
      if (it != rank.end() && (best == parts.size() || it->second < best_rank)) {
        best = i;
        best_rank = it->second;
      }
    }
    if (best == parts.size()) break;
    parts[best] += parts[best + 1];
    parts.erase(parts.begin() + std::ptrdiff_t(best) + 1);
  }
  Ids out;
  for (const std::string& p : parts) {
    const int32_t id = testing::id_in(v.tokens, gpt2_spelling(p));
    if (id >= 0) out.push_back(id);
    else for (int32_t b : ids_of_bytes(p)) out.push_back(b);
  }
  return out;
}

TEST(Bpe, RandomMergeTablesGiveTheDefinitionsIds) {
  // Short and long words (merged by rescanning, or through the queue), ranks
  // in training order or not, results that are no token, sides merged by
  // text: every way a pair is looked up (by two bytes, by two ids, by text).
  std::mt19937 rng(9);
  for (int trial = 0; trial < 200; ++trial) {
    BpeVocab v;
    // Merges may join single bytes of "é" (C3 A9); words are made of a, b, c
    // and whole "é", letters all, so the pre-tokenizer keeps a word whole.
    Strings pieces = {"a", "b", "c", "\xC3", "\xA9"};
    const Strings units = {"a", "b", "c", "\xC3\xA9"};
    std::map<std::string, bool> seen;
    for (int k = 0; k < 25; ++k) {
      const std::string l = pieces[rng() % pieces.size()], r = pieces[rng() % pieces.size()];
      const std::string line = gpt2_spelling(l) + " " + gpt2_spelling(r);
      if (seen[line]) continue;
      seen[line] = true;
      const bool token = rng() % 4 != 0;
      const bool is_new = testing::id_in(v.tokens, gpt2_spelling(l + r)) < 0;
      v.merge(l, r, token && is_new);
      if (trial % 2 == 1 && v.merges.size() > 1)  // out of training order: a later line ranked first
        std::swap(v.merges.back(), v.merges[rng() % v.merges.size()]);
      pieces.push_back(l + r);
    }
    const Tokenizer tok = v.make();
    for (int w = 0; w < 10; ++w) {
      std::string word;
      const size_t n = 1 + rng() % (w < 5 ? 12 : 200);
      for (size_t i = 0; i < n; ++i) word += units[rng() % units.size()];
      ASSERT_EQ(tok.encode(word, false, false), textbook_bpe(word, v)) << "trial " << trial << " word " << word;
    }
  }
}

TEST(Bpe, WholeWordTokensWinForLlama3) {
  BpeVocab v;
  v.tokens.push_back({"hello"});  // a token no merge reaches
  v.pre = "llama3";
  EXPECT_EQ(v.make().encode("hello", false, false), (Ids{v.id("hello")}));
  v.pre = "default";
  EXPECT_EQ(v.make().encode("hello", false, false), ids_of_bytes("hello"));
}

TEST(Bpe, SpecialTokensAreSplitOutLongestFirst) {
  BpeVocab v;
  v.special("<|endoftext|>");
  v.special("<|im");  // a shorter special that is a prefix of the next
  v.special("<|im_start|>");
  v.special("<|im_end|>");
  Tokenizer tok = v.make();
  const int32_t eot = v.id("<|endoftext|>"), start = v.id("<|im_start|>"), end = v.id("<|im_end|>");
  EXPECT_EQ(tok.encode("a<|endoftext|>b", false, true), (Ids{'a', eot, 'b'}));
  EXPECT_EQ(tok.encode("<|im_start|>x<|im_end|>", false, true), (Ids{start, 'x', end}));
  EXPECT_EQ(tok.encode("<|imx", false, true), (Ids{v.id("<|im"), 'x'}));
  // Without parse_special the spelling is ordinary text.
  EXPECT_EQ(tok.encode("a<|endoftext|>b", false, false), ids_of_bytes("a<|endoftext|>b"));
  EXPECT_EQ(tok.decode(Ids{'a', eot, 'b'}), "a<|endoftext|>b");
  EXPECT_TRUE(tok.is_end_of_generation(end));  // <|im_end|> as a control token ends a turn
  EXPECT_FALSE(tok.is_end_of_generation(start));
  EXPECT_FALSE(tok.is_end_of_generation('a'));
}

TEST(Bpe, UserDefinedTokensAreSplitOutToo) {
  BpeVocab v;
  v.special("<tool>", TokenType::USER_DEFINED);
  v.special("<unused>", TokenType::UNUSED);  // unused tokens are never matched in text
  Tokenizer tok = v.make();
  EXPECT_EQ(tok.encode("a<tool>", false, true), (Ids{'a', v.id("<tool>")}));
  EXPECT_EQ(tok.encode("<unused>", false, true), ids_of_bytes("<unused>"));
}

TEST(Bpe, BosAndEosIds) {
  BpeVocab v;
  v.special("<|endoftext|>");
  gguf::Metadata md = v.metadata();
  const int32_t eot = v.id("<|endoftext|>");
  md.set("tokenizer.ggml.bos_token_id", gguf::Value::make_u32(uint32_t(eot)));
  md.set("tokenizer.ggml.eos_token_id", gguf::Value::make_u32(uint32_t(eot)));
  Tokenizer tok = Tokenizer::from_metadata(md);
  EXPECT_FALSE(tok.add_bos_default());  // "gpt2" vocabularies add no BOS unless told to
  EXPECT_EQ(tok.encode("hi", true, true), (Ids{eot, 'h', 'i'}));
  EXPECT_TRUE(tok.is_end_of_generation(eot));
  md.set("tokenizer.ggml.add_bos_token", gguf::Value::make_bool(true));
  EXPECT_TRUE(Tokenizer::from_metadata(md).add_bos_default());
}

TEST(Bpe, RoundTripOfRandomBytesAndUtf8) {
  BpeVocab v;
  v.merge(" ", "t");
  v.merge("h", "e");
  v.merge(" t", "he");
  v.merge("\xE4", "\xBD");  // a merge inside one Chinese character
  v.special("<|endoftext|>");
  Tokenizer tok = v.make();
  std::mt19937 rng(11);
  const Strings alphabet = {"the", " the", " ", "\n", "\r\n", "你", "好", "é", "😀", "123", "'s", "!?", "<|endoftext|>", "\t"};
  for (int trial = 0; trial < 300; ++trial) {
    std::string s;
    int n = int(rng() % 16);
    for (int k = 0; k < n; ++k) s += alphabet[rng() % alphabet.size()];
    if (trial % 3 == 0) s += char(0x80 | (rng() % 64));  // a stray continuation byte: still round trips
    for (bool special : {false, true}) EXPECT_EQ(tok.decode(tok.encode(s, false, special)), s) << "text: '" << s << "'";
  }
}

TEST(Bpe, BrokenMetadataIsAClearError) {
  BpeVocab v;
  auto message = [](const gguf::Metadata& md) {
    try {
      Tokenizer::from_metadata(md);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  gguf::Metadata md = v.metadata();
  md.set("tokenizer.ggml.model", gguf::Value::make_string("bert"));
  EXPECT_NE(message(md).find("bert"), std::string::npos) << message(md);
  md = v.metadata();
  md.set("tokenizer.ggml.pre", gguf::Value::make_string("no-such-pre"));
  EXPECT_NE(message(md).find("no-such-pre"), std::string::npos) << message(md);
  md = v.metadata();
  md.set("tokenizer.ggml.token_type", gguf::Value::make_i32_array({1, 1, 1}));
  EXPECT_NE(message(md).find("token_type"), std::string::npos) << message(md);
  md = v.metadata();
  md.set("tokenizer.ggml.eos_token_id", gguf::Value::make_u32(100000));
  EXPECT_NE(message(md).find("eos_token_id"), std::string::npos) << message(md);
  md = v.metadata();
  md.set("tokenizer.ggml.tokens", gguf::Value::make_string_array({}));
  EXPECT_THROW(Tokenizer::from_metadata(md), Error);
  md = v.metadata();
  md.erase("tokenizer.ggml.tokens");
  EXPECT_THROW(Tokenizer::from_metadata(md), Error);
  Tokenizer tok = v.make();
  EXPECT_THROW(tok.decode(Ids{256}), Error);
  EXPECT_THROW(tok.token_bytes(-5), Error);
}

}  // namespace
}  // namespace frugal::tokenizer

namespace frugal::tokenizer {
namespace {

TEST(BpeHostileInput, AQuarterMegabyteOfSpacesMergesFully) {
  // One pre-token of 2^18 spaces. Rescanning every pair after each merge took
  // 70 s for 2^16 spaces and would take about 20 minutes here; the queue
  // takes a fraction of a second. The merges double the run of spaces up to 8.
  BpeVocab v;
  v.merge(" ", " ");
  v.merge("  ", "  ");
  v.merge("    ", "    ");
  const size_t n = size_t(1) << 18;
  const Ids ids = v.make().encode(std::string(n, ' '), false, false);
  ASSERT_EQ(ids.size(), n / 8);
  EXPECT_TRUE(std::all_of(ids.begin(), ids.end(), [&](int32_t id) { return id == v.id("        "); }));
}

TEST(BpeHostileInput, ABadByteChangesOnlyItsOwnTokens) {
  // The bad byte is a piece of its own, as U+FFFD would be; the words before
  // it keep their merges (the whole text was one piece, merged across words).
  BpeVocab v;
  v.merge("e", " ");  // first in rank: merges across words when the text is one piece
  v.merge(" ", "t");
  v.merge("h", "e");
  v.merge(" t", "he");
  Tokenizer tok = v.make();
  std::string good;
  for (int i = 0; i < 200; ++i) good += "the the ";
  const Ids clean = tok.encode(good + "x", false, false);
  Ids bad = tok.encode(good + "x\xE9", false, false);
  ASSERT_EQ(bad.size(), clean.size() + 1);
  EXPECT_TRUE(std::equal(clean.begin(), clean.end(), bad.begin()));
  EXPECT_EQ(bad.back(), 0xE9);  // the byte's own token: decoding gives the byte back
  EXPECT_EQ(tok.decode(bad), good + "x\xE9");
}

}  // namespace
}  // namespace frugal::tokenizer

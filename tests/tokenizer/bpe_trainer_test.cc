// Byte-level BPE training: hand-checked merges, agreement with a naive
// recount-everything trainer, round trips over every Unicode plane, special
// tokens, vocabulary size, the GGUF keys and the tokenizer.json.
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "base/error.h"
#include "tokenizer/bpe_trainer.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"

namespace frugal::tokenizer {
namespace {

Tokenizer tokenizer_of(const BpeVocab& v) {
  gguf::Metadata md;
  vocab_to_metadata(v, md);
  return Tokenizer::from_metadata(md);
}

TEST(BpeTrainer, MergesOfATinyCorpusByHand) {
  // Words: "hug", " hug" x2, " pug", " pun", " bun". Pair counts: u g 4, h u 3,
  // then (after "ug") h ug 3; then Ġ p, Ġ hug, u n all 2: the smallest ids first
  // (Ġ is byte 32, hug is id 258). Every other pair occurs once.
  BpeTrainOptions o;
  o.vocab_size = 1000;
  BpeTrainer t(o);
  t.add_text("hug hug hug pug pun bun");
  BpeVocab v = t.train();
  EXPECT_EQ(v.merges, (std::vector<std::string>{"u g", "h ug", "Ġ p", "Ġ hug", "u n"}));
  ASSERT_EQ(v.tokens.size(), 256u + 1u + 5u);  // stopped: no pair left twice
  EXPECT_EQ(v.tokens[256], "<|endoftext|>");
  EXPECT_EQ(v.tokens[257], "ug");
  EXPECT_EQ(v.tokens[260], "Ġhug");
  EXPECT_EQ(v.words, 6u);
  EXPECT_EQ(v.unique_words, 5u);
  Tokenizer tok = tokenizer_of(v);
  EXPECT_EQ(tok.encode(" hug pun", false, true), (std::vector<int32_t>{260, 259, 261}));
}

// The same training, recounting every pair from scratch before each merge.
std::vector<std::string> naive_merges(const std::vector<std::string>& words, int n_merges) {
  std::vector<std::vector<std::string>> syms;  // byte-level spellings
  for (const auto& w : words) {
    syms.emplace_back();
    for (unsigned char c : w) syms.back().push_back(byte_map().byte_to_utf8[c]);
  }
  std::map<std::string, int32_t> id;  // spelling -> id (bytes in byte order, then merges)
  for (int b = 0; b < 256; ++b) id[byte_map().byte_to_utf8[b]] = b;
  int32_t next = 257;  // one special token at 256
  std::vector<std::string> merges;
  for (int m = 0; m < n_merges; ++m) {
    std::map<std::pair<int32_t, int32_t>, int64_t> count;
    for (const auto& s : syms)
      for (size_t i = 0; i + 1 < s.size(); ++i) ++count[{id[s[i]], id[s[i + 1]]}];
    std::pair<int32_t, int32_t> best{-1, -1};
    int64_t best_n = 1;  // min_frequency 2
    for (const auto& [p, n] : count)
      if (n > best_n) { best = p; best_n = n; }  // map order: ties keep the smallest pair
    if (best.first < 0) break;
    std::string a, b;
    for (const auto& [s, i] : id) { if (i == best.first) a = s; if (i == best.second) b = s; }
    merges.push_back(a + " " + b);
    id[a + b] = next++;
    for (auto& s : syms) {
      std::vector<std::string> out;
      for (size_t i = 0; i < s.size();) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) { out.push_back(a + b); i += 2; }
        else out.push_back(s[i++]);
      }
      s = out;
    }
  }
  return merges;
}

std::string random_utf8(std::mt19937& rng, int n_chars, bool all_planes) {
  std::string s;
  for (int i = 0; i < n_chars; ++i) {
    uint32_t cp;
    int kind = rng() % 10;
    if (!all_planes || kind < 5) cp = "abcde fghij\n.,'0123"[rng() % 19];
    else if (kind < 7) cp = 0x80 + rng() % (0x800 - 0x80);
    else if (kind < 9) { do cp = 0x800 + rng() % (0x10000 - 0x800); while (cp >= 0xD800 && cp <= 0xDFFF); }
    else cp = 0x10000 + rng() % (0x110000 - 0x10000);
    if (cp < 0x80) s += char(cp);
    else if (cp < 0x800) { s += char(0xC0 | (cp >> 6)); s += char(0x80 | (cp & 0x3F)); }
    else if (cp < 0x10000) { s += char(0xE0 | (cp >> 12)); s += char(0x80 | ((cp >> 6) & 0x3F)); s += char(0x80 | (cp & 0x3F)); }
    else { s += char(0xF0 | (cp >> 18)); s += char(0x80 | ((cp >> 12) & 0x3F)); s += char(0x80 | ((cp >> 6) & 0x3F)); s += char(0x80 | (cp & 0x3F)); }
  }
  return s;
}

TEST(BpeTrainer, IncrementalCountsAgreeWithANaiveRecount) {
  std::mt19937 rng(5);
  std::string text = random_utf8(rng, 6000, false);
  BpeTrainOptions o;
  o.vocab_size = 256 + 1 + 120;
  BpeTrainer t(o);
  t.add_text(text);
  BpeVocab v = t.train();
  std::vector<std::string> words;
  for (auto w : make_pretokenizer("default")->split(text)) words.emplace_back(w);
  EXPECT_EQ(v.merges, naive_merges(words, 120));
  EXPECT_EQ(v.tokens.size(), 377u);  // the size asked for
}

TEST(BpeTrainer, RoundTripsRandomTextOfEveryPlane) {
  std::mt19937 rng(11);
  for (const char* pre : {"default", "qwen2", "llama3", "gpt-4o", "deepseek-v3"}) {
    BpeTrainOptions o;
    o.vocab_size = 700;
    o.pre = pre;
    BpeTrainer t(o);
    t.add_text(random_utf8(rng, 20000, true));
    Tokenizer tok = tokenizer_of(t.train());
    for (int i = 0; i < 200; ++i) {
      std::string s = random_utf8(rng, 1 + rng() % 60, true);
      EXPECT_EQ(tok.decode(tok.encode(s, false, true)), s) << pre;
    }
  }
}

TEST(BpeTrainer, SpecialTokensNeverSplitNorLearnt) {
  BpeTrainOptions o;
  o.vocab_size = 600;
  o.specials = {"<|endoftext|>", "<|sep|>"};
  o.chatml = true;
  BpeTrainer t(o);
  std::string text;
  for (int i = 0; i < 200; ++i) text += "one document<|endoftext|>another<|sep|>";
  t.add_text(text);
  BpeVocab v = t.train();
  EXPECT_EQ(v.tokens[256], "<|endoftext|>");
  EXPECT_EQ(v.tokens[257], "<|sep|>");
  EXPECT_EQ(v.tokens[258], "<|im_start|>");
  EXPECT_EQ(v.tokens[259], "<|im_end|>");
  EXPECT_EQ(v.token_types[259], int32_t(TokenType::CONTROL));
  EXPECT_EQ(v.bos, 256);
  EXPECT_EQ(v.eos, 256);
  for (size_t id = 260; id < v.tokens.size(); ++id) {
    EXPECT_EQ(v.tokens[id].find("<|"), std::string::npos) << v.tokens[id];  // "<|" only ever sat in specials
  }
  Tokenizer tok = tokenizer_of(v);
  auto ids = tok.encode("x<|im_start|>user\nhi<|im_end|><|endoftext|>", false, true);
  EXPECT_EQ(ids[1], 258);
  EXPECT_EQ(ids[ids.size() - 2], 259);
  EXPECT_EQ(ids.back(), 256);
  gguf::Metadata md;
  vocab_to_metadata(v, md);
  EXPECT_EQ(apply_chat_template(md, {{"user", "hi", ""}}, true), "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

TEST(BpeTrainer, TokenizerJsonHoldsTheVocabulary) {
  BpeTrainOptions o;
  o.vocab_size = 300;
  o.pre = "qwen2";
  BpeTrainer t(o);
  t.add_text("the cat and the hat and the bat sat on the mat");
  BpeVocab v = t.train();
  auto j = nlohmann::json::parse(vocab_to_tokenizer_json(v));
  EXPECT_EQ(j["model"]["type"], "BPE");
  EXPECT_EQ(j["model"]["merges"].size(), v.merges.size());
  EXPECT_EQ(j["model"]["vocab"].size() + j["added_tokens"].size(), v.tokens.size());
  EXPECT_EQ(j["added_tokens"][0]["content"], "<|endoftext|>");
  EXPECT_EQ(j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"], pretokenizer_regexes("qwen2")[0]);
  auto cfg = nlohmann::json::parse(vocab_to_tokenizer_config_json(v));
  EXPECT_EQ(cfg["eos_token"], "<|endoftext|>");
}

TEST(BpeTrainer, BadOptionsAreClearErrors) {
  BpeTrainOptions o;
  o.vocab_size = 256;
  EXPECT_THROW(BpeTrainer{o}, Error);  // no room for <|endoftext|>
  o.vocab_size = 1000;
  o.pre = "bert";
  EXPECT_THROW(BpeTrainer{o}, Error);
  o.pre = "default";
  o.specials = {"<a>", "<a>"};
  EXPECT_THROW(BpeTrainer{o}, Error);
}

}  // namespace
}  // namespace frugal::tokenizer

namespace frugal::tokenizer {
namespace {

TEST(BpeTrainer, OverlappingPairsInRunsAgreeWithANaiveRecount) {
  // Runs of one or two characters: occurrences of a pair overlap ("a a a"),
  // and a merge must take them left to right as a scan of the word does.
  std::string text;
  for (int n : {1, 2, 3, 4, 5, 7, 8, 9, 16, 31, 64}) text += std::string(size_t(n), 'a') + " ";
  for (int n : {3, 6, 11, 40}) {
    for (int k = 0; k < n; ++k) text += "ab";
    text += " aab" + std::string(size_t(n), 'b') + " ";
  }
  BpeTrainOptions o;
  o.vocab_size = 256 + 1 + 40;
  BpeTrainer t(o);
  t.add_text(text);
  const BpeVocab v = t.train();
  std::vector<std::string> words;
  for (auto w : make_pretokenizer("default")->split(text)) words.emplace_back(w);
  EXPECT_GE(v.merges.size(), 20u);
  EXPECT_EQ(v.merges, naive_merges(words, int(v.merges.size())));
}

TEST(BpeTrainer, AHalfMegabyteWordTrains) {
  // One pre-token of 2^19 random digits. Rescanning the whole word at every
  // merge took about a second per 50 KB; the occurrences of each pair are
  // now indexed, so this takes a fraction of a second.
  std::mt19937 rng(3);
  std::string digits;
  for (size_t i = 0; i < (size_t(1) << 19); ++i) digits += char('0' + rng() % 10);
  BpeTrainOptions o;
  o.vocab_size = 256 + 1 + 1000;
  BpeTrainer t(o);
  t.add_text(digits);
  const BpeVocab v = t.train();
  ASSERT_EQ(v.merges.size(), 1000u);
  for (const std::string& m : v.merges)
    EXPECT_EQ(m.find_first_not_of("0123456789 "), std::string::npos) << m;
}

}  // namespace
}  // namespace frugal::tokenizer

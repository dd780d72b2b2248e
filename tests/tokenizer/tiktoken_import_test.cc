// import_tiktoken on hand-written tiktoken vocabularies: the byte-level
// tokens and the merges recovered from the ranks, a tokenizer built from them
// splitting text as rank-ordered BPE does, the special tokens and ids from
// tokenizer_config.json, and clear errors for what it cannot represent. (The
// full-size check against a tiktoken port is tests/conformance/tiktoken_test.sh.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/base64.h"
#include "base/error.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/tokenizer.h"

namespace frugal::tokenizer {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Strings = std::vector<std::string>;


// Kimi-K2's tokenizer class, two special tokens after the ranks, [BOS]/[EOS].
json kimi_config(int64_t first_special) {
  return {{"auto_map", {{"AutoTokenizer", {"tokenization_kimi.TikTokenTokenizer", nullptr}}}},
          {"added_tokens_decoder",
           {{std::to_string(first_special), {{"content", "[BOS]"}, {"special", true}}},
            {std::to_string(first_special + 1), {{"content", "[EOS]"}, {"special", true}}}}},
          {"bos_token", "[BOS]"},
          {"eos_token", {{"content", "[EOS]"}}}};
}

struct TiktokenDir {
  fs::path dir;
  explicit TiktokenDir(const std::string& name) {
    dir = fs::temp_directory_path() / ("frugal_tiktoken_test_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~TiktokenDir() { fs::remove_all(dir); }
  // ranks: the file's lines as they are; config: tokenizer_config.json (null: none).
  std::string write(const std::string& lines, const json& config) const {
    std::ofstream(dir / "tiktoken.model", std::ios::binary) << lines;
    if (!config.is_null()) std::ofstream(dir / "tokenizer_config.json") << config.dump();
    return (dir / "tiktoken.model").string();
  }
};

// The 256 bytes at ranks in an order of their own (255 first), then "th",
// "e ", "the", "the " ranked so that "the " is made of "the" + " ", not
// "th" + "e ": rank order decides.
std::string small_vocab(int64_t& n_ranks) {
  std::string lines;
  int64_t r = 0;
  for (int b = 255; b >= 0; --b) lines += encode_base64(std::string(1, char(b))) + " " + std::to_string(r++) + "\n";
  for (const char* t : {"th", "he", "the", "e ", "the "}) lines += encode_base64(t) + " " + std::to_string(r++) + "\n";
  n_ranks = r;
  return lines;
}

TEST(TiktokenImport, TokensMergesAndSpecials) {
  TiktokenDir d("ok");
  int64_t n = 0;
  const std::string lines = small_vocab(n);
  const std::string path = d.write(lines, kimi_config(n));
  ASSERT_TRUE(is_tiktoken_file(path));
  gguf::Metadata md;
  import_hf_tokenizer(path, md);  // dispatches on the file's name
  EXPECT_EQ(md.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(md.get_string("tokenizer.ggml.pre"), "kimi-k2");
  const Strings tokens = md.get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), size_t(n + 2));
  EXPECT_EQ(tokens[0], "\xC3\xBF");  // byte 255 in GPT-2's byte mapping: U+00FF
  EXPECT_EQ(tokens[256], "th");
  EXPECT_EQ(tokens[n - 1], "the\xC4\xA0");  // "the " with the space as U+0120
  EXPECT_EQ(tokens[n], "[BOS]");
  // "he" (rank 257) comes before "the" (258), yet "the" is "th" + "e": with
  // only ranks below 258, BPE of "t","h","e" merges "th" (256) first.
  const Strings merges = md.get_string_array("tokenizer.ggml.merges");
  EXPECT_EQ(merges, (Strings{"t h", "h e", "th e", "e \xC4\xA0", "the \xC4\xA0"}));
  EXPECT_EQ(md.get_uint("tokenizer.ggml.bos_token_id"), uint64_t(n));
  EXPECT_EQ(md.get_uint("tokenizer.ggml.eos_token_id"), uint64_t(n + 1));

  // A tokenizer from these keys encodes as tiktoken would.
  const Tokenizer tok = Tokenizer::from_metadata(md);
  EXPECT_EQ(tok.encode("the", false, true), (std::vector<int32_t>{258}));
  EXPECT_EQ(tok.encode("[BOS]the", false, true), (std::vector<int32_t>{int32_t(n), 258}));
  EXPECT_EQ(tok.decode(tok.encode("then the", false, true)), "then the");
}

TEST(TiktokenImport, ErrorsNameTheProblem) {
  int64_t n = 0;
  const std::string good = small_vocab(n);
  auto expect_error = [&](const std::string& name, const std::string& lines, const json& config,
                          const std::string& want) {
    TiktokenDir d(name);
    gguf::Metadata md;
    try {
      import_tiktoken(d.write(lines, config), md);
      ADD_FAILURE() << name << ": no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << name << ": " << e.what();
    }
  };
  expect_error("malformed", good + "not-base64! 300\n", kimi_config(n), "not \"BASE64 RANK\"");
  expect_error("no-rank", good + encode_base64("xy") + "\n", kimi_config(n), "not \"BASE64 RANK\"");
  expect_error("twice", good + encode_base64("xy") + " 256\n", kimi_config(n), "rank 256 given twice");
  expect_error("same-bytes", good + encode_base64("th") + " 400\n", kimi_config(n), "the same bytes as rank 256");
  std::string no_a;
  for (int b = 0; b < 256; ++b)
    if (b != 'a') no_a += encode_base64(std::string(1, char(b))) + " " + std::to_string(b) + "\n";
  expect_error("missing-byte", no_a, kimi_config(300), "byte 97 is not a token");
  expect_error("unreachable", good + encode_base64("xyz") + " " + std::to_string(n) + "\n", kimi_config(n + 1),
               "no merge of lower ranks makes this token");
  expect_error("long-token", good + encode_base64(std::string(513, 'a')) + " 300\n", kimi_config(n + 100),
               "a token of 513 bytes (at most 512)");
  expect_error("sparse", good + encode_base64("xy") + " 70000\n", kimi_config(n), "ids unused");
  expect_error("far-special", good, kimi_config(n + 70000), "ids unused");
  expect_error("no-config", good, json(), "tokenizer_config.json is missing");
  expect_error("other-class", good, json{{"auto_map", {{"AutoTokenizer", {"tokenization_other.Tok", nullptr}}}}},
               "tokenization_other.Tok");
  json clash = kimi_config(n);
  clash["added_tokens_decoder"]["256"] = {{"content", "<x>"}, {"special", true}};
  expect_error("clash", good, clash, "takes the id of a vocabulary token");
}

}  // namespace
}  // namespace frugal::tokenizer

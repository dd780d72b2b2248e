// hf_import on hand-written tokenizer.json files: byte-level BPE and
// SentencePiece-style (Metaspace, byte fallback) vocabularies, added tokens
// and their types, ids from tokenizer_config.json, the pre-tokenizer named by
// its regexes, and clear errors for files it cannot represent.
#include "tokenizer/hf_import.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/error.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab_fixtures.h"

namespace frugal::tokenizer {
namespace {

using json = nlohmann::ordered_json;
using Ids = std::vector<int32_t>;
using Strings = std::vector<std::string>;
namespace fs = std::filesystem;

// A fresh directory per test holding tokenizer.json (and the config, if given).
struct HfDir {
  fs::path dir;
  explicit HfDir(const std::string& name) {
    dir = fs::temp_directory_path() / ("frugal_hf_import_test_" + name + "_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~HfDir() { fs::remove_all(dir); }
  std::string write(const json& tokenizer, const json& config = json()) const {
    std::ofstream(dir / "tokenizer.json") << tokenizer.dump();
    if (!config.is_null()) std::ofstream(dir / "tokenizer_config.json") << config.dump();
    return (dir / "tokenizer.json").string();
  }
};

// Byte-level BPE: the 256 byte tokens, "Ġt" + "he" -> "Ġthe" by merges given
// in both spellings ("a b" and ["a", "b"]), and two added tokens.
json byte_level_json() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[testing::gpt2_byte_char(b)] = b;
  vocab["Ġt"] = 256;
  vocab["he"] = 257;
  vocab["Ġthe"] = 258;
  return {
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array({"Ġ t", "h e", json::array({"Ġt", "he"})})}}},
      {"pre_tokenizer", {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}}},
      {"added_tokens",
       json::array({{{"id", 260}, {"content", "<|endoftext|>"}, {"special", true}},
                    {{"id", 261}, {"content", "<tool>"}, {"special", false}}})},
  };
}

TEST(HfImport, ByteLevelBpe) {
  HfDir d("bpe");
  json cfg = {{"bos_token", nullptr}, {"eos_token", {{"content", "<|endoftext|>"}}}, {"add_bos_token", false},
              {"chat_template", "{{ messages[0].content }}"}};
  gguf::Metadata md;
  import_hf_tokenizer(d.write(byte_level_json(), cfg), md);
  EXPECT_EQ(md.get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(md.get_string("tokenizer.ggml.pre"), "gpt-2");
  Strings tokens = md.get_string_array("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 262u);  // id 259 is a hole
  EXPECT_EQ(tokens[258], "Ġthe");
  EXPECT_EQ(tokens[260], "<|endoftext|>");
  std::vector<int64_t> types = md.get_int_array("tokenizer.ggml.token_type");
  EXPECT_EQ(types[258], int64_t(TokenType::NORMAL));
  EXPECT_EQ(types[259], int64_t(TokenType::UNUSED));
  EXPECT_EQ(types[260], int64_t(TokenType::CONTROL));       // special added token
  EXPECT_EQ(types[261], int64_t(TokenType::USER_DEFINED));  // plain added token
  EXPECT_EQ(md.get_string_array("tokenizer.ggml.merges"), (Strings{"Ġ t", "h e", "Ġt he"}));
  EXPECT_EQ(md.get_uint("tokenizer.ggml.eos_token_id"), 260u);
  EXPECT_FALSE(md.has("tokenizer.ggml.bos_token_id"));
  EXPECT_FALSE(md.get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_EQ(md.get_string("tokenizer.chat_template"), "{{ messages[0].content }}");

  Tokenizer tok = Tokenizer::from_metadata(md);
  EXPECT_EQ(tok.encode("the the<|endoftext|><tool>", false, true), (Ids{'t', 257, 258, 260, 261}));
  EXPECT_EQ(tok.eos(), 260);
  EXPECT_TRUE(tok.is_end_of_generation(260));
}

TEST(HfImport, NamedChatTemplateAndNoConfig) {
  HfDir d("named");
  json cfg = {{"chat_template", json::array({{{"name", "tool_use"}, {"template", "T"}}, {{"name", "default"}, {"template", "D"}}})}};
  gguf::Metadata md;
  import_hf_tokenizer(d.write(byte_level_json(), cfg), md);
  EXPECT_EQ(md.get_string("tokenizer.chat_template"), "D");
  HfDir bare("bare");
  gguf::Metadata md2;
  import_hf_tokenizer(bare.write(byte_level_json()), md2);  // no tokenizer_config.json beside it
  EXPECT_FALSE(md2.has("tokenizer.chat_template"));
  EXPECT_FALSE(md2.has("tokenizer.ggml.eos_token_id"));
}

TEST(HfImport, PreTokenizerFoundByItsRegexes) {
  // Qwen2's Split regexes (with ByteLevel doing no splitting of its own), once
  // with escapes and once with raw CR/LF/TAB characters as some files have.
  for (bool raw : {false, true}) {
    json parts = json::array();
    for (std::string re : pretokenizer_regexes("qwen2")) {
      if (raw) {
        for (auto [esc, ch] : {std::pair{"\\r", '\r'}, std::pair{"\\n", '\n'}, std::pair{"\\t", '\t'}}) {
          size_t k = 0;
          while ((k = re.find(esc)) != std::string::npos) re.replace(k, 2, 1, ch);
        }
      }
      parts.push_back({{"type", "Split"}, {"pattern", {{"Regex", re}}}, {"behavior", "Isolated"}});
    }
    parts.push_back({{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}});
    json tj = byte_level_json();
    tj["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", parts}};
    HfDir d(raw ? "qwen2raw" : "qwen2");
    gguf::Metadata md;
    import_hf_tokenizer(d.write(tj), md);
    EXPECT_EQ(md.get_string("tokenizer.ggml.pre"), "qwen2") << (raw ? "raw" : "escaped");
  }
}

TEST(HfImport, MetaspaceWithByteFallbackIsSentencePiece) {
  json vocab = {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}};
  for (const auto& b : testing::spm_byte_tokens()) {
    const int id = int(vocab.size());
    vocab[b.piece] = id;
  }
  const std::string sp = "\xE2\x96\x81";
  for (const std::string& p : {sp, std::string("h"), std::string("i"), sp + "h", sp + "hi"}) {
    const int id = int(vocab.size());
    vocab[p] = id;
  }
  json tj = {
      {"model", {{"type", "BPE"}, {"vocab", vocab}, {"unk_token", "<unk>"}, {"byte_fallback", true},
                 {"merges", json::array({sp + " h", sp + "h i"})}}},
      {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", sp}, {"prepend_scheme", "first"}}},
      {"added_tokens", json::array({{{"id", 0}, {"content", "<unk>"}, {"special", true}},
                                    {{"id", 1}, {"content", "<s>"}, {"special", true}},
                                    {{"id", 2}, {"content", "</s>"}, {"special", true}}})},
  };
  HfDir d("spm");
  gguf::Metadata md;
  import_hf_tokenizer(d.write(tj, {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"add_bos_token", true}}), md);
  EXPECT_EQ(md.get_string("tokenizer.ggml.model"), "llama");
  EXPECT_FALSE(md.has("tokenizer.ggml.pre"));
  EXPECT_TRUE(md.get_bool("tokenizer.ggml.add_space_prefix"));
  std::vector<int64_t> types = md.get_int_array("tokenizer.ggml.token_type");
  EXPECT_EQ(types[0], int64_t(TokenType::UNKNOWN));
  EXPECT_EQ(types[1], int64_t(TokenType::CONTROL));
  EXPECT_EQ(types[3 + 0x41], int64_t(TokenType::BYTE));  // <0x41>
  Tokenizer tok = Tokenizer::from_metadata(md);
  EXPECT_TRUE(tok.add_bos_default());
  const int32_t sp_hi = vocab[sp + "hi"].get<int32_t>();
  EXPECT_EQ(tok.encode("hi", true, true), (Ids{1, sp_hi}));
  EXPECT_EQ(tok.encode("hi!", false, true), (Ids{sp_hi, 3 + '!'}));  // "!" has no piece: byte fallback
  EXPECT_EQ(tok.decode(tok.encode("hi!", false, true)), "hi!");
}

TEST(HfImport, WhatItCannotRepresentIsAClearError) {
  auto message = [](const std::string& name, const json& tj, bool raw_text = false) {
    HfDir d(name);
    std::string path = (d.dir / "tokenizer.json").string();
    if (raw_text) std::ofstream(path) << tj.get<std::string>();
    else d.write(tj);
    try {
      gguf::Metadata md;
      import_hf_tokenizer(path, md);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  auto contains = [](const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; };

  json wordpiece = byte_level_json();
  wordpiece["model"]["type"] = "WordPiece";
  EXPECT_TRUE(contains(message("wp", wordpiece), "WordPiece"));
  json digits = byte_level_json();
  digits["pre_tokenizer"] = {{"type", "Digits"}, {"individual_digits", true}};
  EXPECT_TRUE(contains(message("digits", digits), "Digits"));
  json odd_regex = byte_level_json();
  odd_regex["pre_tokenizer"] = {{"type", "Sequence"},
                                {"pretokenizers", json::array({{{"type", "Split"}, {"pattern", {{"Regex", "[a-z]+"}}}},
                                                               {{"type", "ByteLevel"}, {"use_regex", false}}})}};
  EXPECT_TRUE(contains(message("regex", odd_regex), "[a-z]+"));
  EXPECT_TRUE(contains(message("nomodel", json::object()), "model"));
  EXPECT_TRUE(contains(message("badjson", json("{\"model\": "), /*raw_text=*/true), "not valid JSON"));
  json bad_merge = byte_level_json();
  bad_merge["model"]["merges"] = json::array({json::array({"a", "b", "c"})});
  EXPECT_TRUE(contains(message("merge", bad_merge), "merge"));
  json bad_id = byte_level_json();
  bad_id["added_tokens"] = json::array({{{"id", -4}, {"content", "<x>"}}});
  EXPECT_TRUE(contains(message("id", bad_id), "out of range"));
  gguf::Metadata md;
  EXPECT_THROW(import_hf_tokenizer("/nonexistent/tokenizer.json", md), Error);
}

}  // namespace
}  // namespace frugal::tokenizer

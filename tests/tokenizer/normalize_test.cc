// Unicode normalisation before tokenizing: the normal forms themselves, a
// byte-level vocabulary that asks for NFC (as Qwen's do), special tokens left
// alone, and the tokenizer.json normalizer carried into GGUF by hf_import.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/normalize.h"
#include "tokenizer/tokenizer.h"
#include "vocab_fixtures.h"

namespace frugal::tokenizer {
namespace {

const std::string kDecomposed = "e\xCC\x81";  // e + COMBINING ACUTE ACCENT
const std::string kComposed = "\xC3\xA9";     // U+00E9
const std::string kLigature = "\xEF\xAC\x81";  // U+FB01 LATIN SMALL LIGATURE FI

TEST(Normalize, TheFourForms) {
  EXPECT_EQ(normalize(kDecomposed, Normalization::kNFC), kComposed);
  EXPECT_EQ(normalize(kComposed, Normalization::kNFD), kDecomposed);
  EXPECT_EQ(normalize(kLigature, Normalization::kNFC), kLigature);  // canonical forms keep compatibility characters
  EXPECT_EQ(normalize(kLigature, Normalization::kNFKC), "fi");
  EXPECT_EQ(normalize(kLigature + kComposed, Normalization::kNFKD), "fi" + kDecomposed);
  EXPECT_EQ(normalize(kDecomposed, Normalization::kNone), kDecomposed);
  const std::string invalid = "a\xFF" + kDecomposed;
  EXPECT_EQ(normalize(invalid, Normalization::kNFC), invalid);  // not UTF-8: left as it is
  EXPECT_EQ(parse_normalization("nfkc"), Normalization::kNFKC);
  EXPECT_EQ(parse_normalization(""), Normalization::kNone);
  EXPECT_THROW(parse_normalization("NFX"), Error);
}

gguf::Metadata byte_level_vocab(const std::string& normalizer) {
  auto vocab = testing::gpt2_byte_tokens();
  vocab.push_back({testing::gpt2_spelling(kComposed)});  // 256: "é" as one token
  vocab.push_back({"<|sep|>", TokenType::CONTROL});      // 257
  gguf::Metadata md;
  testing::set_vocab(md, "gpt2", vocab);
  md.set("tokenizer.ggml.pre", gguf::Value::make_string("default"));
  md.set("tokenizer.ggml.merges", gguf::Value::make_string_array({testing::gpt2_spelling("\xC3") + " " + testing::gpt2_spelling("\xA9")}));
  if (!normalizer.empty()) md.set("tokenizer.ggml.normalizer", gguf::Value::make_string(normalizer));
  return md;
}

TEST(Normalize, NfcVocabularyComposesBeforeMerging) {
  Tokenizer plain = Tokenizer::from_metadata(byte_level_vocab(""));
  Tokenizer nfc = Tokenizer::from_metadata(byte_level_vocab("NFC"));
  // Without a normaliser the decomposed é stays three bytes: e, 0xCC, 0x81.
  EXPECT_EQ(plain.encode(kDecomposed, false, true), (std::vector<int32_t>{'e', 0xCC, 0x81}));
  EXPECT_EQ(nfc.encode(kDecomposed, false, true), (std::vector<int32_t>{256}));
  EXPECT_EQ(nfc.encode(kComposed, false, true), (std::vector<int32_t>{256}));
  // Text on both sides of a special token is normalised; the special token is kept.
  EXPECT_EQ(nfc.encode(kDecomposed + "<|sep|>" + kDecomposed, false, true), (std::vector<int32_t>{256, 257, 256}));
  // Invalid UTF-8 still encodes every byte.
  EXPECT_EQ(nfc.encode("\xFF", false, true), (std::vector<int32_t>{0xFF}));
  EXPECT_THROW(Tokenizer::from_metadata(byte_level_vocab("NFX")), Error);
}

TEST(Normalize, HfImportCarriesTheNormalizer) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("frugal_normalize_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string vocab;
  for (int b = 0; b < 256; ++b) vocab += (b ? "," : "") + std::string("\"") + (b == '"' ? "\\\"" : b == '\\' ? "\\\\" : testing::gpt2_byte_char(b)) + "\":" + std::to_string(b);
  for (const char* norm : {"{\"type\":\"NFC\"}", "{\"type\":\"Sequence\",\"normalizers\":[{\"type\":\"NFKC\"}]}", "null"}) {
    std::ofstream(dir / "tokenizer.json")
        << "{\"normalizer\":" << norm
        << ",\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"use_regex\":true},\"model\":{\"type\":\"BPE\",\"vocab\":{" << vocab
        << "},\"merges\":[]}}";
    gguf::Metadata md;
    import_hf_tokenizer((dir / "tokenizer.json").string(), md);
    const std::string got = md.get_string_or("tokenizer.ggml.normalizer", "");
    EXPECT_EQ(got, std::string(norm) == "null" ? "" : std::string(norm).find("NFKC") != std::string::npos ? "NFKC" : "NFC");
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace frugal::tokenizer

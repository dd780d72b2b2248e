// libFuzzer target for the tiktoken vocabulary import
// (tokenizer/tiktoken_import.cc): any byte string, read as a tiktoken.model
// beside a fixed Kimi-K2 style tokenizer_config.json, either imports or
// throws frugal::Error. On success the tokenizer built from the metadata
// must give a sample text back from its own ids (every byte is a token, so
// decode(encode(s)) == s whatever merges were recovered); a mismatch traps.
// FRUGAL_FUZZ_WRITE_SEEDS=DIR writes small valid files instead (see fuzz_seeds.h).
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/base64.h"
#include "base/error.h"
#include "fuzz_seeds.h"
#include "tokenizer/hf_tokenizer_config.h"
#include "tokenizer/tokenizer.h"

namespace {

const char* kConfig = R"({"auto_map": {"AutoTokenizer": ["tokenization_kimi.TikTokenTokenizer", null]},
  "added_tokens_decoder": {"300": {"content": "[BOS]", "special": true}, "301": {"content": "[EOS]", "special": true}},
  "bos_token": "[BOS]", "eos_token": "[EOS]"})";


// The 256 bytes (in reverse order) and a few merged tokens, as one file.
void write_seeds(const std::string& dir) {
  std::string lines;
  int rank = 0;
  for (int b = 255; b >= 0; --b) lines += frugal::encode_base64(std::string(1, char(b))) + " " + std::to_string(rank++) + "\n";
  for (const char* t : {"th", "he", "the", " t", " the", "in", "ing", "\xe4\xbd", "\xe4\xbd\xa0"})
    lines += frugal::encode_base64(t) + " " + std::to_string(rank++) + "\n";
  std::ofstream(dir + "/tiktoken.model", std::ios::binary) << lines;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  frugal::fuzz::write_seeds_if_asked(write_seeds);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nlohmann::json config = nlohmann::json::parse(kConfig);
  frugal::gguf::Metadata md;
  try {
    frugal::tokenizer::tiktoken_to_metadata(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz", config,
                                             "fuzz-config", md);
  } catch (const frugal::Error&) {
    return 0;
  }
  const auto tok = frugal::tokenizer::Tokenizer::from_metadata(md);
  const std::string text = "the thing [EOS] \xe4\xbd\xa0\xe5\xa5\xbd, then 123 ok\n";
  if (tok.decode(tok.encode(text, false, true)) != text) __builtin_trap();
  return 0;
}

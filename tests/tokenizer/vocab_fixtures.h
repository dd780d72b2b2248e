// Hand-built vocabularies for the tokenizer tests: GGUF tokenizer metadata
// written out key by key, so each test states exactly which pieces, scores,
// merges and special tokens exist.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gguf/value.h"
#include "tokenizer/tokenizer.h"

namespace frugal::tokenizer::testing {

struct VocabEntry {
  std::string piece;
  TokenType type = TokenType::NORMAL;
  float score = 0.0f;
};

// GPT-2's byte -> printable character, derived here from its definition (the
// bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves; the other 68
// take the code points 256, 257, ... in byte order), as UTF-8.
inline std::string gpt2_byte_char(int b) {
  auto printable = [](int x) { return (x >= 0x21 && x <= 0x7E) || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF); };
  uint32_t cp = uint32_t(b);
  if (!printable(b)) {
    cp = 256;
    for (int x = 0; x < b; ++x)
      if (!printable(x)) ++cp;
  }
  std::string s;
  if (cp < 0x80) {
    s += char(cp);
  } else {
    s += char(0xC0 | (cp >> 6));
    s += char(0x80 | (cp & 0x3F));
  }
  return s;
}

// Byte-level spelling of raw text ("a b" -> "aĠb").
inline std::string gpt2_spelling(const std::string& bytes) {
  std::string s;
  for (unsigned char c : bytes) s += gpt2_byte_char(c);
  return s;
}

// The 256 byte-level byte tokens, ids 0..255 in byte order.
inline std::vector<VocabEntry> gpt2_byte_tokens() {
  std::vector<VocabEntry> v;
  for (int b = 0; b < 256; ++b) v.push_back({gpt2_byte_char(b)});
  return v;
}

// The 256 SentencePiece byte-fallback tokens <0x00>..<0xFF>.
inline std::vector<VocabEntry> spm_byte_tokens() {
  static const char* hex = "0123456789ABCDEF";
  std::vector<VocabEntry> v;
  for (int b = 0; b < 256; ++b) v.push_back({std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">", TokenType::BYTE});
  return v;
}

inline void set_vocab(gguf::Metadata& md, const std::string& model, const std::vector<VocabEntry>& vocab) {
  std::vector<std::string> pieces;
  std::vector<int32_t> types;
  std::vector<float> scores;
  for (const VocabEntry& e : vocab) {
    pieces.push_back(e.piece);
    types.push_back(int32_t(e.type));
    scores.push_back(e.score);
  }
  md.set("tokenizer.ggml.model", gguf::Value::make_string(model));
  md.set("tokenizer.ggml.tokens", gguf::Value::make_string_array(pieces));
  md.set("tokenizer.ggml.token_type", gguf::Value::make_i32_array(types));
  md.set("tokenizer.ggml.scores", gguf::Value::make_f32_array(scores));
}

// Id of a piece in a vocabulary list (-1 when absent).
inline int32_t id_in(const std::vector<VocabEntry>& vocab, const std::string& piece) {
  for (size_t i = 0; i < vocab.size(); ++i)
    if (vocab[i].piece == piece) return int32_t(i);
  return -1;
}

}  // namespace frugal::tokenizer::testing

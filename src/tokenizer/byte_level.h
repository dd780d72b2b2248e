// GPT-2's reversible byte <-> printable code point mapping used by byte-level
// BPE vocabularies: every byte is shown as one printable character (a space
// as 'Ġ', a newline as 'Ċ'), so a token's text never holds raw control bytes.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace frugal::tokenizer {

struct ByteMap {
  std::string byte_to_utf8[256];                  // byte -> its printable character (UTF-8)
  std::unordered_map<uint32_t, uint8_t> cp_to_byte;  // printable code point -> byte
  ByteMap();
};
const ByteMap& byte_map();

// The byte-level spelling of raw bytes ("a b" -> "aĠb").
std::string bytes_to_piece(std::string_view bytes);

}  // namespace frugal::tokenizer

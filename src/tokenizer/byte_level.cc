#include "tokenizer/byte_level.h"

namespace frugal::tokenizer {

ByteMap::ByteMap() {
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    uint32_t cp = printable ? uint32_t(b) : uint32_t(256 + n++);
    std::string s;
    if (cp < 0x80) s += char(cp);
    else { s += char(0xC0 | (cp >> 6)); s += char(0x80 | (cp & 0x3F)); }
    byte_to_utf8[b] = s;
    cp_to_byte[cp] = uint8_t(b);
  }
}

const ByteMap& byte_map() {
  static const ByteMap m;
  return m;
}

std::string bytes_to_piece(std::string_view bytes) {
  const ByteMap& bm = byte_map();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) out += bm.byte_to_utf8[c];
  return out;
}

}  // namespace frugal::tokenizer

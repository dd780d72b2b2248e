#include "tokenizer/byte_level.h"

#include "base/utf8.h"

namespace frugal::tokenizer {

ByteMap::ByteMap() {
  int n = 0;
  for (int b = 0; b < 256; ++b) {
    bool printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
    uint32_t cp = printable ? uint32_t(b) : uint32_t(256 + n++);
    append_utf8(byte_to_utf8[b], cp);
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

#include "base/base64.h"

#include <cstdint>

namespace frugal {

namespace {
constexpr char kDigits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}  // namespace

std::string encode_base64(std::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t w = uint32_t(uint8_t(bytes[i])) << 16;
    if (i + 1 < bytes.size()) w |= uint32_t(uint8_t(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size()) w |= uint32_t(uint8_t(bytes[i + 2]));
    out += kDigits[w >> 18 & 63];
    out += kDigits[w >> 12 & 63];
    out += i + 1 < bytes.size() ? kDigits[w >> 6 & 63] : '=';
    out += i + 2 < bytes.size() ? kDigits[w & 63] : '=';
  }
  return out;
}

bool decode_base64(std::string_view s, std::string& out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  out.clear();
  if (s.empty() || s.size() % 4 != 0) return false;
  for (size_t i = 0; i < s.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s[i + k];
      if (c == '=' && i + 4 == s.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else if (pad > 0 || (v[k] = value(c)) < 0) {
        return false;
      }
    }
    const uint32_t w = uint32_t(v[0]) << 18 | uint32_t(v[1]) << 12 | uint32_t(v[2]) << 6 | uint32_t(v[3]);
    out.push_back(char(w >> 16));
    if (pad < 2) out.push_back(char(w >> 8 & 0xFF));
    if (pad < 1) out.push_back(char(w & 0xFF));
  }
  return true;
}

}  // namespace frugal

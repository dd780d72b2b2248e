#include "tokenizer/normalize.h"

#include <cctype>
#include <cstdlib>
#include <utf8proc.h>

#include "base/error.h"

namespace frugal::tokenizer {

Normalization parse_normalization(const std::string& name) {
  std::string u;
  for (char c : name) u += char(std::toupper(static_cast<unsigned char>(c)));
  if (u.empty() || u == "NONE") return Normalization::kNone;
  if (u == "NFC") return Normalization::kNFC;
  if (u == "NFD") return Normalization::kNFD;
  if (u == "NFKC") return Normalization::kNFKC;
  if (u == "NFKD") return Normalization::kNFKD;
  fail("tokenizer: unknown normalizer '", name, "' (NFC, NFD, NFKC, NFKD)");
}

const char* normalization_name(Normalization n) {
  switch (n) {
    case Normalization::kNFC: return "NFC";
    case Normalization::kNFD: return "NFD";
    case Normalization::kNFKC: return "NFKC";
    case Normalization::kNFKD: return "NFKD";
    case Normalization::kNone: break;
  }
  return "";
}

std::string normalize(std::string_view text, Normalization n) {
  if (n == Normalization::kNone || text.empty()) return std::string(text);
  int options = UTF8PROC_STABLE;
  if (n == Normalization::kNFC || n == Normalization::kNFKC) options |= UTF8PROC_COMPOSE;
  else options |= UTF8PROC_DECOMPOSE;
  if (n == Normalization::kNFKC || n == Normalization::kNFKD) options |= UTF8PROC_COMPAT;
  utf8proc_uint8_t* mapped = nullptr;
  const utf8proc_ssize_t len = utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
                                            static_cast<utf8proc_ssize_t>(text.size()), &mapped,
                                            static_cast<utf8proc_option_t>(options));
  if (len < 0) return std::string(text);  // invalid UTF-8: left as it is
  std::string out(reinterpret_cast<const char*>(mapped), static_cast<size_t>(len));
  std::free(mapped);
  return out;
}

}  // namespace frugal::tokenizer

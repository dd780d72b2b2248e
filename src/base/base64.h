// Standard base64 (RFC 4648, with = padding): tiktoken vocabularies spell
// their tokens' bytes in it.
#pragma once
#include <string>
#include <string_view>

namespace frugal {

std::string encode_base64(std::string_view bytes);

// The bytes `text` spells, or false (nothing else than whole, padded groups of the 64 digits).
bool decode_base64(std::string_view text, std::string& out);

}  // namespace frugal

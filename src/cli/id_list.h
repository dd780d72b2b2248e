// Lists of whole numbers given on the command line as "1,2,3" (token ids,
// batch sizes).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace frugal::cli {

// Comma-separated non-negative integers; anything else, or nothing, is a
// frugal::Error that names `flag` and says what `item` ("token id") it wanted.
std::vector<int32_t> parse_id_list(const std::string& text, const std::string& flag,
                                   const std::string& item = "token id");

}  // namespace frugal::cli

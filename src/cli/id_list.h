// Token ids given on the command line as "1,2,3".
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace frugal::cli {

// Comma-separated non-negative integers; anything else, or nothing, is a
// frugal::Error that names `flag`.
std::vector<int32_t> parse_id_list(const std::string& text, const std::string& flag);

}  // namespace frugal::cli

#include "cli/id_list.h"

#include <climits>
#include <exception>

#include "base/error.h"

namespace frugal::cli {

std::vector<int32_t> parse_id_list(const std::string& text, const std::string& flag, const std::string& what) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find(',', i);
    if (j == std::string::npos) j = text.size();
    const std::string item = text.substr(i, j - i);
    size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (item.empty() || used != item.size() || v < 0 || v > INT32_MAX)
      fail(flag, ": '", item, "' is not a ", what, " (expected comma-separated non-negative integers)");
    ids.push_back(static_cast<int32_t>(v));
    i = j + 1;
  }
  if (ids.empty()) fail(flag, " is empty");
  return ids;
}

}  // namespace frugal::cli

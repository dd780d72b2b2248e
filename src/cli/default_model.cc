#include "cli/default_model.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <vector>

#include "base/error.h"

namespace frugal::cli {

std::string resolve_model_path(const std::string& given) {
  if (!given.empty()) return given;
  namespace fs = std::filesystem;
  if (const char* env = std::getenv("FRUGAL_MODEL"); env && *env) {
    if (!fs::exists(env)) fail("$FRUGAL_MODEL names ", env, ", which does not exist (give -m MODEL or fix the variable)");
    return env;
  }
  std::vector<fs::path> candidates;
  std::error_code ec;
  const fs::path exe_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  if (!ec) candidates.push_back(exe_dir / ".." / "models" / "default.gguf");
#ifdef FRUGAL_SOURCE_DIR
  candidates.push_back(fs::path(FRUGAL_SOURCE_DIR) / "models" / "default.gguf");
#endif
  std::vector<std::string> tried;  // in a build tree of the checkout both name the same file: say it once
  for (const fs::path& p : candidates) {
    const std::string n = p.lexically_normal().string();
    if (fs::exists(n)) return n;
    if (std::find(tried.begin(), tried.end(), n) == tried.end()) tried.push_back(n);
  }
  std::string list;
  for (const std::string& t : tried) list += (list.empty() ? "" : ", ") + t;
  fail("no model given (-m) and no default model found (set $FRUGAL_MODEL; tried: ", list.empty() ? "nothing" : list,
       ")");
}

}  // namespace frugal::cli

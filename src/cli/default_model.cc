#include "cli/default_model.h"

#include <cstdlib>
#include <filesystem>
#include <vector>

#include "base/error.h"

namespace frugal::cli {

std::string resolve_model_path(const std::string& given) {
  if (!given.empty()) return given;
  namespace fs = std::filesystem;
  std::vector<std::string> tried;
  if (const char* env = std::getenv("FRUGAL_MODEL"); env && *env) {
    if (fs::exists(env)) return env;
    tried.push_back(std::string(env) + " ($FRUGAL_MODEL)");
  }
  std::error_code ec;
  const fs::path exe_dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  if (!ec) {
    for (const fs::path& p : {exe_dir / ".." / "models" / "default.gguf", exe_dir / "models" / "default.gguf"}) {
      const fs::path n = p.lexically_normal();
      if (fs::exists(n)) return n.string();
      tried.push_back(n.string());
    }
  }
  std::string list;
  for (const auto& t : tried) list += (list.empty() ? "" : ", ") + t;
  fail("no model given (-m) and no default model found (tried: ", list.empty() ? "nothing" : list, ")");
}

}  // namespace frugal::cli

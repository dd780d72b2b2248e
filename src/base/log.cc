#include "base/log.h"

#include <cstdio>
#include <mutex>

namespace frugal {

namespace {
LogLevel g_level = LogLevel::kInfo;
std::mutex g_mu;
}  // namespace

void set_log_level(LogLevel level) { g_level = level; }
LogLevel log_level() { return g_level; }

void log_line(LogLevel level, const std::string& message) {
  static const char* const kPrefix[] = {"error: ", "warning: ", "", "debug: "};
  std::lock_guard<std::mutex> lock(g_mu);
  std::fprintf(stderr, "%s%s\n", kPrefix[static_cast<int>(level)], message.c_str());
}

}  // namespace frugal

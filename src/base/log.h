// Diagnostics to stderr; stdout is kept for the program's real output
// (generated text, JSON) so that it can be piped.
#pragma once
#include "base/error.h"

namespace frugal {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
void log_line(LogLevel level, const std::string& message);

template <class... Parts>
void log_info(Parts&&... parts) {
  if (log_level() >= LogLevel::kInfo) log_line(LogLevel::kInfo, str_cat(std::forward<Parts>(parts)...));
}
template <class... Parts>
void log_warn(Parts&&... parts) {
  if (log_level() >= LogLevel::kWarn) log_line(LogLevel::kWarn, str_cat(std::forward<Parts>(parts)...));
}
template <class... Parts>
void log_debug(Parts&&... parts) {
  if (log_level() >= LogLevel::kDebug) log_line(LogLevel::kDebug, str_cat(std::forward<Parts>(parts)...));
}

}  // namespace frugal

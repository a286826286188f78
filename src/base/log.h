// Node logging to stderr. Thread-safe; one line per call.
#pragma once

#include <string_view>

namespace nubo {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
void log_line(LogLevel level, std::string_view message);

inline void log_debug(std::string_view m) {
  if (log_level() <= LogLevel::kDebug) log_line(LogLevel::kDebug, m);
}
inline void log_info(std::string_view m) {
  log_line(LogLevel::kInfo, m);
}
inline void log_warn(std::string_view m) {
  log_line(LogLevel::kWarn, m);
}
inline void log_error(std::string_view m) {
  log_line(LogLevel::kError, m);
}

}  // namespace nubo

#include "base/log.h"

#include <atomic>
#include <cstdio>
#include <string>

#include "base/clock.h"

namespace nubo {

namespace {
std::atomic<LogLevel> g_level{LogLevel::kInfo};
const char* level_name(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "?";
}
}  // namespace

void set_log_level(LogLevel level) {
  g_level = level;
}
LogLevel log_level() {
  return g_level;
}

void log_line(LogLevel level, std::string_view message) {
  if (level < g_level.load()) return;
  std::string line = format_iso8601(std::chrono::system_clock::now());
  line += ' ';
  line += level_name(level);
  line += ' ';
  line += message;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);  // one write: lines do not interleave
}

}  // namespace nubo

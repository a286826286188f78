// LogSink: where function instances' log lines go (START/END/REPORT and the function's own
// output). The file implementation (file_log_sink.h) serves until the CloudWatch Logs service
// takes its place behind this interface.
#pragma once

#include <string_view>

#include "base/clock.h"

namespace nubo::runtime {

class LogSink {
 public:
  virtual ~LogSink() = default;

  // Appends one log event: a line without its newline. Lines of one stream keep the order of the
  // calls. Thread-safe, called on io threads: it must not block on I/O (buffer, write later).
  virtual void append(std::string_view log_group, std::string_view log_stream, SystemTime timestamp,
                      std::string_view line) = 0;

  // Makes everything appended so far visible to readers. May block: not on io threads.
  virtual void flush() {}
};

}  // namespace nubo::runtime

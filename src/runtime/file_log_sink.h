// FileLogSink: a LogSink that appends to one file per log stream,
// <logs_dir>/<log group>/<log stream>.log, with '%' and '/' of the names written as %25 and %2F
// (reversible, so the CloudWatch Logs service can import them). One line per event:
// "2024-01-31T12:34:56.789Z<TAB><line>".
//
// Threads: append() only copies into a memory buffer under a mutex; a background thread owned by
// the sink writes the buffer out every few milliseconds. If the disk falls more than
// max_buffer_bytes behind, lines are dropped (and counted) rather than growing memory.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "runtime/log_sink.h"

namespace nubo::runtime {

struct FileLogSinkOptions {
  std::string logs_dir;  // <data_dir>/logs
  std::chrono::milliseconds flush_interval{20};
  size_t max_buffer_bytes = 16 * 1024 * 1024;
};

std::unique_ptr<LogSink> make_file_log_sink(FileLogSinkOptions options);

// The file a stream is written to.
std::string log_file_path(std::string_view logs_dir, std::string_view log_group,
                          std::string_view log_stream);

}  // namespace nubo::runtime

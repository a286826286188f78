// Lambda's exact wording for the platform's log lines and error payloads, in one place so the
// tests can pin them (CloudWatch "START/END/REPORT" lines; the errors Invoke returns when the
// platform, not the function, ends an invocation). Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "runtime/sandbox.h"

namespace nubo::runtime {

// "START RequestId: <id> Version: $LATEST"
std::string start_line(std::string_view request_id, std::string_view version);
// "END RequestId: <id>"
std::string end_line(std::string_view request_id);

struct ReportFields {
  std::string_view request_id;
  double duration_ms = 0;
  int64_t billed_duration_ms = 0;
  int memory_size_mb = 0;
  int64_t max_memory_used_mb = 0;
  std::optional<double> init_duration_ms;
  // A cold start restored from a SnapStart snapshot (instead of an init).
  std::optional<double> restore_duration_ms;
};
// "REPORT RequestId: <id>\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t"
// "Max Memory Used: 35 MB\t" and, on a cold start, "Init Duration: 12.34 ms\t", or after a
// restore "Restore Duration: 3.45 ms\tBilled Restore Duration: 4 ms\t" (Lambda's SnapStart).
std::string report_line(const ReportFields& f);

// "2024-01-31T12:34:56.789Z <id> Task timed out after 3.00 seconds": the log line, and the
// errorMessage of the payload Invoke returns.
std::string timeout_message(SystemTime now, std::string_view request_id, double timeout_s);
// {"errorMessage":"<timeout_message>"}
std::string timeout_payload(std::string_view message);

// "RequestId: <id> Error: Runtime exited with error: exit status 1" (or "signal: killed"), or
// "RequestId: <id> Error: Runtime exited without providing a reason" when it exited with 0.
std::string exit_error_message(std::string_view request_id, const ExitStatus& status);
// "RequestId: <id> Error: <message>"
std::string request_error_message(std::string_view request_id, std::string_view message);

// {"errorType":"<type>","errorMessage":"<message>"}
std::string error_payload(std::string_view error_type, std::string_view message);

// An /error or /init/error body as Invoke returns it: the body itself if it is a JSON object,
// else {"errorMessage":<body>,"errorType":<error_type, or "Unhandled">}.
std::string function_error_payload(std::string_view body, std::string_view error_type);

// The payload of an invocation whose response was over kMaxResponseBytes.
std::string response_too_large_payload();

// Memory as Lambda reports it: whole MB, rounded up.
int64_t kb_to_mb(int64_t kb);

}  // namespace nubo::runtime

#include "runtime/lambda_messages.h"

#include <cstdio>

#include "base/json.h"
#include "billing/meter.h"
#include "runtime/limits.h"

namespace nubo::runtime {

std::string start_line(std::string_view request_id, std::string_view version) {
  std::string s;
  s.reserve(64 + request_id.size());
  s += "START RequestId: ";
  s += request_id;
  s += " Version: ";
  s += version;
  return s;
}

std::string end_line(std::string_view request_id) {
  std::string s = "END RequestId: ";
  s += request_id;
  return s;
}

std::string report_line(const ReportFields& f) {
  char buf[256];
  int n = std::snprintf(buf, sizeof buf,
                        "\tDuration: %.2f ms\tBilled Duration: %lld ms\tMemory Size: %d MB\t"
                        "Max Memory Used: %lld MB\t",
                        f.duration_ms, static_cast<long long>(f.billed_duration_ms),
                        f.memory_size_mb, static_cast<long long>(f.max_memory_used_mb));
  std::string s = "REPORT RequestId: ";
  s += f.request_id;
  s.append(buf, static_cast<size_t>(n));
  if (f.init_duration_ms) {
    n = std::snprintf(buf, sizeof buf, "Init Duration: %.2f ms\t", *f.init_duration_ms);
    s.append(buf, static_cast<size_t>(n));
  }
  if (f.restore_duration_ms) {
    n = std::snprintf(buf, sizeof buf,
                      "Restore Duration: %.2f ms\tBilled Restore Duration: %lld ms\t",
                      *f.restore_duration_ms,
                      static_cast<long long>(billing::billed_duration_ms(*f.restore_duration_ms)));
    s.append(buf, static_cast<size_t>(n));
  }
  return s;
}

std::string timeout_message(SystemTime now, std::string_view request_id, double timeout_s) {
  char buf[64];
  std::snprintf(buf, sizeof buf, " Task timed out after %.2f seconds", timeout_s);
  std::string s = format_iso8601(now);
  s += ' ';
  s += request_id;
  s += buf;
  return s;
}

std::string timeout_payload(std::string_view message) {
  json::object o;
  o["errorMessage"] = message;
  return json::serialize(o);
}

std::string request_error_message(std::string_view request_id, std::string_view message) {
  std::string s = "RequestId: ";
  s += request_id;
  s += " Error: ";
  s += message;
  return s;
}

std::string exit_error_message(std::string_view request_id, const ExitStatus& status) {
  if (!status.signaled && status.code == 0) {
    return request_error_message(request_id, "Runtime exited without providing a reason");
  }
  return request_error_message(request_id, "Runtime exited with error: " + status.describe());
}

std::string error_payload(std::string_view error_type, std::string_view message) {
  json::object o;
  o["errorType"] = error_type;
  o["errorMessage"] = message;
  return json::serialize(o);
}

std::string function_error_payload(std::string_view body, std::string_view error_type) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (!ec && v.is_object()) return std::string(body);
  json::object o;
  o["errorMessage"] = body;
  o["errorType"] = error_type.empty() ? std::string_view("Unhandled") : error_type;
  return json::serialize(o);
}

std::string response_too_large_payload() {
  return error_payload("Function.ResponseSizeTooLarge",
                       "Response payload size exceeded maximum allowed payload size (" +
                           std::to_string(kMaxResponseBytes) + " bytes).");
}

int64_t kb_to_mb(int64_t kb) {
  if (kb <= 0) return 0;
  return (kb + 1023) / 1024;
}

}  // namespace nubo::runtime

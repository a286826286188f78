#include "runtime/lambda_messages.h"

#include <gtest/gtest.h>

#include "base/json.h"
#include "billing/meter.h"

namespace nubo::runtime {
namespace {

constexpr const char* kId = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

TEST(LambdaMessagesTest, StartAndEndLines) {
  EXPECT_EQ(start_line(kId, "$LATEST"),
            "START RequestId: " + std::string(kId) + " Version: $LATEST");
  EXPECT_EQ(end_line(kId), "END RequestId: " + std::string(kId));
}

TEST(LambdaMessagesTest, ReportLineWarm) {
  ReportFields f;
  f.request_id = kId;
  f.duration_ms = 1.234;
  f.billed_duration_ms = 2;
  f.memory_size_mb = 128;
  f.max_memory_used_mb = 35;
  EXPECT_EQ(report_line(f), "REPORT RequestId: " + std::string(kId) +
                                "\tDuration: 1.23 ms\tBilled Duration: 2 ms\tMemory Size: 128 MB\t"
                                "Max Memory Used: 35 MB\t");
}

TEST(LambdaMessagesTest, ReportLineCold) {
  ReportFields f;
  f.request_id = kId;
  f.duration_ms = 3004.925;
  f.billed_duration_ms = 3005;
  f.memory_size_mb = 1024;
  f.max_memory_used_mb = 33;
  f.init_duration_ms = 111.234;
  EXPECT_EQ(report_line(f), "REPORT RequestId: " + std::string(kId) +
                                "\tDuration: 3004.93 ms\tBilled Duration: 3005 ms\t"
                                "Memory Size: 1024 MB\tMax Memory Used: 33 MB\t"
                                "Init Duration: 111.23 ms\t");
}

TEST(LambdaMessagesTest, BilledDurationRoundsUpToAMillisecond) {
  EXPECT_EQ(billing::billed_duration_ms(0.05), 1);
  EXPECT_EQ(billing::billed_duration_ms(1.0), 1);
  EXPECT_EQ(billing::billed_duration_ms(1.01), 2);
  EXPECT_EQ(billing::billed_duration_ms(2999.2), 3000);
}

TEST(LambdaMessagesTest, TimeoutMessageAndPayload) {
  SystemTime t = SystemTime(std::chrono::milliseconds(1709572958033));  // 2024-03-04T17:22:38.033Z
  std::string msg = timeout_message(t, kId, 3);
  EXPECT_EQ(msg,
            "2024-03-04T17:22:38.033Z " + std::string(kId) + " Task timed out after 3.00 seconds");
  auto v = json::parse(timeout_payload(msg));
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.as_object().size(), 1u);
  EXPECT_EQ(v.as_object().at("errorMessage").as_string(), msg);
}

TEST(LambdaMessagesTest, ExitErrorMessages) {
  ExitStatus exit1;
  exit1.code = 1;
  EXPECT_EQ(exit_error_message(kId, exit1),
            "RequestId: " + std::string(kId) + " Error: Runtime exited with error: exit status 1");
  ExitStatus killed;
  killed.signaled = true;
  killed.signal = 9;
  EXPECT_EQ(exit_error_message(kId, killed),
            "RequestId: " + std::string(kId) + " Error: Runtime exited with error: signal: killed");
  ExitStatus segv;
  segv.signaled = true;
  segv.signal = 11;
  segv.core_dumped = true;
  EXPECT_EQ(segv.describe(), "signal: segmentation fault (core dumped)");
  ExitStatus clean;
  EXPECT_EQ(exit_error_message(kId, clean),
            "RequestId: " + std::string(kId) + " Error: Runtime exited without providing a reason");
}

TEST(LambdaMessagesTest, ErrorPayloadShape) {
  auto v = json::parse(error_payload("Runtime.ExitError", "RequestId: x Error: boom"));
  EXPECT_EQ(v.at("errorType").as_string(), "Runtime.ExitError");
  EXPECT_EQ(v.at("errorMessage").as_string(), "RequestId: x Error: boom");
}

TEST(LambdaMessagesTest, FunctionErrorPayloadKeepsObjectsAndWrapsTheRest) {
  std::string obj = R"({"errorMessage":"bad","errorType":"ValueError","stackTrace":[]})";
  EXPECT_EQ(function_error_payload(obj, "ValueError"), obj);
  auto wrapped = json::parse(function_error_payload("plain text", "Custom"));
  EXPECT_EQ(wrapped.at("errorMessage").as_string(), "plain text");
  EXPECT_EQ(wrapped.at("errorType").as_string(), "Custom");
  auto untyped = json::parse(function_error_payload("[1,2]", ""));
  EXPECT_EQ(untyped.at("errorMessage").as_string(), "[1,2]");
  EXPECT_EQ(untyped.at("errorType").as_string(), "Unhandled");
}

TEST(LambdaMessagesTest, ResponseTooLarge) {
  auto v = json::parse(response_too_large_payload());
  EXPECT_EQ(v.at("errorType").as_string(), "Function.ResponseSizeTooLarge");
  EXPECT_EQ(v.at("errorMessage").as_string(),
            "Response payload size exceeded maximum allowed payload size (6291456 bytes).");
}

TEST(LambdaMessagesTest, MemoryRoundsUpToWholeMegabytes) {
  EXPECT_EQ(kb_to_mb(0), 0);
  EXPECT_EQ(kb_to_mb(1), 1);
  EXPECT_EQ(kb_to_mb(1024), 1);
  EXPECT_EQ(kb_to_mb(1025), 2);
}

}  // namespace
}  // namespace nubo::runtime

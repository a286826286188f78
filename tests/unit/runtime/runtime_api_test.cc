#include "runtime/runtime_api.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "base/json.h"
#include "runtime/limits.h"
#include "test_util.h"

namespace nubo::runtime {
namespace {

using testing::HttpClient;
using testing::IoThreads;
namespace asio = boost::asio;
using Kind = RuntimeApi::Answer::Kind;

constexpr const char* kNext = "/2018-06-01/runtime/invocation/next";

std::string response_path(const std::string& id) {
  return "/2018-06-01/runtime/invocation/" + id + "/response";
}
std::string error_path(const std::string& id) {
  return "/2018-06-01/runtime/invocation/" + id + "/error";
}

RuntimeApi::Event make_event(std::string id, std::string payload = R"({"k":1})",
                             std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  RuntimeApi::Event ev;
  ev.request_id = std::move(id);
  ev.payload = std::move(payload);
  ev.invoked_function_arn = "arn:aws:lambda:us-east-1:000000000000:function:f";
  ev.trace_id = "Root=1-65b9a0c0-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=0";
  ev.timeout = timeout;
  return ev;
}

class RuntimeApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_ = RuntimeApi::make(io_.io, &clock_, [this](const RuntimeApi::Event& ev) {
      delivered_.fetch_add(1);
      last_delivered_id_ = ev.request_id;
    });
    auto port = api_->listen();
    ASSERT_TRUE(port.ok());
    port_ = port.value();
  }
  void TearDown() override { api_->close(); }

  IoThreads::Pending<RuntimeApi::Answer> invoke(
      RuntimeApi::Event ev, std::chrono::milliseconds init_limit = std::chrono::seconds(10)) {
    return io_.spawn(api_->invoke(std::move(ev), std::chrono::steady_clock::now() + init_limit));
  }

  IoThreads io_;
  SystemClock clock_;
  std::shared_ptr<RuntimeApi> api_;
  uint16_t port_ = 0;
  std::atomic<int> delivered_{0};
  std::string last_delivered_id_;
};

TEST_F(RuntimeApiTest, NextWaitsForAnEventAndCarriesItsHeaders) {
  HttpClient runtime(port_);
  auto next = std::async(std::launch::async, [&] { return runtime.get(kNext); });
  ASSERT_EQ(next.wait_for(std::chrono::milliseconds(100)), std::future_status::timeout);
  EXPECT_TRUE(api_->ready_at().has_value());

  int64_t before_ms = epoch_ms(clock_.now());
  auto answer = invoke(make_event("req-1"));
  testing::HttpReply ev = next.get();
  EXPECT_EQ(ev.status, 200);
  EXPECT_EQ(ev.body, R"({"k":1})");
  EXPECT_EQ(ev.headers["Lambda-Runtime-Aws-Request-Id"], "req-1");
  EXPECT_EQ(ev.headers["Lambda-Runtime-Invoked-Function-Arn"],
            "arn:aws:lambda:us-east-1:000000000000:function:f");
  EXPECT_EQ(ev.headers["Lambda-Runtime-Trace-Id"],
            "Root=1-65b9a0c0-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=0");
  EXPECT_EQ(ev.headers["Content-Type"], "application/json");
  EXPECT_EQ(ev.headers.count("Lambda-Runtime-Client-Context"), 0u);
  int64_t deadline = std::stoll(ev.headers["Lambda-Runtime-Deadline-Ms"]);
  EXPECT_GE(deadline, before_ms + 5000);
  EXPECT_LE(deadline, epoch_ms(clock_.now()) + 5000);
  EXPECT_EQ(delivered_.load(), 1);

  testing::HttpReply ack = runtime.post(response_path("req-1"), R"({"ok":true})");
  EXPECT_EQ(ack.status, 202);
  EXPECT_EQ(ack.body, R"({"status":"OK"})");
  RuntimeApi::Answer a = answer.get();
  EXPECT_EQ(a.kind, Kind::kResponse);
  EXPECT_TRUE(a.delivered);
  EXPECT_EQ(a.body, R"({"ok":true})");
  EXPECT_GE(a.answered_at, a.delivered_at);
}

TEST_F(RuntimeApiTest, AnEventSubmittedFirstIsDeliveredOnTheNextNext) {
  RuntimeApi::Event ev = make_event("req-2");
  ev.client_context = R"({"custom":{"a":"b"}})";
  ev.cognito_identity = R"({"cognitoIdentityId":"x","cognitoIdentityPoolId":"y"})";
  auto answer = invoke(std::move(ev));
  HttpClient runtime(port_);
  testing::HttpReply got = runtime.get(kNext);
  EXPECT_EQ(got.headers["Lambda-Runtime-Aws-Request-Id"], "req-2");
  EXPECT_EQ(got.headers["Lambda-Runtime-Client-Context"], R"({"custom":{"a":"b"}})");
  EXPECT_EQ(got.headers["Lambda-Runtime-Cognito-Identity"],
            R"({"cognitoIdentityId":"x","cognitoIdentityPoolId":"y"})");
  EXPECT_EQ(runtime.post(response_path("req-2"), "null").status, 202);
  EXPECT_EQ(answer.get().body, "null");
}

TEST_F(RuntimeApiTest, WarmLoopServesManyInvocationsOnOneConnection) {
  HttpClient runtime(port_);
  for (int i = 0; i < 50; ++i) {
    std::string id = "req-" + std::to_string(i);
    auto answer = invoke(make_event(id, std::to_string(i)));
    testing::HttpReply ev = runtime.get(kNext);
    ASSERT_EQ(ev.headers["Lambda-Runtime-Aws-Request-Id"], id);
    ASSERT_EQ(runtime.post(response_path(id), ev.body).status, 202);
    EXPECT_EQ(answer.get().body, std::to_string(i));
  }
  EXPECT_EQ(delivered_.load(), 50);
}

TEST_F(RuntimeApiTest, UnknownRequestIdIsInvalidRequestId) {
  auto answer = invoke(make_event("req-3"));
  HttpClient runtime(port_);
  runtime.get(kNext);
  testing::HttpReply bad = runtime.post(response_path("not-the-id"), "{}");
  EXPECT_EQ(bad.status, 400);
  auto v = json::parse(bad.body);
  EXPECT_EQ(v.at("errorType").as_string(), "InvalidRequestID");
  EXPECT_EQ(v.at("errorMessage").as_string(), "Invalid request ID");
  // The invocation is still open for the right id.
  EXPECT_EQ(runtime.post(response_path("req-3"), "1").status, 202);
  EXPECT_EQ(answer.get().body, "1");
}

TEST_F(RuntimeApiTest, SecondAnswerIsAnInvalidStateTransition) {
  auto answer = invoke(make_event("req-4"));
  HttpClient runtime(port_);
  runtime.get(kNext);
  EXPECT_EQ(runtime.post(response_path("req-4"), "1").status, 202);
  answer.get();
  testing::HttpReply again = runtime.post(response_path("req-4"), "2");
  EXPECT_EQ(again.status, 403);
  auto v = json::parse(again.body);
  EXPECT_EQ(v.at("errorType").as_string(), "InvalidStateTransition");
  EXPECT_EQ(v.at("errorMessage").as_string(),
            "State transition from RuntimeResponseSentState to InvocationResponse failed for "
            "runtime. Error: State transition is not allowed");
  testing::HttpReply err = runtime.post(error_path("req-4"), "{}");
  EXPECT_EQ(err.status, 403);
}

TEST_F(RuntimeApiTest, ErrorRouteCarriesTheBodyAndTheErrorType) {
  auto answer = invoke(make_event("req-5"));
  HttpClient runtime(port_);
  runtime.get(kNext);
  std::string body = R"({"errorMessage":"boom","errorType":"ValueError","stackTrace":[]})";
  EXPECT_EQ(
      runtime
          .post(error_path("req-5"), body, {{"Lambda-Runtime-Function-Error-Type", "ValueError"}})
          .status,
      202);
  RuntimeApi::Answer a = answer.get();
  EXPECT_EQ(a.kind, Kind::kFunctionError);
  EXPECT_EQ(a.body, body);
  EXPECT_EQ(a.error_type, "ValueError");
}

TEST_F(RuntimeApiTest, InitErrorBeforeTheFirstNextFailsTheInvocation) {
  auto answer = invoke(make_event("req-6"));
  HttpClient runtime(port_);
  std::string body = R"({"errorMessage":"no module","errorType":"Runtime.ImportModuleError"})";
  EXPECT_EQ(runtime
                .post("/2018-06-01/runtime/init/error", body,
                      {{"Lambda-Runtime-Function-Error-Type", "Runtime.ImportModuleError"}})
                .status,
            202);
  RuntimeApi::Answer a = answer.get();
  EXPECT_EQ(a.kind, Kind::kInitError);
  EXPECT_FALSE(a.delivered);
  EXPECT_EQ(a.body, body);
  EXPECT_EQ(a.error_type, "Runtime.ImportModuleError");
  // The instance has failed: no more work.
  testing::HttpReply next = runtime.get(kNext);
  EXPECT_EQ(next.status, 403);
  EXPECT_EQ(delivered_.load(), 0);
}

TEST_F(RuntimeApiTest, InitErrorAfterAnInvocationIsAnInvalidStateTransition) {
  auto answer = invoke(make_event("req-7"));
  HttpClient runtime(port_);
  runtime.get(kNext);
  testing::HttpReply r = runtime.post("/2018-06-01/runtime/init/error", "{}");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(json::parse(r.body).at("errorMessage").as_string(),
            "State transition from Ready to InitError failed for runtime. Error: State "
            "transition is not allowed");
  runtime.post(response_path("req-7"), "1");
  EXPECT_EQ(answer.get().kind, Kind::kResponse);
}

TEST_F(RuntimeApiTest, OtherPathsAre404AndWrongMethods405) {
  HttpClient runtime(port_);
  EXPECT_EQ(runtime.get("/2018-06-01/runtime/invocation").status, 404);
  EXPECT_EQ(runtime.get("/2020-01-01/extension/event/next").status, 404);
  EXPECT_EQ(runtime.get("/").status, 404);
  EXPECT_EQ(runtime.post(kNext, "").status, 405);
  EXPECT_EQ(runtime.get(response_path("x")).status, 405);
}

TEST_F(RuntimeApiTest, NoAnswerInTimeIsATimeout) {
  auto answer = invoke(make_event("req-8", "{}", std::chrono::milliseconds(150)));
  HttpClient runtime(port_);
  runtime.get(kNext);
  RuntimeApi::Answer a = answer.get();
  EXPECT_EQ(a.kind, Kind::kTimeout);
  EXPECT_TRUE(a.delivered);
  EXPECT_GE(a.answered_at - a.delivered_at, std::chrono::milliseconds(140));
  EXPECT_EQ(runtime.post(response_path("req-8"), "late").status, 403);
}

// The long-invocation watch: called every `after` while an invocation runs, with the tick
// counting from 1 in each invocation, until it returns true; the timeout still ends the
// invocation at its own deadline.
TEST_F(RuntimeApiTest, TheLongInvocationWatchTicksUntilItIsDoneAndTheTimeoutStillHolds) {
  std::mutex mu;
  std::vector<int> ticks;
  api_->watch_long_invocation(std::chrono::milliseconds(20), [&](int tick) {
    std::lock_guard lock(mu);
    ticks.push_back(tick);
    return false;
  });
  HttpClient runtime(port_);
  // Answered well within the first moment: never called.
  auto quick = invoke(make_event("req-w1"));
  runtime.get(kNext);
  ASSERT_EQ(runtime.post(response_path("req-w1"), "1").status, 202);
  EXPECT_EQ(quick.get().kind, Kind::kResponse);
  {
    std::lock_guard lock(mu);
    EXPECT_TRUE(ticks.empty());
  }
  // Unanswered for 150 ms of a 150 ms timeout: ticks 1, 2, ... every 20 ms, then the timeout.
  auto slow = invoke(make_event("req-w2", "{}", std::chrono::milliseconds(150)));
  runtime.get(kNext);
  RuntimeApi::Answer a = slow.get();
  EXPECT_EQ(a.kind, Kind::kTimeout);
  EXPECT_GE(a.answered_at - a.delivered_at, std::chrono::milliseconds(140));
  std::lock_guard lock(mu);
  ASSERT_GE(ticks.size(), 3u);
  EXPECT_LE(ticks.size(), 7u);
  for (size_t i = 0; i < ticks.size(); ++i) EXPECT_EQ(ticks[i], static_cast<int>(i) + 1);
}

TEST_F(RuntimeApiTest, TheLongInvocationWatchEndsWhenItSaysSo) {
  std::atomic<int> calls{0};
  api_->watch_long_invocation(std::chrono::milliseconds(10), [&](int tick) {
    calls.fetch_add(1);
    return tick == 2;
  });
  HttpClient runtime(port_);
  auto first = invoke(make_event("req-e1"));
  runtime.get(kNext);
  std::this_thread::sleep_for(std::chrono::milliseconds(80));
  ASSERT_EQ(runtime.post(response_path("req-e1"), "1").status, 202);
  RuntimeApi::Answer a = first.get();
  EXPECT_EQ(a.kind, Kind::kResponse);  // the moments after the watch ended did no harm
  EXPECT_EQ(calls.load(), 2);
  // Never again, in later invocations either.
  auto second = invoke(make_event("req-e2"));
  runtime.get(kNext);
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  ASSERT_EQ(runtime.post(response_path("req-e2"), "2").status, 202);
  EXPECT_EQ(second.get().body, "2");
  EXPECT_EQ(calls.load(), 2);
}

TEST_F(RuntimeApiTest, NoFirstNextBeforeTheInitDeadlineIsATimeoutThatHandsTheEventBack) {
  auto answer = invoke(make_event("req-9", "payload"), std::chrono::milliseconds(100));
  RuntimeApi::Answer a = answer.get();
  EXPECT_EQ(a.kind, Kind::kTimeout);
  EXPECT_FALSE(a.delivered);
  ASSERT_TRUE(a.undelivered.has_value());
  EXPECT_EQ(a.undelivered->payload, "payload");
}

TEST_F(RuntimeApiTest, ResponseOverSixMegabytesIsRefusedAndFailsTheInvocation) {
  auto answer = invoke(make_event("req-10"));
  HttpClient runtime(port_);
  runtime.get(kNext);
  testing::HttpReply r =
      runtime.post(response_path("req-10"), std::string(kMaxResponseBytes + 1, 'x'));
  EXPECT_EQ(r.status, 413);
  auto v = json::parse(r.body);
  EXPECT_EQ(v.at("errorType").as_string(), "RequestEntityTooLarge");
  EXPECT_EQ(v.at("errorMessage").as_string(),
            "Exceeded maximum allowed payload size (6291456 bytes).");
  EXPECT_EQ(answer.get().kind, Kind::kTooLarge);
}

TEST_F(RuntimeApiTest, ResponseOfExactlySixMegabytesIsAccepted) {
  auto answer = invoke(make_event("req-11"));
  HttpClient runtime(port_);
  runtime.get(kNext);
  EXPECT_EQ(runtime.post(response_path("req-11"), std::string(kMaxResponseBytes, 'x')).status, 202);
  EXPECT_EQ(answer.get().body.size(), kMaxResponseBytes);
}

TEST_F(RuntimeApiTest, CloseAbortsTheInvocationAndAnswersAWaitingNext) {
  HttpClient runtime(port_);
  auto next = std::async(std::launch::async, [&] { return runtime.get(kNext); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  api_->close();
  EXPECT_EQ(next.get().status, 500);
  RuntimeApi::Answer a = invoke(make_event("req-12", "p")).get();
  EXPECT_EQ(a.kind, Kind::kAborted);
  ASSERT_TRUE(a.undelivered.has_value());
  EXPECT_EQ(a.undelivered->payload, "p");
}

TEST_F(RuntimeApiTest, CloseDuringAnInvocationAbortsIt) {
  auto answer = invoke(make_event("req-13"));
  HttpClient runtime(port_);
  runtime.get(kNext);
  api_->close();
  RuntimeApi::Answer a = answer.get();
  EXPECT_EQ(a.kind, Kind::kAborted);
  EXPECT_TRUE(a.delivered);
}

TEST_F(RuntimeApiTest, ASecondNextReplacesTheFirst) {
  HttpClient first(port_);
  auto stale = std::async(std::launch::async, [&] { return first.get(kNext); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  HttpClient second(port_);
  auto fresh = std::async(std::launch::async, [&] { return second.get(kNext); });
  EXPECT_EQ(stale.get().status, 500);
  auto answer = invoke(make_event("req-14"));
  EXPECT_EQ(fresh.get().headers["Lambda-Runtime-Aws-Request-Id"], "req-14");
  second.post(response_path("req-14"), "{}");
  EXPECT_EQ(answer.get().kind, Kind::kResponse);
}

}  // namespace
}  // namespace nubo::runtime

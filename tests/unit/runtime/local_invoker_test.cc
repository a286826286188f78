// Integration tests of LocalInvoker with real processes: bash bootstraps (the AWS tutorial's
// curl loop) and the C runtime in fixtures/echo_runtime.c.
#include "runtime/local_invoker.h"

// GCC 12 false positives: -Wmaybe-uninitialized inside std::regex, -Wmismatched-new-delete on
// Asio coroutine frames (GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <sys/resource.h>

#include "base/cpu_affinity.h"
#include "base/json.h"
#include "runtime/file_log_sink.h"
#include "test_util.h"

namespace nubo::runtime {
namespace {

using namespace std::chrono_literals;
using testing::IoThreads;
namespace asio = boost::asio;
using testing::process_exists;
using testing::TempDir;
using Outcome = InvokeResult::Outcome;

// The AWS custom-runtime tutorial's loop, as functions.
constexpr const char* kBashPrelude = R"SH(#!/bin/bash
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
next() {
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -LD "$HEADERS" "$API/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  TRACE_ID=$(grep -Fi Lambda-Runtime-Trace-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  ARN=$(grep -Fi Lambda-Runtime-Invoked-Function-Arn "$HEADERS" | tr -d '[:space:]' | cut -d: -f2-)
  DEADLINE=$(grep -Fi Lambda-Runtime-Deadline-Ms "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  rm -f "$HEADERS"
}
respond() { curl -sS -o /dev/null "$API/invocation/$REQUEST_ID/response" -d "$1"; }
fail() {
  curl -sS -o /dev/null -H "Lambda-Runtime-Function-Error-Type: $1" \
    "$API/invocation/$REQUEST_ID/error" -d "$2"
}
)SH";

int64_t pid_of(const InvokeResult& r) {
  auto v = json::parse(r.payload);
  return v.at("pid").as_int64();
}

class LocalInvokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.data_dir = data_.path();
    config_.endpoint_url = "http://127.0.0.1:4566";
    config_.runtimes_dir = data_.path() + "/runtimes";
  }
  void TearDown() override {
    if (invoker_) invoker_->shutdown(0ms);
    invoker_.reset();
  }

  void start(int concurrency = 1000, std::chrono::milliseconds idle = 300s) {
    config_.account_concurrency = concurrency;
    LocalInvokerDeps d;
    d.config = &config_;
    d.clock = &clock_;
    d.io = &io_.io;
    d.idle_timeout = idle;
    d.cpu_of = cpu_of_;
    invoker_ = make_local_invoker(d);
  }

  // A function whose bootstrap is the given bash script body (after the prelude).
  FunctionSpec bash_function(const std::string& name, const std::string& body, int timeout_s = 3) {
    auto dir = std::make_unique<TempDir>();
    dir->write_executable("bootstrap", std::string(kBashPrelude) + body);
    FunctionSpec s = spec_for(name, dir->path(), timeout_s);
    code_dirs_.push_back(std::move(dir));
    return s;
  }

  // A function running the C echo runtime.
  FunctionSpec echo_function(const std::string& name, const std::string& mode = "echo") {
    auto dir = std::make_unique<TempDir>();
    std::filesystem::copy_file(NUBO_ECHO_RUNTIME, dir->path() + "/bootstrap");
    chmod((dir->path() + "/bootstrap").c_str(), 0755);
    FunctionSpec s = spec_for(name, dir->path(), 3);
    s.environment["ECHO_RUNTIME_MODE"] = mode;
    code_dirs_.push_back(std::move(dir));
    return s;
  }

  FunctionSpec spec_for(const std::string& name, const std::string& code_dir, int timeout_s) {
    FunctionSpec s;
    s.name = name;
    s.version = "$LATEST";
    s.function_arn = "arn:aws:lambda:us-east-1:000000000000:function:" + name;
    s.qualified_arn = s.function_arn + ":$LATEST";
    s.runtime = "provided.al2023";
    s.handler = "handler";
    s.code_dir = code_dir;
    s.timeout_s = timeout_s;
    s.memory_mb = 128;
    s.revision_id = "rev-1";
    s.log_group = "/aws/lambda/" + name;
    return s;
  }

  Result<InvokeResult> invoke(const FunctionSpec& spec, std::string payload = "{}",
                              bool tail = false, std::string request_id = "") {
    InvokeRequest req;
    req.payload = std::move(payload);
    req.request_id = request_id.empty() ? new_request_id() : std::move(request_id);
    req.want_log_tail = tail;
    return io_.run(invoker_->invoke(spec, std::move(req)));
  }

  std::string new_request_id() {
    return "00000000-0000-4000-8000-" + std::to_string(100000000000 + ++ids_);
  }

  // Two io threads as on this 2-core machine; NUBO_BENCH_IO_THREADS overrides (benchmarks).
  IoThreads io_{
      std::getenv("NUBO_BENCH_IO_THREADS") ? std::atoi(std::getenv("NUBO_BENCH_IO_THREADS")) : 2};
  TempDir data_;
  NodeConfig config_;
  SystemClock clock_;
  std::vector<std::unique_ptr<TempDir>> code_dirs_;
  std::unique_ptr<LocalInvoker> invoker_;
  std::function<int(const asio::io_context*)> cpu_of_;  // LocalInvokerDeps::cpu_of
  int ids_ = 0;
};

TEST_F(LocalInvokerTest, ColdThenWarm) {
  start();
  FunctionSpec f = bash_function("hello", R"SH(
echo "init done"
while true; do
  next
  echo "hello from bash"
  respond "{\"pid\":$$,\"event\":$EVENT}"
done
)SH");
  auto r1 = invoke(f, R"({"n":1})", true, "11111111-1111-4111-8111-111111111111");
  ASSERT_TRUE(r1.ok()) << r1.error().message;
  EXPECT_EQ(r1->outcome, Outcome::kSuccess) << r1->payload;
  EXPECT_EQ(json::parse(r1->payload).at("event"), json::parse(R"({"n":1})"));
  EXPECT_TRUE(r1->function_error.empty());
  EXPECT_TRUE(r1->cold_start);
  ASSERT_TRUE(r1->init_duration_ms.has_value());
  EXPECT_GT(*r1->init_duration_ms, 0);
  EXPECT_GT(r1->duration_ms, 0);
  EXPECT_GE(r1->billed_duration_ms, 1);
  EXPECT_GE(r1->billed_duration_ms, static_cast<int64_t>(r1->duration_ms));
  EXPECT_GT(r1->max_memory_used_mb, 0);
  EXPECT_EQ(r1->executed_version, "$LATEST");
  // The tail: the init output, START, the function's output, END, REPORT.
  const std::string& tail = r1->log_tail;
  size_t init = tail.find("init done\n");
  size_t start =
      tail.find("START RequestId: 11111111-1111-4111-8111-111111111111 Version: $LATEST\n");
  size_t out = tail.find("hello from bash\n");
  size_t end = tail.find("END RequestId: 11111111-1111-4111-8111-111111111111\n");
  size_t report = tail.find("REPORT RequestId: 11111111-1111-4111-8111-111111111111\tDuration: ");
  ASSERT_NE(init, std::string::npos) << tail;
  ASSERT_NE(start, std::string::npos) << tail;
  ASSERT_NE(out, std::string::npos) << tail;
  ASSERT_NE(end, std::string::npos) << tail;
  ASSERT_NE(report, std::string::npos) << tail;
  EXPECT_LT(init, start);
  EXPECT_LT(start, out);
  EXPECT_LT(out, end);
  EXPECT_LT(end, report);
  EXPECT_TRUE(std::regex_search(
      tail, std::regex(R"(\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\tMemory Size: 128 MB\t)"
                       R"(Max Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t\n$)")))
      << tail;

  auto r2 = invoke(f, R"({"n":2})", true);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->outcome, Outcome::kSuccess);
  EXPECT_FALSE(r2->cold_start);
  EXPECT_FALSE(r2->init_duration_ms.has_value());
  EXPECT_EQ(pid_of(*r2), pid_of(*r1));
  EXPECT_EQ(r2->log_tail.find("init done"), std::string::npos);
  EXPECT_EQ(r2->log_tail.find("Init Duration"), std::string::npos);
  EXPECT_NE(r2->log_tail.find("hello from bash"), std::string::npos);
  EXPECT_EQ(invoker_->instance_pids().size(), 1u);
  EXPECT_EQ(invoker_->idle_instances(), 1u);
}

// An instance runs on its io thread's CPU while its invocations are short; one that keeps it busy
// lets it run anywhere from then on (limits.h, kPinnedCpuWindow).
TEST_F(LocalInvokerTest, AnInstanceStaysOnItsIoThreadsCpuUntilAnInvocationKeepsItBusy) {
  std::vector<int> all = allowed_cpus();
  if (all.size() < 2) GTEST_SKIP() << "needs two CPUs";
  int home = all.back();
  cpu_of_ = [home](const asio::io_context*) { return home; };
  start();
  FunctionSpec f = echo_function("pinned");  // "spin": 300 ms of CPU
  for (int i = 0; i < 3; ++i) {
    auto r = invoke(f);
    ASSERT_TRUE(r.ok()) << r.error().message;
    ASSERT_EQ(r->outcome, Outcome::kSuccess) << r->payload;
  }
  ASSERT_EQ(invoker_->instance_pids().size(), 1u);
  pid_t pid = invoker_->instance_pids()[0];
  EXPECT_EQ(cpus_of(pid), std::vector<int>{home});
  // Busy for 300 ms of CPU: released while it runs.
  auto busy = invoke(f, R"("spin")");
  ASSERT_TRUE(busy.ok()) << busy.error().message;
  ASSERT_EQ(busy->outcome, Outcome::kSuccess) << busy->payload;
  ASSERT_EQ(invoker_->instance_pids(), std::vector<pid_t>{pid});
  EXPECT_TRUE(testing::eventually([&] { return cpus_of(pid) == all; }));
  auto after = invoke(f);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(cpus_of(pid), all);  // never pinned again
}

TEST_F(LocalInvokerTest, EnvironmentAndWorkingFolderAreLambdas) {
  start();
  FunctionSpec f = bash_function("env-fn", R"SH(
while true; do
  next
  echo "cwd=$(pwd)"
  echo "trace=$TRACE_ID"
  echo "arn=$ARN"
  echo "deadline=$DEADLINE"
  env | sort
  respond "{\"pid\":$$}"
done
)SH");
  f.environment["MY_SETTING"] = "42";
  auto r = invoke(f, "{}", true);
  ASSERT_TRUE(r.ok());
  const std::string& t = r->log_tail;
  EXPECT_NE(t.find("cwd=" + f.code_dir + "\n"), std::string::npos) << t;
  EXPECT_TRUE(std::regex_search(
      t, std::regex(R"(\ntrace=Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0\n)")))
      << t;
  EXPECT_NE(t.find("\narn=" + f.function_arn + "\n"), std::string::npos) << t;
  EXPECT_TRUE(std::regex_search(t, std::regex(R"(\ndeadline=\d{13}\n)"))) << t;
  EXPECT_TRUE(std::regex_search(t, std::regex(R"(\nAWS_LAMBDA_RUNTIME_API=127\.0\.0\.1:\d+\n)")))
      << t;
  EXPECT_NE(t.find("\nAWS_LAMBDA_FUNCTION_NAME=env-fn\n"), std::string::npos);
  EXPECT_NE(t.find("\nAWS_LAMBDA_FUNCTION_VERSION=$LATEST\n"), std::string::npos);
  EXPECT_NE(t.find("\nAWS_LAMBDA_FUNCTION_MEMORY_SIZE=128\n"), std::string::npos);
  EXPECT_NE(t.find("\nAWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/env-fn\n"), std::string::npos);
  EXPECT_TRUE(std::regex_search(
      t, std::regex(R"(\nAWS_LAMBDA_LOG_STREAM_NAME=\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}\n)")));
  EXPECT_NE(t.find("\nLAMBDA_TASK_ROOT=" + f.code_dir + "\n"), std::string::npos);
  EXPECT_NE(t.find("\n_HANDLER=handler\n"), std::string::npos);
  EXPECT_NE(t.find("\nAWS_ENDPOINT_URL=http://127.0.0.1:4566\n"), std::string::npos);
  EXPECT_NE(t.find("\nAWS_ACCESS_KEY_ID=test\n"), std::string::npos);
  EXPECT_NE(t.find("\nMY_SETTING=42\n"), std::string::npos);
  EXPECT_NE(t.find("\nTZ=:UTC\n"), std::string::npos);
  EXPECT_EQ(t.find("\nAWS_EXECUTION_ENV="), std::string::npos);
}

TEST_F(LocalInvokerTest, FunctionErrorKeepsTheInstance) {
  start();
  FunctionSpec f = bash_function("err", R"SH(
while true; do
  next
  if [[ "$EVENT" == *fail* ]]; then
    fail MyError '{"errorMessage":"it failed","errorType":"MyError","stackTrace":[]}'
  else
    respond "{\"pid\":$$}"
  fi
done
)SH");
  auto ok1 = invoke(f);
  ASSERT_TRUE(ok1.ok());
  auto r = invoke(f, R"({"fail":true})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kFunctionError);
  EXPECT_EQ(r->function_error, "Unhandled");
  EXPECT_EQ(json::parse(r->payload),
            json::parse(R"({"errorMessage":"it failed","errorType":"MyError","stackTrace":[]})"));
  auto ok2 = invoke(f);
  ASSERT_TRUE(ok2.ok());
  EXPECT_EQ(pid_of(*ok2), pid_of(*ok1));
  EXPECT_FALSE(ok2->cold_start);
}

TEST_F(LocalInvokerTest, ACrashFailsTheInvocationAndTheNextOneStartsAFreshInstance) {
  start();
  FunctionSpec f = bash_function("crash", R"SH(
while true; do
  next
  if [[ "$EVENT" == *crash* ]]; then
    echo "about to crash"
    exit 1
  fi
  respond "{\"pid\":$$}"
done
)SH");
  auto before = invoke(f);
  ASSERT_TRUE(before.ok());
  auto r = invoke(f, R"({"crash":1})", true, "22222222-2222-4222-8222-222222222222");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kCrash);
  EXPECT_EQ(r->function_error, "Unhandled");
  auto v = json::parse(r->payload);
  EXPECT_EQ(v.at("errorType").as_string(), "Runtime.ExitError");
  EXPECT_EQ(v.at("errorMessage").as_string(),
            "RequestId: 22222222-2222-4222-8222-222222222222 Error: Runtime exited with error: "
            "exit status 1");
  EXPECT_NE(r->log_tail.find("about to crash\n"), std::string::npos) << r->log_tail;
  EXPECT_NE(r->log_tail.find("RequestId: 22222222-2222-4222-8222-222222222222 Error: Runtime "
                             "exited with error: exit status 1\nRuntime.ExitError\nEND RequestId"),
            std::string::npos)
      << r->log_tail;
  EXPECT_FALSE(process_exists(static_cast<pid_t>(pid_of(*before))));
  auto after = invoke(f);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->cold_start);
  EXPECT_NE(pid_of(*after), pid_of(*before));
}

TEST_F(LocalInvokerTest, ARuntimeThatExitsAfterAnsweringIsReplacedWithoutFailingTheNextCall) {
  start();
  FunctionSpec f = bash_function("one-shot", R"SH(
next
respond "{\"pid\":$$,\"event\":$EVENT}"
exit 0
)SH");
  auto r1 = invoke(f);
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ(r1->outcome, Outcome::kSuccess);
  // Whether or not the exit was noticed yet, the next call runs on a fresh instance.
  auto r2 = invoke(f, "");
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->outcome, Outcome::kSuccess) << r2->payload;
  EXPECT_NE(pid_of(*r2), pid_of(*r1));
  EXPECT_TRUE(r2->cold_start);
  // An empty payload reaches the runtime as {} (as on Lambda).
  EXPECT_EQ(json::parse(r2->payload).at("event"), json::parse("{}"));
}

TEST_F(LocalInvokerTest, ATimeoutKillsTheInstanceAndEverythingItStarted) {
  start();
  FunctionSpec f = bash_function("slow", R"SH(
while true; do
  next
  sleep 5 &
  echo "pids $$ $!"
  wait
  respond "{}"
done
)SH",
                                 /*timeout_s=*/1);
  auto t0 = std::chrono::steady_clock::now();
  auto r = invoke(f, "{}", true, "33333333-3333-4333-8333-333333333333");
  auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kTimeout);
  EXPECT_EQ(r->function_error, "Unhandled");
  EXPECT_LT(elapsed, 3s);
  EXPECT_GE(r->duration_ms, 1000);
  EXPECT_LT(r->duration_ms, 1500);
  auto v = json::parse(r->payload);
  ASSERT_EQ(v.as_object().size(), 1u);
  std::string msg(v.at("errorMessage").as_string());
  EXPECT_TRUE(std::regex_match(
      msg,
      std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z 33333333-3333-4333-8333-333333333333 )"
                 R"(Task timed out after 1\.00 seconds)")))
      << msg;
  EXPECT_NE(r->log_tail.find(msg + "\nEND RequestId"), std::string::npos) << r->log_tail;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r->log_tail, m, std::regex(R"(pids (\d+) (\d+))"))) << r->log_tail;
  pid_t main_pid = std::stoi(m[1]);
  pid_t sleep_pid = std::stoi(m[2]);
  EXPECT_FALSE(process_exists(main_pid));
  EXPECT_TRUE(testing::eventually([&] { return !process_exists(sleep_pid); }));
  EXPECT_TRUE(testing::eventually([&] { return invoker_->instance_pids().empty(); }));
}

TEST_F(LocalInvokerTest, InitErrorPostedByTheRuntime) {
  start();
  FunctionSpec f = bash_function("init-err", R"SH(
echo "loading the handler"
curl -sS -o /dev/null -H "Lambda-Runtime-Function-Error-Type: Runtime.ImportModuleError" \
  "$API/init/error" \
  -d '{"errorMessage":"Unable to import module","errorType":"Runtime.ImportModuleError","stackTrace":[]}'
exit 1
)SH");
  auto r = invoke(f, "{}", true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kInitError);
  EXPECT_EQ(r->function_error, "Unhandled");
  EXPECT_EQ(json::parse(r->payload).at("errorType").as_string(), "Runtime.ImportModuleError");
  EXPECT_TRUE(r->cold_start);
  ASSERT_TRUE(r->init_duration_ms.has_value());
  EXPECT_NE(r->log_tail.find("loading the handler\n"), std::string::npos) << r->log_tail;
  EXPECT_NE(r->log_tail.find("Init Duration: "), std::string::npos);
  EXPECT_TRUE(testing::eventually([&] { return invoker_->instance_pids().empty(); }));
}

TEST_F(LocalInvokerTest, ExitBeforeTheFirstNextIsAnInitError) {
  start();
  FunctionSpec f = bash_function("early-exit", "echo 'no luck' >&2\nexit 2\n");
  auto r = invoke(f, "{}", false, "44444444-4444-4444-8444-444444444444");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kInitError);
  auto v = json::parse(r->payload);
  EXPECT_EQ(v.at("errorType").as_string(), "Runtime.ExitError");
  EXPECT_EQ(v.at("errorMessage").as_string(),
            "RequestId: 44444444-4444-4444-8444-444444444444 Error: Runtime exited with error: "
            "exit status 2");
  ASSERT_TRUE(r->init_duration_ms.has_value());
}

TEST_F(LocalInvokerTest, AMissingBootstrapIsAnInvalidEntrypoint) {
  start();
  TempDir empty;
  FunctionSpec f = spec_for("no-bootstrap", empty.path(), 3);
  auto r = invoke(f, "{}", true, "55555555-5555-4555-8555-555555555555");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kInitError);
  auto v = json::parse(r->payload);
  EXPECT_EQ(v.at("errorType").as_string(), "Runtime.InvalidEntrypoint");
  EXPECT_EQ(v.at("errorMessage").as_string(),
            "RequestId: 55555555-5555-4555-8555-555555555555 Error: Couldn't find valid "
            "bootstrap(s): [/var/task/bootstrap /opt/bootstrap]");
  EXPECT_NE(r->log_tail.find("Runtime.InvalidEntrypoint\nEND RequestId"), std::string::npos);
  EXPECT_TRUE(invoker_->instance_pids().empty());
}

TEST_F(LocalInvokerTest, UnknownRuntimeIsAServiceException) {
  start();
  FunctionSpec f = echo_function("java");
  f.runtime = "java21";
  auto r = invoke(f);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "ServiceException");
}

TEST_F(LocalInvokerTest, TheAccountConcurrencyLimitThrottles) {
  start(/*concurrency=*/1);
  FunctionSpec f = bash_function("busy", R"SH(
while true; do
  next
  sleep 1
  respond "{\"pid\":$$}"
done
)SH");
  InvokeRequest a, b;
  a.request_id = new_request_id();
  b.request_id = new_request_id();
  auto fa = io_.spawn(invoker_->invoke(f, a));
  auto fb = io_.spawn(invoker_->invoke(f, b));
  auto ra = fa.get();
  auto rb = fb.get();
  int throttled = 0, served = 0;
  for (auto* r : {&ra, &rb}) {
    if (r->ok()) {
      EXPECT_EQ((*r)->outcome, Outcome::kSuccess);
      ++served;
    } else {
      EXPECT_EQ(r->error().code, "TooManyRequestsException");
      EXPECT_EQ(r->error().status, 429);
      EXPECT_EQ(r->error().message, "Rate Exceeded.");
      ++throttled;
    }
  }
  EXPECT_EQ(served, 1);
  EXPECT_EQ(throttled, 1);
  EXPECT_EQ(invoker_->invocations_in_flight(), 0);
  // The slot is free again.
  EXPECT_TRUE(invoke(f).ok());
}

TEST_F(LocalInvokerTest, ReservedConcurrencyLimitsTheFunctionAndLeavesTheRestToOthers) {
  start(/*concurrency=*/3);
  const char* kSlow = R"SH(
while true; do
  next
  sleep 1
  respond "{}"
done
)SH";
  FunctionSpec reserved = bash_function("reserved", kSlow);
  FunctionSpec other = bash_function("other", kSlow);
  // Reserved 0: the circuit breaker. Nothing runs, with the reservation's reason.
  invoker_->set_reserved_concurrency(reserved.function_arn, 0);
  auto stopped = invoke(reserved);
  ASSERT_FALSE(stopped.ok());
  EXPECT_EQ(stopped.error().code, "TooManyRequestsException");
  EXPECT_EQ(stopped.error().status, 429);
  EXPECT_EQ(stopped.error().reason, kThrottleReasonReserved);

  // Reserved 1 of an account limit of 3: the function runs one at a time, the others share 2.
  invoker_->set_reserved_concurrency(reserved.function_arn, 1);
  std::vector<IoThreads::Pending<Result<InvokeResult>>> calls;
  for (const FunctionSpec* f : {&reserved, &reserved, &other, &other, &other}) {
    InvokeRequest r;
    r.request_id = new_request_id();
    calls.push_back(io_.spawn(invoker_->invoke(*f, r)));
    std::this_thread::sleep_for(50ms);  // in this order
  }
  std::vector<std::string> outcome;
  for (auto& c : calls) {
    auto r = c.get();
    outcome.push_back(r.ok() ? "ok" : r.error().reason);
  }
  EXPECT_EQ(outcome, (std::vector<std::string>{"ok", kThrottleReasonReserved, "ok", "ok",
                                               kThrottleReasonAccountLimit}));

  // Removing the reservation gives the function back the unreserved pool (3).
  invoker_->set_reserved_concurrency(reserved.function_arn, std::nullopt);
  calls.clear();
  for (int i = 0; i < 3; ++i) {
    InvokeRequest r;
    r.request_id = new_request_id();
    calls.push_back(io_.spawn(invoker_->invoke(reserved, r)));
  }
  for (auto& c : calls) EXPECT_TRUE(c.get().ok());
  EXPECT_EQ(invoker_->invocations_in_flight(), 0);
}

TEST_F(LocalInvokerTest, ProvisionedInstancesAreInitialisedAheadAndKept) {
  start(1000, /*idle=*/200ms);
  FunctionSpec f = bash_function("prov", R"SH(
while true; do
  next
  respond "{\"pid\":$$,\"type\":\"$AWS_LAMBDA_INITIALIZATION_TYPE\"}"
done
)SH");
  f.version = "1";
  f.qualified_arn = f.function_arn + ":1";
  invoker_->set_provisioned_concurrency(f.function_arn, {{f, 2}});
  ASSERT_TRUE(testing::eventually(
      [&] { return invoker_->provisioned_status(f.qualified_arn).ready == 2; }, 10s));
  EXPECT_EQ(invoker_->instance_pids().size(), 2u);
  EXPECT_EQ(invoker_->idle_instances(), 2u);

  // Served warm by one of them: no init in this invocation.
  auto r = invoke(f, "{}", true);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kSuccess) << r->payload;
  EXPECT_FALSE(r->cold_start);
  EXPECT_FALSE(r->init_duration_ms.has_value());
  EXPECT_EQ(r->log_tail.find("Init Duration"), std::string::npos) << r->log_tail;
  EXPECT_EQ(json::parse(r->payload).at("type").as_string(), "provisioned-concurrency");
  std::vector<pid_t> pids = invoker_->instance_pids();

  // They outlive the idle timeout (200 ms) many times over.
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(invoker_->instance_pids(), pids);
  EXPECT_EQ(invoker_->provisioned_status(f.qualified_arn).ready, 2);

  // One dies: it is replaced.
  ::kill(pids[0], SIGKILL);
  EXPECT_TRUE(testing::eventually(
      [&] {
        auto now = invoker_->instance_pids();
        return now.size() == 2 && std::find(now.begin(), now.end(), pids[0]) == now.end() &&
               invoker_->provisioned_status(f.qualified_arn).ready == 2;
      },
      10s));

  // Without the configuration they stop.
  invoker_->set_provisioned_concurrency(f.function_arn, {});
  EXPECT_EQ(invoker_->provisioned_status(f.qualified_arn).ready, 0);
  EXPECT_TRUE(testing::eventually([&] { return invoker_->instance_pids().empty(); }, 5s));
}

TEST_F(LocalInvokerTest, ProvisioningAgainWhileTheFirstInitsRunDoesNotChurn) {
  start();
  FunctionSpec f =
      bash_function("prov-again", "sleep 0.3\nwhile true; do next; respond '{}'; done\n");
  f.version = "1";
  f.qualified_arn = f.function_arn + ":1";
  // Put, Delete, Put while the first instances are still in their init: the first ones must
  // not count for the second configuration (nor be killed and started again without end).
  invoker_->set_provisioned_concurrency(f.function_arn, {{f, 2}});
  invoker_->set_provisioned_concurrency(f.function_arn, {});
  invoker_->set_provisioned_concurrency(f.function_arn, {{f, 2}});
  ASSERT_TRUE(testing::eventually(
      [&] { return invoker_->provisioned_status(f.qualified_arn).ready == 2; }, 10s));
  // The first two were stopped when their init ended (no configuration wanted them): two in
  // all, and the same two from then on.
  std::this_thread::sleep_for(1500ms);
  auto pids = invoker_->instance_pids();
  std::sort(pids.begin(), pids.end());
  EXPECT_EQ(pids.size(), 2u);
  std::this_thread::sleep_for(1500ms);
  auto later = invoker_->instance_pids();
  std::sort(later.begin(), later.end());
  EXPECT_EQ(later, pids);
  EXPECT_EQ(invoker_->provisioned_status(f.qualified_arn).ready, 2);

  // Lowered, then removed: idle provisioned instances stop at once (the idle timeout here is
  // five minutes), as Lambda frees them.
  invoker_->set_provisioned_concurrency(f.function_arn, {{f, 1}});
  EXPECT_TRUE(testing::eventually([&] { return invoker_->instance_pids().size() == 1; }, 3s));
  invoker_->set_provisioned_concurrency(f.function_arn, {});
  EXPECT_TRUE(testing::eventually([&] { return invoker_->instance_pids().empty(); }, 3s));
}

TEST_F(LocalInvokerTest, AProvisionedInitThatFailsIsReported) {
  start();
  FunctionSpec f = bash_function("prov-fail", "echo 'cannot init' >&2\nexit 3\n");
  f.version = "1";
  f.qualified_arn = f.function_arn + ":1";
  invoker_->set_provisioned_concurrency(f.function_arn, {{f, 1}});
  ASSERT_TRUE(testing::eventually(
      [&] { return !invoker_->provisioned_status(f.qualified_arn).failure.empty(); }, 10s));
  EXPECT_EQ(invoker_->provisioned_status(f.qualified_arn).ready, 0);
  EXPECT_TRUE(testing::eventually([&] { return invoker_->instance_pids().empty(); }));
}

TEST_F(LocalInvokerTest, ConcurrentInvocationsGetTheirOwnInstances) {
  start();
  FunctionSpec f = bash_function("parallel", R"SH(
while true; do
  next
  sleep 0.3
  respond "{\"pid\":$$}"
done
)SH");
  std::vector<IoThreads::Pending<Result<InvokeResult>>> futures;
  for (int i = 0; i < 3; ++i) {
    InvokeRequest req;
    req.request_id = new_request_id();
    futures.push_back(io_.spawn(invoker_->invoke(f, req)));
  }
  std::set<int64_t> pids;
  for (auto& fut : futures) {
    auto r = fut.get();
    ASSERT_TRUE(r.ok());
    pids.insert(pid_of(*r));
  }
  EXPECT_EQ(pids.size(), 3u);
  EXPECT_EQ(invoker_->idle_instances(), 3u);
}

TEST_F(LocalInvokerTest, IdleInstancesAreStopped) {
  start(1000, /*idle=*/200ms);
  FunctionSpec f = echo_function("idle", "pid");
  auto r1 = invoke(f);
  ASSERT_TRUE(r1.ok());
  pid_t pid = static_cast<pid_t>(pid_of(*r1));
  EXPECT_TRUE(process_exists(pid));
  EXPECT_TRUE(testing::eventually([&] { return !process_exists(pid); }, 3s));
  EXPECT_TRUE(testing::eventually([&] { return invoker_->instance_pids().empty(); }));
  EXPECT_EQ(invoker_->idle_instances(), 0u);
  auto r2 = invoke(f);
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(r2->cold_start);
}

TEST_F(LocalInvokerTest, AnUpdateNeverServesTheOldCode) {
  start();
  FunctionSpec f = echo_function("updated", "pid");
  auto r1 = invoke(f);
  ASSERT_TRUE(r1.ok());
  pid_t old_pid = static_cast<pid_t>(pid_of(*r1));
  f.revision_id = "rev-2";
  auto r2 = invoke(f);
  ASSERT_TRUE(r2.ok());
  EXPECT_TRUE(r2->cold_start);
  EXPECT_NE(pid_of(*r2), old_pid);
  EXPECT_TRUE(testing::eventually([&] { return !process_exists(old_pid); }));
}

TEST_F(LocalInvokerTest, RetireFunctionStopsItsInstances) {
  start();
  FunctionSpec f = echo_function("deleted", "pid");
  FunctionSpec g = echo_function("kept", "pid");
  pid_t fp = static_cast<pid_t>(pid_of(*invoke(f)));
  pid_t gp = static_cast<pid_t>(pid_of(*invoke(g)));
  invoker_->retire_function(f.function_arn);
  EXPECT_TRUE(testing::eventually([&] { return !process_exists(fp); }));
  EXPECT_TRUE(process_exists(gp));
  auto again = invoke(f);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->cold_start);
}

TEST_F(LocalInvokerTest, ShutdownLeavesNothingRunning) {
  start();
  FunctionSpec a = echo_function("a", "pid");
  FunctionSpec b = bash_function("b", R"SH(
trap '' TERM
while true; do
  next
  respond "{\"pid\":$$}"
done
)SH");
  std::vector<pid_t> pids;
  pids.push_back(static_cast<pid_t>(pid_of(*invoke(a))));
  pids.push_back(static_cast<pid_t>(pid_of(*invoke(b))));
  // An invocation in flight when the node stops.
  FunctionSpec slow = bash_function("slow-at-shutdown", R"SH(
while true; do
  next
  touch "$MARKER"
  sleep 30
done
)SH");
  std::string marker = data_.path() + "/delivered";
  slow.environment["MARKER"] = marker;
  InvokeRequest req;
  req.request_id = new_request_id();
  auto in_flight = io_.spawn(invoker_->invoke(slow, req));
  // Wait until the event reached the runtime (then the shutdown cuts an invocation, not an init).
  ASSERT_TRUE(testing::eventually([&] { return access(marker.c_str(), F_OK) == 0; }));
  ASSERT_EQ(invoker_->instance_pids().size(), 3u);
  for (pid_t p : invoker_->instance_pids()) {
    if (std::find(pids.begin(), pids.end(), p) == pids.end()) pids.push_back(p);
  }
  ASSERT_EQ(pids.size(), 3u);
  auto t0 = std::chrono::steady_clock::now();
  invoker_->shutdown(100ms);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  for (pid_t p : pids) EXPECT_FALSE(process_exists(p)) << p;
  EXPECT_TRUE(invoker_->instance_pids().empty());
  auto cut = in_flight.get();
  ASSERT_TRUE(cut.ok());
  EXPECT_EQ(cut->outcome, Outcome::kCrash);
  auto refused = invoke(a);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "ServiceException");
}

TEST_F(LocalInvokerTest, LogsGoToTheFunctionsLogStream) {
  start();
  FunctionSpec f = echo_function("logged");
  f.environment["ECHO_RUNTIME_LOG"] = "1";
  auto r = invoke(f, "{}", false, "66666666-6666-4666-8666-666666666666");
  ASSERT_TRUE(r.ok());
  invoker_->shutdown(0ms);  // flushes the sink
  std::string dir = config_.data_dir + "/logs/%2Faws%2Flambda%2Flogged";
  ASSERT_TRUE(std::filesystem::exists(dir));
  std::string text;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(e.path());
    std::stringstream ss;
    ss << in.rdbuf();
    text += ss.str();
  }
  EXPECT_TRUE(std::regex_search(
      text,
      std::regex("\tSTART RequestId: 66666666-6666-4666-8666-666666666666 Version: \\$LATEST\n"
                 "[^\n]*\thandled 66666666-6666-4666-8666-666666666666\n"
                 "[^\n]*\tEND RequestId: 66666666-6666-4666-8666-666666666666\n"
                 "[^\n]*\tREPORT RequestId: 66666666-6666-4666-8666-666666666666\tDuration")))
      << text;
}

TEST_F(LocalInvokerTest, AResponseOverSixMegabytesIsAFunctionError) {
  start();
  FunctionSpec f = bash_function("big", R"SH(
BIG=$(mktemp)
head -c 6291457 /dev/zero | tr '\0' 'x' > "$BIG"
while true; do
  next
  curl -sS -o /dev/null "$API/invocation/$REQUEST_ID/response" --data-binary "@$BIG"
done
)SH");
  auto r = invoke(f);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kFunctionError);
  EXPECT_EQ(json::parse(r->payload).at("errorType").as_string(), "Function.ResponseSizeTooLarge");
}

// The shipped Python client (runtimes/python) end to end.
TEST_F(LocalInvokerTest, PythonFunction) {
  config_.runtimes_dir = NUBO_RUNTIMES_DIR;
  if (access((config_.runtimes_dir + "/python/bootstrap.py").c_str(), R_OK) != 0 ||
      access("/usr/bin/python3", X_OK) != 0) {
    GTEST_SKIP() << "no python runtime client or /usr/bin/python3";
  }
  start();
  auto dir = std::make_unique<TempDir>();
  std::ofstream(dir->path() + "/app.py") << R"PY(
import os
print("module loaded")
def handler(event, context):
    print("handling", context.aws_request_id)
    if event.get("fail"):
        raise ValueError("bad value")
    return {"event": event, "fn": context.function_name, "arn": context.invoked_function_arn,
            "left": context.get_remaining_time_in_millis() > 0, "cwd": os.getcwd()}
)PY";
  FunctionSpec f = spec_for("py-fn", dir->path(), 3);
  code_dirs_.push_back(std::move(dir));
  f.runtime = "python3.12";
  f.handler = "app.handler";
  auto r = invoke(f, R"({"x":1})", true, "77777777-7777-4777-8777-777777777777");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->outcome, Outcome::kSuccess) << r->payload << r->log_tail;
  auto v = json::parse(r->payload);
  EXPECT_EQ(v.at("event"), json::parse(R"({"x":1})"));
  EXPECT_EQ(v.at("fn").as_string(), "py-fn");
  EXPECT_EQ(v.at("arn").as_string(), f.function_arn);
  EXPECT_EQ(v.at("left").as_bool(), true);
  EXPECT_EQ(v.at("cwd").as_string(), f.code_dir);
  EXPECT_NE(r->log_tail.find("module loaded\n"), std::string::npos) << r->log_tail;
  EXPECT_NE(r->log_tail.find("handling 77777777-7777-4777-8777-777777777777\n"), std::string::npos)
      << r->log_tail;
  ASSERT_TRUE(r->init_duration_ms.has_value());
  std::printf("python cold start: init %.1f ms, first invoke %.2f ms\n", *r->init_duration_ms,
              r->duration_ms);

  auto err = invoke(f, R"({"fail":true})", true);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->outcome, Outcome::kFunctionError);
  EXPECT_EQ(err->function_error, "Unhandled");
  auto e = json::parse(err->payload);
  EXPECT_EQ(e.at("errorType").as_string(), "ValueError");
  EXPECT_EQ(e.at("errorMessage").as_string(), "bad value");
  EXPECT_NE(err->log_tail.find("[ERROR] ValueError: bad value"), std::string::npos)
      << err->log_tail;
  EXPECT_FALSE(err->cold_start);
}

TEST_F(LocalInvokerTest, PythonImportErrorIsAnInitError) {
  config_.runtimes_dir = NUBO_RUNTIMES_DIR;
  if (access((config_.runtimes_dir + "/python/bootstrap.py").c_str(), R_OK) != 0 ||
      access("/usr/bin/python3", X_OK) != 0) {
    GTEST_SKIP() << "no python runtime client or /usr/bin/python3";
  }
  start();
  auto dir = std::make_unique<TempDir>();
  std::ofstream(dir->path() + "/app.py") << "import no_such_module_here\n";
  FunctionSpec f = spec_for("py-broken", dir->path(), 3);
  code_dirs_.push_back(std::move(dir));
  f.runtime = "python3.12";
  f.handler = "app.handler";
  auto r = invoke(f);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->outcome, Outcome::kInitError) << r->payload;
  EXPECT_EQ(json::parse(r->payload).at("errorType").as_string(), "Runtime.ImportModuleError");
}

// The shipped Node.js client (runtimes/nodejs) end to end.
TEST_F(LocalInvokerTest, NodeFunction) {
  config_.runtimes_dir = NUBO_RUNTIMES_DIR;
  if (access((config_.runtimes_dir + "/nodejs/bootstrap.cjs").c_str(), R_OK) != 0 ||
      access("/usr/bin/node", X_OK) != 0) {
    GTEST_SKIP() << "no nodejs runtime client or /usr/bin/node";
  }
  start();
  auto dir = std::make_unique<TempDir>();
  std::ofstream(dir->path() + "/index.js") << R"JS(
console.log("module loaded");
exports.handler = async (event, context) => {
  if (event.fail) throw new TypeError("bad type");
  return { event, fn: context.functionName, mem: context.memoryLimitInMB };
};
)JS";
  FunctionSpec f = spec_for("node-fn", dir->path(), 3);
  code_dirs_.push_back(std::move(dir));
  f.runtime = "nodejs20.x";
  f.handler = "index.handler";
  auto r = invoke(f, R"({"y":2})", true);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->outcome, Outcome::kSuccess) << r->payload << r->log_tail;
  auto v = json::parse(r->payload);
  EXPECT_EQ(v.at("event"), json::parse(R"({"y":2})"));
  EXPECT_EQ(v.at("fn").as_string(), "node-fn");
  EXPECT_EQ(v.at("mem").as_string(), "128");
  EXPECT_NE(r->log_tail.find("module loaded"), std::string::npos) << r->log_tail;
  std::printf("node cold start: init %.1f ms, first invoke %.2f ms\n", *r->init_duration_ms,
              r->duration_ms);
  auto err = invoke(f, R"({"fail":true})");
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->outcome, Outcome::kFunctionError);
  EXPECT_EQ(json::parse(err->payload).at("errorType").as_string(), "TypeError");
}

// Warm-path cost with the C runtime. Prints figures; fails only if something breaks.
TEST_F(LocalInvokerTest, WarmInvokeLatency) {
  start();
  FunctionSpec f = echo_function("bench", "noop");
  ASSERT_TRUE(invoke(f).ok());  // cold start
  const char* env_n = std::getenv("NUBO_BENCH_INVOKES");
  const int n = env_n ? std::atoi(env_n) : 2000;
  auto run_sequential = [&]() -> asio::awaitable<std::vector<double>> {
    std::vector<double> us;
    us.reserve(n);
    for (int i = 0; i < n; ++i) {
      InvokeRequest req;
      req.payload = "{}";
      req.request_id = "bench-" + std::to_string(i);
      auto t0 = std::chrono::steady_clock::now();
      auto invoking = invoker_->invoke(f, std::move(req));  // GCC 12: not in the co_await
      auto r = co_await std::move(invoking);
      auto t1 = std::chrono::steady_clock::now();
      if (!r.ok() || r->outcome != Outcome::kSuccess) co_return std::vector<double>{};
      us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
    co_return us;
  };
  // CPU time per invoke, in nubo (this process) and in the runtime process: a figure that holds
  // when other work shares the cores (wall-clock latency does not).
  pid_t runtime_pid = invoker_->instance_pids().at(0);
  auto runtime_cpu_us = [&] {
    std::ifstream in("/proc/" + std::to_string(runtime_pid) + "/stat");
    std::string line;
    std::getline(in, line);
    std::istringstream rest(line.substr(line.rfind(')') + 2));
    std::string field;
    long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoll(field);
      if (i == 15) stime = std::stoll(field);
    }
    return (utime + stime) * 1e6 / static_cast<double>(sysconf(_SC_CLK_TCK));
  };
  auto self_cpu_us = [](bool user) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const struct timeval& tv = user ? ru.ru_utime : ru.ru_stime;
    return tv.tv_sec * 1e6 + tv.tv_usec;
  };
  double user0 = self_cpu_us(true), sys0 = self_cpu_us(false), rt0 = runtime_cpu_us();
  std::vector<double> us = io_.run(run_sequential());
  double user1 = self_cpu_us(true), sys1 = self_cpu_us(false), rt1 = runtime_cpu_us();
  ASSERT_EQ(us.size(), static_cast<size_t>(n));
  std::sort(us.begin(), us.end());
  std::printf("warm invoke, 1 caller: p50 %.1f us  p90 %.1f us  p99 %.1f us  (%d invokes)\n",
              us[us.size() / 2], us[us.size() * 9 / 10], us[us.size() * 99 / 100], n);
  std::printf("  CPU per invoke: nubo %.1f us (user %.1f, kernel %.1f), runtime process %.1f us\n",
              (user1 - user0 + sys1 - sys0) / n, (user1 - user0) / n, (sys1 - sys0) / n,
              (rt1 - rt0) / n);

  // Concurrency 64: 64 callers, each with its own instance once warm.
  constexpr int kCallers = 64;
  const int per_caller = std::max(1, n / 8);
  std::atomic<int> failures{0};
  auto caller = [&](int c) -> asio::awaitable<void> {
    for (int i = 0; i < per_caller; ++i) {
      InvokeRequest req;
      req.payload = "{}";
      req.request_id = "c" + std::to_string(c) + "-" + std::to_string(i);
      auto invoking = invoker_->invoke(f, std::move(req));  // GCC 12: not in the co_await
      auto r = co_await std::move(invoking);
      if (!r.ok() || r->outcome != Outcome::kSuccess) failures.fetch_add(1);
    }
  };
  // Warm 64 instances first (all in flight at once, so each gets its own).
  auto warm_one = [&](int c) -> asio::awaitable<void> {
    InvokeRequest req;
    req.payload = "{}";
    req.request_id = "warm-" + std::to_string(c);
    auto invoking = invoker_->invoke(f, std::move(req));
    co_await std::move(invoking);
  };
  {
    std::vector<std::future<void>> warm;
    for (int c = 0; c < kCallers; ++c) warm.push_back(io_.spawn(warm_one(c)));
    for (auto& w : warm) w.get();
  }
  auto t0 = std::chrono::steady_clock::now();
  std::vector<std::future<void>> futures;
  for (int c = 0; c < kCallers; ++c) futures.push_back(io_.spawn(caller(c)));
  for (auto& fut : futures) fut.get();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(failures.load(), 0);
  std::printf("warm invoke, %d callers: %.0f invokes/s (%d invokes, %zu instances)\n", kCallers,
              kCallers * per_caller / secs, kCallers * per_caller,
              invoker_->instance_pids().size());
}

}  // namespace
}  // namespace nubo::runtime

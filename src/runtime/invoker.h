// Invoker: the one path from "an event for function F" to a result (DESIGN.md "Invoker").
//
// Sync API calls, async calls and every event source call invoke(); limits (account and
// reserved concurrency), metering and, later, tracing and recursion detection live here.
//
// Threads: invoke() may be called from any io thread and completes on the caller's executor.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "net/http.h"
#include "runtime/function_spec.h"

namespace nubo::runtime {

struct InvokeRequest {
  std::string payload;         // the event, as JSON text
  std::string request_id;      // the aws request id for this invocation
  std::string client_context;  // base64 JSON or empty (Lambda-Runtime-Client-Context is decoded)
  std::string cognito_identity;
  std::string trace_id;        // X-Amzn-Trace-Id value or empty (one is made)
  bool want_log_tail = false;  // fill InvokeResult::log_tail
  // Lambda-Runtime-Invoked-Function-Arn: the ARN as the caller named it (unqualified, version or
  // alias). Empty: the function ARN for $LATEST, the qualified ARN for a version.
  std::string invoked_function_arn;
};

struct InvokeResult {
  enum class Outcome {
    kSuccess,        // /response posted
    kFunctionError,  // /error posted by the runtime (handled by the runtime)
    kInitError,      // /init/error, or the process exited before asking for work at init
    kTimeout,        // "Task timed out after N.NN seconds"; the instance was killed
    kCrash,          // the process exited during the invocation: Runtime.ExitError
    kOutOfMemory,    // the memory limit was hit: Runtime.OutOfMemory
  };
  Outcome outcome = Outcome::kSuccess;
  // Response body as the client sees it: the function's response on success, else the error
  // JSON {"errorMessage":..., "errorType":..., "stackTrace":[...]} (what Lambda returns).
  std::string payload;
  // X-Amz-Function-Error: empty on success, else "Unhandled" (Lambda's value for all of these).
  std::string function_error;
  std::string log_tail;            // last 4 KB of this invocation's log, if asked for
  std::string executed_version;    // X-Amz-Executed-Version
  double duration_ms = 0;          // from handing the event to the runtime to its answer
  int64_t billed_duration_ms = 0;  // rounded up to 1 ms
  int64_t max_memory_used_mb = 0;
  std::optional<double> init_duration_ms;  // set on cold starts
  bool cold_start = false;
};

// The throttling error (TooManyRequestsException, 429, "Rate Exceeded.") carries its cause in
// Error::reason, which the Lambda layer renders as Lambda does:
// {"Reason":"ConcurrentInvocationLimitExceeded","Type":"User","message":"Rate Exceeded."}.
// Account: the unreserved pool is in use. Reserved: the function's reserved concurrency is
// (0 stops the function: the circuit breaker).
inline constexpr const char* kThrottleReasonAccountLimit = "ConcurrentInvocationLimitExceeded";
inline constexpr const char* kThrottleReasonReserved =
    "ReservedFunctionConcurrentInvocationLimitExceeded";
inline constexpr const char* kThrottleType = "User";

class Invoker {
 public:
  virtual ~Invoker() = default;

  // Runs one invocation of spec. Errors are the API errors of a refused invocation:
  // TooManyRequestsException (429, reason kThrottleReasonAccountLimit or
  // kThrottleReasonReserved), or a ServiceException when no instance could be started at all.
  // Function failures are not errors: they come back as an InvokeResult with function_error set.
  virtual net::Task<Result<InvokeResult>> invoke(FunctionSpec spec, InvokeRequest request) = 0;

  // Stops and forgets every instance of the function (all versions): used on delete.
  virtual void retire_function(const std::string& function_arn) = 0;
  // One version was deleted: its idle instances and its SnapStart snapshot are stopped.
  virtual void retire_version(const std::string& qualified_arn) { (void)qualified_arn; }

  // The reserved concurrency of a function (all its versions and aliases, by its unqualified
  // ARN): at most `limit` of its invocations run at once, and they do not draw from the
  // unreserved pool (the account limit minus every reservation); nullopt removes the
  // reservation. The caller keeps the account's reservations within the account limit.
  virtual void set_reserved_concurrency(const std::string& function_arn,
                                        std::optional<int> limit) = 0;

  // Provisioned concurrency of one function: for each target, `count` instances of that
  // published version are started and initialised ahead (AWS_LAMBDA_INITIALIZATION_TYPE
  // "provisioned-concurrency"), kept however long they idle, and replaced when they die; an
  // invocation they serve is warm. Replaces the function's whole set: a version left out (or an
  // empty set) loses its provisioned instances: idle ones stop at once, busy ones age out after.
  // Instances of an init that failed are retried every kProvisionedRetry.
  struct ProvisionedTarget {
    FunctionSpec spec;
    int count = 0;
  };
  virtual void set_provisioned_concurrency(const std::string& function_arn,
                                           std::vector<ProvisionedTarget> targets) = 0;

  // How far the provisioning of a version (by its qualified ARN) has come: initialised
  // instances, and the last init failure since the target was set ("" if none).
  struct ProvisionedStatus {
    int ready = 0;
    std::string failure;
  };
  virtual ProvisionedStatus provisioned_status(const std::string& qualified_arn) const = 0;

  // SnapStart: spec (a published version with FunctionSpec::snap_start) was just published;
  // its snapshot can be taken now, ahead of its first cold start. Returns at once.
  virtual void prepare_snapshot(const FunctionSpec& spec) { (void)spec; }

  // Stops every instance and refuses new invocations; waits for running ones up to `grace`.
  // Must not run on an io thread.
  virtual void shutdown(std::chrono::milliseconds grace) = 0;
};

}  // namespace nubo::runtime

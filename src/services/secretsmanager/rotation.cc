#include "services/secretsmanager/rotation.h"

// GCC 12 reports a false -Wmismatched-new-delete on the frames of some Asio coroutines here (the
// frame's operator new/delete pair is Asio's own); see GCC bug 109224.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <vector>

#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "net/async.h"

namespace nubo::secretsmanager {

std::string rotation_event(const std::string& step, const std::string& arn,
                           const std::string& token, const std::string& rotation_token) {
  json::object o;
  o["Step"] = step;
  o["SecretId"] = arn;
  o["ClientRequestToken"] = token;
  o["RotationToken"] = rotation_token;
  return json::serialize(o);
}

net::Task<Status> run_rotation(RotationDeps deps, RotationJob job) {
  std::vector<const char*> steps;
  if (job.test_only) {
    steps = {kStepTest};
  } else {
    steps = {kStepCreate, kStepSet, kStepTest, kStepFinish};
  }
  const std::string rotation_token = new_uuid();
  std::string failure;
  for (const char* step : steps) {
    if (deps.stopping && deps.stopping()) {
      failure = std::string(step) + ": not started, the node was stopping";
      break;
    }
    Result<std::string> r = Error{"InternalServiceError", 500, "no Lambda invoker"};
    try {
      if (deps.invoke) {
        // Named, not temporaries inside the co_await (GCC 12 mishandles those in frames).
        std::string event = rotation_event(step, job.arn, job.token, rotation_token);
        auto invocation = deps.invoke(job.lambda_arn, std::move(event));
        r = co_await std::move(invocation);
      }
    } catch (const std::exception& e) {
      r = Error{"InternalServiceError", 500, "the invocation failed"};
    }
    if (!r.ok()) {
      // The step and the error's code only: a function's error message may quote a value.
      failure = std::string(step) + ": " + r.error().code;
      break;
    }
  }
  Secrets* secrets = deps.secrets;
  if (failure.empty()) {
    auto finish = [secrets, job]() -> Status { return secrets->finish_rotation(job); };
    auto finishing = net::run_blocking(*deps.blocking, std::move(finish));
    Status done = co_await std::move(finishing);
    if (done.ok()) {
      if (!job.test_only) log_info("secretsmanager: rotated " + job.arn);
      co_return Ok{};
    }
    failure = "finishSecret: " + done.error().code;
    if (done.error().code != "InvalidRequestException") co_return done;
  } else {
    auto record = [secrets, job, failure]() -> Status {
      return secrets->fail_rotation(job, failure);
    };
    auto recording = net::run_blocking(*deps.blocking, std::move(record));
    Status recorded = co_await std::move(recording);
    if (!recorded.ok()) log_warn("secretsmanager: cannot record a failed rotation of " + job.arn);
  }
  log_warn("secretsmanager: the rotation of " + job.arn + " failed at " + failure);
  co_return Error{"InternalServiceError", 500, "rotation failed at " + failure};
}

}  // namespace nubo::secretsmanager

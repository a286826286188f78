// Rotation through a Lambda function, as Secrets Manager drives it ("How rotation works"): the
// function is invoked once per step — createSecret, setSecret, testSecret, finishSecret — with
// {"Step", "SecretId" (the ARN), "ClientRequestToken" (the new version's id), "RotationToken"};
// the function itself calls PutSecretValue (AWSPENDING) and UpdateSecretVersionStage back through
// the API. A step that fails ends the rotation: its version keeps AWSPENDING and the failure is
// recorded. A test-only rotation (RotateImmediately false) runs testSecret alone.
//
// Threads: run_rotation() is a coroutine on the caller's executor (an io thread); Store work
// goes to the blocking pool.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <string>

#include "base/result.h"
#include "net/http.h"
#include "services/secretsmanager/secrets.h"

namespace nubo::secretsmanager {

using InvokeFn =
    std::function<net::Task<Result<std::string>>(std::string function_arn, std::string payload)>;

inline constexpr const char* kStepCreate = "createSecret";
inline constexpr const char* kStepSet = "setSecret";
inline constexpr const char* kStepTest = "testSecret";
inline constexpr const char* kStepFinish = "finishSecret";

// The event of one step, as the function receives it.
std::string rotation_event(const std::string& step, const std::string& arn,
                           const std::string& token, const std::string& rotation_token);

struct RotationDeps {
  Secrets* secrets = nullptr;                    // borrowed
  boost::asio::thread_pool* blocking = nullptr;  // borrowed
  InvokeFn invoke;                               // empty: every step fails
  // Asked between steps: true stops the rotation there (the node is stopping); the version
  // keeps AWSPENDING and the rotation is tried again later.
  std::function<bool()> stopping;
};

// Runs `job` to its end and records the outcome (Secrets::finish_rotation or fail_rotation).
// Ok when the rotation finished; else the failure (the step and the error code). Never throws.
net::Task<Status> run_rotation(RotationDeps deps, RotationJob job);

}  // namespace nubo::secretsmanager

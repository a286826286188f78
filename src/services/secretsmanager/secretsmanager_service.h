// SecretsManagerService: AWS Secrets Manager on the JSON 1.1 protocol (POST /, X-Amz-Target:
// secretsmanager.<Action>), the wire layer over secrets.h (the logic) and rotation.h (the
// four-step rotation through a Lambda function, and the timers).
//
// Every action is authorised with auth::authorize before it acts: action
// "secretsmanager:<Action>", resource the secret's ARN (the name-based partial ARN when the
// SecretId names no secret, so that a denied caller learns nothing), the secret's resource
// policy, and the condition keys the Service Authorization Reference lists for the action.
//
// Threads: handle() runs on io threads and moves the Store work to the blocking pool. start()
// and stop() run on the main thread (stop() never on an io thread: it waits for rotations in
// flight, which need the io threads). Background work (rotations, the schedule and deletion
// timer) runs on deps.io.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "auth/authorize.h"
#include "auth/keyring.h"
#include "base/clock.h"
#include "base/result.h"
#include "net/http.h"
#include "storage/store.h"

namespace nubo::secretsmanager {

struct SecretsDeps {
  storage::Store* store = nullptr;
  const Clock* clock = nullptr;
  boost::asio::thread_pool* blocking = nullptr;
  boost::asio::io_context* io = nullptr;  // timers (rotation schedule, deletion of secrets whose
                                          // recovery window ended) and rotations
  const auth::Keyring* keyring = nullptr;
  std::string account_id, region;
  // Invokes a Lambda function synchronously with a JSON payload (rotation steps): the function's
  // response payload, or an Error (the function failed / does not exist). Empty: RotateSecret
  // with a function fails.
  std::function<net::Task<Result<std::string>>(std::string function_arn, std::string payload)>
      invoke;
  // How often the background timer looks for due rotations and ended recovery windows (by
  // deps.clock). Tests shorten it; zero: no timer (tests call tick() themselves).
  std::chrono::milliseconds timer_period = std::chrono::seconds(60);
};

class SecretsManagerService {
 public:
  explicit SecretsManagerService(SecretsDeps deps);
  ~SecretsManagerService();  // stops first, when stop() was not called
  SecretsManagerService(const SecretsManagerService&) = delete;
  SecretsManagerService& operator=(const SecretsManagerService&) = delete;

  Status start();  // schema; starts the background timers
  void stop();     // stops the timers, waits for what is in flight

  // Answers one Secrets Manager request. Never throws for bad input: errors leave in the JSON
  // protocol's shape ({"__type", "message"}, status 400 for every client error).
  net::Task<net::Response> handle(net::Request& req, const auth::Caller& caller);

  // One pass of the background timer, now by deps.clock: removes the secrets whose recovery
  // window ended and starts the rotations that are due. Blocking (the Store): not on an io
  // thread. Rotations it starts run on deps.io; wait_idle() waits for them.
  Status tick();
  // Waits until no rotation is in flight (tests). Not on an io thread.
  void wait_idle();

 private:
  struct Core;
  std::shared_ptr<Core> core_;
};

}  // namespace nubo::secretsmanager

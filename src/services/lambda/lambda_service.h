// LambdaService: the Lambda API (REST-JSON, /2015-03-31/...) and its logic.
//
// Owns functions, versions, aliases and their code packages (in the Store and under
// <data_dir>/lambda/), and the durable async-invocation queue. Invocations go through the
// runtime::Invoker.
//
// Threads: handle() runs on io threads; store and file work is moved to the blocking pool. The
// warm Invoke path (a cached, resolved function) stays on the io thread and touches no store.
//
// Routes: see handle(). Besides the Lambda API it serves GET /_nubo/lambda/code/<sha>.zip, the
// presigned-style URL that GetFunction's Code.Location points at (checked by its own signature,
// not SigV4).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>

#include "auth/authorize.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/result.h"
#include "net/http.h"
#include "runtime/invoker.h"
#include "services/lambda/async_queue.h"
#include "storage/store.h"

namespace nubo::lambda {

struct LambdaDeps {
  const NodeConfig* config = nullptr;
  storage::Store* store = nullptr;
  runtime::Invoker* invoker = nullptr;
  const Clock* clock = nullptr;
  boost::asio::io_context* io = nullptr;         // where background loops run
  boost::asio::thread_pool* blocking = nullptr;  // disk and other blocking work
  // The async-invocation queue's concurrency, retry delays and limits (AWS's by default; tests
  // shorten the delays).
  AsyncQueueOptions async;
  // Whether Lambda can assume a function's execution role (it exists and trusts
  // lambda.amazonaws.com): Ok, or the InvalidParameterValueException to answer
  // CreateFunction / UpdateFunctionConfiguration with. Blocks; called on the blocking pool.
  // Empty: every well-formed role is accepted (unit tests).
  std::function<Status(const std::string& role_arn)> check_role;
};

class LambdaService {
 public:
  explicit LambdaService(LambdaDeps deps);
  ~LambdaService();
  LambdaService(const LambdaService&) = delete;
  LambdaService& operator=(const LambdaService&) = delete;

  // Applies the schema, and starts the async queue's workers (resuming events accepted before a
  // restart). Call once, before the first handle().
  Status start();

  // Answers one Lambda API request. `target` is the parsed request target; `caller` the
  // authenticated principal. Never throws for bad input: errors leave in Lambda's error shape.
  net::Task<net::Response> handle(net::Request& req, const net::Target& target,
                                  const auth::Caller& caller);

  // A synchronous invocation on behalf of another service (Secrets Manager's rotation steps):
  // `function` is a name or ARN, optionally qualified. The function's response payload, or its
  // error as an Error ("ResourceNotFoundException" for no such function, the function's own
  // errorType and errorMessage for a failed invocation). Runs on an io thread.
  net::Task<Result<std::string>> invoke_for_service(std::string function, std::string payload);

  // Stops the async workers; events not yet delivered stay queued in the Store.
  // Must not run on an io thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nubo::lambda

// LambdaService: the Lambda API (REST-JSON, /2015-03-31/...) and its logic.
//
// Owns functions, versions, aliases and their code packages (in the Store and under
// <data_dir>/lambda/), and the durable async-invocation queue. Invocations go through the
// runtime::Invoker.
//
// Threads: handle() runs on io threads; store and file work is moved to the blocking pool. The
// warm Invoke path (a cached, resolved function) stays on the io thread and touches no store.
//
// Function policies (AddPermission / GetPolicy / RemovePermission) are kept per function and
// qualifier in the Store and, parsed, in memory (dropped on every write to the function); every
// authorisation of a caller that is not root on a function's ARN evaluates its policy, and other
// services ask service_may_invoke(). Function URL configurations live in the Store and, for the
// front door, in memory (find_function_url).
//
// Routes: see handle(). Besides the Lambda API it serves GET /_nubo/lambda/code/<sha>.zip, the
// presigned-style URL that GetFunction's Code.Location points at (checked by its own signature,
// not SigV4).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/authorize.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/result.h"
#include "net/http.h"
#include "runtime/invoker.h"
#include "services/lambda/async_queue.h"
#include "services/lambda/event_invoke_configs.h"
#include "services/lambda/event_sources.h"
#include "services/lambda/function_urls.h"
#include "storage/store.h"

namespace nubo::lambda {

struct LambdaDeps {
  const NodeConfig* config = nullptr;
  storage::Store* store = nullptr;
  runtime::Invoker* invoker = nullptr;
  const Clock* clock = nullptr;
  boost::asio::io_context* io = nullptr;  // where background loops run
  // Where async invocations run, in turn (AsyncQueue::Deps::workers). Empty: on io.
  std::vector<boost::asio::io_context*> workers;
  // Event source mappings: the queue hooks of EventSourceDeps (queue_visibility, receive,
  // delete_messages, release; the node wires them to SQS). The service fills in the rest.
  // Without them CreateEventSourceMapping finds no queue.
  EventSourceDeps event_sources;
  // Asynchronous invocations' destinations and dead-letter queues on SQS: sends body (with
  // these String message attributes) to the queue; Ok once it is stored. Runs on an io thread.
  // Empty: destinations that are queues are refused.
  std::function<net::Task<Status>(std::string queue_arn, std::string body,
                                  std::map<std::string, std::string> attributes)>
      send_message;
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

// A function URL as the front door serves it (find_function_url): what it invokes and how.
struct FunctionUrlTarget {
  std::string url_id;
  std::string function_name;
  std::string qualifier;     // "" (the unqualified function: $LATEST) or an alias name
  std::string function_arn;  // the configuration's FunctionArn: qualified for an alias
  std::string auth_type;     // "NONE" | "AWS_IAM"
  std::optional<FunctionUrlCors> cors;
  std::string invoke_mode;  // "BUFFERED" | "RESPONSE_STREAM"
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

  // An asynchronous invocation on behalf of another service (S3's bucket notifications): the
  // event is queued durably, exactly as an Invoke with InvocationType Event queues it (retries,
  // the event's maximum age), and Ok returns once it is in the Store. `function` is an ARN or
  // name, optionally qualified. ResourceNotFoundException when there is no such function.
  // Runs on an io thread.
  // `trace`: the trace header of the request that caused the event (X-Amzn-Trace-Id), which
  // the invocation carries on for recursion detection (recursion.h); empty: a new chain.
  net::Task<Status> invoke_async_for_service(std::string function, std::string payload,
                                             std::string trace = "");

  // Whether the resource policy of `function` (a name or ARN; with a qualifier, that version's
  // or alias's policy, else the unqualified function's) allows the service principal
  // `service_principal` ("s3.amazonaws.com") to perform `action` ("lambda:InvokeFunction") on
  // it, with the request's aws:SourceArn = source_arn and aws:SourceAccount = source_account
  // (each set only when not empty), evaluated by the policy engine (auth::evaluate with the
  // Principal checked): false when the function has no policy or no statement applies (an
  // explicit Deny wins). ResourceNotFoundException when there is no such function; a
  // ValidationException for a malformed name.
  // Thread-safe. May block on the Store (a policy not cached yet): call it where blocking is
  // allowed (the blocking pool, a service's own worker), never on an io thread.
  Result<bool> service_may_invoke(const std::string& function, const std::string& action,
                                  const std::string& service_principal,
                                  const std::string& source_arn, const std::string& source_account);

  // The function URL whose id is `url_id` (the first label of the host,
  // <url-id>.lambda-url.<region>.localhost), or nullopt. Answered from memory: the table is
  // filled by start() and replaced for a function after every committed write to it, so a
  // lookup never touches the Store. Thread-safe; meant for io threads (a shared lock and one
  // hash lookup).
  std::optional<FunctionUrlTarget> find_function_url(std::string_view url_id) const;

  // Whether a request to `target`'s URL may invoke it, as Lambda decides: AWS_IAM, the SigV4
  // caller (null: the request was not signed, which is refused) must be allowed
  // lambda:InvokeFunctionUrl on target.function_arn by its identity policies or the function's
  // policy, with lambda:FunctionUrlAuthType = AWS_IAM; NONE, the function's policy must allow
  // lambda:InvokeFunctionUrl to the caller, or to anyone ("*"), with lambda:FunctionUrlAuthType
  // = NONE (CreateFunctionUrlConfig adds no such statement: AddPermission does, as the Lambda
  // console does for a public URL). Ok, or AccessDeniedException 403 "Forbidden" (Lambda's
  // function URL answer); ResourceNotFoundException when the function went away.
  // Runs on an io thread; *caller must outlive the call. The policy comes from the cache
  // (a miss reads the Store on the blocking pool).
  net::Task<Status> authorize_url_invoke(FunctionUrlTarget target, const auth::Caller* caller);

  // Invokes `target` synchronously through the path the Invoke API uses: the cached resolution
  // of its function and qualifier (an alias's routing weights included), the function's State,
  // the payload limit and the invoker's concurrency limits. Errors are the Invoke API's:
  // TooManyRequestsException 429 with its Reason when throttled, ResourceNotFoundException
  // when the function or alias went away, ResourceConflictException while it is not Active,
  // RequestEntityTooLargeException. `payload` is the event (the front door builds the function
  // URL request event); `request_id` names the invocation (empty: a new one). A function error
  // is a result (InvokeResult::function_error), not an Error. Runs on an io thread.
  net::Task<Result<runtime::InvokeResult>> invoke_url_target(FunctionUrlTarget target,
                                                             std::string payload,
                                                             std::string request_id);

  // Stops the async workers; events not yet delivered stay queued in the Store.
  // Must not run on an io thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nubo::lambda

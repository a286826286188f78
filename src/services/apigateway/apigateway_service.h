// ApiGatewayService: HTTP APIs (the API Gateway V2 API, REST-JSON under /v2/apis..., a subset)
// and serving them: a request to an API's endpoint picks a stage and a route and invokes the
// route's Lambda function with the 1.0 or 2.0 proxy payload (payload.h).
//
// Control plane (handle): CreateApi (with quick create: `target` makes an AWS_PROXY integration
// with payload 2.0, the route `routeKey` or $default, and an auto-deployed $default stage),
// GetApi, GetApis, UpdateApi, DeleteApi; Create/Get/Gets/Update/DeleteRoute;
// Create/Get/Gets/Update/DeleteIntegration (AWS_PROXY to a Lambda function only);
// Create/Get/Gets/Update/DeleteStage; Create/Get/Gets/DeleteDeployment. Members are camelCase;
// errors are API Gateway's: x-amzn-ErrorType and {"message": ...} (BadRequestException 400,
// AccessDeniedException 403, NotFoundException 404, ConflictException 409). Every action is
// authorised with auth::authorize as "apigateway:<HTTP method>" on
// "arn:aws:apigateway:<region>::<path without /v2>" before it acts (limits.h).
//
// Data plane (execute): see there. APIs are served from an in-memory cache of what the Store
// holds, filled by start() and replaced after every committed write of this node, so a request
// never waits for the Store. (A second node sharing the Store would need writes broadcast, as
// sts::Directory's cache does.)
//
// Threads: handle() and execute() run on io threads; handle() moves its Store work to the
// blocking pool, execute() touches no Store. start() runs on the main thread before the first
// request. There is no background work, so nothing to stop.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <string>

#include "auth/authorize.h"
#include "base/clock.h"
#include "base/config.h"
#include "base/result.h"
#include "net/http.h"
#include "runtime/invoker.h"
#include "storage/store.h"

namespace nubo::apigateway {

// Invokes a Lambda function synchronously (RequestResponse) with the event as JSON text, through
// Lambda's own invoke path (its concurrency limits and throttling). An Error is a refused
// invocation: TooManyRequestsException (429) when throttled, ResourceNotFoundException when the
// function does not exist, ...; a function that ran and failed is an InvokeResult with
// function_error set. Called on an io thread; completes on the caller's executor.
using InvokeFunction = std::function<net::Task<Result<runtime::InvokeResult>>(
    std::string function_arn, std::string payload)>;

struct ApiGatewayDeps {
  // account_id and region; port (or, once bound, endpoint_url's port) for apiEndpoint. Borrowed;
  // read when answering, so a port chosen at bind time shows once the node knows it.
  const NodeConfig* config = nullptr;
  storage::Store* store = nullptr;
  const Clock* clock = nullptr;
  boost::asio::thread_pool* blocking = nullptr;
  InvokeFunction invoke;  // empty: every execute() of a route answers 500
};

class ApiGatewayService {
 public:
  explicit ApiGatewayService(ApiGatewayDeps deps);
  ~ApiGatewayService();
  ApiGatewayService(const ApiGatewayService&) = delete;
  ApiGatewayService& operator=(const ApiGatewayService&) = delete;

  // Applies the schema and fills the cache of served APIs from the Store. Blocking; call once,
  // before the first request.
  Status start();

  // Answers one API Gateway V2 management request (a path under /v2/apis). `target` is the
  // parsed request target. Never throws for bad input: errors leave in API Gateway's shape.
  net::Task<net::Response> handle(net::Request& req, const net::Target& target,
                                  const auth::Caller& caller);

  // Serves one request to an HTTP API:
  //   `api_id`    the API the request is for (the front door takes it from the Host header,
  //               "<api-id>.execute-api.<region>.localhost[:port]");
  //   `raw_path`  the request's path as on the wire (percent-encoded, starting with '/', no
  //               query: the query is read from req.target()), including a named stage's
  //               prefix ("/dev/pets/1");
  //   `peer`      the connection (sourceIp);
  //   `caller`    the SigV4-authenticated caller, or null for an unsigned request. Only routes
  //               with authorizationType AWS_IAM look at it ("execute-api:Invoke"); they answer
  //               403 {"message":"Forbidden"} to an unsigned request.
  // The stage is the named stage the path starts with, else $default (the path whole); then the
  // route (routes.h), its integration's function is invoked with the event of the integration's
  // payloadFormatVersion, and its answer mapped (payload.h). Answers, all JSON
  // {"message": ...}: 404 "Not Found" (no such API, stage or route), 429 "Too Many Requests"
  // (throttled), 500 "Internal Server Error" (the invocation was refused), 502 "Internal
  // Server Error" (the function failed or answered in a wrong format). With a corsConfiguration,
  // preflight requests (OPTIONS with Origin and Access-Control-Request-Method) are answered here
  // and other answers get the CORS headers, as API Gateway does.
  // `req` must outlive the returned task (the connection's handler owns it).
  net::Task<net::Response> execute(net::Request& req, std::string api_id, std::string raw_path,
                                   const net::Peer& peer, const auth::Caller* caller = nullptr);

 private:
  struct Core;
  std::shared_ptr<Core> core_;
};

}  // namespace nubo::apigateway

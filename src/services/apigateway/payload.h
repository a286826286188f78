// The Lambda proxy payload formats of HTTP APIs (1.0 and 2.0) and of function URLs (2.0): the
// event a function receives for an HTTP request, and how its answer becomes the HTTP response
// ("Create AWS Lambda proxy integrations for HTTP APIs", "Invoking Lambda function URLs").
//
// Pure functions over plain values: no Store, no service state, no I/O. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/json.h"
#include "base/result.h"
#include "net/http.h"

namespace nubo::apigateway {

// An HTTP request as the proxy formats see it, whatever carried it.
struct HttpRequestView {
  std::string method;     // "GET", upper case
  std::string raw_path;   // as on the wire (percent-encoded), starting with '/'
  std::string raw_query;  // without '?'; "" when none
  // In arrival order, repeats kept, names as received (the formats lower-case them).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // bytes
  std::string source_ip, user_agent;
  std::string protocol = "HTTP/1.1";
  SystemTime time{};
};

// Builds the view of a Beast request: method, headers, body, user agent and protocol from `req`,
// the source IP from `peer`; `raw_path` is the path the formats show (an HTTP API's includes a
// named stage); the query comes from req.target().
HttpRequestView request_view(const net::Request& req, std::string raw_path, const net::Peer& peer,
                             SystemTime now);

// The caller of a request signed with SigV4 (an AWS_IAM route, a function URL with AWS_IAM
// auth): requestContext.authorizer.iam in 2.0, requestContext.identity in 1.0.
struct IamAuthorizer {
  std::string access_key, account_id, caller_id, user_arn, user_id;
};

// The request-context fields that differ between HTTP APIs and function URLs.
struct EventContext {
  std::string account_id;     // the API's account; "anonymous" for unsigned function URLs
  std::string api_id;         // the API id, or the function URL's url-id
  std::string domain_name;    // "<api-id>.execute-api.<region>.localhost"
  std::string domain_prefix;  // "<api-id>"
  std::string route_key = "$default";
  std::string stage = "$default";
  std::string request_id;
  // 1.0 only: "resource" / "resourcePath" (the route's path, "$default" for the default route)
  // and "path" (the request's path without a named stage's prefix). Empty: the raw path.
  std::string resource_path, path;
  std::map<std::string, std::string> path_parameters;  // decoded; empty: none
  std::map<std::string, std::string> stage_variables;  // empty: none
  std::optional<IamAuthorizer> iam;
};

// Whether HTTP APIs pass a body of this Content-Type as text (isBase64Encoded false): text/*,
// JSON, JavaScript, XML (and +json / +xml types). Anything else, or no Content-Type, is
// base64-encoded — as is a "text" body that is not valid UTF-8, which JSON cannot carry.
bool is_text_content_type(std::string_view content_type);
bool is_valid_utf8(std::string_view s);

// "12/Mar/2020:19:03:58 +0000" (requestContext.time / requestTime).
std::string format_request_time(SystemTime t);

// Payload format 2.0: version, routeKey, rawPath, rawQueryString, cookies (from every Cookie
// header, split on ';'; the Cookie header itself is left out of headers), headers (lower-case
// names, repeats comma-joined), queryStringParameters (decoded, repeats comma-joined),
// requestContext {accountId, apiId, authorizer.iam?, domainName, domainPrefix, http {method,
// path, protocol, sourceIp, userAgent}, requestId, routeKey, stage, time, timeEpoch},
// pathParameters, stageVariables, body, isBase64Encoded. Members with nothing to say (cookies,
// queryStringParameters, pathParameters, stageVariables, body) are left out, as AWS does.
json::object event_v2(const HttpRequestView& request, const EventContext& context);

// Payload format 1.0: version, resource, path, httpMethod, headers (the last value of each) and
// multiValueHeaders, queryStringParameters and multiValueQueryStringParameters, requestContext
// {accountId, apiId, domainName, domainPrefix, extendedRequestId, httpMethod, identity, path,
// protocol, requestId, requestTime, requestTimeEpoch, resourceId, resourcePath, stage},
// pathParameters, stageVariables, body, isBase64Encoded; absent values are null.
json::object event_v1(const HttpRequestView& request, const EventContext& context);

// An HTTP response for a caller to put on the wire.
struct ProxyResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // in order; one Set-Cookie each
  std::string body;                                          // bytes
};

// The function's answer under format 2.0. A JSON object with a "statusCode" is the structured
// form: statusCode, headers (string, number or boolean values), cookies (each a Set-Cookie),
// body (a string; base64-decoded when isBase64Encoded). Any other valid JSON is the shorthand:
// 200, content-type application/json, and the payload as the body (a JSON string's contents,
// anything else as it was returned). Errors (the function answered in a wrong format, which the
// caller answers with 502): not JSON, a statusCode that is not an integer in 100..599, headers or
// cookies of the wrong types or with CR/LF, a body that is not a string, bad base64.
Result<ProxyResponse> response_v2(std::string_view payload);

// The function's answer under format 1.0: a JSON object with statusCode, headers,
// multiValueHeaders (which replaces a header of the same name), body, isBase64Encoded. API
// Gateway assumes nothing here: no statusCode, or any of the errors of response_v2, is an error.
Result<ProxyResponse> response_v1(std::string_view payload);

// API Gateway's own answers: `status` with {"message": message} as JSON.
ProxyResponse gateway_response(int status, std::string_view message);

// A Beast response for `req` carrying `r` (keep-alive follows the request's).
net::Response to_http(const net::Request& req, const ProxyResponse& r);

}  // namespace nubo::apigateway

// The CORS behaviour of a function URL that has a Cors configuration: Lambda's own answer to a
// preflight (the function is not invoked) and the headers Lambda adds to the function's response
// to any other request that carries an Origin.
//
// Sources, in order of weight:
//  - Lambda developer guide, "Creating and managing Lambda function URLs", section
//    "Cross-origin resource sharing (CORS)" (urls-configuration.html#urls-cors): the header each
//    Cors field becomes, and that Lambda adds them to all responses through the URL.
//  - Responses captured from real function URLs (dev.to/rimutaka, "AWS Lambda Function URL with
//    CORS explained by example", 2024; aws-powertools/powertools-lambda-python#4163;
//    hummingbird-project/hummingbird-examples#130): the preflight is answered 200 with an empty
//    body, Vary: Origin and the request's origin echoed; list values are joined with "," and no
//    space; on other responses Lambda APPENDS Access-Control-Allow-Origin and
//    Access-Control-Allow-Credentials next to any the function set (a browser then sees two
//    values and refuses), although the guide says the configured headers "take precedence".
//  - API Gateway HTTP API, "Configure CORS for HTTP APIs" (http-api-cors.html), which function
//    URLs mirror: CORS headers only for a request with an Origin, and a preflight is an OPTIONS
//    with Origin and Access-Control-Request-Method. Where both are silent, url_cors.cc says what
//    it chose and why.
//
// Pure functions of plain values; no threads, no I/O, no HTTP library types.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "services/lambda/function_urls.h"

namespace nubo::lambda {

// Header name/value pairs in the order they are to be written. Names are spelled canonically
// ("Access-Control-Allow-Origin"); a name may appear more than once.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

// Lambda's answer to a preflight: this status and an empty body of this content type (as
// captured from real function URLs), whatever preflight_headers returns.
inline constexpr int kPreflightStatus = 200;
inline constexpr std::string_view kPreflightContentType = "application/json";

// What of an HTTP request CORS looks at; each field "" when the header is absent.
struct CorsRequest {
  std::string method;           // the request line's method
  std::string origin;           // Origin
  std::string request_method;   // Access-Control-Request-Method
  std::string request_headers;  // Access-Control-Request-Headers (not checked; see .cc)
};

// Whether req is a CORS preflight: an OPTIONS request (method compared without case) with a
// non-empty Origin and Access-Control-Request-Method. A URL with a Cors configuration answers
// a preflight itself (kPreflightStatus, preflight_headers) and does not invoke the function;
// any other request, an OPTIONS without Access-Control-Request-Method included, goes to the
// function and gets response_headers added.
bool is_preflight(const CorsRequest& req);

// Whether origin is allowed by cors: AllowOrigins contains "*" or the origin itself (compared
// without ASCII case; no other patterns, the Lambda guide names none). false for "" and when
// AllowOrigins is absent or empty.
bool origin_allowed(const FunctionUrlCors& cors, std::string_view origin);

// The headers of Lambda's answer to the preflight req (REQUIRES: is_preflight(req)):
// Vary: Origin, Access-Control-Allow-Origin (the request's origin), Access-Control-Allow-Headers
// and Access-Control-Allow-Methods (the configured lists, joined with ","; left out when the
// list is absent or empty), Access-Control-Allow-Credentials: true (when AllowCredentials is
// true) and Access-Control-Max-Age (when MaxAge is set). Empty, so that the browser refuses,
// when the origin is not allowed or AllowMethods is given and names neither "*" nor the
// requested method (compared without case).
HeaderList preflight_headers(const FunctionUrlCors& cors, const CorsRequest& req);

// The headers Lambda adds to the function's response to the non-preflight request req:
// Vary: Origin, Access-Control-Allow-Origin (the request's origin),
// Access-Control-Allow-Credentials: true (when AllowCredentials is true) and
// Access-Control-Expose-Headers (the configured list, when not absent or empty). Empty when req
// has no Origin or the origin is not allowed. The caller appends them to the function's own
// headers without removing any of the same name, as Lambda does.
HeaderList response_headers(const FunctionUrlCors& cors, const CorsRequest& req);

}  // namespace nubo::lambda

// API Gateway (HTTP APIs, apigatewayv2) limits and defaults, each with where AWS states it: the
// API reference and botocore's model (apigatewayv2/2018-11-29/service-2.json), the developer
// guide ("Create AWS Lambda proxy integrations for HTTP APIs", "Create routes for HTTP APIs",
// "Amazon API Gateway quotas") and the Service Authorization Reference.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace nubo::apigateway {

// IAM: API Gateway's management actions are the HTTP verbs ("apigateway:GET", "apigateway:POST",
// "apigateway:PATCH", "apigateway:DELETE") on "arn:aws:apigateway:<region>::<resource path>",
// the path being the API's without "/v2" (Service Authorization Reference, "Resource types
// defined by Amazon API Gateway Management V2": Apis, Api, Routes, Route, Integrations, ...).
// Invoking a route with AWS_IAM authorization is "execute-api:Invoke" on
// "arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>".
inline constexpr std::string_view kActionPrefix = "apigateway:";
inline constexpr std::string_view kInvokeAction = "execute-api:Invoke";

// Identifiers: an API id is 10 lower-case alphanumerics ("a1b2c3d4e5"); routes, integrations and
// deployments have 7 (what AWS hands out).
inline constexpr size_t kApiIdLength = 10;
inline constexpr size_t kChildIdLength = 7;

// StringWithLengthBetween1And128 (name, stageName), 0And1024 (description), 1And64 (version,
// operationName), 1And128 (target).
inline constexpr size_t kNameMax = 128;
inline constexpr size_t kDescriptionMax = 1024;
inline constexpr size_t kVersionMax = 64;
inline constexpr size_t kTargetMax = 128;
inline constexpr size_t kUriMax = 2048;  // UriWithLengthBetween1And2048 (integrationUri)

// IntegerWithLengthBetween50And30000: timeoutInMillis; 30 s is the HTTP API default and maximum
// ("Amazon API Gateway quotas": "Maximum integration timeout 30 seconds").
inline constexpr int64_t kTimeoutMinMs = 50;
inline constexpr int64_t kTimeoutMaxMs = 30000;
inline constexpr int64_t kTimeoutDefaultMs = 30000;

// GetApis & co.: maxResults is a string in the query; nubo pages by 100 when it is absent.
inline constexpr int64_t kPageDefault = 100;
inline constexpr int64_t kPageMax = 500;

// What HTTP APIs use for every API ("Api" shape: routeSelectionExpression,
// apiKeySelectionExpression).
inline constexpr std::string_view kRouteSelectionExpression = "$request.method $request.path";
inline constexpr std::string_view kApiKeySelectionExpression = "$request.header.x-api-key";

inline constexpr std::string_view kDefault = "$default";  // the default route key and stage

// Route keys: "$default" or "<METHOD> <path>", METHOD one of these ("Create routes for HTTP
// APIs": "ANY" matches every method not defined for the path).
inline constexpr std::string_view kRouteMethods[] = {"ANY",   "GET",    "POST", "PUT",
                                                     "PATCH", "DELETE", "HEAD", "OPTIONS"};

// Answers of the data plane, as HTTP APIs word them: no API, stage or route matched the request
// ("Routing API requests": {"message":"Not Found"}); the Lambda API refused the invocation
// (500, Lambda guide "Handling Lambda errors with an API Gateway API"); the function failed or
// answered in the wrong format (502, same page; HTTP APIs spell the message "Internal Server
// Error"); the invocation was throttled (429); an AWS_IAM route without an allowed signature
// (403).
inline constexpr std::string_view kNotFoundMessage = "Not Found";
inline constexpr std::string_view kInternalErrorMessage = "Internal Server Error";
inline constexpr std::string_view kThrottledMessage = "Too Many Requests";
inline constexpr std::string_view kForbiddenMessage = "Forbidden";

}  // namespace nubo::apigateway

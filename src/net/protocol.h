// Protocol dispatch: which AWS service a request is for, in which wire protocol, and how errors
// leave in that protocol's shape (DESIGN.md "Front door").
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "base/result.h"
#include "net/http.h"

namespace nubo::net {

enum class Protocol {
  kJson,      // awsJson 1.0/1.1: X-Amz-Target, errors {"__type", "message"}
  kRestJson,  // REST-JSON (Lambda): errors in x-amzn-ErrorType and {"Type","message"}
  kQuery,     // Query (SQS, SNS, IAM, STS): form Action=, errors <ErrorResponse>
  kRestXml,   // REST-XML (S3): errors <Error>
};

struct Route {
  std::string service;  // "lambda", "s3", "sqs", "dynamodb", ... or "" when unknown
  Protocol protocol = Protocol::kRestXml;
  std::string target;           // the X-Amz-Target operation ("DynamoDB_20120810.PutItem") if any
  bool signed_request = false;  // carries SigV4 (header or presigned query)
};

// Decides the service and protocol of a request: X-Amz-Target first, then the SigV4 credential
// scope's service, then the path (/2015-03-31/... is Lambda), then a form Action (Query); S3 for
// the rest.
Route classify(const Request& req, const Target& target);

// The service name in a SigV4 credential scope (header or presigned query), or empty.
std::string credential_scope_service(const Request& req, const Target& target);

// Renders error in the wire shape of `protocol`, with the request id header every AWS service
// sends (x-amzn-RequestId, or x-amz-request-id for S3).
Response error_response(const Request& req, Protocol protocol, const Error& error,
                        std::string_view request_id);

// The parameters of a Query-protocol request: the form-encoded body's, then the query string's
// (a key in both keeps the body's value).
std::map<std::string, std::string> form_params(const Request& req);

// Escapes text for XML character data and attribute values.
std::string xml_escape(std::string_view s);

}  // namespace nubo::net

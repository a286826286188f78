#include "net/protocol.h"

#include <array>

#include "base/json.h"
#include "base/strings.h"

namespace nubo::net {

namespace {

struct TargetPrefix {
  std::string_view prefix;
  std::string_view service;
};

// X-Amz-Target prefixes of the JSON-protocol services (botocore service-2.json "targetPrefix").
constexpr std::array<TargetPrefix, 11> kTargetPrefixes{{
    {"DynamoDB_20120810", "dynamodb"},
    {"DynamoDBStreams_20120810", "dynamodbstreams"},
    {"AmazonSQS", "sqs"},
    {"AWSStepFunctions", "states"},
    {"secretsmanager", "secretsmanager"},
    {"Logs_20140328", "logs"},
    {"AWSEvents", "events"},
    {"GraniteServiceVersion20100801", "monitoring"},
    {"AWSInsightsIndexService", "ce"},
    {"AWSBudgetServiceGateway", "budgets"},
    {"com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101", "cloudtrail"},
}};

bool is_query_service(std::string_view s) {
  return s == "sqs" || s == "sns" || s == "iam" || s == "sts" || s == "monitoring";
}

}  // namespace

std::string credential_scope_service(const Request& req, const Target& target) {
  std::string_view auth = header(req, "authorization");
  std::string_view cred;
  std::string from_query;
  if (!auth.empty()) {
    size_t p = auth.find("Credential=");
    if (p == std::string_view::npos) return {};
    cred = auth.substr(p + 11);
    size_t end = cred.find_first_of(", ");
    cred = cred.substr(0, end);
  } else if (auto q = target.param("X-Amz-Credential")) {
    from_query = *q;
    cred = from_query;
  } else {
    return {};
  }
  // AKID/date/region/service/aws4_request
  auto parts = split(cred, '/');
  if (parts.size() != 5) return {};
  return parts[3];
}

Route classify(const Request& req, const Target& target) {
  Route r;
  r.signed_request =
      !header(req, "authorization").empty() || target.param("X-Amz-Signature").has_value();
  std::string_view amz_target = header(req, "x-amz-target");
  if (!amz_target.empty()) {
    r.target = std::string(amz_target);
    r.protocol = Protocol::kJson;
    // The operation follows the last dot (CloudTrail's prefix has dots of its own).
    std::string_view prefix = amz_target.substr(0, amz_target.rfind('.'));
    for (const auto& tp : kTargetPrefixes) {
      if (tp.prefix == prefix) {
        r.service = std::string(tp.service);
        return r;
      }
    }
    r.service = credential_scope_service(req, target);
    return r;
  }
  std::string scope = credential_scope_service(req, target);
  if (scope == "lambda") {
    r.service = "lambda";
    r.protocol = Protocol::kRestJson;
    return r;
  }
  if (!scope.empty() && is_query_service(scope)) {
    r.service = scope;
    r.protocol = Protocol::kQuery;
    return r;
  }
  if (!scope.empty() && scope != "s3") {
    r.service = scope;
    r.protocol = Protocol::kJson;
    return r;
  }
  if (scope.empty()) {
    // Unsigned: recognise Lambda's REST paths and Query forms so the error has the right shape.
    const std::string& p = target.path;
    if (starts_with(p, "/2015-03-31/") || starts_with(p, "/2016-08-19/") ||
        starts_with(p, "/2014-11-13/") || starts_with(p, "/_nubo/lambda/") ||
        starts_with(p, "/2017-03-31/") || starts_with(p, "/2017-10-31/") ||
        starts_with(p, "/2018-10-31/") || starts_with(p, "/2019-09-25/") ||
        starts_with(p, "/2019-09-30/") || starts_with(p, "/2020-06-30/") ||
        starts_with(p, "/2021-10-31/")) {
      r.service = "lambda";
      r.protocol = Protocol::kRestJson;
      return r;
    }
    std::string_view ct = header(req, "content-type");
    if (target.param("Action") ||
        (req.method() == http::verb::post && starts_with(ct, "application/x-www-form-urlencoded") &&
         req.body().find("Action=") != std::string::npos)) {
      r.service = "";
      r.protocol = Protocol::kQuery;
      return r;
    }
  }
  r.service = "s3";
  r.protocol = Protocol::kRestXml;
  return r;
}

std::map<std::string, std::string> form_params(const Request& req) {
  std::map<std::string, std::string> out;
  auto add = [&](std::string_view text) {
    for (const std::string& pair : split(text, '&')) {
      if (pair.empty()) continue;
      size_t eq = pair.find('=');
      std::string key = url_decode(pair.substr(0, eq), /*plus_as_space=*/true);
      std::string value =
          eq == std::string::npos ? "" : url_decode(pair.substr(eq + 1), /*plus_as_space=*/true);
      out.emplace(std::move(key), std::move(value));
    }
  };
  add(req.body());
  std::string_view target = req.target();
  if (size_t q = target.find('?'); q != std::string_view::npos) add(target.substr(q + 1));
  return out;
}

std::string xml_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

Response error_response(const Request& req, Protocol protocol, const Error& error,
                        std::string_view request_id) {
  auto status = static_cast<http::status>(error.status);
  switch (protocol) {
    case Protocol::kJson: {
      json::object o;
      o["__type"] = error.code;
      o["message"] = error.message;
      Response res = make_response(req, status, json::serialize(o), "application/x-amz-json-1.0");
      res.set("x-amzn-RequestId", request_id);
      return res;
    }
    case Protocol::kRestJson: {
      json::object o;
      o["Type"] = error.status >= 500 ? "Service" : "User";
      o["message"] = error.message;
      Response res = make_response(req, status, json::serialize(o), "application/json");
      res.set("x-amzn-ErrorType", error.code);
      res.set("x-amzn-RequestId", request_id);
      return res;
    }
    case Protocol::kQuery: {
      std::string body = "<?xml version=\"1.0\"?>\n<ErrorResponse><Error><Type>";
      body += error.status >= 500 ? "Receiver" : "Sender";
      body += "</Type><Code>" + xml_escape(error.code) + "</Code><Message>" +
              xml_escape(error.message) + "</Message></Error><RequestId>" + xml_escape(request_id) +
              "</RequestId></ErrorResponse>";
      Response res = make_response(req, status, std::move(body), "text/xml");
      res.set("x-amzn-RequestId", request_id);
      return res;
    }
    case Protocol::kRestXml: {
      std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>" +
                         xml_escape(error.code) + "</Code><Message>" + xml_escape(error.message) +
                         "</Message><RequestId>" + xml_escape(request_id) + "</RequestId></Error>";
      Response res = make_response(req, status, std::move(body), "application/xml");
      res.set("x-amz-request-id", request_id);
      if (req.method() == http::verb::head) res.body().clear();
      return res;
    }
  }
  return make_response(req, status, error.message, "text/plain");
}

}  // namespace nubo::net

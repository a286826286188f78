#include "app/front_door.h"

#include "base/ids.h"
#include "base/json.h"
#include "base/strings.h"
#include "net/protocol.h"
#include "services/apigateway/payload.h"
#include "services/lambda/url_cors.h"

namespace nubo::app {

namespace {

auth::ErrorStyle style_for(const net::Route& route) {
  switch (route.protocol) {
    case net::Protocol::kJson:
      return auth::ErrorStyle::kJson;
    case net::Protocol::kRestJson:
      return auth::ErrorStyle::kLambda;
    case net::Protocol::kQuery:
      return auth::ErrorStyle::kQuery;
    case net::Protocol::kRestXml:
      return auth::ErrorStyle::kRestXml;
  }
  return auth::ErrorStyle::kJson;
}

auth::SignedRequest signed_view(const net::Request& req, const net::Target& target) {
  auth::SignedRequest s;
  s.method = req.method_string();
  s.raw_path = target.raw_path;
  s.raw_query = target.raw_query;
  s.headers.reserve(16);
  for (const auto& f : req) {
    s.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
  }
  s.payload = req.body();
  return s;
}

}  // namespace

FrontDoor::FrontDoor(const NodeConfig& config, const sts::Directory& directory, const Clock& clock,
                     Services services, auth::AuditSink* audit)
    : config_(config),
      directory_(directory),
      clock_(clock),
      audit_(audit),
      verifier_(directory, clock),
      sigv2_verifier_(directory, clock),
      services_(services) {}

net::Response FrontDoor::too_large(const net::Request& req) const {
  net::Target target = net::parse_target(req.target());
  net::Route route = net::classify(req, target);
  Error e{"RequestEntityTooLargeException", 413, "Request must be smaller than the node's limit"};
  if (route.service == "lambda") {
    // What Lambda answers for an Invoke body over its limit (the 6 MB check is the service's).
    e = Error{"RequestEntityTooLargeException", 413,
              "Request must be smaller than 6291456 bytes for the InvokeFunction operation"};
  } else if (route.protocol == net::Protocol::kRestXml) {
    e = Error{"EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size"};
  }
  return net::error_response(req, route.protocol, e, new_uuid());
}

Result<auth::Caller> FrontDoor::caller_of(const net::Request& req, const auth::AuthContext& who,
                                          const net::Peer& peer) const {
  auth::Caller caller;
  const auth::Credentials& creds = who.credentials;
  caller.access_key_id = who.access_key_id;
  caller.arn = creds.principal_arn;
  caller.account_id = config_.account_id;
  caller.is_root = creds.is_root;
  caller.temporary = !creds.session_token.empty();
  caller.assumed_role = creds.kind == auth::Credentials::Kind::kAssumedRole;
  caller.source_ip = peer.remote_ip;
  caller.time = clock_.now();
  caller.audit = audit_;
  if (auto ua = req.find(net::http::field::user_agent); ua != req.end()) {
    caller.user_agent = std::string(ua->value());
  }
  caller.trace_header = std::string(net::header(req, "x-amzn-trace-id"));
  if (!caller.is_root) {
    NUBO_ASSIGN_OR_RETURN(caller.identity, directory_.identity(creds));
  }
  return caller;
}

namespace {

// The host without its port.
std::string_view host_of(const net::Request& req) {
  std::string_view host = net::header(req, "host");
  if (!host.empty() && host.front() != '[') host = host.substr(0, host.rfind(':'));
  return host;
}

// "<id><marker>..." -> id, or "" when host is not of that form.
std::string_view label_before(std::string_view host, std::string_view marker) {
  size_t at = host.find(marker);
  if (at == std::string_view::npos || at == 0) return {};
  return host.substr(0, at);
}

// "/_nubo/<kind>/<id>/rest" -> {id, "/rest"}.
std::optional<std::pair<std::string, std::string>> path_form(const std::string& raw_path,
                                                             std::string_view prefix) {
  if (!starts_with(raw_path, prefix)) return std::nullopt;
  std::string_view rest = std::string_view(raw_path).substr(prefix.size());
  size_t slash = rest.find('/');
  std::string id(rest.substr(0, slash));
  if (id.empty()) return std::nullopt;
  std::string path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  return std::make_pair(std::move(id), std::move(path));
}

}  // namespace

std::optional<net::Task<net::Response>> FrontDoor::http_trigger(net::Request& req,
                                                                const net::Target& target,
                                                                const net::Peer& peer) {
  std::string_view host = host_of(req);
  if (services_.lambda != nullptr) {
    if (auto id = label_before(host, ".lambda-url."); !id.empty()) {
      return serve_function_url(req, std::string(id), target.raw_path, peer);
    }
    if (auto p = path_form(target.raw_path, "/_nubo/url/")) {
      return serve_function_url(req, p->first, p->second, peer);
    }
  }
  if (services_.apigateway != nullptr) {
    if (auto id = label_before(host, ".execute-api."); !id.empty()) {
      return serve_http_api(req, std::string(id), target.raw_path, peer);
    }
    if (auto p = path_form(target.raw_path, "/_nubo/apis/")) {
      return serve_http_api(req, p->first, p->second, peer);
    }
  }
  return std::nullopt;
}

Result<std::optional<auth::Caller>> FrontDoor::optional_caller(const net::Request& req,
                                                               const net::Target& target,
                                                               const net::Peer& peer) const {
  if (net::header(req, "authorization").empty() && !target.param("X-Amz-Signature")) {
    return std::optional<auth::Caller>();
  }
  auth::SignedRequest view = signed_view(req, target);
  NUBO_ASSIGN_OR_RETURN(auto who, verifier_.verify(view, auth::ErrorStyle::kJson));
  NUBO_ASSIGN_OR_RETURN(auth::Caller caller, caller_of(req, who, peer));
  return std::optional<auth::Caller>(std::move(caller));
}

net::Task<net::Response> FrontDoor::serve_function_url(net::Request& req, std::string url_id,
                                                       std::string raw_path, net::Peer peer) {
  namespace apigw = apigateway;
  auto target_found = services_.lambda->find_function_url(url_id);
  if (!target_found) co_return apigw::to_http(req, apigw::gateway_response(404, "Not Found"));
  lambda::FunctionUrlTarget fn = *target_found;
  // CORS (the URL's Cors configuration): Lambda answers preflights itself, before any
  // authorisation, and adds its headers to every other answer to a request with an Origin.
  lambda::CorsRequest cors_req;
  if (fn.cors) {
    cors_req.method = std::string(req.method_string());
    cors_req.origin = std::string(net::header(req, "origin"));
    cors_req.request_method = std::string(net::header(req, "access-control-request-method"));
    cors_req.request_headers = std::string(net::header(req, "access-control-request-headers"));
    if (lambda::is_preflight(cors_req)) {
      net::Response pre =
          net::make_response(req, static_cast<net::http::status>(lambda::kPreflightStatus), "",
                             lambda::kPreflightContentType);
      for (const auto& [k, v] : lambda::preflight_headers(*fn.cors, cors_req)) pre.insert(k, v);
      co_return pre;
    }
  }
  auto with_cors = [&](net::Response res) {
    if (fn.cors) {
      for (const auto& [k, v] : lambda::response_headers(*fn.cors, cors_req)) res.insert(k, v);
    }
    return res;
  };
  net::Target target = net::parse_target(req.target());
  auto signed_by = optional_caller(req, target, peer);
  if (!signed_by.ok())
    co_return with_cors(apigw::to_http(req, apigw::gateway_response(403, "Forbidden")));
  const auth::Caller* caller = signed_by->has_value() ? &**signed_by : nullptr;
  auto authorizing = services_.lambda->authorize_url_invoke(fn, caller);
  Status allowed = co_await std::move(authorizing);
  if (!allowed.ok())
    co_return with_cors(apigw::to_http(req, apigw::gateway_response(403, "Forbidden")));

  std::string request_id = new_uuid();
  apigw::EventContext ctx;
  ctx.account_id = caller != nullptr ? caller->account_id : "anonymous";
  ctx.api_id = url_id;
  ctx.domain_name = std::string(host_of(req));
  ctx.domain_prefix = url_id;
  ctx.request_id = request_id;
  std::string event =
      json::serialize(apigw::event_v2(apigw::request_view(req, raw_path, peer, clock_.now()), ctx));
  auto invoking = services_.lambda->invoke_url_target(fn, std::move(event), request_id);
  Result<runtime::InvokeResult> result = co_await std::move(invoking);
  if (!result.ok()) {
    if (result.error().status == 429) {
      co_return with_cors(apigw::to_http(req, apigw::gateway_response(429, "Too Many Requests")));
    }
    co_return with_cors(apigw::to_http(req, apigw::gateway_response(502, "Internal Server Error")));
  }
  if (!result->function_error.empty()) {
    co_return with_cors(apigw::to_http(req, apigw::gateway_response(502, "Internal Server Error")));
  }
  auto mapped = apigw::response_v2(result->payload);
  if (!mapped.ok()) {
    co_return with_cors(apigw::to_http(req, apigw::gateway_response(502, "Internal Server Error")));
  }
  net::Response res = apigw::to_http(req, *mapped);
  res.set("x-amzn-RequestId", request_id);
  co_return with_cors(std::move(res));
}

net::Task<net::Response> FrontDoor::serve_http_api(net::Request& req, std::string api_id,
                                                   std::string raw_path, net::Peer peer) {
  net::Target target = net::parse_target(req.target());
  auto signed_by = optional_caller(req, target, peer);
  if (!signed_by.ok()) {
    co_return apigateway::to_http(req, apigateway::gateway_response(403, "Forbidden"));
  }
  const auth::Caller* caller = signed_by->has_value() ? &**signed_by : nullptr;
  auto executing = services_.apigateway->execute(req, api_id, raw_path, peer, caller);
  co_return co_await std::move(executing);
}

bool FrontDoor::anonymous_s3(const net::http::request_header<>& head) {
  // A request with no signature at all is S3's (anonymous access, which bucket policies may
  // allow) unless it is one of the node's own paths, a function URL or HTTP API by host, or
  // what another protocol's unsigned calls look like (a JSON target, a Query form).
  if (head.find("x-amz-target") != head.end()) return false;
  std::string_view target = head.target();
  if (starts_with(target, "/_nubo/") || starts_with(target, "/2015-03-31/") ||
      starts_with(target, "/v2/") || starts_with(target, "/2018-06-01/")) {
    return false;
  }
  if (auto host = head.find(net::http::field::host); host != head.end()) {
    std::string_view h = host->value();
    if (h.find(".lambda-url.") != std::string_view::npos ||
        h.find(".execute-api.") != std::string_view::npos) {
      return false;
    }
  }
  if (auto ct = head.find(net::http::field::content_type); ct != head.end()) {
    if (starts_with(ct->value(), "application/x-www-form-urlencoded") ||
        starts_with(ct->value(), "application/x-amz-json")) {
      return false;
    }
  }
  return true;
}

bool FrontDoor::streams_body(const net::http::request_header<>& head) {
  // The service of the credential scope: "Credential=AKID/20240101/us-east-1/s3/aws4_request"
  // in the Authorization header, or X-Amz-Credential in a presigned URL's query.
  // SigV2 ("Authorization: AWS AKID:sig", or AWSAccessKeyId= and Signature= in the query) is
  // S3's alone.
  std::string_view target = head.target();
  if (target.find("AWSAccessKeyId=") != std::string_view::npos &&
      target.find("Signature=") != std::string_view::npos) {
    return true;
  }
  std::string scope;
  auto auth = head.find(net::http::field::authorization);
  if (auth == head.end() && target.find("X-Amz-Credential=") == std::string_view::npos) {
    return anonymous_s3(head);
  }
  if (auto it = auth; it != head.end()) {
    std::string_view v = it->value();
    if (starts_with(v, "AWS ")) return true;
    size_t at = v.find("Credential=");
    if (at == std::string_view::npos) return false;
    std::string_view rest = v.substr(at + 11);
    scope = std::string(rest.substr(0, rest.find_first_of(", ")));
  } else {
    size_t at = target.find("X-Amz-Credential=");
    if (at == std::string_view::npos) return false;
    std::string_view rest = target.substr(at + 17);
    scope = url_decode(rest.substr(0, rest.find('&')));
  }
  std::vector<std::string> parts = split(scope, '/');  // AKID/date/region/service/aws4_request
  return parts.size() == 5 && parts[3] == "s3";
}

net::Task<void> FrontDoor::handle_exchange(net::Exchange& ex, const net::Peer& peer) {
  const net::Request& req = ex.request();
  net::Target target = net::parse_target(req.target());
  auth::SignedRequest view = signed_view(req, target);
  view.payload_streamed = true;
  if (!auth::is_sigv2(view) && auth::auth_form(view) == auth::AuthForm::kNone) {
    // Anonymous: no identity, so only a bucket policy that names "*" lets it through.
    auth::Caller anonymous;
    anonymous.arn = "";
    anonymous.source_ip = peer.remote_ip;
    anonymous.time = clock_.now();
    anonymous.audit = audit_;
    if (services_.s3 == nullptr) {
      auto responding = ex.respond(net::error_response(
          req, net::Protocol::kRestXml, Error{"NotImplemented", 501, "nubo does not serve S3 here"},
          new_uuid()));
      co_await std::move(responding);
      co_return;
    }
    auto handling = services_.s3->handle(ex, anonymous, "");
    co_await std::move(handling);
    co_return;
  }
  auto who = auth::is_sigv2(view)
                 ? sigv2_verifier_.verify(view, s3::virtual_host_bucket(net::header(req, "host")))
                 : verifier_.verify(view, auth::ErrorStyle::kRestXml);
  if (who.ok() && who->region.empty()) who->region = config_.region;
  if (!who.ok()) {
    auto responding =
        ex.respond(net::error_response(req, net::Protocol::kRestXml, who.error(), new_uuid()));
    co_await std::move(responding);
    co_return;
  }
  auto made = caller_of(req, *who, peer);
  if (!made.ok() || services_.s3 == nullptr) {
    Error e =
        made.ok() ? Error{"NotImplemented", 501, "nubo does not serve S3 here"} : made.error();
    auto responding = ex.respond(net::error_response(req, net::Protocol::kRestXml, e, new_uuid()));
    co_await std::move(responding);
    co_return;
  }
  auth::Caller caller = std::move(made).value();
  auto handling = services_.s3->handle(ex, caller, who->payload_hash);
  co_await std::move(handling);
}

net::Task<net::Response> FrontDoor::handle(net::Request& req, const net::Peer& peer) {
  net::Target target = net::parse_target(req.target());
  if (target.path == "/_nubo/health") {
    co_return net::make_response(req, net::http::status::ok, R"({"status":"ok"})");
  }
  if (auto trigger = http_trigger(req, target, peer)) co_return co_await std::move(*trigger);
  net::Route route = net::classify(req, target);
  if (starts_with(target.path, "/_nubo/lambda/") && services_.lambda != nullptr) {
    // Code download links carry their own expiring signature (GetFunction's Code.Location).
    // A named caller, not a temporary: GCC 12 destroys a temporary bound to a coroutine's
    // reference parameter inside a co_await expression twice (a bad free under ASan).
    auth::Caller anonymous;
    auto handling = services_.lambda->handle(req, target, anonymous);
    co_return co_await std::move(handling);
  }
  auth::SignedRequest view = signed_view(req, target);
  auto who = verifier_.verify(view, style_for(route));
  if (!who.ok()) {
    co_return net::error_response(req, route.protocol, who.error(), new_uuid());
  }
  auto made = caller_of(req, *who, peer);
  if (!made.ok()) co_return net::error_response(req, route.protocol, made.error(), new_uuid());
  auth::Caller caller = std::move(made).value();

  if (route.service == "lambda" && services_.lambda != nullptr) {
    co_return co_await services_.lambda->handle(req, target, caller);
  }
  if (route.service == "iam" && services_.iam != nullptr) {
    auto handling = services_.iam->handle(req, caller);
    co_return co_await std::move(handling);
  }
  if (route.service == "secretsmanager" && services_.secrets != nullptr) {
    auto handling = services_.secrets->handle(req, caller);
    co_return co_await std::move(handling);
  }
  if (route.service == "sqs" && services_.sqs != nullptr) {
    auto handling = services_.sqs->handle(req, caller);
    co_return co_await std::move(handling);
  }
  if (route.service == "cloudtrail" && services_.cloudtrail != nullptr) {
    auto handling = services_.cloudtrail->handle(req, caller);
    co_return co_await std::move(handling);
  }
  if (route.service == "sts" && services_.sts != nullptr) {
    auto handling = services_.sts->handle(req, caller);
    co_return co_await std::move(handling);
  }
  if (route.service == "apigateway" && services_.apigateway != nullptr &&
      starts_with(target.path, "/v2/")) {
    auto handling = services_.apigateway->handle(req, target, caller);
    co_return co_await std::move(handling);
  }
  if (route.service == "s3" && services_.s3 != nullptr) {
    // Read whole already (a request the server did not stream): the same handler over it.
    net::BufferedExchange ex(req);
    auto handling = services_.s3->handle(ex, caller, who->payload_hash);
    co_await std::move(handling);
    co_return std::move(ex.response());
  }
  // A service nubo does not serve (yet): answer in its protocol so the client's error is clear.
  Error e{"NotImplemented", 501,
          "nubo does not implement the '" +
              (route.service.empty() ? std::string("unknown") : route.service) + "' service yet"};
  if (route.protocol == net::Protocol::kJson) e.code = "UnknownOperationException", e.status = 400;
  if (route.protocol == net::Protocol::kQuery) e.code = "InvalidAction", e.status = 400;
  co_return net::error_response(req, route.protocol, e, new_uuid());
}

}  // namespace nubo::app

#include "services/apigateway/payload.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include "base/crypto.h"
#include "base/strings.h"

namespace nubo::apigateway {

namespace http = net::http;

namespace {

// A header's name or value that can go on the wire as it is.
bool header_safe(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

std::string content_type_of(const HttpRequestView& r) {
  for (const auto& [k, v] : r.headers) {
    if (iequals(k, "content-type")) return v;
  }
  return "";
}

// The body as the formats carry it: text, or base64 (and whether it is).
std::pair<std::string, bool> encoded_body(const HttpRequestView& r) {
  if (is_text_content_type(content_type_of(r)) && is_valid_utf8(r.body)) return {r.body, false};
  return {base64_encode(r.body), true};
}

// The query string's parameters, decoded, in order.
std::vector<std::pair<std::string, std::string>> query_params(std::string_view raw) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const std::string& part : split(raw, '&')) {
    if (part.empty()) continue;
    size_t eq = part.find('=');
    std::string_view p(part);
    out.emplace_back(url_decode(p.substr(0, eq), true),
                     eq == std::string::npos ? "" : url_decode(p.substr(eq + 1), true));
  }
  return out;
}

json::value string_map_or_null(const std::map<std::string, std::string>& m) {
  if (m.empty()) return nullptr;
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

// A JSON value that a header may carry: a string as is, a number or boolean as its text.
std::optional<std::string> header_value(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_bool()) return std::string(v.get_bool() ? "true" : "false");
  if (v.is_number()) return json::serialize(v);
  return std::nullopt;
}

Error malformed(std::string what) {
  return Error{"MalformedLambdaProxyResponse", 502, "Malformed Lambda proxy response: " + what};
}

Result<int> status_of(const json::value& v) {
  int64_t code = 0;
  if (v.is_int64()) {
    code = v.get_int64();
  } else if (v.is_uint64()) {
    code = static_cast<int64_t>(std::min<uint64_t>(v.get_uint64(), 1000));
  } else if (v.is_double() && std::floor(v.get_double()) == v.get_double() &&
             std::fabs(v.get_double()) < 1e6) {
    code = static_cast<int64_t>(v.get_double());
  } else {
    return malformed("statusCode is not an integer");
  }
  if (code < 100 || code > 599) return malformed("statusCode out of range");
  return static_cast<int>(code);
}

// headers: an object of scalar values; each becomes one header line.
Status add_headers(const json::object& o, std::string_view key, ProxyResponse& out) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return Ok{};
  if (!it->value().is_object()) return malformed(std::string(key) + " is not an object");
  for (const auto& [name, v] : it->value().get_object()) {
    auto value = header_value(v);
    if (!value) {
      if (v.is_null()) continue;
      return malformed("the value of header " + std::string(name) + " is not a string");
    }
    if (name.empty() || !header_safe(name) || !header_safe(*value)) {
      return malformed("a header carries a line break");
    }
    out.headers.emplace_back(std::string(name), std::move(*value));
  }
  return Ok{};
}

// body and isBase64Encoded.
Status set_body(const json::object& o, ProxyResponse& out) {
  bool b64 = false;
  if (auto it = o.find("isBase64Encoded"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_bool()) return malformed("isBase64Encoded is not a boolean");
    b64 = it->value().get_bool();
  }
  auto it = o.find("body");
  if (it == o.end() || it->value().is_null()) return Ok{};
  if (!it->value().is_string()) return malformed("body is not a string");
  std::string_view text = it->value().get_string();
  if (!b64) {
    out.body = std::string(text);
    return Ok{};
  }
  auto bytes = base64_decode(text);
  if (!bytes) return malformed("body is not valid base64");
  out.body = std::move(*bytes);
  return Ok{};
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    for (size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size()) return false;
      const auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and code points past U+10FFFF.
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

bool is_text_content_type(std::string_view content_type) {
  std::string t = to_lower(trim(content_type.substr(0, content_type.find(';'))));
  if (t.empty()) return false;
  if (starts_with(t, "text/")) return true;
  if (t == "application/json" || t == "application/javascript" || t == "application/xml" ||
      t == "application/x-javascript") {
    return true;
  }
  return starts_with(t, "application/") && (ends_with(t, "+json") || ends_with(t, "+xml"));
}

std::string format_request_time(SystemTime t) {
  const std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buf[40];
  std::snprintf(buf, sizeof buf, "%02d/%s/%04d:%02d:%02d:%02d +0000", tm.tm_mday,
                kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

HttpRequestView request_view(const net::Request& req, std::string raw_path, const net::Peer& peer,
                             SystemTime now) {
  HttpRequestView v;
  v.method = std::string(req.method_string());
  v.raw_path = std::move(raw_path);
  std::string_view target = req.target();
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    v.raw_query = std::string(target.substr(q + 1));
  }
  for (const auto& f : req) v.headers.emplace_back(std::string(f.name_string()), f.value());
  v.body = req.body();
  v.source_ip = peer.remote_ip;
  v.user_agent = std::string(net::header(req, "user-agent"));
  v.protocol = req.version() == 10 ? "HTTP/1.0" : "HTTP/1.1";
  v.time = now;
  return v;
}

json::object event_v2(const HttpRequestView& r, const EventContext& c) {
  json::object ev;
  ev["version"] = "2.0";
  ev["routeKey"] = c.route_key;
  ev["rawPath"] = r.raw_path;
  ev["rawQueryString"] = r.raw_query;

  json::array cookies;
  std::map<std::string, std::string> headers;
  for (const auto& [k, v] : r.headers) {
    std::string name = to_lower(k);
    if (name == "cookie") {
      for (const std::string& part : split(v, ';')) {
        std::string_view cookie = trim(part);
        if (!cookie.empty()) cookies.emplace_back(cookie);
      }
      continue;
    }
    auto [it, inserted] = headers.emplace(name, v);
    if (!inserted) it->second += "," + v;
  }
  if (!cookies.empty()) ev["cookies"] = std::move(cookies);
  json::object h;
  for (auto& [k, v] : headers) h[k] = std::move(v);
  ev["headers"] = std::move(h);

  std::map<std::string, std::string> query;
  for (auto& [k, v] : query_params(r.raw_query)) {
    auto [it, inserted] = query.emplace(k, v);
    if (!inserted) it->second += "," + v;
  }
  if (!query.empty()) ev["queryStringParameters"] = string_map_or_null(query);

  json::object ctx;
  ctx["accountId"] = c.account_id;
  ctx["apiId"] = c.api_id;
  if (c.iam) {
    ctx["authorizer"] = json::object{{"iam", json::object{{"accessKey", c.iam->access_key},
                                                          {"accountId", c.iam->account_id},
                                                          {"callerId", c.iam->caller_id},
                                                          {"cognitoIdentity", nullptr},
                                                          {"principalOrgId", nullptr},
                                                          {"userArn", c.iam->user_arn},
                                                          {"userId", c.iam->user_id}}}};
  }
  ctx["domainName"] = c.domain_name;
  ctx["domainPrefix"] = c.domain_prefix;
  ctx["http"] = json::object{{"method", r.method},
                             {"path", url_decode(r.raw_path)},
                             {"protocol", r.protocol},
                             {"sourceIp", r.source_ip},
                             {"userAgent", r.user_agent}};
  ctx["requestId"] = c.request_id;
  ctx["routeKey"] = c.route_key;
  ctx["stage"] = c.stage;
  ctx["time"] = format_request_time(r.time);
  ctx["timeEpoch"] = epoch_ms(r.time);
  ev["requestContext"] = std::move(ctx);

  if (!c.path_parameters.empty()) ev["pathParameters"] = string_map_or_null(c.path_parameters);
  if (!c.stage_variables.empty()) ev["stageVariables"] = string_map_or_null(c.stage_variables);
  bool b64 = false;
  if (!r.body.empty()) {
    auto [body, encoded] = encoded_body(r);
    ev["body"] = std::move(body);
    b64 = encoded;
  }
  ev["isBase64Encoded"] = b64;
  return ev;
}

json::object event_v1(const HttpRequestView& r, const EventContext& c) {
  const std::string path = c.path.empty() ? url_decode(r.raw_path) : c.path;
  const std::string resource = c.resource_path.empty() ? path : c.resource_path;
  json::object ev;
  ev["version"] = "1.0";
  ev["resource"] = resource;
  ev["path"] = path;
  ev["httpMethod"] = r.method;

  json::object headers, multi_headers;
  for (const auto& [k, v] : r.headers) {
    std::string name = to_lower(k);
    headers[name] = v;
    auto it = multi_headers.find(name);
    if (it == multi_headers.end()) {
      multi_headers[name] = json::array{json::value(v)};
    } else {
      it->value().get_array().emplace_back(v);
    }
  }
  ev["headers"] = std::move(headers);
  ev["multiValueHeaders"] = std::move(multi_headers);

  auto params = query_params(r.raw_query);
  if (params.empty()) {
    ev["queryStringParameters"] = nullptr;
    ev["multiValueQueryStringParameters"] = nullptr;
  } else {
    json::object single, multi;
    for (const auto& [k, v] : params) {
      single[k] = v;
      auto it = multi.find(k);
      if (it == multi.end()) {
        multi[k] = json::array{json::value(v)};
      } else {
        it->value().get_array().emplace_back(v);
      }
    }
    ev["queryStringParameters"] = std::move(single);
    ev["multiValueQueryStringParameters"] = std::move(multi);
  }

  json::object identity{{"accessKey", nullptr},
                        {"accountId", nullptr},
                        {"caller", nullptr},
                        {"cognitoAuthenticationProvider", nullptr},
                        {"cognitoAuthenticationType", nullptr},
                        {"cognitoIdentityId", nullptr},
                        {"cognitoIdentityPoolId", nullptr},
                        {"principalOrgId", nullptr},
                        {"sourceIp", r.source_ip},
                        {"user", nullptr},
                        {"userAgent", r.user_agent},
                        {"userArn", nullptr}};
  if (c.iam) {
    identity["accessKey"] = c.iam->access_key;
    identity["accountId"] = c.iam->account_id;
    identity["caller"] = c.iam->caller_id;
    identity["user"] = c.iam->user_id;
    identity["userArn"] = c.iam->user_arn;
  }
  json::object ctx;
  ctx["accountId"] = c.account_id;
  ctx["apiId"] = c.api_id;
  ctx["domainName"] = c.domain_name;
  ctx["domainPrefix"] = c.domain_prefix;
  ctx["extendedRequestId"] = c.request_id;
  ctx["httpMethod"] = r.method;
  ctx["identity"] = std::move(identity);
  ctx["path"] = url_decode(r.raw_path);
  ctx["protocol"] = r.protocol;
  ctx["requestId"] = c.request_id;
  ctx["requestTime"] = format_request_time(r.time);
  ctx["requestTimeEpoch"] = epoch_ms(r.time);
  ctx["resourceId"] = c.route_key;
  ctx["resourcePath"] = resource;
  ctx["stage"] = c.stage;
  ev["requestContext"] = std::move(ctx);

  ev["pathParameters"] = string_map_or_null(c.path_parameters);
  ev["stageVariables"] = string_map_or_null(c.stage_variables);
  if (r.body.empty()) {
    ev["body"] = nullptr;
    ev["isBase64Encoded"] = false;
  } else {
    auto [body, encoded] = encoded_body(r);
    ev["body"] = std::move(body);
    ev["isBase64Encoded"] = encoded;
  }
  return ev;
}

Result<ProxyResponse> response_v2(std::string_view payload) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec) return malformed("the payload is not JSON");
  ProxyResponse out;
  if (!v.is_object() || !v.get_object().contains("statusCode")) {
    // The shorthand ("Lambda function response for format 2.0").
    out.status = 200;
    out.headers.emplace_back("content-type", "application/json");
    out.body = v.is_string() ? std::string(v.get_string()) : std::string(trim(payload));
    return out;
  }
  const json::object& o = v.get_object();
  NUBO_ASSIGN_OR_RETURN(out.status, status_of(o.at("statusCode")));
  NUBO_TRY(add_headers(o, "headers", out));
  if (auto it = o.find("cookies"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_array()) return malformed("cookies is not an array");
    for (const json::value& c : it->value().get_array()) {
      if (!c.is_string()) return malformed("a cookie is not a string");
      if (!header_safe(c.get_string())) return malformed("a cookie carries a line break");
      out.headers.emplace_back("set-cookie", std::string(c.get_string()));
    }
  }
  NUBO_TRY(set_body(o, out));
  return out;
}

Result<ProxyResponse> response_v1(std::string_view payload) {
  boost::system::error_code ec;
  json::value v = json::parse(payload, ec);
  if (ec) return malformed("the payload is not JSON");
  if (!v.is_object()) return malformed("the payload is not an object");
  const json::object& o = v.get_object();
  auto sc = o.find("statusCode");
  if (sc == o.end()) return malformed("no statusCode");
  ProxyResponse out;
  NUBO_ASSIGN_OR_RETURN(out.status, status_of(sc->value()));
  ProxyResponse single;
  NUBO_TRY(add_headers(o, "headers", single));
  // multiValueHeaders: arrays of values; a name there replaces the same name in headers.
  std::vector<std::pair<std::string, std::string>> multi;
  if (auto it = o.find("multiValueHeaders"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_object()) return malformed("multiValueHeaders is not an object");
    for (const auto& [name, values] : it->value().get_object()) {
      if (values.is_null()) continue;
      if (!values.is_array()) return malformed("a multiValueHeaders value is not an array");
      if (name.empty() || !header_safe(name)) return malformed("a header carries a line break");
      for (const json::value& e : values.get_array()) {
        auto value = header_value(e);
        if (!value || !header_safe(*value)) {
          return malformed("a value of header " + std::string(name) + " is not a string");
        }
        multi.emplace_back(std::string(name), std::move(*value));
      }
    }
  }
  for (auto& [name, value] : single.headers) {
    bool replaced = std::any_of(multi.begin(), multi.end(),
                                [&](const auto& m) { return iequals(m.first, name); });
    if (!replaced) out.headers.emplace_back(std::move(name), std::move(value));
  }
  for (auto& h : multi) out.headers.push_back(std::move(h));
  NUBO_TRY(set_body(o, out));
  return out;
}

ProxyResponse gateway_response(int status, std::string_view message) {
  ProxyResponse r;
  r.status = status;
  r.headers.emplace_back("content-type", "application/json");
  r.body = json::serialize(json::object{{"message", message}});
  return r;
}

net::Response to_http(const net::Request& req, const ProxyResponse& r) {
  net::Response res{static_cast<http::status>(r.status), req.version()};
  for (const auto& [k, v] : r.headers) {
    // Framing is Beast's to set, from the body.
    if (iequals(k, "content-length") || iequals(k, "transfer-encoding") ||
        iequals(k, "connection")) {
      continue;
    }
    res.insert(k, v);
  }
  res.keep_alive(req.keep_alive());
  res.body() = r.body;
  res.prepare_payload();
  return res;
}

}  // namespace nubo::apigateway

#include "services/lambda/url_cors.h"

#include <algorithm>
#include <optional>

#include "base/strings.h"

namespace nubo::lambda {

namespace {

constexpr std::string_view kWildcard = "*";

bool contains_ci(const std::vector<std::string>& list, std::string_view value) {
  return std::any_of(list.begin(), list.end(),
                     [&](const std::string& s) { return iequals(s, value); });
}

// The captured answers join list values with "," and no space ("GET,POST").
std::string joined(const std::vector<std::string>& list) {
  std::string out;
  for (size_t i = 0; i < list.size(); ++i) {
    if (i) out += ',';
    out += list[i];
  }
  return out;
}

void add_list(HeaderList& h, std::string_view name,
              const std::optional<std::vector<std::string>>& list) {
  // An empty header value would tell a browser nothing it could use; leave the header off.
  if (list && !list->empty()) h.emplace_back(std::string(name), joined(*list));
}

// The headers every allowed CORS answer starts with. The origin is echoed, never "*", even when
// AllowOrigins is "*" and credentials are not allowed: a real URL configured with ["*"] sent the
// request's origin (powertools-lambda-python#4163, where it doubled a handler's echoed origin),
// and the captured answers carry Vary: Origin. An echoed origin is also the only value a
// browser accepts together with Access-Control-Allow-Credentials: true.
void add_origin(HeaderList& h, const FunctionUrlCors& cors, const CorsRequest& req) {
  h.emplace_back("Vary", "Origin");
  h.emplace_back("Access-Control-Allow-Origin", req.origin);
  if (cors.allow_credentials.value_or(false)) {
    h.emplace_back("Access-Control-Allow-Credentials", "true");
  }
}

// Whether Lambda answers a preflight for `method` with CORS headers. Neither the Lambda guide
// nor the HTTP API page says; like common CORS servers, a method AllowMethods does not name
// ("*" names any) gets no CORS headers. With no AllowMethods there is nothing to check against:
// the answer goes without Access-Control-Allow-Methods, and the browser allows only the
// CORS-safelisted methods, as it would on its own.
bool method_allowed(const FunctionUrlCors& cors, std::string_view method) {
  if (!cors.allow_methods) return true;
  return contains_ci(*cors.allow_methods, kWildcard) || contains_ci(*cors.allow_methods, method);
}

}  // namespace

bool is_preflight(const CorsRequest& req) {
  return iequals(req.method, "OPTIONS") && !req.origin.empty() && !req.request_method.empty();
}

bool origin_allowed(const FunctionUrlCors& cors, std::string_view origin) {
  if (origin.empty() || !cors.allow_origins) return false;
  // Scheme and host are case-insensitive and a port is digits, so the whole serialized origin
  // compares without case. The guide names exact origins and "*" only; the HTTP API's
  // "https://*" style patterns are not a function URL feature and match nothing here.
  return contains_ci(*cors.allow_origins, kWildcard) || contains_ci(*cors.allow_origins, origin);
}

HeaderList preflight_headers(const FunctionUrlCors& cors, const CorsRequest& req) {
  HeaderList h;
  if (!origin_allowed(cors, req.origin) || !method_allowed(cors, req.request_method)) return h;
  add_origin(h, cors, req);
  // Access-Control-Request-Headers is not checked against AllowHeaders: the configured list is
  // sent and the browser refuses a header it does not name, as it would from Lambda.
  add_list(h, "Access-Control-Allow-Headers", cors.allow_headers);
  add_list(h, "Access-Control-Allow-Methods", cors.allow_methods);
  if (cors.max_age) h.emplace_back("Access-Control-Max-Age", std::to_string(*cors.max_age));
  return h;
}

HeaderList response_headers(const FunctionUrlCors& cors, const CorsRequest& req) {
  HeaderList h;
  if (!origin_allowed(cors, req.origin)) return h;
  add_origin(h, cors, req);
  add_list(h, "Access-Control-Expose-Headers", cors.expose_headers);
  return h;
}

}  // namespace nubo::lambda

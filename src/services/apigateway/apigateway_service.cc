#include "services/apigateway/apigateway_service.h"

// GCC 12 reports a false -Wmismatched-new-delete on the frames of some Asio coroutines here (the
// frame's operator new/delete pair is Asio's own); see GCC bug 109224.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "base/crypto.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "net/async.h"
#include "services/apigateway/limits.h"
#include "services/apigateway/payload.h"
#include "services/apigateway/registry.h"
#include "services/apigateway/routes.h"

namespace nubo::apigateway {

namespace http = net::http;

namespace {

// ---------------------------------------------------------------------------------------------
// Errors, as API Gateway names them (botocore: BadRequestException, NotFoundException,
// ConflictException, AccessDeniedException).

Error bad_request(std::string message) {
  return Error{"BadRequestException", 400, std::move(message)};
}
Error not_found(std::string message) {
  return Error{"NotFoundException", 404, std::move(message)};
}
Error conflict(std::string message) {
  return Error{"ConflictException", 409, std::move(message)};
}

// ---------------------------------------------------------------------------------------------
// Request members: absent or null → nullopt; of the wrong JSON type → BadRequestException.

Error wrong_type(std::string_view key) {
  return bad_request("Invalid value for member " + std::string(key) + ": wrong type.");
}

Result<std::optional<std::string>> opt_string(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<std::string>();
  if (!it->value().is_string()) return wrong_type(key);
  return std::optional<std::string>(std::string(it->value().get_string()));
}

Result<std::optional<bool>> opt_bool(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<bool>();
  if (!it->value().is_bool()) return wrong_type(key);
  return std::optional<bool>(it->value().get_bool());
}

Result<std::optional<int64_t>> opt_int(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<int64_t>();
  auto v = get_int(o, key);
  if (!v) return wrong_type(key);
  return std::optional<int64_t>(*v);
}

Result<std::optional<json::array>> opt_strings(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<json::array>();
  if (!it->value().is_array()) return wrong_type(key);
  for (const json::value& v : it->value().get_array()) {
    if (!v.is_string()) return wrong_type(key);
  }
  return std::optional<json::array>(it->value().get_array());
}

// A map of strings to strings (tags, stageVariables).
Result<std::optional<json::object>> opt_string_map(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<json::object>();
  if (!it->value().is_object()) return wrong_type(key);
  for (const auto& [k, v] : it->value().get_object()) {
    if (!v.is_string()) return wrong_type(key);
  }
  return std::optional<json::object>(it->value().get_object());
}

Status check_length(std::string_view field, const std::string& v, size_t min, size_t max) {
  if (v.size() < min || v.size() > max) {
    return bad_request("Invalid " + std::string(field) + ": its length must be between " +
                       std::to_string(min) + " and " + std::to_string(max) + ".");
  }
  return Ok{};
}

// ---------------------------------------------------------------------------------------------
// Identifiers.

std::string new_id(size_t n) {
  static constexpr std::string_view kChars = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string out;
  while (out.size() < n) {
    for (unsigned char b : random_bytes(n)) {
      if (b >= 252) continue;  // 252 = 7 * 36: keeps the draw uniform
      out += kChars[b % kChars.size()];
      if (out.size() == n) break;
    }
  }
  return out;
}

// HTTP APIs' request ids: 16 characters of base64 ("JKJaXmPLvHcESHA=").
std::string new_request_id() {
  return base64_encode(random_bytes(11));
}

// ---------------------------------------------------------------------------------------------
// Members.

// The Lambda function an integrationUri names: a function ARN, or API Gateway's form
// "arn:aws:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations".
std::optional<std::string> function_of(std::string_view uri) {
  static constexpr std::string_view kPath = ":lambda:path/2015-03-31/functions/";
  static constexpr std::string_view kSuffix = "/invocations";
  if (starts_with(uri, "arn:aws:apigateway:")) {
    size_t p = uri.find(kPath);
    if (p == std::string_view::npos || !ends_with(uri, kSuffix)) return std::nullopt;
    uri = uri.substr(p + kPath.size(), uri.size() - p - kPath.size() - kSuffix.size());
  }
  // arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
  std::vector<std::string> parts = split(uri, ':');
  if (parts.size() < 7 || parts.size() > 8 || parts[0] != "arn" || parts[2] != "lambda" ||
      parts[5] != "function" || parts[6].empty()) {
    return std::nullopt;
  }
  return std::string(uri);
}

Error bad_lambda_uri(const std::string& uri) {
  return bad_request("Invalid integration URI specified: " + uri +
                     ". nubo integrates with Lambda functions: give a function ARN.");
}

// Stage names: $default, or 1..128 of [A-Za-z0-9_-].
bool stage_name_ok(std::string_view s) {
  if (s == kDefault) return true;
  return !s.empty() && s.size() <= kNameMax && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// Cors (botocore "Cors"): the members it may carry, checked.
Result<json::object> cors_of(const json::value& v) {
  if (!v.is_object()) return wrong_type("corsConfiguration");
  const json::object& o = v.get_object();
  json::object out;
  NUBO_ASSIGN_OR_RETURN(std::optional<bool> creds, opt_bool(o, "allowCredentials"));
  if (creds) out["allowCredentials"] = *creds;
  for (std::string_view k : {"allowHeaders", "allowMethods", "allowOrigins", "exposeHeaders"}) {
    NUBO_ASSIGN_OR_RETURN(std::optional<json::array> list, opt_strings(o, k));
    if (list) out[k] = std::move(*list);
  }
  NUBO_ASSIGN_OR_RETURN(std::optional<int64_t> max_age, opt_int(o, "maxAge"));
  if (max_age) {
    if (*max_age < -1 || *max_age > 86400) {
      return bad_request("Invalid maxAge: it must be between -1 and 86400.");
    }
    out["maxAge"] = *max_age;
  }
  if (creds.value_or(false)) {
    if (const json::array* origins = get_array(out, "allowOrigins")) {
      for (const json::value& origin : *origins) {
        if (origin == "*") {
          return bad_request("allow-credentials is not supported with allowOrigins set to '*'.");
        }
      }
    }
  }
  return out;
}

// What an answer shows of a stored record: every member but nubo's own ("_..." ones).
json::object shown(const json::object& doc) {
  json::object out;
  for (const auto& [k, v] : doc) {
    if (!k.empty() && k.front() != '_') out[k] = v;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// What the data plane serves: an API's routes, integrations and stages, compiled once per write.

struct ServedRoute {
  std::string route_id, route_key, integration_id, authorization_type;
};
struct ServedIntegration {
  std::string function_arn;
  bool v1 = false;  // payloadFormatVersion 1.0
};
struct ServedConfig {
  std::vector<RouteKey> keys;  // parallel to routes
  std::vector<ServedRoute> routes;
  std::map<std::string, ServedIntegration> integrations;  // by id
};
struct ServedStage {
  std::map<std::string, std::string> variables;
  std::shared_ptr<const ServedConfig> config;  // null: nothing deployed to the stage
};
struct ServedApi {
  std::string api_id;
  bool execute_disabled = false;  // disableExecuteApiEndpoint
  std::optional<json::object> cors;
  std::map<std::string, ServedStage> stages;
};

std::shared_ptr<const ServedConfig> compile_config(
    const std::map<std::string, json::object>& routes,
    const std::map<std::string, json::object>& integrations) {
  auto c = std::make_shared<ServedConfig>();
  for (const auto& [id, doc] : integrations) {
    ServedIntegration si;
    auto fn = function_of(get_string(doc, "integrationUri").value_or(""));
    if (!fn) continue;
    si.function_arn = *fn;
    si.v1 = get_string(doc, "payloadFormatVersion").value_or("2.0") == "1.0";
    c->integrations[id] = std::move(si);
  }
  for (const auto& [id, doc] : routes) {
    const std::string key = get_string(doc, "routeKey").value_or("");
    auto parsed = parse_route_key(key);
    if (!parsed.ok()) continue;  // checked when written
    ServedRoute r;
    r.route_id = id;
    r.route_key = key;
    std::string target = get_string(doc, "target").value_or("");
    if (starts_with(target, "integrations/")) r.integration_id = target.substr(13);
    r.authorization_type = get_string(doc, "authorizationType").value_or("NONE");
    c->keys.push_back(std::move(parsed).value());
    c->routes.push_back(std::move(r));
  }
  return c;
}

std::map<std::string, json::object> object_map(const json::object* o) {
  std::map<std::string, json::object> out;
  if (o == nullptr) return out;
  for (const auto& [k, v] : *o) {
    if (v.is_object()) out[k] = v.get_object();
  }
  return out;
}

std::shared_ptr<const ServedApi> compile(const ApiRecord& rec) {
  auto api = std::make_shared<ServedApi>();
  api->api_id = rec.id();
  api->execute_disabled = get_bool(rec.api, "disableExecuteApiEndpoint").value_or(false);
  if (const json::object* cors = get_object(rec.api, "corsConfiguration")) api->cors = *cors;
  std::shared_ptr<const ServedConfig> live;
  for (const auto& [name, doc] : rec.stages) {
    ServedStage s;
    if (const json::object* vars = get_object(doc, "stageVariables")) {
      for (const auto& [k, v] : *vars) {
        if (v.is_string()) s.variables[k] = std::string(v.get_string());
      }
    }
    if (get_bool(doc, "autoDeploy").value_or(false)) {
      if (!live) live = compile_config(rec.routes, rec.integrations);
      s.config = live;
    } else if (auto dep = get_string(doc, "deploymentId")) {
      auto it = rec.deployments.find(*dep);
      if (it != rec.deployments.end()) {
        s.config = compile_config(object_map(get_object(it->second, "_routes")),
                                  object_map(get_object(it->second, "_integrations")));
      }
    }
    api->stages[name] = std::move(s);
  }
  return api;
}

// ---------------------------------------------------------------------------------------------
// CORS ("Configuring CORS for an HTTP API"): API Gateway answers preflight requests itself and
// puts its own CORS headers on every answer to an allowed origin.

bool listed(const json::object& cors, std::string_view key, std::string_view value) {
  const json::array* a = get_array(cors, key);
  if (a == nullptr) return false;
  return std::any_of(a->begin(), a->end(), [&](const json::value& v) {
    return v.is_string() && (v.get_string() == "*" || iequals(v.get_string(), value));
  });
}

std::string joined(const json::object& cors, std::string_view key) {
  std::string out;
  if (const json::array* a = get_array(cors, key)) {
    for (const json::value& v : *a) {
      if (!v.is_string()) continue;
      if (!out.empty()) out += ",";
      out += std::string(v.get_string());
    }
  }
  return out;
}

// The Access-Control-Allow-Origin to send to `origin`: the origin itself, "*", or none.
std::string allowed_origin(const json::object& cors, std::string_view origin) {
  if (origin.empty() || !listed(cors, "allowOrigins", origin)) return "";
  const json::array* a = get_array(cors, "allowOrigins");
  bool any = std::any_of(a->begin(), a->end(), [](const json::value& v) { return v == "*"; });
  return any && !get_bool(cors, "allowCredentials").value_or(false) ? "*" : std::string(origin);
}

void add_cors(const json::object& cors, std::string_view origin, ProxyResponse& r) {
  std::string allow = allowed_origin(cors, origin);
  if (allow.empty()) return;
  // The backend's own CORS headers give way to the API's.
  std::erase_if(r.headers,
                [](const auto& h) { return starts_with(to_lower(h.first), "access-control-"); });
  r.headers.emplace_back("access-control-allow-origin", allow);
  if (get_bool(cors, "allowCredentials").value_or(false)) {
    r.headers.emplace_back("access-control-allow-credentials", "true");
  }
  if (std::string expose = joined(cors, "exposeHeaders"); !expose.empty()) {
    r.headers.emplace_back("access-control-expose-headers", expose);
  }
}

// The port apiEndpoint shows: the bound one (endpoint_url), else the configured one; 0: none.
uint16_t endpoint_port(const NodeConfig& c) {
  const std::string& url = c.endpoint_url;
  size_t colon = url.rfind(':');
  if (colon != std::string::npos && colon > url.find("//")) {
    try {
      int p = std::stoi(url.substr(colon + 1));
      if (p > 0 && p < 65536) return static_cast<uint16_t>(p);
    } catch (const std::exception&) {
    }
  }
  return c.port;
}

}  // namespace

// -----------------------------------------------------------------------------------------------

struct ApiGatewayService::Core {
  explicit Core(ApiGatewayDeps d) : deps(std::move(d)), registry(deps.store) {}

  ApiGatewayDeps deps;
  Registry registry;

  std::mutex cache_mu;
  std::map<std::string, std::shared_ptr<const ServedApi>> cache;  // GUARDED_BY(cache_mu)

  const std::string& account() const { return deps.config->account_id; }
  const std::string& region() const { return deps.config->region; }

  // ------------------------------------------------------------------ the cache

  void cache_put(const ApiRecord& rec) {
    auto served = compile(rec);
    std::lock_guard lock(cache_mu);
    cache[rec.id()] = std::move(served);
  }
  void cache_erase(const std::string& api_id) {
    std::lock_guard lock(cache_mu);
    cache.erase(api_id);
  }
  std::shared_ptr<const ServedApi> served(const std::string& api_id) {
    std::lock_guard lock(cache_mu);
    auto it = cache.find(api_id);
    return it == cache.end() ? nullptr : it->second;
  }

  // ------------------------------------------------------------------ answers

  // "http://<id>.execute-api.<region>.localhost[:<port>]" (no port when none is known yet).
  std::string api_endpoint(const std::string& api_id) const {
    // Appended piece by piece: GCC 12 at -O3 reports a false -Wrestrict in operator+ chains
    // with literals (GCC bug 105329).
    std::string out = "http://";
    out += api_id;
    out += ".execute-api.";
    out += region();
    out += ".localhost";
    if (uint16_t port = endpoint_port(*deps.config); port != 0) {
      out += ':';
      out += std::to_string(port);
    }
    return out;
  }

  json::object api_json(const json::object& api) const {
    json::object o = shown(api);
    o["apiEndpoint"] = api_endpoint(get_string(api, "apiId").value_or(""));
    return o;
  }

  std::string now_iso() const { return format_iso8601(deps.clock->now()); }

  // Pages of `items` (in id order): maxResults and nextToken (an offset) from the query.
  static Result<json::object> page(std::vector<json::object> items, const net::Target& target) {
    int64_t max = kPageDefault, start = 0;
    try {
      if (auto m = target.param("maxResults")) max = std::stoll(*m);
      if (auto t = target.param("nextToken")) start = std::stoll(*t);
    } catch (const std::exception&) {
      return bad_request("Invalid maxResults or nextToken.");
    }
    if (max < 1 || max > kPageMax || start < 0) {
      return bad_request("Invalid maxResults or nextToken.");
    }
    json::array out;
    const auto n = static_cast<int64_t>(items.size());
    for (int64_t i = start; i < n && i < start + max; ++i) out.push_back(std::move(items[i]));
    json::object o{{"items", std::move(out)}};
    if (start + max < n) o["nextToken"] = std::to_string(start + max);
    return o;
  }

  // ------------------------------------------------------------------ APIs

  struct Answer {
    int status = 200;
    json::object body;
    bool empty = false;  // 204
  };
  static Answer created(json::object o) { return Answer{201, std::move(o), false}; }
  static Answer ok(json::object o) { return Answer{200, std::move(o), false}; }
  static Answer no_content() { return Answer{204, {}, true}; }

  Result<Answer> create_api(const json::object& in) {
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> name, opt_string(in, "name"));
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> protocol, opt_string(in, "protocolType"));
    if (!name) return bad_request("Invalid API name specified: name is required.");
    NUBO_TRY(check_length("name", *name, 1, kNameMax));
    if (!protocol) return bad_request("protocolType is required: HTTP.");
    if (*protocol == "WEBSOCKET") {
      return bad_request("nubo serves HTTP APIs only: WEBSOCKET APIs are not supported.");
    }
    if (*protocol != "HTTP") return bad_request("Invalid protocolType " + *protocol + ".");
    ApiRecord rec;
    const std::string id = new_id(kApiIdLength);
    json::object& api = rec.api;
    api["apiId"] = id;
    api["name"] = *name;
    api["protocolType"] = "HTTP";
    api["routeSelectionExpression"] = kRouteSelectionExpression;
    api["apiKeySelectionExpression"] = kApiKeySelectionExpression;
    api["createdDate"] = now_iso();
    api["disableExecuteApiEndpoint"] = false;
    api["tags"] = json::object();
    NUBO_TRY(set_api_members(in, api));
    NUBO_ASSIGN_OR_RETURN(std::optional<json::object> tags, opt_string_map(in, "tags"));
    if (tags) api["tags"] = std::move(*tags);

    // Quick create ("Create an HTTP API": --target).
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> target, opt_string(in, "target"));
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> route_key, opt_string(in, "routeKey"));
    if (route_key && !target) return bad_request("routeKey can be given only with target.");
    if (target) {
      if (!function_of(*target)) return bad_lambda_uri(*target);
      const std::string key = route_key.value_or(std::string(kDefault));
      NUBO_TRY(parse_route_key(key));
      const std::string integration_id = new_id(kChildIdLength);
      rec.integrations[integration_id] =
          json::object{{"apiGatewayManaged", true},       {"connectionType", "INTERNET"},
                       {"integrationId", integration_id}, {"integrationMethod", "POST"},
                       {"integrationType", "AWS_PROXY"},  {"integrationUri", *target},
                       {"payloadFormatVersion", "2.0"},   {"timeoutInMillis", kTimeoutDefaultMs}};
      const std::string route_id = new_id(kChildIdLength);
      rec.routes[route_id] = json::object{{"apiGatewayManaged", true},
                                          {"apiKeyRequired", false},
                                          {"authorizationType", "NONE"},
                                          {"routeId", route_id},
                                          {"routeKey", key},
                                          {"target", "integrations/" + integration_id}};
      rec.stages[std::string(kDefault)] = new_stage(std::string(kDefault), true);
      rec.stages[std::string(kDefault)]["apiGatewayManaged"] = true;
    }
    NUBO_TRY(registry.create(rec));
    cache_put(rec);
    return created(api_json(rec.api));
  }

  // The members CreateApi and UpdateApi share.
  Status set_api_members(const json::object& in, json::object& api) {
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> description, opt_string(in, "description"));
    if (description) {
      NUBO_TRY(check_length("description", *description, 0, kDescriptionMax));
      api["description"] = *description;
    }
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> version, opt_string(in, "version"));
    if (version) {
      NUBO_TRY(check_length("version", *version, 1, kVersionMax));
      api["version"] = *version;
    }
    NUBO_ASSIGN_OR_RETURN(std::optional<bool> disable, opt_bool(in, "disableExecuteApiEndpoint"));
    if (disable) api["disableExecuteApiEndpoint"] = *disable;
    if (auto it = in.find("corsConfiguration"); it != in.end()) {
      if (it->value().is_null()) {
        api.erase("corsConfiguration");
      } else {
        NUBO_ASSIGN_OR_RETURN(json::object cors, cors_of(it->value()));
        api["corsConfiguration"] = std::move(cors);
      }
    }
    return Ok{};
  }

  Result<Answer> get_api(const std::string& id) {
    NUBO_ASSIGN_OR_RETURN(ApiRecord rec, registry.load(id, account()));
    return ok(api_json(rec.api));
  }

  Result<Answer> get_apis(const net::Target& target) {
    NUBO_ASSIGN_OR_RETURN(std::vector<ApiRecord> all, registry.load_all());
    std::vector<json::object> items;
    for (const ApiRecord& r : all) items.push_back(api_json(r.api));
    NUBO_ASSIGN_OR_RETURN(json::object o, page(std::move(items), target));
    return ok(std::move(o));
  }

  Result<Answer> update_api(const std::string& id, const json::object& in) {
    NUBO_ASSIGN_OR_RETURN(
        ApiRecord rec, registry.update(id, account(), [&](ApiRecord& r) -> Status {
          NUBO_ASSIGN_OR_RETURN(std::optional<std::string> name, opt_string(in, "name"));
          if (name) {
            NUBO_TRY(check_length("name", *name, 1, kNameMax));
            r.api["name"] = *name;
          }
          return set_api_members(in, r.api);
        }));
    cache_put(rec);
    return ok(api_json(rec.api));
  }

  Result<Answer> delete_api(const std::string& id) {
    NUBO_TRY(registry.remove(id, account()));
    cache_erase(id);
    return no_content();
  }

  // ------------------------------------------------------------------ routes

  static Error route_not_found(const std::string& id) {
    return not_found("Invalid Route identifier specified " + id);
  }

  // target: "integrations/<id>" of an integration of the API.
  static Status check_target(const ApiRecord& r, const std::string& target) {
    if (!starts_with(target, "integrations/") || r.integrations.count(target.substr(13)) == 0) {
      return bad_request("Invalid target specified " + target +
                         ": it must be integrations/<id> of an integration of this API.");
    }
    return Ok{};
  }

  static Status set_route_members(const json::object& in, const ApiRecord& r, json::object& route) {
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> key, opt_string(in, "routeKey"));
    if (key) {
      NUBO_TRY(parse_route_key(*key));
      for (const auto& [id, other] : r.routes) {
        if (get_string(other, "routeKey") == *key && other.at("routeId") != route["routeId"]) {
          return conflict("Route with key " + *key + " already exists for this API");
        }
      }
      route["routeKey"] = *key;
    }
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> target, opt_string(in, "target"));
    if (target) {
      NUBO_TRY(check_length("target", *target, 1, kTargetMax));
      NUBO_TRY(check_target(r, *target));
      route["target"] = *target;
    } else if (auto it = in.find("target"); it != in.end() && it->value().is_null()) {
      route.erase("target");
    }
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> auth, opt_string(in, "authorizationType"));
    if (auth) {
      if (*auth == "JWT" || *auth == "CUSTOM") {
        return bad_request("nubo supports authorizationType NONE and AWS_IAM only.");
      }
      if (*auth != "NONE" && *auth != "AWS_IAM") {
        return bad_request("Invalid authorizationType " + *auth + ".");
      }
      route["authorizationType"] = *auth;
    }
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> op, opt_string(in, "operationName"));
    if (op) {
      NUBO_TRY(check_length("operationName", *op, 1, kVersionMax));
      route["operationName"] = *op;
    }
    NUBO_ASSIGN_OR_RETURN(std::optional<bool> key_required, opt_bool(in, "apiKeyRequired"));
    if (key_required) route["apiKeyRequired"] = *key_required;
    return Ok{};
  }

  Result<Answer> create_route(const std::string& api_id, const json::object& in) {
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> key, opt_string(in, "routeKey"));
    if (!key) return bad_request("routeKey is required.");
    json::object route;
    NUBO_ASSIGN_OR_RETURN(ApiRecord rec,
                          registry.update(api_id, account(), [&](ApiRecord& r) -> Status {
                            const std::string id = new_id(kChildIdLength);
                            route = json::object{{"apiGatewayManaged", false},
                                                 {"apiKeyRequired", false},
                                                 {"authorizationType", "NONE"},
                                                 {"routeId", id}};
                            NUBO_TRY(set_route_members(in, r, route));
                            r.routes[id] = route;
                            return Ok{};
                          }));
    cache_put(rec);
    return created(shown(route));
  }

  Result<Answer> update_route(const std::string& api_id, const std::string& route_id,
                              const json::object& in) {
    json::object route;
    NUBO_ASSIGN_OR_RETURN(ApiRecord rec,
                          registry.update(api_id, account(), [&](ApiRecord& r) -> Status {
                            auto it = r.routes.find(route_id);
                            if (it == r.routes.end()) return route_not_found(route_id);
                            NUBO_TRY(set_route_members(in, r, it->second));
                            route = it->second;
                            return Ok{};
                          }));
    cache_put(rec);
    return ok(shown(route));
  }

  // ------------------------------------------------------------------ integrations

  static Error integration_not_found(const std::string& id) {
    return not_found("Invalid Integration identifier specified " + id);
  }

  static Status set_integration_members(const json::object& in, json::object& integration) {
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> type, opt_string(in, "integrationType"));
    if (type) {
      if (*type != "AWS_PROXY") {
        return bad_request(
            "nubo supports integrationType AWS_PROXY (a Lambda function) only, not " + *type + ".");
      }
      integration["integrationType"] = *type;
    }
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> uri, opt_string(in, "integrationUri"));
    if (uri) {
      NUBO_TRY(check_length("integrationUri", *uri, 1, kUriMax));
      if (!function_of(*uri)) return bad_lambda_uri(*uri);
      integration["integrationUri"] = *uri;
    }
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> version,
                          opt_string(in, "payloadFormatVersion"));
    if (version) {
      if (*version != "1.0" && *version != "2.0") {
        return bad_request("Invalid payloadFormatVersion " + *version + ": 1.0 or 2.0.");
      }
      integration["payloadFormatVersion"] = *version;
    }
    NUBO_ASSIGN_OR_RETURN(std::optional<int64_t> timeout, opt_int(in, "timeoutInMillis"));
    if (timeout) {
      if (*timeout < kTimeoutMinMs || *timeout > kTimeoutMaxMs) {
        return bad_request("Invalid timeoutInMillis: it must be between 50 and 30000.");
      }
      integration["timeoutInMillis"] = *timeout;
    }
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> description, opt_string(in, "description"));
    if (description) {
      NUBO_TRY(check_length("description", *description, 0, kDescriptionMax));
      integration["description"] = *description;
    }
    return Ok{};
  }

  Result<Answer> create_integration(const std::string& api_id, const json::object& in) {
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> type, opt_string(in, "integrationType"));
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> uri, opt_string(in, "integrationUri"));
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> version,
                          opt_string(in, "payloadFormatVersion"));
    if (!type) return bad_request("integrationType is required.");
    if (!uri && *type == "AWS_PROXY") return bad_request("integrationUri is required.");
    // "Required for HTTP APIs" (CreateIntegration's payloadFormatVersion).
    if (!version) {
      return bad_request("payloadFormatVersion is required for HTTP APIs: 1.0 or 2.0.");
    }
    json::object integration;
    NUBO_ASSIGN_OR_RETURN(ApiRecord rec,
                          registry.update(api_id, account(), [&](ApiRecord& r) -> Status {
                            const std::string id = new_id(kChildIdLength);
                            integration = json::object{{"apiGatewayManaged", false},
                                                       {"connectionType", "INTERNET"},
                                                       {"integrationId", id},
                                                       {"integrationMethod", "POST"},
                                                       {"timeoutInMillis", kTimeoutDefaultMs}};
                            NUBO_TRY(set_integration_members(in, integration));
                            r.integrations[id] = integration;
                            return Ok{};
                          }));
    cache_put(rec);
    return created(shown(integration));
  }

  Result<Answer> update_integration(const std::string& api_id, const std::string& id,
                                    const json::object& in) {
    json::object integration;
    NUBO_ASSIGN_OR_RETURN(ApiRecord rec,
                          registry.update(api_id, account(), [&](ApiRecord& r) -> Status {
                            auto it = r.integrations.find(id);
                            if (it == r.integrations.end()) return integration_not_found(id);
                            NUBO_TRY(set_integration_members(in, it->second));
                            integration = it->second;
                            return Ok{};
                          }));
    cache_put(rec);
    return ok(shown(integration));
  }

  Result<Answer> delete_integration(const std::string& api_id, const std::string& id) {
    NUBO_ASSIGN_OR_RETURN(ApiRecord rec,
                          registry.update(api_id, account(), [&](ApiRecord& r) -> Status {
                            if (r.integrations.count(id) == 0) return integration_not_found(id);
                            for (const auto& [route_id, route] : r.routes) {
                              if (get_string(route, "target") == "integrations/" + id) {
                                return conflict("Cannot delete Integration " + id +
                                                ", it is referenced by route: " + route_id);
                              }
                            }
                            r.integrations.erase(id);
                            return Ok{};
                          }));
    cache_put(rec);
    return no_content();
  }

  // ------------------------------------------------------------------ stages and deployments

  static Error stage_not_found(const std::string& name) {
    return not_found("Invalid stage identifier specified " + name);
  }

  json::object new_stage(const std::string& name, bool auto_deploy) const {
    const std::string now = now_iso();
    return json::object{{"apiGatewayManaged", false},
                        {"autoDeploy", auto_deploy},
                        {"createdDate", now},
                        {"defaultRouteSettings", json::object{{"detailedMetricsEnabled", false}}},
                        {"lastUpdatedDate", now},
                        {"routeSettings", json::object()},
                        {"stageName", name},
                        {"stageVariables", json::object()},
                        {"tags", json::object()}};
  }

  static Status set_stage_members(const json::object& in, const ApiRecord& r, json::object& stage) {
    NUBO_ASSIGN_OR_RETURN(std::optional<bool> auto_deploy, opt_bool(in, "autoDeploy"));
    if (auto_deploy) stage["autoDeploy"] = *auto_deploy;
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> deployment, opt_string(in, "deploymentId"));
    if (deployment) {
      if (r.deployments.count(*deployment) == 0) {
        return bad_request("Invalid deployment identifier specified " + *deployment);
      }
      stage["deploymentId"] = *deployment;
    }
    NUBO_ASSIGN_OR_RETURN(std::optional<json::object> vars, opt_string_map(in, "stageVariables"));
    if (vars) {
      for (const auto& [k, v] : *vars) {
        bool ok = !k.empty() && k.size() <= 64 && std::all_of(k.begin(), k.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
        });
        if (!ok) return bad_request("Invalid stage variable name " + std::string(k) + ".");
      }
      stage["stageVariables"] = std::move(*vars);
    }
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> description, opt_string(in, "description"));
    if (description) {
      NUBO_TRY(check_length("description", *description, 0, kDescriptionMax));
      stage["description"] = *description;
    }
    return Ok{};
  }

  Result<Answer> create_stage(const std::string& api_id, const json::object& in) {
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> name, opt_string(in, "stageName"));
    if (!name) return bad_request("stageName is required.");
    if (!stage_name_ok(*name)) {
      return bad_request("Invalid stage name " + *name +
                         ": $default, or up to 128 of A-Z, a-z, 0-9, '_' and '-'.");
    }
    json::object stage;
    NUBO_ASSIGN_OR_RETURN(ApiRecord rec,
                          registry.update(api_id, account(), [&](ApiRecord& r) -> Status {
                            if (r.stages.count(*name) != 0) return conflict("Stage already exists");
                            stage = new_stage(*name, false);
                            NUBO_TRY(set_stage_members(in, r, stage));
                            r.stages[*name] = stage;
                            return Ok{};
                          }));
    cache_put(rec);
    return created(shown(stage));
  }

  Result<Answer> update_stage(const std::string& api_id, const std::string& name,
                              const json::object& in) {
    json::object stage;
    NUBO_ASSIGN_OR_RETURN(ApiRecord rec,
                          registry.update(api_id, account(), [&](ApiRecord& r) -> Status {
                            auto it = r.stages.find(name);
                            if (it == r.stages.end()) return stage_not_found(name);
                            NUBO_TRY(set_stage_members(in, r, it->second));
                            it->second["lastUpdatedDate"] = now_iso();
                            stage = it->second;
                            return Ok{};
                          }));
    cache_put(rec);
    return ok(shown(stage));
  }

  // A deployment is a snapshot of the routes and integrations, served by the stages that name
  // it and do not deploy automatically.
  Result<Answer> create_deployment(const std::string& api_id, const json::object& in) {
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> stage_name, opt_string(in, "stageName"));
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> description, opt_string(in, "description"));
    if (description) NUBO_TRY(check_length("description", *description, 0, kDescriptionMax));
    json::object deployment;
    NUBO_ASSIGN_OR_RETURN(
        ApiRecord rec, registry.update(api_id, account(), [&](ApiRecord& r) -> Status {
          json::object* stage = nullptr;
          if (stage_name) {
            auto it = r.stages.find(*stage_name);
            if (it == r.stages.end()) return stage_not_found(*stage_name);
            if (get_bool(it->second, "autoDeploy").value_or(false)) {
              return bad_request("Stage " + *stage_name +
                                 " deploys automatically: it takes no manual deployments.");
            }
            stage = &it->second;
          }
          const std::string id = new_id(kChildIdLength);
          deployment = json::object{{"autoDeployed", false},
                                    {"createdDate", now_iso()},
                                    {"deploymentId", id},
                                    {"deploymentStatus", "DEPLOYED"}};
          if (description) deployment["description"] = *description;
          json::object routes, integrations;
          for (const auto& [k, v] : r.routes) routes[k] = v;
          for (const auto& [k, v] : r.integrations) integrations[k] = v;
          json::object stored = deployment;
          stored["_routes"] = std::move(routes);
          stored["_integrations"] = std::move(integrations);
          r.deployments[id] = std::move(stored);
          if (stage) {
            (*stage)["deploymentId"] = id;
            (*stage)["lastUpdatedDate"] = now_iso();
          }
          return Ok{};
        }));
    cache_put(rec);
    return created(std::move(deployment));
  }

  Result<Answer> delete_deployment(const std::string& api_id, const std::string& id) {
    NUBO_ASSIGN_OR_RETURN(ApiRecord rec,
                          registry.update(api_id, account(), [&](ApiRecord& r) -> Status {
                            if (r.deployments.count(id) == 0) {
                              return not_found("Invalid Deployment identifier specified " + id);
                            }
                            for (const auto& [name, stage] : r.stages) {
                              if (get_string(stage, "deploymentId") == id) {
                                return bad_request(
                                    "Active stages pointing to this deployment must be moved or "
                                    "deleted: " +
                                    name);
                              }
                            }
                            r.deployments.erase(id);
                            return Ok{};
                          }));
    cache_put(rec);
    return no_content();
  }

  // ------------------------------------------------------------------ children, generically

  // The children of one kind, by the collection's path segment.
  static std::map<std::string, json::object>* children(ApiRecord& r, std::string_view coll) {
    if (coll == "routes") return &r.routes;
    if (coll == "integrations") return &r.integrations;
    if (coll == "stages") return &r.stages;
    if (coll == "deployments") return &r.deployments;
    return nullptr;
  }
  static Error child_not_found(std::string_view coll, const std::string& id) {
    if (coll == "routes") return route_not_found(id);
    if (coll == "integrations") return integration_not_found(id);
    if (coll == "stages") return stage_not_found(id);
    return not_found("Invalid Deployment identifier specified " + id);
  }

  Result<Answer> get_child(const std::string& api_id, std::string_view coll,
                           const std::string& id) {
    NUBO_ASSIGN_OR_RETURN(ApiRecord rec, registry.load(api_id, account()));
    auto* m = children(rec, coll);
    auto it = m->find(id);
    if (it == m->end()) return child_not_found(coll, id);
    return ok(shown(it->second));
  }

  Result<Answer> get_children(const std::string& api_id, std::string_view coll,
                              const net::Target& target) {
    NUBO_ASSIGN_OR_RETURN(ApiRecord rec, registry.load(api_id, account()));
    std::vector<json::object> items;
    for (const auto& [id, doc] : *children(rec, coll)) items.push_back(shown(doc));
    NUBO_ASSIGN_OR_RETURN(json::object o, page(std::move(items), target));
    return ok(std::move(o));
  }

  Result<Answer> delete_child(const std::string& api_id, std::string_view coll,
                              const std::string& id) {
    if (coll == "integrations") return delete_integration(api_id, id);
    if (coll == "deployments") return delete_deployment(api_id, id);
    NUBO_ASSIGN_OR_RETURN(ApiRecord rec,
                          registry.update(api_id, account(), [&](ApiRecord& r) -> Status {
                            auto* m = children(r, coll);
                            if (m->erase(id) == 0) return child_not_found(coll, id);
                            return Ok{};
                          }));
    cache_put(rec);
    return no_content();
  }

  // ------------------------------------------------------------------ the request boundary

  // Which action a method and path are: the answer, after authorisation. Blocking.
  Result<Answer> run(const net::Request& req, const net::Target& target, const json::object& in,
                     const auth::Caller& caller) {
    const std::string& path = target.path;
    if (!starts_with(path, "/v2/apis")) return not_found("No such operation: " + path);
    std::string rest = path.substr(3);  // "/apis..."
    while (rest.size() > 5 && rest.back() == '/') rest.pop_back();
    std::vector<std::string> segs = split(std::string_view(rest).substr(1), '/');
    if (segs.empty() || segs[0] != "apis" || segs.size() > 4) {
      return not_found("No such operation: " + path);
    }
    for (const std::string& s : segs) {
      if (s.empty()) return not_found("No such operation: " + path);
    }
    const http::verb m = req.method();
    // "apigateway:<verb>" on the resource the path names (limits.h).
    const std::string verb(req.method_string());
    auth::Access access(std::string(kActionPrefix) + verb,
                        "arn:aws:apigateway:" + region() + "::" + rest);
    NUBO_TRY(auth::authorize(caller, access, auth::DenialShape{"AccessDeniedException", 403}));

    if (segs.size() == 1) {
      if (m == http::verb::post) return create_api(in);
      if (m == http::verb::get) return get_apis(target);
    } else if (segs.size() == 2) {
      if (m == http::verb::get) return get_api(segs[1]);
      if (m == http::verb::patch) return update_api(segs[1], in);
      if (m == http::verb::delete_) return delete_api(segs[1]);
    } else {
      ApiRecord probe;
      if (children(probe, segs[2]) == nullptr) return not_found("No such operation: " + path);
      const std::string& api_id = segs[1];
      const std::string& coll = segs[2];
      if (segs.size() == 3) {
        if (m == http::verb::get) return get_children(api_id, coll, target);
        if (m == http::verb::post) {
          if (coll == "routes") return create_route(api_id, in);
          if (coll == "integrations") return create_integration(api_id, in);
          if (coll == "stages") return create_stage(api_id, in);
          return create_deployment(api_id, in);
        }
      } else {
        const std::string id = segs[3];
        if (m == http::verb::get) return get_child(api_id, coll, id);
        if (m == http::verb::delete_) return delete_child(api_id, coll, id);
        if (m == http::verb::patch) {
          if (coll == "routes") return update_route(api_id, id, in);
          if (coll == "integrations") return update_integration(api_id, id, in);
          if (coll == "stages") return update_stage(api_id, id, in);
        }
      }
    }
    return not_found("No such operation: " + verb + " " + path);
  }

  static net::Response error_response(const net::Request& req, const Error& e,
                                      const std::string& rid) {
    net::Response res = net::make_response(req, static_cast<http::status>(e.status),
                                           json::serialize(json::object{{"message", e.message}}),
                                           "application/json");
    res.set("x-amzn-ErrorType", e.code);
    res.set("x-amzn-RequestId", rid);
    return res;
  }

  // Blocking: the whole answer of one request.
  net::Response answer(const net::Request& req, const net::Target& target,
                       const auth::Caller& caller) {
    const std::string rid = caller.request_id.empty() ? new_uuid() : caller.request_id;
    json::object in;
    std::string_view body = req.body();
    if (!trim(body).empty()) {
      boost::system::error_code ec;
      json::value v = json::parse(body, ec);
      if (ec || !v.is_object()) {
        return error_response(req, bad_request("Invalid request body: not a JSON object."), rid);
      }
      in = std::move(v.get_object());
    }
    Result<Answer> r = bad_request("");
    try {
      r = run(req, target, in, caller);
    } catch (const std::exception& e) {
      log_error(std::string("apigateway: ") + target.path + " failed: " + e.what());
      r = Error{"InternalServerErrorException", 500, "An internal error occurred."};
    }
    if (!r.ok()) return error_response(req, r.error(), rid);
    net::Response res = net::make_response(req, static_cast<http::status>(r->status),
                                           r->empty ? "" : json::serialize(r->body),
                                           r->empty ? "" : "application/json");
    res.set("x-amzn-RequestId", rid);
    return res;
  }
};

ApiGatewayService::ApiGatewayService(ApiGatewayDeps deps)
    : core_(std::make_shared<Core>(std::move(deps))) {
  NUBO_CHECK(core_->deps.config && core_->deps.store && core_->deps.clock && core_->deps.blocking);
}

ApiGatewayService::~ApiGatewayService() = default;

Status ApiGatewayService::start() {
  NUBO_TRY(core_->registry.start());
  NUBO_ASSIGN_OR_RETURN(std::vector<ApiRecord> all, core_->registry.load_all());
  for (const ApiRecord& r : all) core_->cache_put(r);
  return Ok{};
}

net::Task<net::Response> ApiGatewayService::handle(net::Request& req, const net::Target& target,
                                                   const auth::Caller& caller) {
  std::shared_ptr<Core> core = core_;
  auto work = [core, &req, &target, &caller]() -> net::Response {
    return core->answer(req, target, caller);
  };
  auto task = net::run_blocking(*core->deps.blocking, std::move(work));
  net::Response res = co_await std::move(task);
  co_return res;
}

net::Task<net::Response> ApiGatewayService::execute(net::Request& req, std::string api_id,
                                                    std::string raw_path, const net::Peer& peer,
                                                    const auth::Caller* caller) {
  std::shared_ptr<Core> core = core_;
  const std::string request_id = new_request_id();
  std::shared_ptr<const ServedApi> api = core->served(api_id);
  if (api && api->execute_disabled) api = nullptr;  // disableExecuteApiEndpoint
  const std::string origin(net::header(req, "origin"));
  auto finish = [&](ProxyResponse r) {
    if (api && api->cors) add_cors(*api->cors, origin, r);
    r.headers.emplace_back("apigw-requestid", request_id);
    return to_http(req, r);
  };
  if (!api) co_return finish(gateway_response(404, kNotFoundMessage));
  if (raw_path.empty() || raw_path[0] != '/') raw_path = "/" + raw_path;

  // Preflight ("Configuring CORS": API Gateway answers it, whatever the routes).
  if (api->cors && req.method() == http::verb::options && !origin.empty() &&
      !net::header(req, "access-control-request-method").empty()) {
    ProxyResponse r;
    r.status = 204;
    const json::object& cors = *api->cors;
    if (!allowed_origin(cors, origin).empty()) {
      add_cors(cors, origin, r);
      if (std::string m = joined(cors, "allowMethods"); !m.empty()) {
        r.headers.emplace_back("access-control-allow-methods", m);
      }
      if (std::string h = joined(cors, "allowHeaders"); !h.empty()) {
        r.headers.emplace_back("access-control-allow-headers", h);
      }
      if (auto age = get_int(cors, "maxAge")) {
        r.headers.emplace_back("access-control-max-age", std::to_string(*age));
      }
    }
    r.headers.emplace_back("apigw-requestid", request_id);
    co_return to_http(req, r);
  }

  // The stage: a named one the path starts with, else $default with the whole path.
  std::string stage_name(kDefault);
  std::string route_path = raw_path;
  {
    size_t end = raw_path.find('/', 1);
    std::string first = url_decode(raw_path.substr(1, end == std::string::npos ? end : end - 1));
    if (first != kDefault && api->stages.count(first) != 0) {
      stage_name = first;
      route_path = end == std::string::npos ? "/" : raw_path.substr(end);
    }
  }
  auto stage_it = api->stages.find(stage_name);
  if (stage_it == api->stages.end() || !stage_it->second.config) {
    co_return finish(gateway_response(404, kNotFoundMessage));
  }
  const ServedStage& stage = stage_it->second;
  const ServedConfig& config = *stage.config;

  const std::string method(req.method_string());
  std::optional<RouteMatch> match = match_route(config.keys, method, route_path);
  if (!match) co_return finish(gateway_response(404, kNotFoundMessage));
  const ServedRoute& route = config.routes[match->index];
  const RouteKey& key = config.keys[match->index];
  auto integration = config.integrations.find(route.integration_id);
  if (integration == config.integrations.end()) {
    // A route without a (valid) target has nothing to call.
    co_return finish(gateway_response(404, kNotFoundMessage));
  }

  EventContext ctx;
  ctx.account_id = core->account();
  ctx.api_id = api->api_id;
  std::string host(net::header(req, "host"));
  if (size_t colon = host.rfind(':'); colon != std::string::npos) host.resize(colon);
  ctx.domain_name =
      host.empty() ? api->api_id + ".execute-api." + core->region() + ".localhost" : host;
  ctx.domain_prefix = ctx.domain_name.substr(0, ctx.domain_name.find('.'));
  ctx.route_key = route.route_key;
  ctx.stage = stage_name;
  ctx.request_id = request_id;
  ctx.resource_path = key.path;
  ctx.path = url_decode(route_path);
  ctx.path_parameters = std::move(match->path_parameters);
  ctx.stage_variables = stage.variables;

  if (route.authorization_type == "AWS_IAM") {
    if (caller == nullptr) co_return finish(gateway_response(403, kForbiddenMessage));
    // arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>
    std::string resource = "arn:aws:execute-api:" + core->region() + ":" + core->account() + ":" +
                           api->api_id + "/" + stage_name + "/" + method + url_decode(route_path);
    auth::Access access(std::string(kInvokeAction), resource);
    access.data_event = true;
    Status allowed =
        auth::authorize(*caller, access, auth::DenialShape{"AccessDeniedException", 403});
    if (!allowed.ok()) co_return finish(gateway_response(403, allowed.error().message));
    IamAuthorizer iam;
    iam.access_key = caller->access_key_id;
    iam.account_id = caller->account_id;
    iam.user_arn = caller->arn;
    if (caller->identity) iam.user_id = caller->identity->user_id;
    iam.caller_id = iam.user_id;
    ctx.iam = std::move(iam);
  }

  HttpRequestView view = request_view(req, raw_path, peer, core->deps.clock->now());
  auto has = [&](std::string_view name) {
    return std::any_of(view.headers.begin(), view.headers.end(),
                       [&](const auto& h) { return iequals(h.first, name); });
  };
  // What API Gateway adds before the request reaches the integration.
  if (!has("x-forwarded-for")) view.headers.emplace_back("x-forwarded-for", peer.remote_ip);
  if (!has("x-forwarded-port")) {
    view.headers.emplace_back("x-forwarded-port", std::to_string(peer.local_port));
  }
  if (!has("x-forwarded-proto")) view.headers.emplace_back("x-forwarded-proto", "http");
  if (!has("x-amzn-trace-id")) {
    char epoch[16];
    std::snprintf(epoch, sizeof epoch, "%08llx",
                  static_cast<unsigned long long>(epoch_ms(view.time) / 1000));
    view.headers.emplace_back("x-amzn-trace-id",
                              std::string("Root=1-") + epoch + "-" + random_hex(12));
  }

  const bool v1 = integration->second.v1;
  std::string payload = json::serialize(v1 ? event_v1(view, ctx) : event_v2(view, ctx));
  if (!core->deps.invoke) {
    co_return finish(gateway_response(500, kInternalErrorMessage));
  }
  auto invoking = core->deps.invoke(integration->second.function_arn, std::move(payload));
  Result<runtime::InvokeResult> result = co_await std::move(invoking);
  if (!result.ok()) {
    const Error& e = result.error();
    if (e.code == "TooManyRequestsException" || e.status == 429) {
      co_return finish(gateway_response(429, kThrottledMessage));
    }
    log_warn("apigateway: " + api->api_id + " " + route.route_key + ": the invocation of " +
             integration->second.function_arn + " was refused: " + e.code + ": " + e.message);
    co_return finish(gateway_response(500, kInternalErrorMessage));
  }
  if (!result->function_error.empty()) {
    co_return finish(gateway_response(502, kInternalErrorMessage));
  }
  Result<ProxyResponse> mapped = v1 ? response_v1(result->payload) : response_v2(result->payload);
  if (!mapped.ok()) {
    log_warn("apigateway: " + api->api_id + " " + route.route_key + ": " + mapped.error().message);
    co_return finish(gateway_response(502, kInternalErrorMessage));
  }
  co_return finish(std::move(mapped).value());
}

}  // namespace nubo::apigateway

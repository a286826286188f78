#include "services/lambda/function_urls.h"

#include "base/ids.h"
#include "services/lambda/limits.h"

namespace nubo::lambda {

namespace {

Error wrong_type(std::string_view field) {
  return Error{"InvalidRequestContentException", 400,
               "Could not parse request body into json: unexpected type for field '" +
                   std::string(field) + "'"};
}

std::string shown(const std::vector<std::string>& list) {
  std::string s = "[";
  for (size_t i = 0; i < list.size(); ++i) s += (i ? ", " : "") + list[i];
  return s + "]";
}

// A list's constraints as Lambda words them: at most max_items members, each of
// [min_len, max_len] characters.
void check_list(Validation& v, const std::optional<std::vector<std::string>>& list,
                std::string_view field, size_t max_items, size_t min_len, size_t max_len) {
  if (!list) return;
  if (list->size() > max_items) {
    v.add(shown(*list), field,
          "Member must have length less than or equal to " + std::to_string(max_items));
    return;
  }
  for (const std::string& s : *list) {
    if (s.size() > max_len || s.size() < min_len) {
      std::string c =
          "Member must satisfy constraint: [Member must have length less than or "
          "equal to " +
          std::to_string(max_len);
      if (min_len > 0) c += ", Member must have length greater than or equal to 1";
      c += ", Member must satisfy regular expression pattern: .*, Member must not be null]";
      v.add(shown(*list), field, c);
      return;
    }
  }
}

json::value list_json(const std::vector<std::string>& list) {
  json::array a;
  for (const auto& s : list) a.push_back(json::value(s));
  return a;
}

}  // namespace

Result<FunctionUrlCors> parse_cors(const json::object& o) {
  FunctionUrlCors c;
  if (auto it = o.find("AllowCredentials"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_bool()) return wrong_type("AllowCredentials");
    c.allow_credentials = it->value().get_bool();
  }
  NUBO_ASSIGN_OR_RETURN(c.allow_headers, optional_string_list(o, "AllowHeaders"));
  NUBO_ASSIGN_OR_RETURN(c.allow_methods, optional_string_list(o, "AllowMethods"));
  NUBO_ASSIGN_OR_RETURN(c.allow_origins, optional_string_list(o, "AllowOrigins"));
  NUBO_ASSIGN_OR_RETURN(c.expose_headers, optional_string_list(o, "ExposeHeaders"));
  Validation v;
  if (auto it = o.find("MaxAge"); it != o.end() && !it->value().is_null()) {
    auto n = get_int(o, "MaxAge");
    if (!n) return wrong_type("MaxAge");
    if (*n < 0) {
      v.add(std::to_string(*n), "cors.maxAge", "Member must have value greater than or equal to 0");
    } else if (*n > kCorsMaxAgeMax) {
      v.add(std::to_string(*n), "cors.maxAge",
            "Member must have value less than or equal to " + std::to_string(kCorsMaxAgeMax));
    } else {
      c.max_age = static_cast<int>(*n);
    }
  }
  check_list(v, c.allow_headers, "cors.allowHeaders", kCorsMaxHeaders, 0, kCorsHeaderMax);
  check_list(v, c.allow_methods, "cors.allowMethods", kCorsMaxMethods, 0, kCorsMethodMax);
  check_list(v, c.allow_origins, "cors.allowOrigins", kCorsMaxOrigins, 1, kCorsOriginMax);
  check_list(v, c.expose_headers, "cors.exposeHeaders", kCorsMaxHeaders, 0, kCorsHeaderMax);
  NUBO_TRY(v.status());
  return c;
}

json::object cors_json(const FunctionUrlCors& c) {
  json::object o;
  if (c.allow_credentials) o["AllowCredentials"] = *c.allow_credentials;
  if (c.allow_headers) o["AllowHeaders"] = list_json(*c.allow_headers);
  if (c.allow_methods) o["AllowMethods"] = list_json(*c.allow_methods);
  if (c.allow_origins) o["AllowOrigins"] = list_json(*c.allow_origins);
  if (c.expose_headers) o["ExposeHeaders"] = list_json(*c.expose_headers);
  if (c.max_age) o["MaxAge"] = *c.max_age;
  return o;
}

Status check_auth_type(const std::string& value) {
  if (value == "NONE" || value == "AWS_IAM") return Ok{};
  return validation_error(value, "authType", "Member must satisfy enum value set: [NONE, AWS_IAM]");
}

Status check_invoke_mode(const std::string& value) {
  if (value == "BUFFERED" || value == "RESPONSE_STREAM") return Ok{};
  return validation_error(value, "invokeMode",
                          "Member must satisfy enum value set: [BUFFERED, RESPONSE_STREAM]");
}

std::string new_url_id() {
  // Base32's lower-case alphabet: 5 bits of a random byte each, so every character is uniform.
  static constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz234567";
  std::string hex = random_hex(kFunctionUrlIdLength);
  std::string id;
  id.reserve(kFunctionUrlIdLength);
  for (size_t i = 0; i < kFunctionUrlIdLength; ++i) {
    int byte = std::stoi(hex.substr(2 * i, 2), nullptr, 16);
    id += kAlphabet[static_cast<size_t>(byte) & 31];
  }
  return id;
}

std::string function_url(std::string_view url_id, std::string_view region, uint16_t port) {
  return "http://" + std::string(url_id) + ".lambda-url." + std::string(region) +
         ".localhost:" + std::to_string(port) + "/";
}

std::string to_store_json(const FunctionUrlConfig& c) {
  json::object o;
  o["FunctionName"] = c.function_name;
  o["Qualifier"] = c.qualifier;
  o["UrlId"] = c.url_id;
  o["AuthType"] = c.auth_type;
  if (c.cors) o["Cors"] = cors_json(*c.cors);
  o["InvokeMode"] = c.invoke_mode;
  o["CreationTime"] = c.creation_time;
  o["LastModifiedTime"] = c.last_modified_time;
  return json::serialize(o);
}

Result<FunctionUrlConfig> url_config_from_store_json(std::string_view text) {
  NUBO_ASSIGN_OR_RETURN(json::value v, parse_json(text, "ServiceException"));
  if (!v.is_object()) return internal_error("corrupt function URL configuration");
  const json::object& o = v.as_object();
  FunctionUrlConfig c;
  c.function_name = get_string(o, "FunctionName").value_or("");
  c.qualifier = get_string(o, "Qualifier").value_or("");
  c.url_id = get_string(o, "UrlId").value_or("");
  c.auth_type = get_string(o, "AuthType").value_or("AWS_IAM");
  if (const json::object* cors = get_object(o, "Cors")) {
    // Into the optional directly: GCC 12 at -O3 reports a moved-from optional<vector> member as
    // maybe-uninitialized otherwise (a false positive).
    auto parsed = parse_cors(*cors);
    if (!parsed.ok()) return std::move(parsed).error();
    c.cors.emplace(std::move(parsed).value());
  }
  c.invoke_mode = get_string(o, "InvokeMode").value_or("BUFFERED");
  c.creation_time = get_string(o, "CreationTime").value_or("");
  c.last_modified_time = get_string(o, "LastModifiedTime").value_or("");
  return c;
}

json::object to_wire_json(const FunctionUrlConfig& c, const ArnContext& arn, uint16_t port,
                          bool created) {
  json::object o;
  o["FunctionUrl"] = function_url(c.url_id, arn.region, port);
  o["FunctionArn"] = c.qualifier.empty() ? arn.function_arn(c.function_name)
                                         : arn.qualified_arn(c.function_name, c.qualifier);
  o["AuthType"] = c.auth_type;
  if (c.cors) o["Cors"] = cors_json(*c.cors);
  o["InvokeMode"] = c.invoke_mode;
  o["CreationTime"] = c.creation_time;
  if (!created) o["LastModifiedTime"] = c.last_modified_time;
  return o;
}

}  // namespace nubo::lambda

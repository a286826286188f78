// Function URLs (CreateFunctionUrlConfig and friends): a function's or alias's URL
// configuration, its CORS settings with Lambda's validation, and their stored and wire JSON.
//
// Plain values; no threads, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "services/lambda/model.h"

namespace nubo::lambda {

// Cors (API reference "Cors"): only the fields given are kept (and answered).
struct FunctionUrlCors {
  std::optional<bool> allow_credentials;
  std::optional<std::vector<std::string>> allow_headers;
  std::optional<std::vector<std::string>> allow_methods;
  std::optional<std::vector<std::string>> allow_origins;
  std::optional<std::vector<std::string>> expose_headers;
  std::optional<int> max_age;
};

// One function URL: of the unqualified function (qualifier "") or of an alias.
struct FunctionUrlConfig {
  std::string function_name;
  std::string qualifier;  // "" or an alias name
  std::string url_id;     // kFunctionUrlIdLength lower-case letters and digits
  std::string auth_type;  // "NONE" | "AWS_IAM"
  std::optional<FunctionUrlCors> cors;
  std::string invoke_mode = "BUFFERED";  // | "RESPONSE_STREAM"
  std::string creation_time;             // "2024-01-01T00:00:00.000Z"
  std::string last_modified_time;
};

// What UpdateFunctionUrlConfig changes: the fields given.
struct FunctionUrlUpdate {
  std::optional<std::string> auth_type;
  std::optional<FunctionUrlCors> cors;
  std::optional<std::string> invoke_mode;
};

// Parses a Cors object with Lambda's constraints (ValidationException at 'cors.<field>').
// Errors for a field of the wrong JSON type are InvalidRequestContentException.
Result<FunctionUrlCors> parse_cors(const json::object& o);
json::object cors_json(const FunctionUrlCors& c);

// Validates AuthType / InvokeMode values ("Member must satisfy enum value set").
Status check_auth_type(const std::string& value);
Status check_invoke_mode(const std::string& value);

// A new random URL id.
std::string new_url_id();

// The URL a config is reached at: http://<url-id>.lambda-url.<region>.localhost:<port>/.
std::string function_url(std::string_view url_id, std::string_view region, uint16_t port);

std::string to_store_json(const FunctionUrlConfig& c);
Result<FunctionUrlConfig> url_config_from_store_json(std::string_view text);

// FunctionUrlConfig as Lambda answers it: FunctionUrl, FunctionArn (qualified for an alias),
// AuthType, Cors (when set), InvokeMode, CreationTime and, unless `created` (the
// CreateFunctionUrlConfig answer has none), LastModifiedTime.
json::object to_wire_json(const FunctionUrlConfig& c, const ArnContext& arn, uint16_t port,
                          bool created);

}  // namespace nubo::lambda

#include "services/lambda/lambda_service.h"

// GCC 12 reports a false -Wmismatched-new-delete on the frames of some Asio coroutines here (the
// frame's operator new/delete pair is Asio's own); see GCC bug 109224.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <algorithm>
#include <array>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <cctype>
#include <random>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "base/crypto.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/strings.h"
#include "net/async.h"
#include "services/lambda/actions.h"
#include "services/lambda/function_urls.h"
#include "services/lambda/limits.h"
#include "services/lambda/model.h"
#include "services/lambda/permissions.h"
#include "services/lambda/recursion.h"
#include "services/lambda/registry.h"
#include "storage/files.h"

namespace nubo::lambda {

namespace http = net::http;
using net::Request;
using net::Response;
using net::Task;

namespace {

// ---------------------------------------------------------------------------------------------
// Responses

constexpr std::string_view kRequestIdHeader = "x-amzn-RequestId";

Response json_response(const Request& req, http::status status, const json::value& body,
                       const std::string& request_id) {
  Response res = net::make_response(req, status, json::serialize(body));
  res.set(kRequestIdHeader, request_id);
  return res;
}

Response empty_response(const Request& req, http::status status, const std::string& request_id) {
  Response res = net::make_response(req, status, "", "");
  res.set(kRequestIdHeader, request_id);
  return res;
}

// Lambda's TooManyRequestsException Reason (the invoker sets it; invoker.h).
std::string throttle_reason(const Error& e) {
  return e.reason.empty() ? runtime::kThrottleReasonAccountLimit : e.reason;
}

// Lambda's error shape: status, x-amzn-ErrorType, {"Type":"User","message":"..."} (a capital
// "Message" for ResourceNotFoundException and ServiceException, as Lambda sends them; no Type
// for ValidationException).
Response error_response(const Request& req, const Error& e, const std::string& request_id) {
  json::object body;
  if (e.code == "ValidationException") {
    body["message"] = e.message;
  } else {
    if (e.code == "TooManyRequestsException") body["Reason"] = throttle_reason(e);
    body["Type"] = e.status >= 500 ? "Service" : "User";
    bool capital = e.code == "ResourceNotFoundException" || e.code == "ServiceException";
    body[capital ? "Message" : "message"] = e.message;
  }
  Response res =
      net::make_response(req, static_cast<http::status>(e.status), json::serialize(body));
  res.set("x-amzn-ErrorType", e.code);
  res.set(kRequestIdHeader, request_id);
  return res;
}

Error unknown_operation() {
  return Error{"UnknownOperationException", 404, "Unknown operation"};
}

Error bad_content(std::string_view detail) {
  return Error{"InvalidRequestContentException", 400,
               "Could not parse request body into json: " + std::string(detail)};
}

// ---------------------------------------------------------------------------------------------
// JSON validation without building a DOM (the Invoke payload).

struct NullHandler {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);
  using ec = boost::system::error_code;
  using sv = json::string_view;
  bool on_document_begin(ec&) { return true; }
  bool on_document_end(ec&) { return true; }
  bool on_object_begin(ec&) { return true; }
  bool on_object_end(std::size_t, ec&) { return true; }
  bool on_array_begin(ec&) { return true; }
  bool on_array_end(std::size_t, ec&) { return true; }
  bool on_key_part(sv, std::size_t, ec&) { return true; }
  bool on_key(sv, std::size_t, ec&) { return true; }
  bool on_string_part(sv, std::size_t, ec&) { return true; }
  bool on_string(sv, std::size_t, ec&) { return true; }
  bool on_number_part(sv, ec&) { return true; }
  bool on_int64(std::int64_t, sv, ec&) { return true; }
  bool on_uint64(std::uint64_t, sv, ec&) { return true; }
  bool on_double(double, sv, ec&) { return true; }
  bool on_bool(bool, ec&) { return true; }
  bool on_null(ec&) { return true; }
  bool on_comment_part(sv, ec&) { return true; }
  bool on_comment(sv, ec&) { return true; }
};

// Empty string if text is one JSON document, else the parser's complaint.
std::string json_problem(std::string_view text) {
  json::basic_parser<NullHandler> p{json::parse_options{}};
  boost::system::error_code ec;
  std::size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (ec) return ec.message();
  if (!p.done()) return "incomplete JSON";
  for (size_t i = n; i < text.size(); ++i) {
    char c = text[i];
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return "extra data after the JSON value";
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Request body fields

Result<json::object> body_object(const Request& req) {
  std::string_view body = req.body();
  if (trim(body).empty()) return json::object{};
  NUBO_ASSIGN_OR_RETURN(json::value v, parse_json(body));
  if (!v.is_object()) return bad_content("the body is not a JSON object");
  return std::move(v.get_object());
}

Error wrong_type(std::string_view field) {
  return bad_content("unexpected type for field '" + std::string(field) + "'");
}

Result<std::optional<std::string>> opt_string(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  if (it == o.end() || it->value().is_null()) return std::optional<std::string>();
  if (!it->value().is_string()) return wrong_type(k);
  return std::optional<std::string>(std::string(it->value().get_string()));
}

Result<std::optional<int64_t>> opt_int(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  if (it == o.end() || it->value().is_null()) return std::optional<int64_t>();
  auto v = get_int(o, k);
  if (!v) return wrong_type(k);
  return std::optional<int64_t>(*v);
}

Result<std::optional<bool>> opt_bool(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  if (it == o.end() || it->value().is_null()) return std::optional<bool>();
  if (!it->value().is_bool()) return wrong_type(k);
  return std::optional<bool>(it->value().get_bool());
}

Result<const json::object*> opt_object(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  if (it == o.end() || it->value().is_null()) return static_cast<const json::object*>(nullptr);
  if (!it->value().is_object()) return wrong_type(k);
  return &it->value().get_object();
}

Result<Tags> string_map(const json::object& o, std::string_view field) {
  Tags out;
  for (const auto& kv : o) {
    if (!kv.value().is_string()) return wrong_type(field);
    out.emplace_back(std::string(kv.key()), std::string(kv.value().get_string()));
  }
  return out;
}

// arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+
bool matches_role(std::string_view s) {
  if (!starts_with(s, "arn:")) return false;
  s.remove_prefix(4);
  size_t c = s.find(':');
  if (c == std::string_view::npos) return false;
  std::string_view partition = s.substr(0, c);
  if (!partition.empty()) {
    if (!starts_with(partition, "aws")) return false;
    for (char ch : partition) {
      if (!std::isalpha(static_cast<unsigned char>(ch)) && ch != '-') return false;
    }
  }
  s.remove_prefix(c + 1);
  if (!starts_with(s, "iam::")) return false;
  s.remove_prefix(5);
  if (s.size() < 12) return false;
  for (size_t i = 0; i < 12; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  s.remove_prefix(12);
  if (!starts_with(s, ":role")) return false;
  s.remove_prefix(5);
  if (s.empty()) return false;
  for (char ch : s) {
    if (!std::isalnum(static_cast<unsigned char>(ch)) &&
        std::string_view("_+=,.@-/").find(ch) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

template <size_t N>
bool one_of(std::string_view s, const std::array<std::string_view, N>& set) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

std::string runtime_list() {
  std::string s = "[";
  for (size_t i = 0; i < kSupportedRuntimes.size(); ++i) {
    if (i) s += ", ";
    s += kSupportedRuntimes[i];
  }
  return s + "]";
}

Status check_runtime(const std::string& rt) {
  if (one_of(rt, kSupportedRuntimes)) return Ok{};
  for (const auto& d : kDeprecatedRuntimes) {
    if (d.name != rt) continue;
    std::string m = "The runtime parameter of " + rt +
                    " is no longer supported for creating or updating AWS Lambda functions. ";
    if (d.upgrade.empty()) {
      m += "We recommend you use a supported runtime while creating or updating functions.";
    } else {
      m += "We recommend you use the new runtime (" + std::string(d.upgrade) +
           ") while creating or updating functions.";
    }
    return invalid_parameter(m);
  }
  if (one_of(rt, kOtherAwsRuntimes)) {
    return invalid_parameter("The runtime parameter of " + rt +
                             " is not supported by nubo. Supported runtimes: " + runtime_list());
  }
  return invalid_parameter("Value " + rt +
                           " at 'runtime' failed to satisfy constraint: Member must satisfy enum "
                           "value set: " +
                           runtime_list() + " or be a valid ARN");
}

void check_range(Validation& v, int64_t value, std::string_view field, int64_t lo, int64_t hi) {
  if (value < lo) {
    v.add(std::to_string(value), field,
          "Member must have value greater than or equal to " + std::to_string(lo));
  } else if (value > hi) {
    v.add(std::to_string(value), field,
          "Member must have value less than or equal to " + std::to_string(hi));
  }
}

bool env_key_ok(std::string_view k) {
  if (k.size() < 2) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!alpha(k[0])) return false;
  for (char c : k.substr(1)) {
    if (!alpha(c) && !(c >= '0' && c <= '9') && c != '_') return false;
  }
  return true;
}

// Parses and validates the settings shared by CreateFunction and UpdateFunctionConfiguration.
Result<FunctionSettings> parse_settings(const json::object& o, bool create) {
  FunctionSettings s;
  Validation v;
  NUBO_ASSIGN_OR_RETURN(s.runtime, opt_string(o, "Runtime"));
  NUBO_ASSIGN_OR_RETURN(s.role, opt_string(o, "Role"));
  NUBO_ASSIGN_OR_RETURN(s.handler, opt_string(o, "Handler"));
  NUBO_ASSIGN_OR_RETURN(s.description, opt_string(o, "Description"));
  NUBO_ASSIGN_OR_RETURN(s.kms_key_arn, opt_string(o, "KMSKeyArn"));
  NUBO_ASSIGN_OR_RETURN(auto timeout, opt_int(o, "Timeout"));
  NUBO_ASSIGN_OR_RETURN(auto memory, opt_int(o, "MemorySize"));

  if (create && !s.role)
    v.add("Value null at 'role' failed to satisfy constraint: Member must not be null");
  if (s.role && !matches_role(*s.role)) {
    v.add(*s.role, "role",
          "Member must satisfy regular expression pattern: " + std::string(kRolePattern));
  }
  if (s.handler) {
    if (s.handler->size() > kHandlerMax) {
      v.add(*s.handler, "handler", "Member must have length less than or equal to 128");
    }
    bool space = std::any_of(s.handler->begin(), s.handler->end(),
                             [](char c) { return std::isspace(static_cast<unsigned char>(c)); });
    if (space || (s.handler->empty() && !create)) {
      v.add(*s.handler, "handler", "Member must satisfy regular expression pattern: [^\\s]+");
    }
  }
  if (s.description && s.description->size() > kDescriptionMax) {
    v.add(*s.description, "description", "Member must have length less than or equal to 256");
  }
  if (timeout) {
    check_range(v, *timeout, "timeout", kTimeoutMin, kTimeoutMax);
    s.timeout = static_cast<int>(std::clamp<int64_t>(*timeout, kTimeoutMin, kTimeoutMax));
  }
  if (memory) {
    check_range(v, *memory, "memorySize", kMemoryMin, kMemoryMax);
    s.memory_size = static_cast<int>(std::clamp<int64_t>(*memory, kMemoryMin, kMemoryMax));
  }
  NUBO_ASSIGN_OR_RETURN(const json::object* eph, opt_object(o, "EphemeralStorage"));
  if (eph) {
    NUBO_ASSIGN_OR_RETURN(auto size, opt_int(*eph, "Size"));
    if (!size) {
      v.add(
          "Value null at 'ephemeralStorage.size' failed to satisfy constraint: Member must not be "
          "null");
    } else {
      check_range(v, *size, "ephemeralStorage.size", kEphemeralMin, kEphemeralMax);
      s.ephemeral_storage =
          static_cast<int>(std::clamp<int64_t>(*size, kEphemeralMin, kEphemeralMax));
    }
  }
  NUBO_ASSIGN_OR_RETURN(const json::object* tracing, opt_object(o, "TracingConfig"));
  if (tracing) {
    NUBO_ASSIGN_OR_RETURN(auto mode, opt_string(*tracing, "Mode"));
    if (mode) {
      if (*mode != "Active" && *mode != "PassThrough") {
        v.add(*mode, "tracingConfig.mode",
              "Member must satisfy enum value set: [Active, PassThrough]");
      }
      s.tracing_mode = *mode;
    }
  }
  NUBO_ASSIGN_OR_RETURN(auto archs, optional_string_list(o, "Architectures"));
  if (archs) {
    std::string joined = "[";
    for (size_t i = 0; i < archs->size(); ++i) joined += (i ? ", " : "") + (*archs)[i];
    joined += "]";
    if (archs->size() != 1) {
      v.add(joined, "architectures", "Member must have length less than or equal to 1");
    } else if ((*archs)[0] != "x86_64" && (*archs)[0] != "arm64") {
      v.add(joined, "architectures",
            "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, "
            "arm64], Member must not be null]");
    } else {
      s.architecture = (*archs)[0];
    }
  }
  NUBO_ASSIGN_OR_RETURN(const json::object* logging, opt_object(o, "LoggingConfig"));
  if (logging) {
    NUBO_ASSIGN_OR_RETURN(s.log_format, opt_string(*logging, "LogFormat"));
    NUBO_ASSIGN_OR_RETURN(s.log_group, opt_string(*logging, "LogGroup"));
    NUBO_ASSIGN_OR_RETURN(s.application_log_level, opt_string(*logging, "ApplicationLogLevel"));
    NUBO_ASSIGN_OR_RETURN(s.system_log_level, opt_string(*logging, "SystemLogLevel"));
    if (s.log_format && *s.log_format != "JSON" && *s.log_format != "Text") {
      v.add(*s.log_format, "loggingConfig.logFormat",
            "Member must satisfy enum value set: [Text, JSON]");
    }
    static constexpr std::array<std::string_view, 6> kAppLevels = {"TRACE", "DEBUG", "INFO",
                                                                   "WARN",  "ERROR", "FATAL"};
    static constexpr std::array<std::string_view, 3> kSysLevels = {"DEBUG", "INFO", "WARN"};
    if (s.application_log_level && !one_of(*s.application_log_level, kAppLevels)) {
      v.add(*s.application_log_level, "loggingConfig.applicationLogLevel",
            "Member must satisfy enum value set: [TRACE, DEBUG, INFO, WARN, ERROR, FATAL]");
    }
    if (s.system_log_level && !one_of(*s.system_log_level, kSysLevels)) {
      v.add(*s.system_log_level, "loggingConfig.systemLogLevel",
            "Member must satisfy enum value set: [DEBUG, INFO, WARN]");
    }
    if (s.log_group && (s.log_group->empty() || s.log_group->size() > 512)) {
      v.add(*s.log_group, "loggingConfig.logGroup",
            "Member must have length less than or equal to 512");
    }
  }
  NUBO_ASSIGN_OR_RETURN(const json::object* snap, opt_object(o, "SnapStart"));
  if (snap) {
    NUBO_ASSIGN_OR_RETURN(s.snap_start_apply_on, opt_string(*snap, "ApplyOn"));
    if (s.snap_start_apply_on && *s.snap_start_apply_on != "PublishedVersions" &&
        *s.snap_start_apply_on != "None") {
      v.add(*s.snap_start_apply_on, "snapStart.applyOn",
            "Member must satisfy enum value set: [PublishedVersions, None]");
    }
  }
  NUBO_TRY(v.status());

  if (s.runtime) NUBO_TRY(check_runtime(*s.runtime));
  if (s.snap_start_apply_on && *s.snap_start_apply_on == "PublishedVersions") {
    std::string rt = s.runtime.value_or("");
    if (rt != "python3.12" && rt != "python3.13") {
      return invalid_parameter(rt + " is not supported for SnapStart enabled functions.");
    }
  }
  NUBO_ASSIGN_OR_RETURN(const json::object* env, opt_object(o, "Environment"));
  if (env) {
    NUBO_ASSIGN_OR_RETURN(const json::object* vars, opt_object(*env, "Variables"));
    EnvVars ev;
    if (vars) {
      NUBO_ASSIGN_OR_RETURN(Tags t, string_map(*vars, "Environment.Variables"));
      ev = std::move(t);
    }
    // Reserved keys are named first: some of them (_HANDLER) would fail the pattern too.
    std::string reserved;
    for (const auto& [k, val] : ev) {
      if (one_of(k, kReservedEnvKeys)) reserved += (reserved.empty() ? "" : ", ") + k;
    }
    for (const auto& [k, val] : ev) {
      if (reserved.empty() && !env_key_ok(k)) {
        return validation_error(k, "environment.variables",
                                "Map keys must satisfy constraint: [Member must satisfy regular "
                                "expression pattern: " +
                                    std::string(kEnvKeyPattern) + "]");
      }
    }
    if (!reserved.empty()) {
      return invalid_parameter(
          "Lambda was unable to configure your environment variables because the environment "
          "variables you have provided contains reserved keys that are currently not supported "
          "for modification. Reserved keys used in this request: " +
          reserved);
    }
    json::object measured;
    for (const auto& [k, val] : ev) measured[k] = val;
    std::string text = json::serialize(measured);
    if (text.size() > kEnvironmentLimit) {
      return invalid_parameter(
          "Lambda was unable to configure your environment variables because the environment "
          "variables you have provided exceeded the 4KB limit. String measured: " +
          text);
    }
    s.environment = std::move(ev);
  }
  NUBO_ASSIGN_OR_RETURN(const json::object* dlq, opt_object(o, "DeadLetterConfig"));
  if (dlq) {
    NUBO_ASSIGN_OR_RETURN(auto target, opt_string(*dlq, "TargetArn"));
    s.dead_letter_arn = target.value_or("");
  }
  NUBO_ASSIGN_OR_RETURN(const json::object* vpc, opt_object(o, "VpcConfig"));
  if (vpc) {
    FunctionSettings::Vpc v;
    NUBO_ASSIGN_OR_RETURN(auto subnets, optional_string_list(*vpc, "SubnetIds"));
    NUBO_ASSIGN_OR_RETURN(auto groups, optional_string_list(*vpc, "SecurityGroupIds"));
    NUBO_ASSIGN_OR_RETURN(auto ipv6, opt_bool(*vpc, "Ipv6AllowedForDualStack"));
    v.subnet_ids = subnets.value_or(std::vector<std::string>{});
    v.security_group_ids = groups.value_or(std::vector<std::string>{});
    v.ipv6_dual_stack = ipv6.value_or(false);
    if (v.subnet_ids.size() > kMaxVpcSubnets) {
      return validation_error("[" + std::to_string(v.subnet_ids.size()) + " subnets]",
                              "vpcConfig.subnetIds",
                              "Member must have length less than or equal to 16");
    }
    if (v.security_group_ids.size() > kMaxVpcSecurityGroups) {
      return validation_error("[" + std::to_string(v.security_group_ids.size()) + " groups]",
                              "vpcConfig.securityGroupIds",
                              "Member must have length less than or equal to 5");
    }
    s.vpc = std::move(v);
  }
  NUBO_ASSIGN_OR_RETURN(auto layers, optional_string_list(o, "Layers"));
  if (layers) {
    if (layers->size() > static_cast<size_t>(kMaxLayers)) {
      return invalid_parameter("Cannot reference more than 5 layers.");
    }
    // The pattern here; whether each version exists when the registry resolves them.
    for (const std::string& l : *layers) {
      auto checked = parse_layer_version_arn(l, ArnContext{}, "layers");
      if (!checked.ok()) return checked.error();
    }
    s.layers = std::move(*layers);
  }
  return s;
}

// Decodes Code.ZipFile / ZipFile (base64 in JSON).
Result<std::string> decode_zip(const std::string& b64) {
  auto bytes = base64_decode(b64);
  if (!bytes) return bad_content("ZipFile is not valid base64");
  if (static_cast<int64_t>(bytes->size()) > kCodeSizeZipped) {
    return Error{"RequestEntityTooLargeException", 413,
                 "Zipped size must be smaller than " + std::to_string(kCodeSizeZipped) + " bytes"};
  }
  if (bytes->empty())
    return invalid_parameter(
        "Could not unzip uploaded file. Please check your file, then try to upload again.");
  return std::move(*bytes);
}

Result<int> max_items_param(const net::Target& t, int max = kMaxItemsMax,
                            int default_items = kMaxItemsDefault) {
  auto p = t.param("MaxItems");
  if (!p) return default_items;
  char* end = nullptr;
  long long n = std::strtoll(p->c_str(), &end, 10);
  if (p->empty() || *end != '\0') return bad_content("MaxItems is not a number");
  if (n < kMaxItemsMin) {
    return validation_error(*p, "maxItems", "Member must have value greater than or equal to 1");
  }
  if (n > max) {
    return validation_error(*p, "maxItems",
                            "Member must have value less than or equal to " + std::to_string(max));
  }
  return static_cast<int>(n);
}

// A required count in a request body (ReservedConcurrentExecutions, ...): at least `min`, as
// Lambda validates it; values over the account limit are kept as limit + 1 (they fail the
// account checks anyway, and fit an int).
Result<int> required_count(const json::object& o, std::string_view key, int64_t min,
                           int account_limit) {
  NUBO_ASSIGN_OR_RETURN(auto value, opt_int(o, key));
  std::string field(key);
  field[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(field[0])));
  if (!value) {
    return Error{"ValidationException", 400,
                 "1 validation error detected: Value null at '" + field +
                     "' failed to satisfy constraint: Member must not be null"};
  }
  if (*value < min) {
    return validation_error(
        std::to_string(*value), field,
        "Member must have value greater than or equal to " + std::to_string(min));
  }
  return static_cast<int>(std::min<int64_t>(*value, int64_t{account_limit} + 1));
}

runtime::FunctionSpec make_spec(const VersionConfig& c, const ArnContext& arn,
                                const CodeStore& code) {
  runtime::FunctionSpec s;
  s.name = c.function_name;
  s.version = c.version;
  s.function_arn = arn.function_arn(c.function_name);
  s.qualified_arn = arn.qualified_arn(c.function_name, c.version);
  s.runtime = c.runtime;
  s.handler = c.handler;
  s.code_dir = code.unpacked_dir(c.code_hex);
  s.code_sha256 = c.code_sha256;
  for (const LayerRef& l : c.layers) s.layer_dirs.push_back(code.unpacked_dir(l.code_hex));
  s.memory_mb = c.memory_size;
  s.timeout_s = c.timeout;
  s.ephemeral_storage_mb = c.ephemeral_storage;
  for (const auto& [k, v] : c.environment) s.environment[k] = v;
  s.role = c.role;
  // An instance serves one exact configuration: $LATEST's internal revision changes on every
  // code or configuration update (and, unlike RevisionId, not on publish).
  s.revision_id = c.internal_revision.empty() ? c.revision_id : c.internal_revision;
  s.log_group = c.effective_log_group();
  s.architecture = c.architecture;
  s.snap_start = c.snap_start_on();
  s.egress = !c.in_vpc();
  return s;
}

// A function resolved for invocation, as the invoke cache keeps it.
struct Resolved {
  std::string function_name;
  std::string state;  // the primary version's State
  runtime::FunctionSpec primary;
  std::optional<runtime::FunctionSpec> secondary;
  double secondary_weight = 0;
};
using ResolvedPtr = std::shared_ptr<const Resolved>;

double random_unit() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

std::string tail_bytes(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(s.size() - n);
}

}  // namespace

// =============================================================================================

struct LambdaService::Impl {
  explicit Impl(LambdaDeps d)
      : deps(d),
        arn{d.config->region, d.config->account_id},
        registry(d.store, d.clock, arn, d.config->data_dir + "/lambda",
                 [this](const std::string& fn) {
                   invalidate(fn);
                   invalidate_policies(fn);
                   reload_urls(fn);
                   sync_provisioned(fn);
                   refill_later(fn);
                 }),
        queue(
            AsyncQueue::Deps{d.store, d.clock, d.io, d.blocking, d.workers}, d.async,
            [this](AsyncEvent ev) { return deliver(std::move(ev)); },
            [](const AsyncEvent&, const std::string&) {
              // Hook for OnFailure destinations and dead-letter queues (not yet wired).
            }) {}

  LambdaDeps deps;
  ArnContext arn;
  FunctionRegistry registry;
  AsyncQueue queue;
  std::unique_ptr<EventSources> events;  // made by LambdaService's constructor
  EventInvokeConfigs invoke_configs{deps.store, deps.clock};

  // Invoke cache: request key -> resolved function. The Store stays the truth; every committed
  // write to a function drops its entries (and bumps the generation, so that a resolution that
  // raced with the write is not inserted).
  std::shared_mutex cache_mu;
  std::unordered_map<std::string, ResolvedPtr> cache;  // GUARDED_BY(cache_mu)
  uint64_t cache_gen = 0;                              // GUARDED_BY(cache_mu)

  void invalidate(const std::string& fn) {
    std::unique_lock lock(cache_mu);
    ++cache_gen;
    for (auto it = cache.begin(); it != cache.end();) {
      it = it->second->function_name == fn ? cache.erase(it) : std::next(it);
    }
  }

  // After a write to fn, its unqualified entry is resolved again on the blocking pool, so that
  // the next Invoke by name (the first after a deployment, usually a cold start) does not wait
  // for the Store. Only when nothing changed meanwhile (the generation); a function that is
  // gone is simply not cached.
  std::atomic<int> refills{0};
  std::atomic<bool> closing{false};
  void refill_later(const std::string& fn) {
    // Counted before closing is read: stop() sets closing, then waits for the count.
    refills.fetch_add(1, std::memory_order_acq_rel);
    if (closing.load(std::memory_order_acquire)) {
      refills.fetch_sub(1, std::memory_order_acq_rel);
      return;
    }
    uint64_t gen;
    {
      std::shared_lock lock(cache_mu);
      gen = cache_gen;
    }
    boost::asio::post(*deps.blocking, [this, fn, gen] {
      if (!closing.load(std::memory_order_acquire)) {
        auto r = resolve_slow(fn, std::nullopt);
        if (r.ok()) {
          std::unique_lock lock(cache_mu);
          if (cache_gen == gen) cache.emplace(fn, *r);
        }
      }
      refills.fetch_sub(1, std::memory_order_acq_rel);
    });
  }

  static std::string cache_key(std::string_view name, const std::optional<std::string>& q) {
    std::string k(name);
    if (q) {
      k += '\n';
      k += *q;
    }
    return k;
  }

  // Blocking: parse the name, read the Store, build the specs.
  Result<ResolvedPtr> resolve_slow(const std::string& name_text,
                                   const std::optional<std::string>& qualifier_param) {
    NUBO_ASSIGN_OR_RETURN(FunctionRef ref,
                          parse_function_ref(name_text, NameUse::kGetOrInvoke, arn));
    NUBO_ASSIGN_OR_RETURN(std::string qualifier, effective_qualifier(ref, qualifier_param));
    NUBO_ASSIGN_OR_RETURN(InvokeTarget t, registry.resolve(ref.name, qualifier));
    auto r = std::make_shared<Resolved>();
    r->function_name = ref.name;
    r->state = t.primary.state;
    r->primary = make_spec(t.primary, arn, registry.code());
    if (t.secondary) {
      r->secondary = make_spec(*t.secondary, arn, registry.code());
      r->secondary_weight = t.secondary_weight;
    }
    return ResolvedPtr(std::move(r));
  }

  // The warm path: a shared lock and a map lookup. A miss reads the Store on the blocking pool.
  Task<Result<ResolvedPtr>> resolve(std::string name_text, std::optional<std::string> qualifier) {
    std::string key = cache_key(name_text, qualifier);
    uint64_t gen;
    {
      std::shared_lock lock(cache_mu);
      auto it = cache.find(key);
      if (it != cache.end()) co_return it->second;
      gen = cache_gen;
    }
    auto slow = [&] { return resolve_slow(name_text, qualifier); };
    auto task = net::run_blocking(*deps.blocking, std::move(slow));
    Result<ResolvedPtr> r = co_await std::move(task);
    if (r.ok()) {
      std::unique_lock lock(cache_mu);
      if (cache_gen == gen) cache.emplace(std::move(key), *r);
    }
    co_return r;
  }

  // ---- function policies ----

  // Parsed function policies by policy_key(function, qualifier): nullopt for a function that
  // has none (so that callers allowed by their identity do not read the Store either). Only
  // functions that exist are cached; every committed write to a function drops its entries and
  // bumps the generation (a load that raced with the write is not inserted).
  struct PolicyEntry {
    std::optional<auth::Policy> policy;
  };
  using PolicyPtr = std::shared_ptr<const PolicyEntry>;
  std::shared_mutex policy_mu;
  std::unordered_map<std::string, PolicyPtr> policies;  // GUARDED_BY(policy_mu)
  uint64_t policy_gen = 0;                              // GUARDED_BY(policy_mu)

  static std::string policy_key(std::string_view fn, std::string_view qualifier) {
    std::string k(fn);
    k += '\n';
    k += qualifier == kLatest ? std::string_view() : qualifier;
    return k;
  }

  void invalidate_policies(const std::string& fn) {
    std::string prefix = fn + '\n';
    std::unique_lock lock(policy_mu);
    ++policy_gen;
    for (auto it = policies.begin(); it != policies.end();) {
      it = starts_with(it->first, prefix) ? policies.erase(it) : std::next(it);
    }
  }

  // Blocking: the Store's document, parsed. ResourceNotFoundException: no such function.
  Result<PolicyPtr> load_policy(const std::string& fn, const std::string& qualifier) {
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> doc, registry.policy_document(fn, qualifier));
    auto e = std::make_shared<PolicyEntry>();
    if (doc) {
      auto parsed = auth::parse_policy(*doc);
      if (parsed.ok()) {
        e->policy = std::move(parsed).value();
      } else {
        // Written by AddPermission, so this is a bug or a damaged store: fail closed (no
        // resource policy grants anything).
        log_error("lambda: policy of " + fn + ": " + parsed.error().message);
      }
    }
    return PolicyPtr(std::move(e));
  }

  PolicyPtr cached_policy(const std::string& key, uint64_t& gen) {
    std::shared_lock lock(policy_mu);
    auto it = policies.find(key);
    gen = policy_gen;
    return it == policies.end() ? nullptr : it->second;
  }

  void remember_policy(std::string key, PolicyPtr p, uint64_t gen) {
    std::unique_lock lock(policy_mu);
    if (policy_gen == gen) policies.emplace(std::move(key), std::move(p));
  }

  // The policy of (fn, qualifier) from the cache, else from the Store. Blocks on a miss.
  Result<PolicyPtr> policy_blocking(const std::string& fn, const std::string& qualifier) {
    std::string key = policy_key(fn, qualifier);
    uint64_t gen;
    if (PolicyPtr p = cached_policy(key, gen)) return p;
    NUBO_ASSIGN_OR_RETURN(PolicyPtr p, load_policy(fn, qualifier));
    remember_policy(std::move(key), p, gen);
    return p;
  }

  // The same for io threads: a miss reads the Store on the blocking pool.
  Task<Result<PolicyPtr>> policy_async(std::string fn, std::string qualifier) {
    std::string key = policy_key(fn, qualifier);
    uint64_t gen;
    if (PolicyPtr p = cached_policy(key, gen)) co_return p;
    auto slow = [&] { return load_policy(fn, qualifier); };
    auto task = net::run_blocking(*deps.blocking, std::move(slow));
    Result<PolicyPtr> r = co_await std::move(task);
    if (r.ok()) remember_policy(std::move(key), *r, gen);
    co_return r;
  }

  // The function and qualifier of a function resource ARN of this node
  // (arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]); nullopt for any other resource.
  std::optional<std::pair<std::string, std::string>> function_of(std::string_view resource) const {
    std::string prefix = arn.function_arn("");
    if (!starts_with(resource, prefix)) return std::nullopt;
    std::string_view rest = resource.substr(prefix.size());
    size_t colon = rest.find(':');
    std::string name(rest.substr(0, colon));
    std::string qualifier(colon == std::string_view::npos ? "" : rest.substr(colon + 1));
    if (name.empty()) return std::nullopt;
    return std::make_pair(std::move(name), std::move(qualifier));
  }

  // ---- function URLs (the front door's table) ----

  mutable std::shared_mutex url_mu;
  std::unordered_map<std::string, std::shared_ptr<const FunctionUrlTarget>>
      urls;  // by URL id, GUARDED_BY(url_mu)

  std::shared_ptr<const FunctionUrlTarget> url_target(const FunctionUrlConfig& c) const {
    auto t = std::make_shared<FunctionUrlTarget>();
    t->url_id = c.url_id;
    t->function_name = c.function_name;
    t->qualifier = c.qualifier;
    t->function_arn = c.qualifier.empty() ? arn.function_arn(c.function_name)
                                          : arn.qualified_arn(c.function_name, c.qualifier);
    t->auth_type = c.auth_type;
    t->cors = c.cors;
    t->invoke_mode = c.invoke_mode;
    return t;
  }

  // Blocking: replaces fn's entries with what the Store has now. Called after every committed
  // write to fn, under the registry's write mutex, so the table follows the writes in order.
  void reload_urls(const std::string& fn) {
    auto configs = registry.url_configs_of(fn);
    if (!configs.ok()) {
      log_error("lambda: function URLs of " + fn + ": " + configs.error().message);
      return;
    }
    std::unique_lock lock(url_mu);
    for (auto it = urls.begin(); it != urls.end();) {
      it = it->second->function_name == fn ? urls.erase(it) : std::next(it);
    }
    for (const auto& c : *configs) urls.emplace(c.url_id, url_target(c));
  }

  // The function's state and spec for an invocation (weighted alias routing included).
  static const runtime::FunctionSpec& pick(const Resolved& r) {
    return (r.secondary && random_unit() < r.secondary_weight) ? *r.secondary : r.primary;
  }

  // The invocation record Lambda sends to a destination (developer guide, "Capturing records
  // of asynchronous invocations").
  std::string invocation_record(const AsyncEvent& ev, const std::string& condition, int count,
                                const runtime::InvokeResult* out) const {
    auto as_json = [](const std::string& text) -> json::value {
      auto v = parse_json(text);
      return v.ok() ? std::move(v).value() : json::value(text);
    };
    json::object rc;
    rc["requestId"] = ev.id;
    rc["functionArn"] = arn.qualified_arn(
        ev.function_name, ev.qualifier.empty() ? std::string(kLatest) : ev.qualifier);
    rc["condition"] = condition;
    rc["approximateInvokeCount"] = count;
    json::object o;
    o["version"] = "1.0";
    o["timestamp"] = format_iso8601(deps.clock->now());
    o["requestContext"] = std::move(rc);
    o["requestPayload"] = as_json(ev.payload.empty() ? "{}" : ev.payload);
    if (out) {
      json::object resp;
      resp["statusCode"] = 200;
      resp["executedVersion"] = out->executed_version;
      if (!out->function_error.empty()) resp["functionError"] = out->function_error;
      o["responseContext"] = std::move(resp);
      o["responsePayload"] = out->payload.empty() ? json::value(nullptr) : as_json(out->payload);
    }
    return json::serialize(o);
  }

  // Sends an invocation record to a destination (a queue, or a function invoked
  // asynchronously). Logs what cannot be sent.
  Task<void> send_to_destination(std::string destination, std::string record) {
    Status st = Ok{};
    if (starts_with(destination, "arn:aws:sqs:") && deps.send_message) {
      auto sending = deps.send_message(destination, std::move(record), {});
      st = co_await std::move(sending);
    } else if (starts_with(destination, "arn:aws:lambda:")) {
      auto invoking = invoke_async_record(destination, std::move(record));
      st = co_await std::move(invoking);
    } else {
      st = Error{"InvalidParameterValueException", 400, "unsupported destination"};
    }
    if (!st.ok()) log_warn("lambda: destination " + destination + ": " + st.error().message);
  }

  Task<Status> invoke_async_record(std::string function, std::string payload,
                                   std::string trace = "");

  // A failed event's end: its OnFailure destination, else the function's dead-letter queue.
  Task<void> fail_event(AsyncEvent ev, std::optional<EventInvokeConfig> cfg, std::string condition,
                        int count, std::optional<runtime::InvokeResult> out) {
    if (cfg && !cfg->on_failure.empty()) {
      auto sending = send_to_destination(
          cfg->on_failure, invocation_record(ev, condition, count, out ? &*out : nullptr));
      co_await std::move(sending);
      co_return;
    }
    if (!deps.send_message) co_return;
    std::string name = ev.function_name, q = ev.qualifier;
    auto read = [this, name, q] { return registry.get_function(name, q); };
    auto reading = net::run_blocking(*deps.blocking, std::move(read));
    Result<FunctionView> fn = co_await std::move(reading);
    if (!fn.ok() || !starts_with(fn->config.dead_letter_arn, "arn:aws:sqs:")) co_return;
    // The dead-letter queue gets the event itself, with what went wrong as attributes (developer
    // guide, "Dead-letter queues").
    std::map<std::string, std::string> attrs;
    attrs["RequestID"] = ev.id;
    attrs["ErrorCode"] = "200";
    std::string message = out ? tail_bytes(out->payload, 1024) : condition;
    if (out) {
      if (auto v = parse_json(out->payload); v.ok() && v->is_object()) {
        message = get_string(v->as_object(), "errorMessage").value_or(message);
      }
    }
    attrs["ErrorMessage"] = message.empty() ? condition : message;
    auto sending = deps.send_message(fn->config.dead_letter_arn,
                                     ev.payload.empty() ? "{}" : ev.payload, std::move(attrs));
    Status st = co_await std::move(sending);
    if (!st.ok()) log_warn("lambda: dead-letter queue: " + st.error().message);
  }

  // Async delivery (AsyncQueue::Deliver). Destinations are sent to before the result is
  // returned, so that a crash in between sends again rather than never (at least once).
  Task<DeliveryResult> deliver(AsyncEvent ev) {
    std::optional<EventInvokeConfig> cfg = invoke_configs.find(ev.function_name, ev.qualifier);
    const int64_t max_retries = cfg && cfg->max_retries ? *cfg->max_retries : kAsyncMaxRetries;
    if (cfg && cfg->max_age_s &&
        epoch_ms(deps.clock->now()) - ev.created_ms > *cfg->max_age_s * 1000) {
      auto failing = fail_event(ev, cfg, "EventAgeExceeded", ev.attempts, std::nullopt);
      co_await std::move(failing);
      co_return DeliveryResult{DeliveryOutcome::kDrop, "EventAgeExceeded"};
    }
    std::optional<std::string> q;
    if (!ev.qualifier.empty()) q = ev.qualifier;
    auto resolving = resolve(ev.function_name, q);
    Result<ResolvedPtr> r = co_await std::move(resolving);
    if (!r.ok()) {
      if (r.error().code == "ResourceNotFoundException") {
        co_return DeliveryResult{DeliveryOutcome::kDrop, r.error().message};
      }
      co_return DeliveryResult{DeliveryOutcome::kThrottled, r.error().message};
    }
    ResolvedPtr res = *r;
    if (res->state != kStateActive) {
      co_return DeliveryResult{DeliveryOutcome::kThrottled, "function is " + res->state};
    }
    const runtime::FunctionSpec& spec =
        (res->secondary && random_unit() < res->secondary_weight) ? *res->secondary : res->primary;
    // Recursion-loop detection (recursion.h): the chain's next invocation, or its end.
    std::string trace = next_hop(ev.trace, spec.function_arn);
    if (lineage_depth(trace) > kMaxRecursionDepth &&
        invoke_configs.recursion(ev.function_name) != "Allow") {
      log_warn("lambda: RecursiveInvocationException: " + ev.function_name +
               " is in a recursive loop (" + std::to_string(kMaxRecursionDepth) +
               " invocations); the event " + ev.id + " is not delivered");
      auto failing = fail_event(ev, cfg, "RecursiveInvocationException", ev.attempts, std::nullopt);
      co_await std::move(failing);
      co_return DeliveryResult{DeliveryOutcome::kDrop, "RecursiveInvocationException"};
    }
    runtime::InvokeRequest ir;
    ir.payload = ev.payload.empty() ? "{}" : ev.payload;
    ir.request_id = ev.id;
    ir.client_context = ev.client_context;
    ir.trace_id = std::move(trace);
    runtime::Invoker* invoker = deps.invoker;
    auto invoking = invoker->invoke(spec, std::move(ir));
    Result<runtime::InvokeResult> out = co_await std::move(invoking);
    if (!out.ok()) {
      co_return DeliveryResult{DeliveryOutcome::kThrottled,
                               out.error().code + ": " + out.error().message};
    }
    const int count = ev.attempts + 1;
    if (out->outcome == runtime::InvokeResult::Outcome::kSuccess) {
      if (cfg && !cfg->on_success.empty()) {
        auto sending =
            send_to_destination(cfg->on_success, invocation_record(ev, "Success", count, &*out));
        co_await std::move(sending);
      }
      co_return DeliveryResult{DeliveryOutcome::kSuccess, ""};
    }
    std::string detail = tail_bytes(out->payload, 512);
    if (count > max_retries) {  // the last attempt: the event ends here
      auto failing = fail_event(ev, cfg, "RetriesExhausted", count, *out);
      co_await std::move(failing);
      co_return DeliveryResult{
          DeliveryOutcome::kDrop,
          "retries exhausted after " + std::to_string(count) + " attempts (" + detail + ")"};
    }
    co_return DeliveryResult{DeliveryOutcome::kFunctionError, detail};
  }

  // ---- Invoke ----

  Task<Response> invoke(Request& req, const net::Target& target, std::string name_text,
                        bool legacy_async) {
    std::string request_id = new_uuid();
    std::string_view type = legacy_async ? "Event" : net::header(req, "X-Amz-Invocation-Type");
    if (type.empty()) type = "RequestResponse";
    if (type != "RequestResponse" && type != "Event" && type != "DryRun") {
      co_return error_response(
          req,
          validation_error(type, "invocationType",
                           "Member must satisfy enum value set: [Event, RequestResponse, DryRun]"),
          request_id);
    }
    std::string_view log_type = net::header(req, "X-Amz-Log-Type");
    if (!log_type.empty() && log_type != "None" && log_type != "Tail") {
      co_return error_response(
          req,
          validation_error(log_type, "logType", "Member must satisfy enum value set: [None, Tail]"),
          request_id);
    }
    const std::string& payload = req.body();
    if (type == "Event" && static_cast<int64_t>(payload.size()) > kAsyncPayloadLimit) {
      co_return error_response(
          req,
          Error{"RequestEntityTooLargeException", 413,
                "Request must be smaller than " + std::to_string(kAsyncPayloadLimit) +
                    " bytes for the InvokeAsync operation"},
          request_id);
    }
    if (static_cast<int64_t>(payload.size()) > kSyncPayloadLimit) {
      co_return error_response(
          req,
          Error{"RequestEntityTooLargeException", 413,
                "Request must be smaller than " + std::to_string(kSyncPayloadLimit) +
                    " bytes for the InvokeFunction operation"},
          request_id);
    }
    if (!payload.empty()) {
      std::string problem = json_problem(payload);
      if (!problem.empty()) {
        co_return error_response(req, bad_content("Could not parse payload into json: " + problem),
                                 request_id);
      }
    }
    std::optional<std::string> qualifier = target.param("Qualifier");
    auto resolving = resolve(name_text, qualifier);
    Result<ResolvedPtr> resolved = co_await std::move(resolving);
    if (!resolved.ok()) co_return error_response(req, resolved.error(), request_id);
    ResolvedPtr res = *resolved;
    if (res->state != kStateActive) {
      co_return error_response(
          req,
          conflict("The operation cannot be performed at this time. The function is currently in "
                   "the following state: " +
                   res->state),
          request_id);
    }
    if (type == "DryRun") co_return empty_response(req, http::status::no_content, request_id);

    if (type == "Event") {
      AsyncEvent ev;
      ev.id = request_id;
      ev.function_name = res->function_name;
      auto parsed = parse_function_ref(name_text, NameUse::kGetOrInvoke, arn);
      std::string q = qualifier.value_or(parsed.ok() ? parsed->qualifier : "");
      ev.qualifier = q;
      ev.payload = payload;
      ev.client_context = std::string(net::header(req, "X-Amz-Client-Context"));
      // A function that invokes another carries its trace (recursion.h).
      ev.trace = std::string(net::header(req, "X-Amzn-Trace-Id"));
      auto enqueueing = queue.enqueue(std::move(ev));
      Status st = co_await std::move(enqueueing);
      if (!st.ok()) co_return error_response(req, st.error(), request_id);
      if (legacy_async) {
        co_return json_response(req, http::status::accepted, json::object{{"Status", 202}},
                                request_id);
      }
      co_return empty_response(req, http::status::accepted, request_id);
    }

    const runtime::FunctionSpec& spec =
        (res->secondary && random_unit() < res->secondary_weight) ? *res->secondary : res->primary;
    runtime::InvokeRequest ir;
    ir.payload = payload.empty() ? std::string("{}") : payload;
    ir.request_id = request_id;
    ir.client_context = std::string(net::header(req, "X-Amz-Client-Context"));
    ir.trace_id = std::string(net::header(req, "X-Amzn-Trace-Id"));
    ir.want_log_tail = log_type == "Tail";
    auto invoking = deps.invoker->invoke(spec, std::move(ir));
    Result<runtime::InvokeResult> out = co_await std::move(invoking);
    if (!out.ok()) co_return error_response(req, out.error(), request_id);
    Response resp = net::make_response(req, http::status::ok, std::move(out->payload));
    resp.set(kRequestIdHeader, request_id);
    resp.set("X-Amz-Executed-Version",
             out->executed_version.empty() ? spec.version : out->executed_version);
    if (!out->function_error.empty()) resp.set("X-Amz-Function-Error", out->function_error);
    if (log_type == "Tail") {
      resp.set("X-Amz-Log-Result", base64_encode(tail_bytes(out->log_tail, kLogTailBytes)));
    }
    co_return resp;
  }

  // ---- everything else (blocking pool) ----

  // caller: the authenticated principal (CreateFunction and UpdateFunctionConfiguration check
  // that it may pass the execution role).
  Response dispatch(Request& req, const net::Target& target, const std::string& request_id,
                    const auth::Caller& caller);
  Result<Response> route(Request& req, const net::Target& target, const std::string& request_id,
                         const auth::Caller& caller);

  std::string code_url(const std::string& hex) const;
  Result<Response> serve_code(Request& req, const net::Target& target, const std::string& hex,
                              const std::string& request_id);

  Result<Response> create_function(Request& req, const std::string& rid,
                                   const auth::Caller& caller);
  Result<Response> list_functions(Request& req, const net::Target& t, const std::string& rid);
  Result<Response> get_function(Request& req, const net::Target& t, const std::string& name,
                                bool configuration_only, const std::string& rid);
  Result<Response> delete_function(Request& req, const net::Target& t, const std::string& name,
                                   const std::string& rid);
  Result<Response> update_code(Request& req, const std::string& name, const std::string& rid);
  Result<Response> update_configuration(Request& req, const std::string& name,
                                        const std::string& rid, const auth::Caller& caller);
  // The caller may hand `role_arn` to Lambda (iam:PassRole), and Lambda can assume it.
  Status pass_role(const auth::Caller& caller, const std::string& role_arn);
  Result<Response> publish_version(Request& req, const std::string& name, const std::string& rid);
  Result<Response> list_versions(Request& req, const net::Target& t, const std::string& name,
                                 const std::string& rid);
  Result<Response> aliases(Request& req, const net::Target& t, const std::string& name,
                           const std::string& alias, bool has_alias, const std::string& rid);
  Result<Response> tags(Request& req, const net::Target& t, const std::string& arn_text,
                        const std::string& rid);
  Result<Response> account_settings(Request& req, const std::string& rid);
  Result<Response> concurrency(Request& req, const std::string& name, bool get_api,
                               const std::string& rid);
  Result<Response> provisioned(Request& req, const net::Target& t, const std::string& name,
                               const std::string& rid);
  json::object provisioned_json(const std::string& name, const ProvisionedConfig& c,
                                const std::vector<ProvisionedVersionTarget>& targets);
  Result<Response> layers(Request& req, const net::Target& t, const std::string& rid);
  Result<Response> policy(Request& req, const net::Target& t, const std::string& name,
                          const std::string* sid, const std::string& rid);
  Result<Response> event_invoke_config(Request& req, const net::Target& t,
                                       const std::string& name_text, bool list,
                                       const std::string& rid);
  Result<Response> function_urls(Request& req, const net::Target& t, const std::string& name,
                                 bool list, const std::string& rid);
  json::object layer_version_json(const LayerVersion& v, bool with_content);

  // Hands the function's provisioned concurrency, as the Store has it now, to the invoker.
  // Blocking; called after every committed write to the function and at start.
  void sync_provisioned(const std::string& fn) {
    auto targets = registry.provisioned_targets(fn);
    if (!targets.ok()) {
      log_error("lambda: provisioned concurrency of " + fn + ": " + targets.error().message);
      return;
    }
    // An alias re-pointed at a version provisioned on its own: both counts, one version.
    std::vector<runtime::Invoker::ProvisionedTarget> out;
    for (const auto& t : *targets) {
      runtime::FunctionSpec spec = make_spec(t.version, arn, registry.code());
      auto same = std::find_if(out.begin(), out.end(), [&](const auto& o) {
        return o.spec.qualified_arn == spec.qualified_arn;
      });
      if (same != out.end()) {
        same->count += t.count;
      } else {
        out.push_back({std::move(spec), t.count});
      }
    }
    deps.invoker->set_provisioned_concurrency(arn.function_arn(fn), std::move(out));
  }
};

// ---------------------------------------------------------------------------------------------

std::string LambdaService::Impl::code_url(const std::string& hex) const {
  std::string base = deps.config->endpoint_url;
  if (base.empty()) base = "http://" + deps.config->host + ":" + std::to_string(deps.config->port);
  if (!base.empty() && base.back() == '/') base.pop_back();
  int64_t expires = std::chrono::duration_cast<std::chrono::seconds>(
                        (deps.clock->now() + kCodeUrlExpiry).time_since_epoch())
                        .count();
  std::string sig = hex_encode(
      hmac_sha256(deps.config->root_secret_access_key, hex + "\n" + std::to_string(expires)));
  return base + std::string(kCodeDownloadPrefix) + hex +
         ".zip?X-Nubo-Expires=" + std::to_string(expires) + "&X-Nubo-Signature=" + sig;
}

Result<Response> LambdaService::Impl::serve_code(Request& req, const net::Target& target,
                                                 const std::string& hex, const std::string& rid) {
  auto expires = target.param("X-Nubo-Expires");
  auto sig = target.param("X-Nubo-Signature");
  Error denied{"AccessDeniedException", 403, "Request has expired or its signature is invalid"};
  if (!expires || !sig) return denied;
  std::string want =
      hex_encode(hmac_sha256(deps.config->root_secret_access_key, hex + "\n" + *expires));
  int64_t exp = std::atoll(expires->c_str());
  int64_t now = epoch_ms(deps.clock->now()) / 1000;
  if (want != *sig || exp < now) return denied;
  for (char c : hex) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return denied;
  }
  auto data = storage::read_file(registry.code().zip_path(hex));
  if (!data.ok()) return not_found("Code package not found");
  Response res =
      net::make_response(req, http::status::ok, std::move(data).value(), "application/zip");
  res.set(kRequestIdHeader, rid);
  return res;
}

Result<Response> LambdaService::Impl::create_function(Request& req, const std::string& rid,
                                                      const auth::Caller& caller) {
  NUBO_ASSIGN_OR_RETURN(json::object o, body_object(req));
  CreateFunctionInput in;
  NUBO_ASSIGN_OR_RETURN(auto name, opt_string(o, "FunctionName"));
  if (!name) {
    return Error{"ValidationException", 400,
                 "1 validation error detected: Value null at 'functionName' failed to satisfy "
                 "constraint: Member must not be null"};
  }
  NUBO_ASSIGN_OR_RETURN(FunctionRef ref, parse_function_ref(*name, NameUse::kCreate, arn));
  in.name = ref.name;
  NUBO_ASSIGN_OR_RETURN(auto package_type, opt_string(o, "PackageType"));
  if (package_type && *package_type != "Zip") {
    if (*package_type == "Image") {
      return invalid_parameter(
          "PackageType Image is not supported by nubo: container image functions cannot be "
          "created. Use a .zip file archive (PackageType Zip).");
    }
    return validation_error(*package_type, "packageType",
                            "Member must satisfy enum value set: [Image, Zip]");
  }
  NUBO_ASSIGN_OR_RETURN(in.settings, parse_settings(o, /*create=*/true));
  if (!in.settings.runtime) {
    return invalid_parameter(
        "Runtime and Handler are mandatory parameters for functions created with deployment "
        "packages.");
  }
  NUBO_ASSIGN_OR_RETURN(const json::object* code, opt_object(o, "Code"));
  if (!code) {
    return Error{"ValidationException", 400,
                 "1 validation error detected: Value null at 'code' failed to satisfy constraint: "
                 "Member must not be null"};
  }
  NUBO_ASSIGN_OR_RETURN(auto zip_b64, opt_string(*code, "ZipFile"));
  if (!zip_b64) {
    if (code->contains("S3Bucket")) {
      return invalid_parameter(
          "S3 code locations are not supported by nubo yet. Upload the .zip file with ZipFile.");
    }
    if (code->contains("ImageUri")) {
      return invalid_parameter(
          "Please don't provide ImageUri when updating a function with packageType Zip.");
    }
    return invalid_parameter("Please provide a source for function code.");
  }
  NUBO_ASSIGN_OR_RETURN(in.zip, decode_zip(*zip_b64));
  NUBO_ASSIGN_OR_RETURN(auto publish, opt_bool(o, "Publish"));
  in.publish = publish.value_or(false);
  NUBO_ASSIGN_OR_RETURN(const json::object* tags, opt_object(o, "Tags"));
  if (tags) {
    NUBO_ASSIGN_OR_RETURN(in.tags, string_map(*tags, "Tags"));
    if (in.tags.size() > kMaxTags) {
      return invalid_parameter("Number of tags exceeds resource tag limit.");
    }
  }
  NUBO_TRY(pass_role(caller, *in.settings.role));
  NUBO_ASSIGN_OR_RETURN(VersionConfig c, registry.create_function(std::move(in)));
  return json_response(req, http::status::created,
                       to_wire_json(c, arn, RenderOptions{ConfigView::kCreated, false, ""}), rid);
}

Result<Response> LambdaService::Impl::list_functions(Request& req, const net::Target& t,
                                                     const std::string& rid) {
  NUBO_ASSIGN_OR_RETURN(int max_items, max_items_param(t));
  auto fv = t.param("FunctionVersion");
  if (fv && *fv != "ALL") {
    return validation_error(*fv, "functionVersion", "Member must satisfy enum value set: [ALL]");
  }
  NUBO_ASSIGN_OR_RETURN(Page page, registry.list_functions(
                                       fv.has_value(), t.param("Marker").value_or(""), max_items));
  json::array items;
  for (const auto& c : page.items) {
    items.push_back(to_wire_json(c, arn, RenderOptions{ConfigView::kList, fv.has_value(), ""}));
  }
  json::object body;
  body["Functions"] = std::move(items);
  if (!page.next_marker.empty()) body["NextMarker"] = page.next_marker;
  return json_response(req, http::status::ok, body, rid);
}

Result<Response> LambdaService::Impl::get_function(Request& req, const net::Target& t,
                                                   const std::string& name_text,
                                                   bool configuration_only,
                                                   const std::string& rid) {
  NUBO_ASSIGN_OR_RETURN(FunctionRef ref, parse_function_ref(name_text, NameUse::kGetOrInvoke, arn));
  NUBO_ASSIGN_OR_RETURN(std::string q, effective_qualifier(ref, t.param("Qualifier")));
  NUBO_ASSIGN_OR_RETURN(FunctionView view, registry.get_function(ref.name, q));
  RenderOptions ro{ConfigView::kFull, !q.empty(), view.alias};
  json::object config = to_wire_json(view.config, arn, ro);
  if (configuration_only) return json_response(req, http::status::ok, config, rid);
  json::object body;
  body["Configuration"] = std::move(config);
  body["Code"] =
      json::object{{"RepositoryType", "S3"}, {"Location", code_url(view.config.code_hex)}};
  if (!view.tags.empty()) {
    json::object tags;
    for (const auto& [k, v] : view.tags) tags[k] = v;
    body["Tags"] = std::move(tags);
  }
  NUBO_ASSIGN_OR_RETURN(std::optional<int> reserved, registry.get_concurrency(ref.name));
  if (reserved) body["Concurrency"] = json::object{{"ReservedConcurrentExecutions", *reserved}};
  return json_response(req, http::status::ok, body, rid);
}

Result<Response> LambdaService::Impl::delete_function(Request& req, const net::Target& t,
                                                      const std::string& name_text,
                                                      const std::string& rid) {
  NUBO_ASSIGN_OR_RETURN(FunctionRef ref, parse_function_ref(name_text, NameUse::kDelete, arn));
  NUBO_ASSIGN_OR_RETURN(std::string q, effective_qualifier(ref, t.param("Qualifier")));
  NUBO_TRY(registry.delete_function(ref.name, q));
  if (q.empty()) {
    NUBO_TRY(invoke_configs.remove_function(ref.name));
    deps.invoker->retire_function(arn.function_arn(ref.name));
    deps.invoker->set_reserved_concurrency(arn.function_arn(ref.name), std::nullopt);
  } else {
    deps.invoker->retire_version(arn.qualified_arn(ref.name, q));
  }
  return empty_response(req, http::status::no_content, rid);
}

Result<Response> LambdaService::Impl::update_code(Request& req, const std::string& name_text,
                                                  const std::string& rid) {
  NUBO_ASSIGN_OR_RETURN(FunctionRef ref, parse_function_ref(name_text, NameUse::kOther, arn));
  if (!ref.qualifier.empty()) {
    return validation_error(
        name_text, "functionName",
        "Member must satisfy regular expression pattern: " + std::string(kNamePattern));
  }
  NUBO_ASSIGN_OR_RETURN(json::object o, body_object(req));
  UpdateCodeInput in;
  in.name = ref.name;
  NUBO_ASSIGN_OR_RETURN(auto zip_b64, opt_string(o, "ZipFile"));
  if (!zip_b64) {
    if (o.contains("ImageUri")) {
      return invalid_parameter(
          "Please don't provide ImageUri when updating a function with packageType Zip.");
    }
    if (o.contains("S3Bucket")) {
      return invalid_parameter(
          "S3 code locations are not supported by nubo yet. Upload the .zip file with ZipFile.");
    }
    return invalid_parameter("Please provide a source for function code.");
  }
  NUBO_ASSIGN_OR_RETURN(in.zip, decode_zip(*zip_b64));
  NUBO_ASSIGN_OR_RETURN(auto publish, opt_bool(o, "Publish"));
  NUBO_ASSIGN_OR_RETURN(auto dry_run, opt_bool(o, "DryRun"));
  NUBO_ASSIGN_OR_RETURN(in.revision_id, opt_string(o, "RevisionId"));
  in.publish = publish.value_or(false);
  in.dry_run = dry_run.value_or(false);
  NUBO_ASSIGN_OR_RETURN(auto archs, optional_string_list(o, "Architectures"));
  if (archs) {
    std::string joined = "[";
    for (size_t i = 0; i < archs->size(); ++i) joined += (i ? ", " : "") + (*archs)[i];
    joined += "]";
    if (archs->size() != 1) {
      return validation_error(joined, "architectures",
                              "Member must have length less than or equal to 1");
    }
    if ((*archs)[0] != "x86_64" && (*archs)[0] != "arm64") {
      return validation_error(joined, "architectures",
                              "Member must satisfy constraint: [Member must satisfy enum value "
                              "set: [x86_64, arm64], Member must not be null]");
    }
    in.architecture = (*archs)[0];
  }
  bool publish_flag = in.publish;
  NUBO_ASSIGN_OR_RETURN(VersionConfig c, registry.update_code(std::move(in)));
  RenderOptions ro{ConfigView::kUpdated, publish_flag, ""};
  return json_response(req, http::status::ok, to_wire_json(c, arn, ro), rid);
}

Status LambdaService::Impl::pass_role(const auth::Caller& caller, const std::string& role_arn) {
  auth::Access access("iam:PassRole", role_arn);
  access.keys.emplace_back("iam:PassedToService", "lambda.amazonaws.com");
  NUBO_TRY(auth::authorize(caller, access, {"AccessDeniedException", 403}));
  if (deps.check_role) NUBO_TRY(deps.check_role(role_arn));
  return Ok{};
}

Result<Response> LambdaService::Impl::update_configuration(Request& req,
                                                           const std::string& name_text,
                                                           const std::string& rid,
                                                           const auth::Caller& caller) {
  NUBO_ASSIGN_OR_RETURN(FunctionRef ref, parse_function_ref(name_text, NameUse::kOther, arn));
  NUBO_ASSIGN_OR_RETURN(json::object o, body_object(req));
  NUBO_ASSIGN_OR_RETURN(FunctionSettings s, parse_settings(o, /*create=*/false));
  if (s.role) NUBO_TRY(pass_role(caller, *s.role));
  NUBO_ASSIGN_OR_RETURN(auto revision, opt_string(o, "RevisionId"));
  NUBO_ASSIGN_OR_RETURN(VersionConfig c, registry.update_configuration(ref.name, s, revision));
  return json_response(req, http::status::ok,
                       to_wire_json(c, arn, RenderOptions{ConfigView::kUpdated, false, ""}), rid);
}

Result<Response> LambdaService::Impl::publish_version(Request& req, const std::string& name_text,
                                                      const std::string& rid) {
  NUBO_ASSIGN_OR_RETURN(FunctionRef ref, parse_function_ref(name_text, NameUse::kOther, arn));
  NUBO_ASSIGN_OR_RETURN(json::object o, body_object(req));
  NUBO_ASSIGN_OR_RETURN(auto sha, opt_string(o, "CodeSha256"));
  NUBO_ASSIGN_OR_RETURN(auto description, opt_string(o, "Description"));
  NUBO_ASSIGN_OR_RETURN(auto revision, opt_string(o, "RevisionId"));
  if (description && description->size() > kDescriptionMax) {
    return validation_error(*description, "description",
                            "Member must have length less than or equal to 256");
  }
  NUBO_ASSIGN_OR_RETURN(VersionConfig c,
                        registry.publish_version(ref.name, sha, description, revision));
  // SnapStart: the snapshot is taken when the version is published, as on Lambda.
  if (c.snap_start_on()) deps.invoker->prepare_snapshot(make_spec(c, arn, registry.code()));
  return json_response(req, http::status::created,
                       to_wire_json(c, arn, RenderOptions{ConfigView::kCreated, true, ""}), rid);
}

Result<Response> LambdaService::Impl::list_versions(Request& req, const net::Target& t,
                                                    const std::string& name_text,
                                                    const std::string& rid) {
  NUBO_ASSIGN_OR_RETURN(FunctionRef ref, parse_function_ref(name_text, NameUse::kOther, arn));
  NUBO_ASSIGN_OR_RETURN(int max_items, max_items_param(t));
  NUBO_ASSIGN_OR_RETURN(
      Page page, registry.list_versions(ref.name, t.param("Marker").value_or(""), max_items));
  json::array items;
  for (const auto& c : page.items) {
    items.push_back(to_wire_json(c, arn, RenderOptions{ConfigView::kList, true, ""}));
  }
  json::object body;
  body["Versions"] = std::move(items);
  if (!page.next_marker.empty()) body["NextMarker"] = page.next_marker;
  return json_response(req, http::status::ok, body, rid);
}

namespace {

Status check_alias_name(const std::string& name) {
  Validation v;
  if (name.size() > kAliasNameMax) {
    v.add(name, "name", "Member must have length less than or equal to 128");
  }
  if (!is_alias_name(name)) {
    v.add(name, "name",
          "Member must satisfy regular expression pattern: " + std::string(kAliasPattern));
  }
  return v.status();
}

Status check_function_version(const std::string& version) {
  if (version == kLatest || is_version_number(version)) return Ok{};
  return validation_error(version, "functionVersion",
                          "Member must satisfy regular expression pattern: (\\$LATEST|[0-9]+)");
}

// Parses RoutingConfig.AdditionalVersionWeights.
Result<std::optional<std::vector<std::pair<std::string, double>>>> parse_weights(
    const json::object& o) {
  using Weights = std::vector<std::pair<std::string, double>>;
  NUBO_ASSIGN_OR_RETURN(const json::object* rc, opt_object(o, "RoutingConfig"));
  if (!rc) return std::optional<Weights>();
  NUBO_ASSIGN_OR_RETURN(const json::object* w, opt_object(*rc, "AdditionalVersionWeights"));
  Weights out;
  if (!w) return std::optional<Weights>(out);
  for (const auto& kv : *w) {
    const json::value& val = kv.value();
    if (!val.is_number()) return wrong_type("AdditionalVersionWeights");
    double d = val.to_number<double>();
    std::string key(kv.key());
    std::string shown = "{" + key + "=" + json::serialize(val) + "}";
    if (d < 0.0 || d > 1.0) {
      return validation_error(shown, "routingConfig.additionalVersionWeights",
                              "Map value must satisfy constraint: [Member must have value less "
                              "than or equal to 1.0, Member must have value greater than or "
                              "equal to 0.0, Member must not be null]");
    }
    if (!is_version_number(key)) {
      return validation_error(shown, "routingConfig.additionalVersionWeights",
                              "Map keys must satisfy constraint: [Member must have length less "
                              "than or equal to 1024, Member must have length greater than or "
                              "equal to 1, Member must satisfy regular expression pattern: "
                              "[0-9]+, Member must not be null]");
    }
    out.emplace_back(std::move(key), d);
  }
  return std::optional<Weights>(std::move(out));
}

}  // namespace

Result<Response> LambdaService::Impl::aliases(Request& req, const net::Target& t,
                                              const std::string& name_text,
                                              const std::string& alias, bool has_alias,
                                              const std::string& rid) {
  NUBO_ASSIGN_OR_RETURN(FunctionRef ref, parse_function_ref(name_text, NameUse::kOther, arn));
  const std::string& fn = ref.name;
  auto method = req.method();
  if (!has_alias) {
    if (method == http::verb::get) {
      NUBO_ASSIGN_OR_RETURN(int max_items, max_items_param(t));
      NUBO_ASSIGN_OR_RETURN(auto page,
                            registry.list_aliases(fn, t.param("FunctionVersion"),
                                                  t.param("Marker").value_or(""), max_items));
      json::array items;
      for (const auto& a : page.first) items.push_back(to_wire_json(a, arn));
      json::object body;
      body["Aliases"] = std::move(items);
      if (!page.second.empty()) body["NextMarker"] = page.second;
      return json_response(req, http::status::ok, body, rid);
    }
    if (method != http::verb::post) return unknown_operation();
    NUBO_ASSIGN_OR_RETURN(json::object o, body_object(req));
    AliasInput in;
    in.function_name = fn;
    NUBO_ASSIGN_OR_RETURN(auto name, opt_string(o, "Name"));
    NUBO_ASSIGN_OR_RETURN(in.function_version, opt_string(o, "FunctionVersion"));
    NUBO_ASSIGN_OR_RETURN(in.description, opt_string(o, "Description"));
    if (!name) {
      return Error{"ValidationException", 400,
                   "1 validation error detected: Value null at 'name' failed to satisfy "
                   "constraint: Member must not be null"};
    }
    if (!in.function_version) {
      return Error{"ValidationException", 400,
                   "1 validation error detected: Value null at 'functionVersion' failed to "
                   "satisfy constraint: Member must not be null"};
    }
    in.name = *name;
    NUBO_TRY(check_alias_name(in.name));
    NUBO_TRY(check_function_version(*in.function_version));
    if (in.description && in.description->size() > kDescriptionMax) {
      return validation_error(*in.description, "description",
                              "Member must have length less than or equal to 256");
    }
    NUBO_ASSIGN_OR_RETURN(in.weights, parse_weights(o));
    NUBO_ASSIGN_OR_RETURN(AliasConfig a, registry.create_alias(in));
    return json_response(req, http::status::created, to_wire_json(a, arn), rid);
  }
  if (method == http::verb::get) {
    NUBO_ASSIGN_OR_RETURN(AliasConfig a, registry.get_alias(fn, alias));
    return json_response(req, http::status::ok, to_wire_json(a, arn), rid);
  }
  if (method == http::verb::delete_) {
    NUBO_TRY(registry.delete_alias(fn, alias));
    return empty_response(req, http::status::no_content, rid);
  }
  if (method != http::verb::put) return unknown_operation();
  NUBO_ASSIGN_OR_RETURN(json::object o, body_object(req));
  AliasInput in;
  in.function_name = fn;
  in.name = alias;
  NUBO_ASSIGN_OR_RETURN(in.function_version, opt_string(o, "FunctionVersion"));
  NUBO_ASSIGN_OR_RETURN(in.description, opt_string(o, "Description"));
  NUBO_ASSIGN_OR_RETURN(in.revision_id, opt_string(o, "RevisionId"));
  if (in.function_version) NUBO_TRY(check_function_version(*in.function_version));
  NUBO_ASSIGN_OR_RETURN(in.weights, parse_weights(o));
  NUBO_ASSIGN_OR_RETURN(AliasConfig a, registry.update_alias(in));
  return json_response(req, http::status::ok, to_wire_json(a, arn), rid);
}

Result<Response> LambdaService::Impl::tags(Request& req, const net::Target& t,
                                           const std::string& arn_text, const std::string& rid) {
  if (!starts_with(arn_text, "arn:")) {
    return validation_error(arn_text, "resource",
                            "Member must satisfy regular expression pattern: "
                            "arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-"
                            "\\d{1}:\\d{12}:(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
                            "|layer:([a-zA-Z0-9-_]+)|code-signing-config:csc-[a-z0-9]{17}|event-"
                            "source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-"
                            "F]{4}-[0-9a-fA-F]{12})");
  }
  NUBO_ASSIGN_OR_RETURN(FunctionRef ref, parse_function_ref(arn_text, NameUse::kOther, arn));
  if (!ref.qualifier.empty()) {
    return invalid_parameter(
        "Tags on function aliases and versions are not supported. Please specify a function "
        "ARN.");
  }
  auto method = req.method();
  if (method == http::verb::get) {
    NUBO_ASSIGN_OR_RETURN(Tags tags, registry.list_tags(ref.name));
    json::object m;
    for (const auto& [k, v] : tags) m[k] = v;
    return json_response(req, http::status::ok, json::object{{"Tags", std::move(m)}}, rid);
  }
  if (method == http::verb::post) {
    NUBO_ASSIGN_OR_RETURN(json::object o, body_object(req));
    NUBO_ASSIGN_OR_RETURN(const json::object* tags, opt_object(o, "Tags"));
    if (!tags) {
      return Error{"ValidationException", 400,
                   "1 validation error detected: Value null at 'tags' failed to satisfy "
                   "constraint: Member must not be null"};
    }
    NUBO_ASSIGN_OR_RETURN(Tags list, string_map(*tags, "Tags"));
    NUBO_TRY(registry.tag(ref.name, list));
    return empty_response(req, http::status::no_content, rid);
  }
  if (method == http::verb::delete_) {
    std::vector<std::string> keys;
    for (const auto& [k, v] : t.query) {
      if (k == "tagKeys") keys.push_back(v);
    }
    NUBO_TRY(registry.untag(ref.name, keys));
    return empty_response(req, http::status::no_content, rid);
  }
  return unknown_operation();
}

Result<Response> LambdaService::Impl::concurrency(Request& req, const std::string& name_text,
                                                  bool get_api, const std::string& rid) {
  NUBO_ASSIGN_OR_RETURN(FunctionRef ref, parse_function_ref(name_text, NameUse::kOther, arn));
  if (!ref.qualifier.empty()) {
    // The reservation is the function's (every version and alias): no qualifier.
    return validation_error(
        name_text, "functionName",
        "Member must satisfy regular expression pattern: " + std::string(kNamePattern));
  }
  auto method = req.method();
  if (get_api && method == http::verb::get) {
    NUBO_ASSIGN_OR_RETURN(std::optional<int> value, registry.get_concurrency(ref.name));
    json::object body;
    if (value) body["ReservedConcurrentExecutions"] = *value;
    return json_response(req, http::status::ok, body, rid);
  }
  if (!get_api && method == http::verb::put) {
    NUBO_ASSIGN_OR_RETURN(json::object o, body_object(req));
    NUBO_ASSIGN_OR_RETURN(int n, required_count(o, "ReservedConcurrentExecutions", 0,
                                                deps.config->account_concurrency));
    NUBO_TRY(registry.put_concurrency(ref.name, n, deps.config->account_concurrency));
    deps.invoker->set_reserved_concurrency(arn.function_arn(ref.name), n);
    return json_response(req, http::status::ok, json::object{{"ReservedConcurrentExecutions", n}},
                         rid);
  }
  if (!get_api && method == http::verb::delete_) {
    NUBO_TRY(registry.delete_concurrency(ref.name));
    deps.invoker->set_reserved_concurrency(arn.function_arn(ref.name), std::nullopt);
    return empty_response(req, http::status::no_content, rid);
  }
  return unknown_operation();
}

json::object LambdaService::Impl::provisioned_json(
    const std::string& name, const ProvisionedConfig& c,
    const std::vector<ProvisionedVersionTarget>& targets) {
  runtime::Invoker::ProvisionedStatus st;
  for (const auto& t : targets) {
    if (t.qualifier == c.qualifier) {
      st = deps.invoker->provisioned_status(arn.qualified_arn(name, t.version.version));
    }
  }
  int allocated = std::min(st.ready, c.requested);
  json::object o;
  o["RequestedProvisionedConcurrentExecutions"] = c.requested;
  o["AvailableProvisionedConcurrentExecutions"] = allocated;
  o["AllocatedProvisionedConcurrentExecutions"] = allocated;
  if (allocated >= c.requested) {
    o["Status"] = "READY";
  } else if (!st.failure.empty()) {
    o["Status"] = "FAILED";
    o["StatusReason"] = st.failure;
  } else {
    o["Status"] = "IN_PROGRESS";
  }
  o["LastModified"] = c.last_modified;
  return o;
}

Result<Response> LambdaService::Impl::provisioned(Request& req, const net::Target& t,
                                                  const std::string& name_text,
                                                  const std::string& rid) {
  NUBO_ASSIGN_OR_RETURN(FunctionRef ref, parse_function_ref(name_text, NameUse::kOther, arn));
  auto method = req.method();
  if (method == http::verb::get && t.param("List").value_or("") == "ALL") {
    NUBO_ASSIGN_OR_RETURN(int max_items, max_items_param(t));
    max_items = std::min(max_items, kMaxProvisionedListItems);
    NUBO_ASSIGN_OR_RETURN(auto configs, registry.list_provisioned(ref.name));
    NUBO_ASSIGN_OR_RETURN(auto targets, registry.provisioned_targets(ref.name));
    std::string after = t.param("Marker").value_or("");
    json::array items;
    std::string next;
    for (const auto& c : configs) {
      if (!after.empty() && c.qualifier <= after) continue;
      if (static_cast<int>(items.size()) == max_items) {
        next = items.back().as_object().at("FunctionArn").as_string().c_str();
        next = next.substr(next.rfind(':') + 1);
        break;
      }
      json::object o = provisioned_json(ref.name, c, targets);
      o["FunctionArn"] = arn.qualified_arn(ref.name, c.qualifier);
      items.push_back(std::move(o));
    }
    json::object body;
    body["ProvisionedConcurrencyConfigs"] = std::move(items);
    if (!next.empty()) body["NextMarker"] = next;
    return json_response(req, http::status::ok, body, rid);
  }
  NUBO_ASSIGN_OR_RETURN(std::string q, effective_qualifier(ref, t.param("Qualifier")));
  if (q.empty()) {
    return Error{"ValidationException", 400,
                 "1 validation error detected: Value null at 'qualifier' failed to satisfy "
                 "constraint: Member must not be null"};
  }
  if (method == http::verb::get) {
    NUBO_ASSIGN_OR_RETURN(ProvisionedConfig c, registry.get_provisioned(ref.name, q));
    NUBO_ASSIGN_OR_RETURN(auto targets, registry.provisioned_targets(ref.name));
    return json_response(req, http::status::ok, provisioned_json(ref.name, c, targets), rid);
  }
  if (method == http::verb::put) {
    NUBO_ASSIGN_OR_RETURN(json::object o, body_object(req));
    NUBO_ASSIGN_OR_RETURN(int n, required_count(o, "ProvisionedConcurrentExecutions", 1,
                                                deps.config->account_concurrency));
    NUBO_ASSIGN_OR_RETURN(
        ProvisionedConfig c,
        registry.put_provisioned(ref.name, q, n, deps.config->account_concurrency));
    NUBO_ASSIGN_OR_RETURN(auto targets, registry.provisioned_targets(ref.name));
    json::object body = provisioned_json(ref.name, c, targets);
    // As Lambda answers a PUT: the allocation has just begun.
    body["Status"] = "IN_PROGRESS";
    body.erase("StatusReason");
    body.erase("AvailableProvisionedConcurrentExecutions");
    return json_response(req, http::status::accepted, body, rid);
  }
  if (method == http::verb::delete_) {
    NUBO_TRY(registry.delete_provisioned(ref.name, q));
    return empty_response(req, http::status::no_content, rid);
  }
  return unknown_operation();
}

json::object LambdaService::Impl::layer_version_json(const LayerVersion& v, bool with_content) {
  json::object o;
  if (with_content) {
    o["Content"] = json::object{{"Location", code_url(v.code_hex)},
                                {"CodeSha256", v.code_sha256},
                                {"CodeSize", v.code_size}};
    o["LayerArn"] = arn.layer_arn(v.layer_name);
  }
  o["LayerVersionArn"] = arn.layer_version_arn(v.layer_name, v.version);
  o["Description"] = v.description;
  o["CreatedDate"] = v.created_date;
  o["Version"] = v.version;
  if (!v.compatible_runtimes.empty()) {
    json::array a;
    for (const auto& r : v.compatible_runtimes) a.push_back(json::value(r));
    o["CompatibleRuntimes"] = std::move(a);
  }
  if (!v.license_info.empty()) o["LicenseInfo"] = v.license_info;
  if (!v.compatible_architectures.empty()) {
    json::array a;
    for (const auto& r : v.compatible_architectures) a.push_back(json::value(r));
    o["CompatibleArchitectures"] = std::move(a);
  }
  return o;
}

namespace {

bool known_runtime(std::string_view r) {
  if (one_of(r, kSupportedRuntimes) || one_of(r, kOtherAwsRuntimes)) return true;
  return std::any_of(kDeprecatedRuntimes.begin(), kDeprecatedRuntimes.end(),
                     [&](const DeprecatedRuntime& d) { return d.name == r; });
}

std::string runtime_enum() {
  std::string s = "[";
  auto add = [&](std::string_view r) {
    if (s.size() > 1) s += ", ";
    s += r;
  };
  for (auto r : kSupportedRuntimes) add(r);
  for (auto r : kOtherAwsRuntimes) add(r);
  for (const auto& d : kDeprecatedRuntimes) add(d.name);
  return s + "]";
}

Result<LayerFilter> layer_filter(const net::Target& t) {
  LayerFilter f;
  f.runtime = t.param("CompatibleRuntime").value_or("");
  f.architecture = t.param("CompatibleArchitecture").value_or("");
  Validation v;
  if (!f.runtime.empty() && !known_runtime(f.runtime)) {
    v.add(f.runtime, "compatibleRuntime", "Member must satisfy enum value set: " + runtime_enum());
  }
  if (!f.architecture.empty() && f.architecture != "x86_64" && f.architecture != "arm64") {
    v.add(f.architecture, "compatibleArchitecture",
          "Member must satisfy enum value set: [x86_64, arm64]");
  }
  NUBO_TRY(v.status());
  return f;
}

Result<int64_t> layer_version_number(const std::string& text) {
  char* end = nullptr;
  long long n = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || text.size() > 18) {
    return bad_content("VersionNumber is not a number");
  }
  return static_cast<int64_t>(n);
}

Result<PublishLayerInput> parse_publish_layer(const json::object& o) {
  PublishLayerInput in;
  Validation v;
  NUBO_ASSIGN_OR_RETURN(auto description, opt_string(o, "Description"));
  NUBO_ASSIGN_OR_RETURN(auto license, opt_string(o, "LicenseInfo"));
  NUBO_ASSIGN_OR_RETURN(auto runtimes, optional_string_list(o, "CompatibleRuntimes"));
  NUBO_ASSIGN_OR_RETURN(auto archs, optional_string_list(o, "CompatibleArchitectures"));
  NUBO_ASSIGN_OR_RETURN(const json::object* content, opt_object(o, "Content"));
  if (!content) {
    v.add("Value null at 'content' failed to satisfy constraint: Member must not be null");
  }
  in.description = description.value_or("");
  in.license_info = license.value_or("");
  if (in.description.size() > kDescriptionMax) {
    v.add(in.description, "description", "Member must have length less than or equal to 256");
  }
  if (in.license_info.size() > kLicenseInfoMax) {
    v.add(in.license_info, "licenseInfo", "Member must have length less than or equal to 512");
  }
  auto shown = [](const std::vector<std::string>& list) {
    std::string s = "[";
    for (size_t i = 0; i < list.size(); ++i) s += (i ? ", " : "") + list[i];
    return s + "]";
  };
  if (runtimes) {
    if (runtimes->size() > kMaxCompatibleRuntimes) {
      v.add(shown(*runtimes), "compatibleRuntimes",
            "Member must have length less than or equal to 15");
    } else if (!std::all_of(runtimes->begin(), runtimes->end(), known_runtime)) {
      v.add(shown(*runtimes), "compatibleRuntimes",
            "Member must satisfy constraint: [Member must satisfy enum value set: " +
                runtime_enum() + "]");
    }
    in.compatible_runtimes = *runtimes;
  }
  if (archs) {
    if (archs->size() > kMaxCompatibleArchitectures) {
      v.add(shown(*archs), "compatibleArchitectures",
            "Member must have length less than or equal to 2");
    } else if (!std::all_of(archs->begin(), archs->end(),
                            [](const std::string& a) { return a == "x86_64" || a == "arm64"; })) {
      v.add(shown(*archs), "compatibleArchitectures",
            "Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, "
            "arm64]]");
    }
    in.compatible_architectures = *archs;
  }
  NUBO_TRY(v.status());
  NUBO_ASSIGN_OR_RETURN(auto zip_b64, opt_string(*content, "ZipFile"));
  if (!zip_b64) {
    if (content->contains("S3Bucket")) {
      return invalid_parameter(
          "S3 code locations are not supported by nubo yet. Upload the .zip file with ZipFile.");
    }
    return invalid_parameter("Please provide a source for the layer content.");
  }
  NUBO_ASSIGN_OR_RETURN(in.zip, decode_zip(*zip_b64));
  return in;
}

}  // namespace

// /2018-10-31/layers[/NAME[/versions[/NUMBER]]]: ListLayers, GetLayerVersionByArn,
// PublishLayerVersion, ListLayerVersions, GetLayerVersion, DeleteLayerVersion.
Result<Response> LambdaService::Impl::layers(Request& req, const net::Target& t,
                                             const std::string& rid) {
  LayerRegistry& reg = registry.layers();
  auto method = req.method();
  std::string_view rest = std::string_view(t.path).substr(kLayersPrefix.size());
  std::vector<std::string> seg;
  if (!rest.empty()) {
    if (rest.front() != '/') return unknown_operation();
    seg = split(rest.substr(1), '/');
    while (!seg.empty() && seg.back().empty()) seg.pop_back();
  }
  if (seg.empty()) {
    if (method != http::verb::get) return unknown_operation();
    if (t.param("find").value_or("") == "LayerVersion") {
      auto text = t.param("Arn");
      if (!text) {
        return Error{"ValidationException", 400,
                     "1 validation error detected: Value null at 'arn' failed to satisfy "
                     "constraint: Member must not be null"};
      }
      NUBO_ASSIGN_OR_RETURN(auto parsed, parse_layer_version_arn(*text, arn, "arn"));
      if (!parsed) {
        return Error{"ResourceNotFoundException", 404,
                     "The resource you requested does not exist."};
      }
      NUBO_ASSIGN_OR_RETURN(LayerVersion v, reg.get(parsed->first, parsed->second));
      return json_response(req, http::status::ok, layer_version_json(v, true), rid);
    }
    NUBO_ASSIGN_OR_RETURN(LayerFilter f, layer_filter(t));
    NUBO_ASSIGN_OR_RETURN(int max_items,
                          max_items_param(t, kMaxLayerListItems, kMaxLayerListItems));
    NUBO_ASSIGN_OR_RETURN(LayerPage page,
                          reg.list_layers(f, t.param("Marker").value_or(""), max_items));
    json::array items;
    for (const auto& v : page.items) {
      items.push_back(json::object{{"LayerName", v.layer_name},
                                   {"LayerArn", arn.layer_arn(v.layer_name)},
                                   {"LatestMatchingVersion", layer_version_json(v, false)}});
    }
    json::object body;
    body["Layers"] = std::move(items);
    if (!page.next_marker.empty()) body["NextMarker"] = page.next_marker;
    return json_response(req, http::status::ok, body, rid);
  }
  if (seg.size() < 2 || seg[1] != "versions" || seg.size() > 3) return unknown_operation();
  NUBO_ASSIGN_OR_RETURN(std::string name, parse_layer_name(seg[0], arn));
  if (seg.size() == 2) {
    if (method == http::verb::post) {
      NUBO_ASSIGN_OR_RETURN(json::object o, body_object(req));
      NUBO_ASSIGN_OR_RETURN(PublishLayerInput in, parse_publish_layer(o));
      in.layer_name = name;
      NUBO_ASSIGN_OR_RETURN(LayerVersion v, reg.publish(std::move(in)));
      return json_response(req, http::status::created, layer_version_json(v, true), rid);
    }
    if (method != http::verb::get) return unknown_operation();
    NUBO_ASSIGN_OR_RETURN(LayerFilter f, layer_filter(t));
    NUBO_ASSIGN_OR_RETURN(int max_items,
                          max_items_param(t, kMaxLayerListItems, kMaxLayerListItems));
    NUBO_ASSIGN_OR_RETURN(LayerPage page,
                          reg.list_versions(name, f, t.param("Marker").value_or(""), max_items));
    json::array items;
    for (const auto& v : page.items) items.push_back(layer_version_json(v, false));
    json::object body;
    body["LayerVersions"] = std::move(items);
    if (!page.next_marker.empty()) body["NextMarker"] = page.next_marker;
    return json_response(req, http::status::ok, body, rid);
  }
  NUBO_ASSIGN_OR_RETURN(int64_t number, layer_version_number(seg[2]));
  if (method == http::verb::get) {
    NUBO_ASSIGN_OR_RETURN(LayerVersion v, reg.get(name, number));
    return json_response(req, http::status::ok, layer_version_json(v, true), rid);
  }
  if (method == http::verb::delete_) {
    NUBO_TRY(reg.remove(name, number));
    return empty_response(req, http::status::no_content, rid);
  }
  return unknown_operation();
}

// /2015-03-31/functions/NAME/policy[/SID]: AddPermission (POST), GetPolicy (GET),
// RemovePermission (DELETE with the Sid).
Result<Response> LambdaService::Impl::policy(Request& req, const net::Target& t,
                                             const std::string& name_text, const std::string* sid,
                                             const std::string& rid) {
  auto method = req.method();
  if (sid != nullptr) {
    if (method != http::verb::delete_) return unknown_operation();
    NUBO_ASSIGN_OR_RETURN(FunctionRef ref, parse_function_ref(name_text, NameUse::kDelete, arn));
    NUBO_ASSIGN_OR_RETURN(std::string q, effective_qualifier(ref, t.param("Qualifier")));
    Validation v;
    if (sid->size() > kStatementIdMax) {
      v.add(*sid, "statementId", "Member must have length less than or equal to 100");
    }
    bool ok = !sid->empty() && std::all_of(sid->begin(), sid->end(), [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    });
    if (!ok) {
      v.add(*sid, "statementId",
            "Member must satisfy regular expression pattern: " +
                std::string(kRemoveStatementIdPattern));
    }
    NUBO_TRY(v.status());
    NUBO_TRY(registry.remove_permission(ref.name, q, *sid, t.param("RevisionId")));
    return empty_response(req, http::status::no_content, rid);
  }
  if (method == http::verb::get) {
    NUBO_ASSIGN_OR_RETURN(FunctionRef ref,
                          parse_function_ref(name_text, NameUse::kGetOrInvoke, arn));
    NUBO_ASSIGN_OR_RETURN(std::string q, effective_qualifier(ref, t.param("Qualifier")));
    NUBO_ASSIGN_OR_RETURN(PolicyView view, registry.get_policy(ref.name, q));
    return json_response(req, http::status::ok,
                         json::object{{"Policy", view.document}, {"RevisionId", view.revision_id}},
                         rid);
  }
  if (method != http::verb::post) return unknown_operation();
  NUBO_ASSIGN_OR_RETURN(FunctionRef ref, parse_function_ref(name_text, NameUse::kDelete, arn));
  NUBO_ASSIGN_OR_RETURN(std::string q, effective_qualifier(ref, t.param("Qualifier")));
  NUBO_ASSIGN_OR_RETURN(json::object o, body_object(req));
  PermissionInput in;
  NUBO_ASSIGN_OR_RETURN(in.statement_id, opt_string(o, "StatementId"));
  NUBO_ASSIGN_OR_RETURN(in.action, opt_string(o, "Action"));
  NUBO_ASSIGN_OR_RETURN(in.principal, opt_string(o, "Principal"));
  NUBO_ASSIGN_OR_RETURN(in.source_arn, opt_string(o, "SourceArn"));
  NUBO_ASSIGN_OR_RETURN(in.source_account, opt_string(o, "SourceAccount"));
  NUBO_ASSIGN_OR_RETURN(in.principal_org_id, opt_string(o, "PrincipalOrgID"));
  NUBO_ASSIGN_OR_RETURN(in.event_source_token, opt_string(o, "EventSourceToken"));
  NUBO_ASSIGN_OR_RETURN(in.function_url_auth_type, opt_string(o, "FunctionUrlAuthType"));
  NUBO_ASSIGN_OR_RETURN(auto revision, opt_string(o, "RevisionId"));
  std::string resource = q.empty() ? arn.function_arn(ref.name) : arn.qualified_arn(ref.name, q);
  NUBO_ASSIGN_OR_RETURN(json::object statement, permission_statement(in, resource));
  NUBO_ASSIGN_OR_RETURN(std::string text,
                        registry.add_permission(ref.name, q, std::move(statement), revision));
  return json_response(req, http::status::created, json::object{{"Statement", text}}, rid);
}

namespace {

// The qualifier of a function URL operation: "" or an alias. Lambda's patterns refuse a
// version, and $LATEST with a second pattern.
Result<std::string> url_qualifier(const FunctionRef& ref, const net::Target& t) {
  NUBO_ASSIGN_OR_RETURN(std::string q, effective_qualifier(ref, t.param("Qualifier")));
  if (q == kLatest) {
    return validation_error(q, "qualifier",
                            "Member must satisfy regular expression pattern: " +
                                std::string(kFunctionUrlLatestPattern));
  }
  if (is_version_number(q)) {
    return validation_error(q, "qualifier",
                            "Member must satisfy regular expression pattern: " +
                                std::string(kFunctionUrlQualifierPattern));
  }
  return q;
}

}  // namespace

// /2021-10-31/functions/NAME/url: Create (POST), Get (GET), Update (PUT), Delete (DELETE)
// FunctionUrlConfig; /2021-10-31/functions/NAME/urls: ListFunctionUrlConfigs.
Result<Response> LambdaService::Impl::event_invoke_config(Request& req, const net::Target& t,
                                                          const std::string& name_text, bool list,
                                                          const std::string& rid) {
  NUBO_ASSIGN_OR_RETURN(FunctionRef ref, parse_function_ref(name_text, NameUse::kOther, arn));
  auto method = req.method();
  std::string q = ref.qualifier.empty() ? t.param("Qualifier").value_or("") : ref.qualifier;
  if (q == kLatest) q.clear();
  NUBO_TRY(registry.get_function(ref.name, q));  // ResourceNotFoundException
  auto arn_of = [&](const std::string& qualifier) {
    return arn.qualified_arn(ref.name, qualifier.empty() ? std::string(kLatest) : qualifier);
  };
  if (list) {
    if (method != http::verb::get) return unknown_operation();
    json::array items;
    for (const auto& c : invoke_configs.of_function(ref.name)) {
      items.push_back(EventInvokeConfigs::to_json(c, arn_of(c.qualifier)));
    }
    json::object body;
    body["FunctionEventInvokeConfigs"] = std::move(items);
    return json_response(req, http::status::ok, body, rid);
  }
  std::optional<EventInvokeConfig> existing = invoke_configs.find(ref.name, q);
  auto none = [&]() {
    return Error{"ResourceNotFoundException", 404,
                 "The function " + arn_of(q) + " doesn't have an EventInvokeConfig"};
  };
  if (method == http::verb::get) {
    if (!existing) return none();
    return json_response(req, http::status::ok, EventInvokeConfigs::to_json(*existing, arn_of(q)),
                         rid);
  }
  if (method == http::verb::delete_) {
    if (!existing) return none();
    NUBO_TRY(invoke_configs.remove(ref.name, q));
    return empty_response(req, http::status::no_content, rid);
  }
  if (method != http::verb::put && method != http::verb::post) return unknown_operation();
  // Put replaces the configuration; Update (POST) changes only what it names.
  EventInvokeConfig base;
  if (method == http::verb::post && existing) base = *existing;
  base.function_name = ref.name;
  base.qualifier = q;
  auto destination_ok = [this](const std::string& d) -> Status {
    if (starts_with(d, "arn:aws:sqs:")) {
      if (deps.send_message && deps.event_sources.queue_visibility &&
          deps.event_sources.queue_visibility(d)) {
        return Ok{};
      }
    } else if (starts_with(d, "arn:aws:lambda:")) {
      auto fn = parse_function_ref(d, NameUse::kGetOrInvoke, arn);
      if (fn.ok() && registry.get_function(fn->name, fn->qualifier).ok()) return Ok{};
    }
    return Error{"InvalidParameterValueException", 400,
                 "The destination ARN " + d +
                     " is invalid (nubo delivers to SQS queues and "
                     "Lambda functions that exist)."};
  };
  NUBO_ASSIGN_OR_RETURN(EventInvokeConfig c,
                        EventInvokeConfigs::parse(req.body(), base, destination_ok));
  NUBO_TRY(invoke_configs.put(c));
  auto stored = invoke_configs.find(ref.name, q);
  return json_response(req, http::status::ok,
                       EventInvokeConfigs::to_json(stored ? *stored : c, arn_of(q)), rid);
}

Result<Response> LambdaService::Impl::function_urls(Request& req, const net::Target& t,
                                                    const std::string& name_text, bool list,
                                                    const std::string& rid) {
  NUBO_ASSIGN_OR_RETURN(FunctionRef ref, parse_function_ref(name_text, NameUse::kDelete, arn));
  auto method = req.method();
  // The node's port as it is now (the listening one once the server is bound).
  uint16_t port = deps.config->port;
  if (list) {
    if (method != http::verb::get) return unknown_operation();
    NUBO_ASSIGN_OR_RETURN(int max_items,
                          max_items_param(t, kMaxFunctionUrlListItems, kMaxFunctionUrlListItems));
    NUBO_ASSIGN_OR_RETURN(
        auto page, registry.list_url_configs(ref.name, t.param("Marker").value_or(""), max_items));
    json::array items;
    for (const auto& c : page.first) items.push_back(to_wire_json(c, arn, port, false));
    json::object body;
    body["FunctionUrlConfigs"] = std::move(items);
    if (!page.second.empty()) body["NextMarker"] = page.second;
    return json_response(req, http::status::ok, body, rid);
  }
  NUBO_ASSIGN_OR_RETURN(std::string q, url_qualifier(ref, t));
  if (method == http::verb::get) {
    NUBO_ASSIGN_OR_RETURN(FunctionUrlConfig c, registry.get_url_config(ref.name, q));
    return json_response(req, http::status::ok, to_wire_json(c, arn, port, false), rid);
  }
  if (method == http::verb::delete_) {
    NUBO_TRY(registry.delete_url_config(ref.name, q));
    return empty_response(req, http::status::no_content, rid);
  }
  if (method != http::verb::post && method != http::verb::put) return unknown_operation();
  bool create = method == http::verb::post;
  NUBO_ASSIGN_OR_RETURN(json::object o, body_object(req));
  FunctionUrlUpdate in;
  NUBO_ASSIGN_OR_RETURN(in.auth_type, opt_string(o, "AuthType"));
  NUBO_ASSIGN_OR_RETURN(in.invoke_mode, opt_string(o, "InvokeMode"));
  NUBO_ASSIGN_OR_RETURN(const json::object* cors, opt_object(o, "Cors"));
  if (create && !in.auth_type) {
    return Error{"ValidationException", 400,
                 "1 validation error detected: Value null at 'authType' failed to satisfy "
                 "constraint: Member must not be null"};
  }
  if (in.auth_type) NUBO_TRY(check_auth_type(*in.auth_type));
  if (cors) {
    NUBO_ASSIGN_OR_RETURN(FunctionUrlCors parsed, parse_cors(*cors));
    in.cors = std::move(parsed);
  }
  if (in.invoke_mode) NUBO_TRY(check_invoke_mode(*in.invoke_mode));
  if (!create) {
    NUBO_ASSIGN_OR_RETURN(FunctionUrlConfig c, registry.update_url_config(ref.name, q, in));
    return json_response(req, http::status::ok, to_wire_json(c, arn, port, false), rid);
  }
  FunctionUrlConfig c;
  c.function_name = ref.name;
  c.qualifier = q;
  c.auth_type = *in.auth_type;
  c.cors = std::move(in.cors);
  c.invoke_mode = in.invoke_mode.value_or("BUFFERED");
  NUBO_ASSIGN_OR_RETURN(c, registry.create_url_config(std::move(c)));
  return json_response(req, http::status::created, to_wire_json(c, arn, port, true), rid);
}

Result<Response> LambdaService::Impl::account_settings(Request& req, const std::string& rid) {
  NUBO_ASSIGN_OR_RETURN(AccountUsage u, registry.usage());
  NUBO_ASSIGN_OR_RETURN(auto reservations, registry.reserved_concurrencies());
  int64_t reserved = 0;
  for (const auto& [name, n] : reservations) reserved += n;
  json::object limit;
  limit["TotalCodeSize"] = kTotalCodeSize;
  limit["CodeSizeUnzipped"] = kCodeSizeUnzipped;
  limit["CodeSizeZipped"] = kCodeSizeZipped;
  limit["ConcurrentExecutions"] = deps.config->account_concurrency;
  limit["UnreservedConcurrentExecutions"] = deps.config->account_concurrency - reserved;
  json::object usage;
  usage["TotalCodeSize"] = u.total_code_size;
  usage["FunctionCount"] = u.function_count;
  json::object body;
  body["AccountLimit"] = std::move(limit);
  body["AccountUsage"] = std::move(usage);
  return json_response(req, http::status::ok, body, rid);
}

Result<Response> LambdaService::Impl::route(Request& req, const net::Target& target,
                                            const std::string& rid, const auth::Caller& caller) {
  const std::string& path = target.path;
  auto method = req.method();
  if (starts_with(path, kFunctionsPrefix)) {
    std::string_view rest = std::string_view(path).substr(kFunctionsPrefix.size());
    if (rest.empty() || rest == "/") {
      if (method == http::verb::post) return create_function(req, rid, caller);
      if (method == http::verb::get) return list_functions(req, target, rid);
      return unknown_operation();
    }
    if (rest.front() != '/') return unknown_operation();
    std::vector<std::string> seg = split(rest.substr(1), '/');
    while (!seg.empty() && seg.back().empty()) seg.pop_back();
    if (seg.empty()) return unknown_operation();
    const std::string& name = seg[0];
    if (seg.size() == 1) {
      if (method == http::verb::get) return get_function(req, target, name, false, rid);
      if (method == http::verb::delete_) return delete_function(req, target, name, rid);
      return unknown_operation();
    }
    const std::string& sub = seg[1];
    if (seg.size() == 2) {
      if (sub == "configuration") {
        if (method == http::verb::get) return get_function(req, target, name, true, rid);
        if (method == http::verb::put) return update_configuration(req, name, rid, caller);
      } else if (sub == "code" && method == http::verb::put) {
        return update_code(req, name, rid);
      } else if (sub == "versions") {
        if (method == http::verb::post) return publish_version(req, name, rid);
        if (method == http::verb::get) return list_versions(req, target, name, rid);
      } else if (sub == "aliases") {
        return aliases(req, target, name, "", false, rid);
      } else if (sub == "policy") {
        return policy(req, target, name, nullptr, rid);
      }
      return unknown_operation();
    }
    if (seg.size() == 3 && sub == "aliases") return aliases(req, target, name, seg[2], true, rid);
    if (seg.size() == 3 && sub == "policy") return policy(req, target, name, &seg[2], rid);
    return unknown_operation();
  }
  if (starts_with(path, kRecursionConfigPrefix)) {
    std::vector<std::string> seg =
        split(std::string_view(path).substr(kRecursionConfigPrefix.size()), '/');
    while (!seg.empty() && seg.back().empty()) seg.pop_back();
    if (seg.size() != 2 || seg[1] != "recursion-config") return unknown_operation();
    NUBO_ASSIGN_OR_RETURN(FunctionRef ref, parse_function_ref(seg[0], NameUse::kOther, arn));
    NUBO_TRY(registry.get_function(ref.name, ""));
    if (method == http::verb::put) {
      auto v = parse_json(req.body().empty() ? "{}" : req.body(), "InvalidRequestContentException");
      if (!v.ok()) return v.error();
      std::string loop =
          v->is_object() ? get_string(v->as_object(), "RecursiveLoop").value_or("") : "";
      if (loop != "Allow" && loop != "Terminate") {
        return validation_error(loop, "recursiveLoop",
                                "Member must satisfy enum value set: [Allow, Terminate]");
      }
      NUBO_TRY(invoke_configs.set_recursion(ref.name, loop));
    } else if (method != http::verb::get) {
      return unknown_operation();
    }
    json::object body;
    body["RecursiveLoop"] = invoke_configs.recursion(ref.name);
    return json_response(req, http::status::ok, body, rid);
  }
  if (starts_with(path, kEventInvokeConfigPrefix)) {
    std::vector<std::string> seg =
        split(std::string_view(path).substr(kEventInvokeConfigPrefix.size()), '/');
    while (!seg.empty() && seg.back().empty()) seg.pop_back();
    if ((seg.size() == 2 || (seg.size() == 3 && seg[2] == "list")) &&
        seg[1] == "event-invoke-config") {
      return event_invoke_config(req, target, seg[0], seg.size() == 3, rid);
    }
    return unknown_operation();
  }
  if (starts_with(path, kEventSourceMappingsPrefix)) {
    std::string rest = path.substr(kEventSourceMappingsPrefix.size());
    if (!rest.empty() && rest.front() != '/') return unknown_operation();
    std::map<std::string, std::string> query;
    for (const auto& [k, v] : target.query) query.emplace(k, v);
    NUBO_ASSIGN_OR_RETURN(auto answer, events->handle(method, rest, query, req.body()));
    return json_response(req, static_cast<http::status>(answer.first), answer.second, rid);
  }
  if (starts_with(path, kFunctionUrlsPrefix)) {
    std::vector<std::string> seg =
        split(std::string_view(path).substr(kFunctionUrlsPrefix.size()), '/');
    while (!seg.empty() && seg.back().empty()) seg.pop_back();
    if (seg.size() == 2 && !seg[0].empty() && (seg[1] == "url" || seg[1] == "urls")) {
      return function_urls(req, target, seg[0], seg[1] == "urls", rid);
    }
    return unknown_operation();
  }
  if (constexpr std::string_view kSuffix = "/provisioned-concurrency";
      starts_with(path, kConcurrencyGetPrefix) && ends_with(path, kSuffix) &&
      path.size() > kConcurrencyGetPrefix.size() + kSuffix.size()) {
    std::string name = path.substr(kConcurrencyGetPrefix.size(),
                                   path.size() - kConcurrencyGetPrefix.size() - kSuffix.size());
    if (name.find('/') != std::string::npos) return unknown_operation();
    return provisioned(req, target, name, rid);
  }
  for (std::string_view prefix : {kConcurrencyPutPrefix, kConcurrencyGetPrefix}) {
    constexpr std::string_view kSuffix = "/concurrency";
    if (starts_with(path, prefix) && ends_with(path, kSuffix) &&
        path.size() > prefix.size() + kSuffix.size()) {
      std::string name = path.substr(prefix.size(), path.size() - prefix.size() - kSuffix.size());
      if (name.find('/') != std::string::npos) return unknown_operation();
      return concurrency(req, name, prefix == kConcurrencyGetPrefix, rid);
    }
  }
  if (starts_with(path, kAccountSettingsPrefix)) {
    std::string_view rest = std::string_view(path).substr(kAccountSettingsPrefix.size());
    if ((rest.empty() || rest == "/") && method == http::verb::get) {
      return account_settings(req, rid);
    }
    return unknown_operation();
  }
  if (starts_with(path, kTagsPrefix)) {
    return tags(req, target, path.substr(kTagsPrefix.size()), rid);
  }
  if (starts_with(path, kLayersPrefix)) return layers(req, target, rid);
  if (starts_with(path, kCodeDownloadPrefix) && method == http::verb::get) {
    std::string file = path.substr(kCodeDownloadPrefix.size());
    if (!ends_with(file, ".zip")) return unknown_operation();
    return serve_code(req, target, file.substr(0, file.size() - 4), rid);
  }
  return unknown_operation();
}

Response LambdaService::Impl::dispatch(Request& req, const net::Target& target,
                                       const std::string& rid, const auth::Caller& caller) {
  try {
    Result<Response> r = route(req, target, rid, caller);
    if (r.ok()) return std::move(r).value();
    return error_response(req, r.error(), rid);
  } catch (const std::exception& e) {
    log_error(std::string("lambda: request failed: ") + e.what());
    return error_response(req, internal_error("An internal error occurred."), rid);
  }
}

// =============================================================================================

LambdaService::LambdaService(LambdaDeps deps) : impl_(std::make_unique<Impl>(deps)) {
  NUBO_CHECK(deps.config && deps.store && deps.invoker && deps.clock && deps.io && deps.blocking);
  EventSourceDeps e = deps.event_sources;
  e.store = deps.store;
  e.clock = deps.clock;
  e.io = deps.io;
  e.workers = deps.workers;
  e.region = deps.config->region;
  e.account_id = deps.config->account_id;
  e.invoke = [this](std::string function_arn, std::string payload) {
    return invoke_for_service(std::move(function_arn), std::move(payload));
  };
  Impl* impl = impl_.get();
  e.resolve_function = [impl](const std::string& name) -> Result<std::string> {
    NUBO_ASSIGN_OR_RETURN(FunctionRef ref,
                          parse_function_ref(name, NameUse::kGetOrInvoke, impl->arn));
    NUBO_TRY(impl->registry.get_function(ref.name, ref.qualifier));
    return ref.qualifier.empty() ? impl->arn.function_arn(ref.name)
                                 : impl->arn.qualified_arn(ref.name, ref.qualifier);
  };
  impl_->events = std::make_unique<EventSources>(std::move(e));
}

LambdaService::~LambdaService() {
  stop();
}

Status LambdaService::start() {
  NUBO_TRY(impl_->registry.start());
  NUBO_ASSIGN_OR_RETURN(auto reservations, impl_->registry.reserved_concurrencies());
  for (const auto& [name, n] : reservations) {
    impl_->deps.invoker->set_reserved_concurrency(impl_->arn.function_arn(name), n);
  }
  NUBO_ASSIGN_OR_RETURN(auto provisioned, impl_->registry.provisioned_functions());
  for (const std::string& name : provisioned) impl_->sync_provisioned(name);
  NUBO_ASSIGN_OR_RETURN(auto url_configs, impl_->registry.all_url_configs());
  {
    std::unique_lock lock(impl_->url_mu);
    for (const auto& c : url_configs) impl_->urls.emplace(c.url_id, impl_->url_target(c));
  }
  NUBO_TRY(impl_->invoke_configs.start());
  NUBO_TRY(impl_->queue.start());
  return impl_->events->start();
}

void LambdaService::stop() {
  impl_->events->stop();  // its batches in flight invoke through the queue's invoker
  impl_->queue.stop();
  // Cache refills in flight read the registry: they finish before it goes.
  impl_->closing.store(true, std::memory_order_release);
  while (impl_->refills.load(std::memory_order_acquire) > 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

Task<Result<std::string>> LambdaService::invoke_for_service(std::string function,
                                                            std::string payload) {
  Impl* impl = impl_.get();
  auto resolving = impl->resolve(function, std::nullopt);
  Result<ResolvedPtr> resolved = co_await std::move(resolving);
  if (!resolved.ok()) co_return resolved.error();
  ResolvedPtr res = *resolved;
  runtime::InvokeRequest ir;
  ir.payload = payload.empty() ? std::string("{}") : std::move(payload);
  ir.request_id = new_uuid();
  auto invoking = impl->deps.invoker->invoke(res->primary, std::move(ir));
  Result<runtime::InvokeResult> out = co_await std::move(invoking);
  if (!out.ok()) co_return out.error();
  if (!out->function_error.empty()) {
    std::string type = "Unhandled", message = out->payload;
    if (auto v = parse_json(out->payload); v.ok() && v->is_object()) {
      type = get_string(v->as_object(), "errorType").value_or(type);
      message = get_string(v->as_object(), "errorMessage").value_or(message);
    }
    co_return Error{type, 400, message};
  }
  co_return std::move(out->payload);
}

Task<Status> LambdaService::invoke_async_for_service(std::string function, std::string payload,
                                                     std::string trace) {
  auto queueing =
      impl_->invoke_async_record(std::move(function), std::move(payload), std::move(trace));
  co_return co_await std::move(queueing);
}

Task<Status> LambdaService::Impl::invoke_async_record(std::string function, std::string payload,
                                                      std::string trace) {
  Impl* impl = this;
  auto parsed = parse_function_ref(function, NameUse::kGetOrInvoke, impl->arn);
  if (!parsed.ok()) co_return parsed.error();
  auto resolving = impl->resolve(function, std::nullopt);
  Result<ResolvedPtr> resolved = co_await std::move(resolving);
  if (!resolved.ok()) co_return resolved.error();
  AsyncEvent ev;
  ev.id = new_uuid();
  ev.function_name = (*resolved)->function_name;
  ev.qualifier = parsed->qualifier;
  ev.payload = std::move(payload);
  ev.trace = std::move(trace);
  auto enqueueing = impl->queue.enqueue(std::move(ev));
  co_return co_await std::move(enqueueing);
}

Result<bool> LambdaService::service_may_invoke(const std::string& function,
                                               const std::string& action,
                                               const std::string& service_principal,
                                               const std::string& source_arn,
                                               const std::string& source_account) {
  Impl* impl = impl_.get();
  NUBO_ASSIGN_OR_RETURN(FunctionRef ref,
                        parse_function_ref(function, NameUse::kGetOrInvoke, impl->arn));
  std::string q = ref.qualifier == kLatest ? std::string() : ref.qualifier;
  NUBO_ASSIGN_OR_RETURN(Impl::PolicyPtr p, impl->policy_blocking(ref.name, q));
  if (!p->policy) return false;
  auth::RequestContext ctx;
  ctx.action = action;
  ctx.resource =
      q.empty() ? impl->arn.function_arn(ref.name) : impl->arn.qualified_arn(ref.name, q);
  ctx.service = service_principal;
  if (!source_arn.empty()) ctx.set("aws:SourceArn", source_arn);
  if (!source_account.empty()) ctx.set("aws:SourceAccount", source_account);
  return auth::evaluate(*p->policy, ctx, /*check_principal=*/true) == auth::Decision::kAllow;
}

std::optional<FunctionUrlTarget> LambdaService::find_function_url(std::string_view url_id) const {
  std::shared_lock lock(impl_->url_mu);
  auto it = impl_->urls.find(std::string(url_id));
  if (it == impl_->urls.end()) return std::nullopt;
  return *it->second;
}

Task<Status> LambdaService::authorize_url_invoke(FunctionUrlTarget target,
                                                 const auth::Caller* caller) {
  Impl* impl = impl_.get();
  auto loading = impl->policy_async(target.function_name, target.qualifier);
  Result<Impl::PolicyPtr> loaded = co_await std::move(loading);
  if (!loaded.ok()) co_return loaded.error();
  Impl::PolicyPtr policy = *loaded;
  const auth::Policy* resource_policy = policy->policy ? &*policy->policy : nullptr;
  Error forbidden{"AccessDeniedException", 403, "Forbidden"};
  if (target.auth_type == "AWS_IAM") {
    if (caller == nullptr) co_return forbidden;
    auth::Access access("lambda:InvokeFunctionUrl", target.function_arn, resource_policy);
    access.keys.emplace_back("lambda:FunctionUrlAuthType", "AWS_IAM");
    access.data_event = true;
    Status allowed = auth::authorize(*caller, access, {"AccessDeniedException", 403});
    if (!allowed.ok()) co_return forbidden;
    co_return Ok{};
  }
  // NONE: no signature is checked; only the function's policy can allow it.
  if (resource_policy == nullptr) co_return forbidden;
  auth::RequestContext ctx;
  ctx.action = "lambda:InvokeFunctionUrl";
  ctx.resource = target.function_arn;
  if (caller != nullptr) {
    ctx.principal_arn = caller->arn;
    ctx.account_id = caller->account_id;
  }
  ctx.set("lambda:FunctionUrlAuthType", "NONE");
  if (auth::evaluate(*resource_policy, ctx, /*check_principal=*/true) != auth::Decision::kAllow) {
    co_return forbidden;
  }
  co_return Ok{};
}

Task<Result<runtime::InvokeResult>> LambdaService::invoke_url_target(FunctionUrlTarget target,
                                                                     std::string payload,
                                                                     std::string request_id) {
  Impl* impl = impl_.get();
  if (static_cast<int64_t>(payload.size()) > kSyncPayloadLimit) {
    co_return Error{"RequestEntityTooLargeException", 413,
                    "Request must be smaller than " + std::to_string(kSyncPayloadLimit) +
                        " bytes for the InvokeFunction operation"};
  }
  std::optional<std::string> qualifier;
  if (!target.qualifier.empty()) qualifier = target.qualifier;
  auto resolving = impl->resolve(target.function_name, qualifier);
  Result<ResolvedPtr> resolved = co_await std::move(resolving);
  if (!resolved.ok()) co_return resolved.error();
  ResolvedPtr res = *resolved;
  if (res->state != kStateActive) {
    co_return conflict(
        "The operation cannot be performed at this time. The function is currently in the "
        "following state: " +
        res->state);
  }
  runtime::InvokeRequest ir;
  ir.payload = payload.empty() ? std::string("{}") : std::move(payload);
  ir.request_id = request_id.empty() ? new_uuid() : std::move(request_id);
  auto invoking = impl->deps.invoker->invoke(Impl::pick(*res), std::move(ir));
  co_return co_await std::move(invoking);
}

Task<Response> LambdaService::handle(Request& req, const net::Target& target,
                                     const auth::Caller& caller) {
  const std::string& path = target.path;
  // Every Lambda action is authorised before it acts (issue 4).
  auto op = lambda_action(req.method(), target, impl_->deps.config->region,
                          impl_->deps.config->account_id);
  if (op) {
    auth::Access access(op->action, op->resource);
    access.data_event = op->action == "lambda:InvokeFunction" || op->action == "lambda:InvokeAsync";
    // The function's own policy counts for anyone but root (who is allowed everything anyway,
    // so the warm root Invoke does not even look it up). Cached; a miss reads the Store on the
    // blocking pool. A function that does not exist has none: the service answers that.
    Impl::PolicyPtr policy;
    if (!caller.is_root) {
      if (auto fn = impl_->function_of(op->resource)) {
        auto loading = impl_->policy_async(fn->first, fn->second);
        Result<Impl::PolicyPtr> loaded = co_await std::move(loading);
        if (loaded.ok()) policy = *loaded;
      }
      if (policy && policy->policy) access.resource_policy = &*policy->policy;
    }
    Status allowed = auth::authorize(caller, access, {"AccessDeniedException", 403});
    if (!allowed.ok()) co_return error_response(req, allowed.error(), new_uuid());
  } else if (!caller.is_root && !starts_with(path, kCodeDownloadPrefix)) {
    // No action this request could be authorised as: it is not served to anyone but root
    // (who is allowed everything, and gets the service's own answer to what it asked).
    co_return error_response(req, unknown_operation(), new_uuid());
  }
  // Invoke stays on this io thread (cached resolution, no store access when warm).
  if (req.method() == http::verb::post && starts_with(path, kFunctionsPrefix)) {
    std::string_view rest = std::string_view(path).substr(kFunctionsPrefix.size());
    constexpr std::string_view kSuffix = "/invocations";
    if (rest.size() > kSuffix.size() + 1 && rest.front() == '/' && ends_with(rest, kSuffix)) {
      std::string name(rest.substr(1, rest.size() - 1 - kSuffix.size()));
      if (name.find('/') == std::string::npos) {
        auto invoking = impl_->invoke(req, target, std::move(name), false);
        co_return co_await std::move(invoking);
      }
    }
  }
  if (req.method() == http::verb::post && starts_with(path, kInvokeAsyncPrefix)) {
    std::string_view rest = std::string_view(path).substr(kInvokeAsyncPrefix.size());
    size_t slash = rest.find('/');
    if (slash != std::string_view::npos &&
        (rest.substr(slash) == "/invoke-async" || rest.substr(slash) == "/invoke-async/")) {
      auto invoking = impl_->invoke(req, target, std::string(rest.substr(0, slash)), true);
      co_return co_await std::move(invoking);
    }
  }
  std::string rid = new_uuid();
  Impl* impl = impl_.get();
  auto work = [impl, &req, &target, rid, &caller] {
    return impl->dispatch(req, target, rid, caller);
  };
  auto task = net::run_blocking(*impl->deps.blocking, std::move(work));
  co_return co_await std::move(task);
}

}  // namespace nubo::lambda

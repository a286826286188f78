#include "services/lambda/model.h"

#include <algorithm>

#include "base/crypto.h"
#include "services/lambda/limits.h"

namespace nubo::lambda {

std::string ArnContext::function_arn(std::string_view name) const {
  std::string arn = "arn:aws:lambda:";
  arn += region;
  arn += ':';
  arn += account_id;
  arn += ":function:";
  arn += name;
  return arn;
}

std::string ArnContext::layer_arn(std::string_view layer_name) const {
  std::string arn = "arn:aws:lambda:";
  arn += region;
  arn += ':';
  arn += account_id;
  arn += ":layer:";
  arn += layer_name;
  return arn;
}

std::string ArnContext::layer_version_arn(std::string_view layer_name, int64_t version) const {
  return layer_arn(layer_name) + ":" + std::to_string(version);
}

std::string ArnContext::qualified_arn(std::string_view name, std::string_view qualifier) const {
  std::string arn = function_arn(name);
  if (!qualifier.empty()) {
    arn += ':';
    arn += qualifier;
  }
  return arn;
}

namespace {

bool all_of_set(std::string_view s, std::string_view extra) {
  for (char c : s) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              extra.find(c) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

bool lower(char c) {
  return c >= 'a' && c <= 'z';
}
bool digit(char c) {
  return c >= '0' && c <= '9';
}

// "-[a-z]+-\d" exactly.
bool region_tail(std::string_view t) {
  if (t.size() < 4 || t[0] != '-' || !digit(t.back()) || t[t.size() - 2] != '-') return false;
  std::string_view mid = t.substr(1, t.size() - 3);
  return !mid.empty() && std::all_of(mid.begin(), mid.end(), lower);
}

// [a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d
bool region_ok(std::string_view s) {
  if (s.size() < 2 || !lower(s[0]) || !lower(s[1])) return false;
  std::string_view t = s.substr(2);
  if (region_tail(t)) return true;
  if (t.rfind("-gov", 0) == 0 && region_tail(t.substr(4))) return true;
  if (t.rfind("-iso", 0) == 0) {
    if (region_tail(t.substr(4))) return true;
    if (t.size() > 4 && lower(t[4]) && region_tail(t.substr(5))) return true;
  }
  return false;
}

bool account_ok(std::string_view s) {
  return s.size() == 12 && std::all_of(s.begin(), s.end(), digit);
}

struct NameParts {
  std::string_view region, account, name, qualifier;
  bool function_kw = false;
  bool has_qualifier = false;
};

// Matches tokens [i..] against (REGION:)?(ACCOUNT:)?(function:)?NAME(:QUALIFIER)?, trying the
// optional parts greedily first, as the regular expression does.
bool match_tokens(const std::vector<std::string_view>& tok, size_t i, int stage, NameParts& out) {
  switch (stage) {
    case 0:
      if (i < tok.size() && region_ok(tok[i])) {
        out.region = tok[i];
        if (match_tokens(tok, i + 1, 1, out)) return true;
        out.region = {};
      }
      return match_tokens(tok, i, 1, out);
    case 1:
      if (i < tok.size() && account_ok(tok[i])) {
        out.account = tok[i];
        if (match_tokens(tok, i + 1, 2, out)) return true;
        out.account = {};
      }
      return match_tokens(tok, i, 2, out);
    case 2:
      if (i < tok.size() && tok[i] == "function") {
        out.function_kw = true;
        if (match_tokens(tok, i + 1, 3, out)) return true;
        out.function_kw = false;
      }
      return match_tokens(tok, i, 3, out);
    case 3:
      if (i >= tok.size() || tok[i].empty() || !all_of_set(tok[i], "-_.")) return false;
      out.name = tok[i];
      if (i + 1 == tok.size()) return true;
      if (i + 2 == tok.size() && !tok[i + 1].empty() &&
          (tok[i + 1] == "$LATEST" || all_of_set(tok[i + 1], "-_"))) {
        out.qualifier = tok[i + 1];
        out.has_qualifier = true;
        return true;
      }
      return false;
  }
  return false;
}

// Lambda's FunctionName pattern, with '.' accepted in the name part (GetFunction/Invoke form).
bool match_name(std::string_view text, NameParts& out, bool& arn_prefix) {
  std::vector<std::string_view> tok;
  size_t start = 0;
  while (true) {
    size_t c = text.find(':', start);
    tok.push_back(
        text.substr(start, c == std::string_view::npos ? std::string_view::npos : c - start));
    if (c == std::string_view::npos) break;
    start = c + 1;
  }
  arn_prefix = false;
  if (tok.size() >= 4 && tok[0] == "arn" && tok[2] == "lambda" &&
      (tok[1].empty() ||
       (tok[1].rfind("aws", 0) == 0 && std::all_of(tok[1].begin(), tok[1].end(), [](char ch) {
          return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '-';
        })))) {
    std::vector<std::string_view> rest(tok.begin() + 3, tok.end());
    NameParts p;
    if (match_tokens(rest, 0, 0, p)) {
      out = p;
      arn_prefix = true;
      return true;
    }
  }
  return match_tokens(tok, 0, 0, out);
}

}  // namespace

bool is_version_number(std::string_view q) {
  if (q.empty()) return false;
  for (char c : q) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool is_alias_name(std::string_view q) {
  return !q.empty() && !is_version_number(q) && all_of_set(q, "-_");
}

void Validation::add(std::string_view value, std::string_view field, std::string_view constraint) {
  std::string s = "Value '";
  s += value;
  s += "' at '";
  s += field;
  s += "' failed to satisfy constraint: ";
  s += constraint;
  items_.push_back(std::move(s));
}

std::string Validation::message() const {
  std::string m = std::to_string(items_.size());
  m += items_.size() == 1 ? " validation error detected: " : " validation errors detected: ";
  for (size_t i = 0; i < items_.size(); ++i) {
    if (i) m += "; ";
    m += items_[i];
  }
  return m;
}

Status Validation::status(std::string_view code, int status) const {
  if (items_.empty()) return Ok{};
  return Error{std::string(code), status, message()};
}

Error validation_error(std::string_view value, std::string_view field,
                       std::string_view constraint) {
  Validation v;
  v.add(value, field, constraint);
  return Error{"ValidationException", 400, v.message()};
}

Error not_found(std::string message) {
  return Error{"ResourceNotFoundException", 404, std::move(message)};
}
Error conflict(std::string message) {
  return Error{"ResourceConflictException", 409, std::move(message)};
}
Error precondition_failed() {
  return Error{"PreconditionFailedException", 412,
               "The Revision Id provided does not match the latest Revision Id. Call the "
               "GetFunction/GetAlias API to retrieve the latest Revision Id"};
}

Result<FunctionRef> parse_function_ref(std::string_view text, NameUse use, const ArnContext& ctx) {
  FunctionRef ref;
  NameParts parts;
  bool arn_prefix = false;
  bool matched = match_name(text, parts, arn_prefix);
  if (matched) {
    ref.name = std::string(parts.name);
    ref.qualifier = std::string(parts.qualifier);
    ref.region = std::string(parts.region);
    ref.account = std::string(parts.account);
    ref.bare_name = !arn_prefix && parts.region.empty() && parts.account.empty() &&
                    !parts.function_kw && !parts.has_qualifier;
  }

  size_t max_len = kFunctionArnMax;
  std::string_view pattern = kNamePattern;
  switch (use) {
    case NameUse::kCreate:
      max_len = (matched && ref.bare_name) ? kFunctionNameMax : kFunctionArnMaxCreate;
      pattern = kCreateNamePattern;
      // A name with a '.' or a qualifier cannot be created.
      if (matched && (ref.name.find('.') != std::string::npos || !ref.qualifier.empty())) {
        matched = false;
      }
      break;
    case NameUse::kDelete:
      max_len = kFunctionArnMaxCreate;
      break;
    case NameUse::kGetOrInvoke:
      pattern = kNamePatternDot;
      break;
    case NameUse::kOther:
      break;
  }
  Validation v;
  if (text.size() > max_len) {
    v.add(text, "functionName",
          "Member must have length less than or equal to " + std::to_string(max_len));
  }
  if (!matched || text.empty()) {
    v.add(text, "functionName",
          "Member must satisfy regular expression pattern: " + std::string(pattern));
  }
  if (!v.empty()) {
    // CreateFunction answers a bad bare name with InvalidParameterValueException.
    bool bare = use == NameUse::kCreate && text.find(':') == std::string_view::npos;
    return Error{bare ? "InvalidParameterValueException" : "ValidationException", 400, v.message()};
  }
  if (!ref.region.empty() && ref.region != ctx.region) {
    return not_found("Functions from '" + ref.region + "' are not reachable in this region ('" +
                     ctx.region + "')");
  }
  if (!ref.account.empty() && ref.account != ctx.account_id) {
    ArnContext other{ref.region.empty() ? ctx.region : ref.region, ref.account};
    return not_found("Function not found: " + other.qualified_arn(ref.name, ref.qualifier));
  }
  return ref;
}

Result<std::string> effective_qualifier(const FunctionRef& ref,
                                        const std::optional<std::string>& param) {
  if (param) {
    Validation v;
    if (param->size() > kQualifierMax) {
      v.add(*param, "qualifier", "Member must have length less than or equal to 128");
    }
    if (param->empty() || !all_of_set(*param, "$_-")) {
      v.add(*param, "qualifier",
            "Member must satisfy regular expression pattern: " + std::string(kQualifierPattern));
    }
    NUBO_TRY(v.status());
    if (!ref.qualifier.empty() && ref.qualifier != *param) {
      return invalid_parameter(
          "The derived qualifier from the function name does not match the specified "
          "qualifier.");
    }
    return *param;
  }
  return ref.qualifier;
}

// ---- stored JSON ----

namespace {

std::string str(const json::object& o, std::string_view k) {
  return get_string(o, k).value_or("");
}
int num(const json::object& o, std::string_view k, int def) {
  auto v = get_int(o, k);
  return v ? static_cast<int>(*v) : def;
}

}  // namespace

std::string to_store_json(const VersionConfig& c) {
  json::object o;
  o["FunctionName"] = c.function_name;
  o["Version"] = c.version;
  o["Runtime"] = c.runtime;
  o["Role"] = c.role;
  o["Handler"] = c.handler;
  o["Description"] = c.description;
  o["Timeout"] = c.timeout;
  o["MemorySize"] = c.memory_size;
  o["EphemeralStorage"] = c.ephemeral_storage;
  if (c.has_environment) {
    json::object env;
    for (const auto& [k, v] : c.environment) env[k] = v;
    o["Environment"] = std::move(env);
  }
  o["TracingMode"] = c.tracing_mode;
  o["Architecture"] = c.architecture;
  o["PackageType"] = c.package_type;
  o["DeadLetterArn"] = c.dead_letter_arn;
  o["KMSKeyArn"] = c.kms_key_arn;
  json::array layers;
  for (const auto& l : c.layers) {
    layers.push_back(json::object{{"Arn", l.arn},
                                  {"CodeHex", l.code_hex},
                                  {"CodeSize", l.code_size},
                                  {"UnzippedSize", l.unzipped_size}});
  }
  o["Layers"] = std::move(layers);
  o["LogFormat"] = c.log_format;
  o["LogGroup"] = c.log_group;
  o["ApplicationLogLevel"] = c.application_log_level;
  o["SystemLogLevel"] = c.system_log_level;
  o["SnapStartApplyOn"] = c.snap_start_apply_on;
  json::array subnets, groups;
  for (const auto& id : c.vpc_subnet_ids) subnets.push_back(json::value(id));
  for (const auto& id : c.vpc_security_group_ids) groups.push_back(json::value(id));
  o["VpcSubnetIds"] = std::move(subnets);
  o["VpcSecurityGroupIds"] = std::move(groups);
  o["VpcIpv6DualStack"] = c.vpc_ipv6_dual_stack;
  o["CodeSha256"] = c.code_sha256;
  o["CodeHex"] = c.code_hex;
  o["CodeSize"] = c.code_size;
  o["CodeSizeUnzipped"] = c.code_size_unzipped;
  o["LastModified"] = c.last_modified;
  o["RevisionId"] = c.revision_id;
  o["InternalRevision"] = c.internal_revision;
  o["State"] = c.state;
  o["StateReason"] = c.state_reason;
  o["StateReasonCode"] = c.state_reason_code;
  o["LastUpdateStatus"] = c.last_update_status;
  return json::serialize(o);
}

Result<VersionConfig> version_from_store_json(std::string_view text) {
  NUBO_ASSIGN_OR_RETURN(json::value v, parse_json(text, "ServiceException"));
  if (!v.is_object()) return internal_error("corrupt lambda version record");
  const json::object& o = v.get_object();
  VersionConfig c;
  c.function_name = str(o, "FunctionName");
  c.version = str(o, "Version");
  c.runtime = str(o, "Runtime");
  c.role = str(o, "Role");
  c.handler = str(o, "Handler");
  c.description = str(o, "Description");
  c.timeout = num(o, "Timeout", kTimeoutDefault);
  c.memory_size = num(o, "MemorySize", kMemoryDefault);
  c.ephemeral_storage = num(o, "EphemeralStorage", kEphemeralDefault);
  if (const json::object* env = get_object(o, "Environment")) {
    c.has_environment = true;
    for (const auto& kv : *env) {
      c.environment.emplace_back(std::string(kv.key()), kv.value().is_string()
                                                            ? std::string(kv.value().get_string())
                                                            : std::string());
    }
  }
  c.tracing_mode = str(o, "TracingMode");
  c.architecture = str(o, "Architecture");
  c.package_type = str(o, "PackageType");
  c.dead_letter_arn = str(o, "DeadLetterArn");
  c.kms_key_arn = str(o, "KMSKeyArn");
  if (const json::array* layers = get_array(o, "Layers")) {
    for (const auto& l : *layers) {
      if (!l.is_object()) continue;
      const json::object& lo = l.get_object();
      LayerRef ref;
      ref.arn = str(lo, "Arn");
      ref.code_hex = str(lo, "CodeHex");
      ref.code_size = get_int(lo, "CodeSize").value_or(0);
      ref.unzipped_size = get_int(lo, "UnzippedSize").value_or(0);
      c.layers.push_back(std::move(ref));
    }
  }
  c.log_format = str(o, "LogFormat");
  c.log_group = str(o, "LogGroup");
  c.application_log_level = str(o, "ApplicationLogLevel");
  c.system_log_level = str(o, "SystemLogLevel");
  c.snap_start_apply_on = str(o, "SnapStartApplyOn");
  for (auto [key, out] : {std::pair{"VpcSubnetIds", &c.vpc_subnet_ids},
                          std::pair{"VpcSecurityGroupIds", &c.vpc_security_group_ids}}) {
    if (const json::array* ids = get_array(o, key)) {
      for (const auto& id : *ids) {
        if (id.is_string()) out->emplace_back(id.get_string());
      }
    }
  }
  if (auto it = o.find("VpcIpv6DualStack"); it != o.end() && it->value().is_bool()) {
    c.vpc_ipv6_dual_stack = it->value().get_bool();
  }
  c.code_sha256 = str(o, "CodeSha256");
  c.code_hex = str(o, "CodeHex");
  c.code_size = get_int(o, "CodeSize").value_or(0);
  c.code_size_unzipped = get_int(o, "CodeSizeUnzipped").value_or(0);
  c.last_modified = str(o, "LastModified");
  c.revision_id = str(o, "RevisionId");
  c.internal_revision = str(o, "InternalRevision");
  c.state = str(o, "State");
  c.state_reason = str(o, "StateReason");
  c.state_reason_code = str(o, "StateReasonCode");
  c.last_update_status = str(o, "LastUpdateStatus");
  return c;
}

std::string to_store_json(const AliasConfig& a) {
  json::object o;
  o["FunctionName"] = a.function_name;
  o["Name"] = a.name;
  o["FunctionVersion"] = a.function_version;
  o["Description"] = a.description;
  json::object w;
  for (const auto& [k, v] : a.weights) w[k] = v;
  o["Weights"] = std::move(w);
  o["RevisionId"] = a.revision_id;
  return json::serialize(o);
}

Result<AliasConfig> alias_from_store_json(std::string_view text) {
  NUBO_ASSIGN_OR_RETURN(json::value v, parse_json(text, "ServiceException"));
  if (!v.is_object()) return internal_error("corrupt lambda alias record");
  const json::object& o = v.get_object();
  AliasConfig a;
  a.function_name = str(o, "FunctionName");
  a.name = str(o, "Name");
  a.function_version = str(o, "FunctionVersion");
  a.description = str(o, "Description");
  if (const json::object* w = get_object(o, "Weights")) {
    for (const auto& kv : *w) {
      double d = kv.value().is_double()  ? kv.value().get_double()
                 : kv.value().is_int64() ? static_cast<double>(kv.value().get_int64())
                                         : 0.0;
      a.weights.emplace_back(std::string(kv.key()), d);
    }
  }
  a.revision_id = str(o, "RevisionId");
  return a;
}

// ---- wire JSON ----

std::string runtime_version_arn(std::string_view runtime, const ArnContext& ctx) {
  return "arn:aws:lambda:" + ctx.region + "::runtime:" + sha256_hex(runtime);
}

json::object to_wire_json(const VersionConfig& c, const ArnContext& ctx, const RenderOptions& ro) {
  json::object o;
  o["FunctionName"] = c.function_name;
  if (!ro.alias.empty()) {
    o["FunctionArn"] = ctx.qualified_arn(c.function_name, ro.alias);
  } else if (ro.qualified_arn) {
    o["FunctionArn"] = ctx.qualified_arn(c.function_name, c.version);
  } else {
    o["FunctionArn"] = ctx.function_arn(c.function_name);
  }
  o["Runtime"] = c.runtime;
  o["Role"] = c.role;
  o["Handler"] = c.handler;
  o["CodeSize"] = c.code_size;
  o["Description"] = c.description;
  o["Timeout"] = c.timeout;
  o["MemorySize"] = c.memory_size;
  o["LastModified"] = c.last_modified;
  o["CodeSha256"] = c.code_sha256;
  o["Version"] = c.version;
  if (c.has_environment) {
    json::object vars;
    for (const auto& [k, v] : c.environment) vars[k] = v;
    json::object env;
    env["Variables"] = std::move(vars);
    o["Environment"] = std::move(env);
  }
  if (!c.kms_key_arn.empty()) o["KMSKeyArn"] = c.kms_key_arn;
  o["TracingConfig"] = json::object{{"Mode", c.tracing_mode}};
  if (!c.dead_letter_arn.empty()) {
    o["DeadLetterConfig"] = json::object{{"TargetArn", c.dead_letter_arn}};
  }
  o["RevisionId"] = c.revision_id;
  if (!c.layers.empty()) {
    json::array layers;
    for (const auto& l : c.layers) {
      layers.push_back(json::object{{"Arn", l.arn}, {"CodeSize", l.code_size}});
    }
    o["Layers"] = std::move(layers);
  }
  switch (ro.view) {
    case ConfigView::kList:
      break;
    case ConfigView::kCreated:
      o["State"] = "Pending";
      o["StateReason"] = "The function is being created.";
      o["StateReasonCode"] = "Creating";
      break;
    case ConfigView::kUpdated:
      o["State"] = c.state;
      if (!c.state_reason.empty()) o["StateReason"] = c.state_reason;
      if (!c.state_reason_code.empty()) o["StateReasonCode"] = c.state_reason_code;
      o["LastUpdateStatus"] = "InProgress";
      o["LastUpdateStatusReason"] = "The function is being created.";
      o["LastUpdateStatusReasonCode"] = "Creating";
      break;
    case ConfigView::kFull:
      o["State"] = c.state;
      if (!c.state_reason.empty()) o["StateReason"] = c.state_reason;
      if (!c.state_reason_code.empty()) o["StateReasonCode"] = c.state_reason_code;
      o["LastUpdateStatus"] = c.last_update_status;
      break;
  }
  o["PackageType"] = c.package_type;
  o["Architectures"] = json::array{json::value(c.architecture)};
  o["EphemeralStorage"] = json::object{{"Size", c.ephemeral_storage}};
  if (c.in_vpc() || !c.vpc_security_group_ids.empty()) {
    json::array subnets, groups;
    for (const auto& id : c.vpc_subnet_ids) subnets.push_back(json::value(id));
    for (const auto& id : c.vpc_security_group_ids) groups.push_back(json::value(id));
    // No VpcId: nubo has no VPCs to name.
    o["VpcConfig"] = json::object{{"SubnetIds", std::move(subnets)},
                                  {"SecurityGroupIds", std::move(groups)},
                                  {"VpcId", ""},
                                  {"Ipv6AllowedForDualStack", c.vpc_ipv6_dual_stack}};
  }
  o["SnapStart"] = json::object{{"ApplyOn", c.snap_start_apply_on},
                                {"OptimizationStatus", c.snap_start_on() ? "On" : "Off"}};
  if (ro.view != ConfigView::kList) {
    o["RuntimeVersionConfig"] =
        json::object{{"RuntimeVersionArn", runtime_version_arn(c.runtime, ctx)}};
  }
  json::object logging;
  logging["LogFormat"] = c.log_format;
  if (!c.application_log_level.empty()) logging["ApplicationLogLevel"] = c.application_log_level;
  if (!c.system_log_level.empty()) logging["SystemLogLevel"] = c.system_log_level;
  logging["LogGroup"] = c.effective_log_group();
  o["LoggingConfig"] = std::move(logging);
  return o;
}

json::object to_wire_json(const AliasConfig& a, const ArnContext& ctx) {
  json::object o;
  o["AliasArn"] = ctx.qualified_arn(a.function_name, a.name);
  o["Name"] = a.name;
  o["FunctionVersion"] = a.function_version;
  o["Description"] = a.description;
  if (!a.weights.empty()) {
    json::object w;
    for (const auto& [k, v] : a.weights) w[k] = v;
    o["RoutingConfig"] = json::object{{"AdditionalVersionWeights", std::move(w)}};
  }
  o["RevisionId"] = a.revision_id;
  return o;
}

Result<std::optional<std::vector<std::string>>> optional_string_list(const json::object& o,
                                                                     std::string_view field) {
  auto wrong = [&] {
    return Error{"InvalidRequestContentException", 400,
                 "Could not parse request body into json: unexpected type for field '" +
                     std::string(field) + "'"};
  };
  auto it = o.find(field);
  if (it == o.end() || it->value().is_null()) return std::optional<std::vector<std::string>>();
  if (!it->value().is_array()) return wrong();
  std::vector<std::string> out;
  for (const auto& e : it->value().get_array()) {
    if (!e.is_string()) return wrong();
    out.emplace_back(e.get_string());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

}  // namespace nubo::lambda

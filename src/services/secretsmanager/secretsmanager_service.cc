#include "services/secretsmanager/secretsmanager_service.h"

// GCC 12 reports a false -Wmismatched-new-delete on the frames of some Asio coroutines here (the
// frame's operator new/delete pair is Asio's own); see GCC bug 109224.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cctype>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

#include "auth/policy.h"
#include "base/check.h"
#include "base/crypto.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/log.h"
#include "base/strings.h"
#include "net/async.h"
#include "net/protocol.h"
#include "services/secretsmanager/limits.h"
#include "services/secretsmanager/password.h"
#include "services/secretsmanager/rotation.h"
#include "services/secretsmanager/schedule.h"
#include "services/secretsmanager/secrets.h"

namespace nubo::secretsmanager {

namespace asio = boost::asio;
namespace http = net::http;

namespace {

// ---------------------------------------------------------------------------------------------
// Errors of the wire layer.

Error validation(const std::string& field, const std::string& shown, const std::string& what) {
  return Error{"ValidationException", 400,
               "1 validation error detected: Value " + shown + " at '" + field +
                   "' failed to satisfy constraint: " + what};
}
std::string quoted(const std::string& v) {
  return "'" + v + "'";
}
// How AWS shows the value of a sensitive member in a validation message.
constexpr const char* kRedacted = "'*** Sensitive Data Redacted ***'";

Error missing(const std::string& field) {
  return validation(field, "null", "Member must not be null");
}
Error serialization(const std::string& what) {
  return Error{"SerializationException", 400, what};
}
Error bad_parameter(std::string message) {
  return Error{"InvalidParameterException", 400, std::move(message)};
}
Error invalid_request(std::string message) {
  return Error{"InvalidRequestException", 400, std::move(message)};
}

// The lower-camel member name AWS uses in validation messages ("SecretId" → "secretId").
std::string field_of(std::string_view key) {
  std::string f(key);
  if (!f.empty()) f[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(f[0])));
  return f;
}

// ---------------------------------------------------------------------------------------------
// Request members: absent (or null) → nullopt; of the wrong JSON type → SerializationException.

Result<std::optional<std::string>> opt_string(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<std::string>();
  if (!it->value().is_string()) {
    return serialization("Unexpected value type in the member " + std::string(key) + ".");
  }
  return std::optional<std::string>(std::string(it->value().get_string()));
}

Result<std::optional<int64_t>> opt_int(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<int64_t>();
  auto v = get_int(o, key);
  if (!v) return serialization("Unexpected value type in the member " + std::string(key) + ".");
  return std::optional<int64_t>(*v);
}

Result<std::optional<bool>> opt_bool(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return std::optional<bool>();
  if (!it->value().is_bool()) {
    return serialization("Unexpected value type in the member " + std::string(key) + ".");
  }
  return std::optional<bool>(it->value().get_bool());
}

Result<const json::array*> opt_array(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return static_cast<const json::array*>(nullptr);
  if (!it->value().is_array()) {
    return serialization("Unexpected value type in the member " + std::string(key) + ".");
  }
  return &it->value().get_array();
}

Result<const json::object*> opt_object(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || it->value().is_null()) return static_cast<const json::object*>(nullptr);
  if (!it->value().is_object()) {
    return serialization("Unexpected value type in the member " + std::string(key) + ".");
  }
  return &it->value().get_object();
}

Result<std::vector<std::string>> string_list(const json::array& a, std::string_view key) {
  std::vector<std::string> out;
  for (const json::value& v : a) {
    if (!v.is_string()) {
      return serialization("Unexpected value type in the member " + std::string(key) + ".");
    }
    out.emplace_back(v.get_string());
  }
  return out;
}

Status check_length(const std::string& field, const std::string& v, size_t min, size_t max,
                    bool sensitive = false) {
  const std::string shown = sensitive ? kRedacted : quoted(v);
  if (v.size() < min) {
    return validation(field, shown,
                      "Member must have length greater than or equal to " + std::to_string(min));
  }
  if (v.size() > max) {
    return validation(field, shown,
                      "Member must have length less than or equal to " + std::to_string(max));
  }
  return Ok{};
}

Status check_range(const std::string& field, int64_t v, int64_t min, int64_t max) {
  if (v < min) {
    return validation(field, quoted(std::to_string(v)),
                      "Member must have value greater than or equal to " + std::to_string(min));
  }
  if (v > max) {
    return validation(field, quoted(std::to_string(v)),
                      "Member must have value less than or equal to " + std::to_string(max));
  }
  return Ok{};
}

bool name_chars_ok(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kNamePunctuation.find(c) != std::string_view::npos;
  });
}

Error invalid_name() {
  return Error{"ValidationException", 400,
               "Invalid name. Must be a valid name containing alphanumeric characters, or any of "
               "the following: -/_+=.@!"};
}

Result<std::string> required_secret_id(const json::object& o, std::string_view key = "SecretId") {
  NUBO_ASSIGN_OR_RETURN(std::optional<std::string> id, opt_string(o, key));
  if (!id) return missing(field_of(key));
  NUBO_TRY(check_length(field_of(key), *id, 1, kSecretIdMax));
  if (!starts_with(*id, "arn:") && !name_chars_ok(*id)) return invalid_name();
  return std::move(*id);
}

Result<std::string> opt_token(const json::object& o, std::string_view key = "ClientRequestToken") {
  NUBO_ASSIGN_OR_RETURN(std::optional<std::string> t, opt_string(o, key));
  if (!t) return std::string();
  NUBO_TRY(check_length(field_of(key), *t, kVersionIdMin, kVersionIdMax));
  return std::move(*t);
}

Result<std::string> opt_version_id(const json::object& o, std::string_view key) {
  NUBO_ASSIGN_OR_RETURN(std::optional<std::string> v, opt_string(o, key));
  if (!v) return std::string();
  NUBO_TRY(check_length(field_of(key), *v, kVersionIdMin, kVersionIdMax));
  return std::move(*v);
}

// SecretString / SecretBinary: one of them, or none.
Result<std::optional<SecretValue>> opt_value(const json::object& o) {
  NUBO_ASSIGN_OR_RETURN(std::optional<std::string> s, opt_string(o, "SecretString"));
  NUBO_ASSIGN_OR_RETURN(std::optional<std::string> b64, opt_string(o, "SecretBinary"));
  if (s && b64) {
    return bad_parameter(
        "You can't specify both a binary secret value and a string secret value in the same "
        "secret.");
  }
  if (s) {
    NUBO_TRY(check_length("secretString", *s, 1, kSecretValueMax, /*sensitive=*/true));
    return std::optional<SecretValue>(SecretValue{ValueKind::kString, std::move(*s)});
  }
  if (b64) {
    auto bytes = base64_decode(*b64);
    if (!bytes) return serialization("SecretBinary is not valid base64.");
    NUBO_TRY(check_length("secretBinary", *bytes, 1, kSecretValueMax, /*sensitive=*/true));
    return std::optional<SecretValue>(SecretValue{ValueKind::kBinary, std::move(*bytes)});
  }
  return std::optional<SecretValue>();
}

Result<std::optional<std::string>> opt_description(const json::object& o) {
  NUBO_ASSIGN_OR_RETURN(std::optional<std::string> d, opt_string(o, "Description"));
  if (d) NUBO_TRY(check_length("description", *d, 0, kDescriptionMax));
  return d;
}

Result<std::optional<std::string>> opt_kms_key(const json::object& o) {
  NUBO_ASSIGN_OR_RETURN(std::optional<std::string> k, opt_string(o, "KmsKeyId"));
  if (k) NUBO_TRY(check_length("kmsKeyId", *k, 0, kKmsKeyIdMax));
  return k;
}

Status check_tag_key(const std::string& key, const std::string& field) {
  NUBO_TRY(check_length(field, key, 1, kTagKeyMax));
  if (starts_with(to_lower(key), kReservedTagPrefix)) {
    return bad_parameter("Invalid tag key: the aws: prefix is reserved for AWS use.");
  }
  return Ok{};
}

Result<std::vector<Tag>> tag_list(const json::array& a) {
  std::vector<Tag> out;
  for (const json::value& v : a) {
    if (!v.is_object()) return serialization("Unexpected value type in the member Tags.");
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> k, opt_string(v.get_object(), "Key"));
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> val, opt_string(v.get_object(), "Value"));
    if (!k) return missing("tags.member.key");
    NUBO_TRY(check_tag_key(*k, "tags.member.key"));
    std::string value = val.value_or("");
    NUBO_TRY(check_length("tags.member.value", value, 0, kTagValueMax));
    auto it = std::find_if(out.begin(), out.end(), [&](const Tag& t) { return t.key == *k; });
    if (it != out.end()) {
      it->value = value;
    } else {
      out.push_back(Tag{*k, value});
    }
  }
  if (out.size() > kTagsMax) {
    return bad_parameter("The number of tags on a secret can't exceed " + std::to_string(kTagsMax) +
                         ".");
  }
  return out;
}

Result<std::vector<Filter>> filter_list(const json::array* a) {
  std::vector<Filter> out;
  if (a == nullptr) return out;
  if (a->size() > kFiltersMax) {
    return validation(
        "filters", "'[...]'",
        "Member must have length less than or equal to " + std::to_string(kFiltersMax));
  }
  static const std::set<std::string> kKeys = {
      "description", "name", "tag-key", "tag-value", "primary-region", "owning-service", "all"};
  size_t i = 0;
  for (const json::value& v : *a) {
    ++i;
    if (!v.is_object()) return serialization("Unexpected value type in the member Filters.");
    const json::object& fo = v.get_object();
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> key, opt_string(fo, "Key"));
    NUBO_ASSIGN_OR_RETURN(const json::array* values, opt_array(fo, "Values"));
    std::string where = "filters." + std::to_string(i) + ".member";
    if (!key) return bad_parameter("Invalid filter key");
    if (kKeys.count(*key) == 0) {
      return validation(where + ".key", quoted(*key),
                        "Member must satisfy enum value set: [all, name, tag-key, description, "
                        "tag-value, primary-region, owning-service]");
    }
    if (values == nullptr) return bad_parameter("Invalid filter values for key: " + *key);
    NUBO_ASSIGN_OR_RETURN(std::vector<std::string> vals, string_list(*values, "Values"));
    if (vals.empty() || vals.size() > kFilterValuesMax) {
      return validation(
          where + ".values", "'[...]'",
          "Member must have length between 1 and " + std::to_string(kFilterValuesMax));
    }
    for (const std::string& fv : vals) {
      bool ok = fv.size() <= kFilterValueMax && std::all_of(fv.begin(), fv.end(), [](char c) {
                  return std::isalnum(static_cast<unsigned char>(c)) ||
                         kFilterValuePunctuation.find(c) != std::string_view::npos;
                });
      if (!ok) {
        return validation(where + ".values", quoted(fv),
                          "Member must satisfy regular expression pattern: "
                          "^\\!?[a-zA-Z0-9 :_@\\/\\+\\=\\.\\-\\!]*$");
      }
    }
    out.push_back(Filter{*key, std::move(vals)});
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Response members.

json::value epoch(SystemTime t) {
  return static_cast<double>(epoch_ms(t)) / 1000.0;
}

json::array string_array(const std::vector<std::string>& v) {
  json::array a;
  for (const std::string& s : v) a.emplace_back(s);
  return a;
}

json::array tags_json(const std::vector<Tag>& tags) {
  json::array a;
  for (const Tag& t : tags) a.push_back(json::object{{"Key", t.key}, {"Value", t.value}});
  return a;
}

// DescribeSecret's answer, or a ListSecrets entry (its version map is SecretVersionsToStages).
json::object secret_json(const Secret& s, bool list_entry) {
  json::object o;
  o["ARN"] = s.arn;
  o["Name"] = s.name;
  if (!s.type.empty()) o["Type"] = s.type;
  if (s.has_description) o["Description"] = s.description;
  if (!s.kms_key_id.empty()) o["KmsKeyId"] = s.kms_key_id;
  if (s.rotation_configured) {
    o["RotationEnabled"] = s.rotation_enabled;
    if (!s.rotation_lambda_arn.empty()) o["RotationLambdaARN"] = s.rotation_lambda_arn;
    if (!s.rotation_rules.empty()) {
      json::object rules;
      std::optional<int64_t> days = s.rotation_rules.automatically_after_days;
      auto schedule = RotationSchedule::parse(s.rotation_rules);
      if (!days && schedule.ok()) days = schedule->days();
      if (days) rules["AutomaticallyAfterDays"] = *days;
      if (!s.rotation_rules.duration.empty()) rules["Duration"] = s.rotation_rules.duration;
      if (!s.rotation_rules.schedule_expression.empty()) {
        rules["ScheduleExpression"] = s.rotation_rules.schedule_expression;
      }
      o["RotationRules"] = std::move(rules);
      // NextRotationDate: "on or before this date" — the end of the next window.
      if (s.rotation_enabled && s.next_rotation && schedule.ok()) {
        o["NextRotationDate"] =
            epoch(schedule->window_end(*s.next_rotation) - std::chrono::seconds(1));
      }
    }
    if (s.last_rotated) o["LastRotatedDate"] = epoch(*s.last_rotated);
  }
  o["LastChangedDate"] = epoch(s.last_changed);
  if (s.last_accessed) o["LastAccessedDate"] = epoch(*s.last_accessed);
  if (s.deletion_date) o["DeletedDate"] = epoch(*s.deletion_date);
  if (!s.tags.empty()) o["Tags"] = tags_json(s.tags);
  json::object stages;
  for (const Version& v : s.versions) {
    if (!v.stages.empty()) stages[v.version_id] = string_array(v.stages);
  }
  o[list_entry ? "SecretVersionsToStages" : "VersionIdsToStages"] = std::move(stages);
  if (std::string svc = s.owning_service(); !svc.empty()) o["OwningService"] = svc;
  o["CreatedDate"] = epoch(s.created);
  return o;
}

json::object value_json(const ReadValue& v) {
  json::object o;
  o["ARN"] = v.arn;
  o["Name"] = v.name;
  o["VersionId"] = v.version_id;
  if (v.value.kind == ValueKind::kBinary) {
    o["SecretBinary"] = base64_encode(v.value.bytes);
  } else {
    o["SecretString"] = v.value.bytes;
  }
  o["VersionStages"] = string_array(v.stages);
  o["CreatedDate"] = epoch(v.created);
  return o;
}

json::object written_json(const Written& w, bool with_version, bool with_stages = false) {
  json::object o;
  o["ARN"] = w.arn;
  o["Name"] = w.name;
  if (with_version && !w.version_id.empty()) o["VersionId"] = w.version_id;
  if (with_stages) o["VersionStages"] = string_array(w.stages);
  return o;
}

// A resource policy that lets anyone in: an Allow for every principal without a condition
// (BlockPublicPolicy, ValidateResourcePolicy).
bool is_public(const auth::Policy& p) {
  for (const auth::Statement& st : p.statements) {
    if (!st.allow || !st.principal || st.not_principal || !st.conditions.empty()) continue;
    if (st.principal->any || std::find(st.principal->aws.begin(), st.principal->aws.end(), "*") !=
                                 st.principal->aws.end()) {
      return true;
    }
  }
  return false;
}

// A resource policy as Secrets Manager accepts it: it parses, and each statement names its
// Principal. MalformedPolicyDocumentException otherwise.
Result<auth::Policy> parse_resource_policy(const std::string& text) {
  auto parsed = auth::parse_policy(text);
  if (!parsed.ok()) {
    return Error{"MalformedPolicyDocumentException", 400, parsed.error().message};
  }
  for (const auth::Statement& st : parsed->statements) {
    if (!st.principal) {
      return Error{"MalformedPolicyDocumentException", 400, "Missing required field Principal"};
    }
  }
  return std::move(parsed).value();
}

}  // namespace

// -----------------------------------------------------------------------------------------------

struct SecretsManagerService::Core : std::enable_shared_from_this<Core> {
  explicit Core(SecretsDeps d)
      : deps(std::move(d)),
        secrets(deps.store, deps.clock, deps.keyring, deps.account_id, deps.region) {}

  SecretsDeps deps;
  Secrets secrets;

  // Parsed resource policies by secret ARN, with the text they were parsed from (the Store is
  // the truth: a changed text is parsed again).
  std::mutex policy_mu;
  std::map<std::string, std::pair<std::string, std::shared_ptr<const auth::Policy>>>
      policies;  // GUARDED_BY(policy_mu)

  // Background work: the timer loop and each rotation count as one in flight.
  std::mutex mu;
  std::condition_variable idle;
  int in_flight = 0;                          // GUARDED_BY(mu)
  std::set<std::string> rotating;             // GUARDED_BY(mu): ARNs with a rotation under way
  bool stopping = false;                      // GUARDED_BY(mu)
  bool started = false;                       // GUARDED_BY(mu)
  std::shared_ptr<asio::steady_timer> timer;  // GUARDED_BY(mu); used on deps.io

  // ------------------------------------------------------------------ authorisation

  std::shared_ptr<const auth::Policy> policy_of(const Secret& s) {
    if (!s.policy) return nullptr;
    std::lock_guard lock(policy_mu);
    auto it = policies.find(s.arn);
    if (it != policies.end() && it->second.first == *s.policy) return it->second.second;
    auto parsed = auth::parse_policy(*s.policy);
    if (!parsed.ok()) {
      // It parsed when it was stored; one that no longer does must not allow more than it did.
      log_warn("secretsmanager: the resource policy of " + s.arn +
               " does not parse: it denies everything");
      parsed = auth::parse_policy(
          R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",)"
          R"("Action":"*","Resource":"*"}]})");
      NUBO_CHECK(parsed.ok());
    }
    auto p = std::make_shared<const auth::Policy>(std::move(parsed).value());
    policies[s.arn] = {*s.policy, p};
    return p;
  }

  // What a request names: the secret (none when the id names none) and the ARN to authorise.
  struct Named {
    std::optional<Secret> secret;
    std::string arn;
  };

  Result<Named> named(const std::string& secret_id) {
    auto s = secrets.describe(secret_id);
    if (s.ok()) {
      std::string arn = s->arn;
      return Named{std::move(s).value(), std::move(arn)};
    }
    if (s.error().code != "ResourceNotFoundException") return s.error();
    return Named{std::nullopt, secrets.unresolved_arn(secret_id)};
  }

  using Keys = std::vector<std::pair<std::string, std::string>>;

  Status check(const auth::Caller& caller, const std::string& action, const Named& n,
               Keys keys = {}) {
    std::shared_ptr<const auth::Policy> policy;
    keys.emplace_back("secretsmanager:SecretId", n.arn);
    if (n.secret) {
      policy = policy_of(*n.secret);
      for (const Tag& t : n.secret->tags) {
        keys.emplace_back("secretsmanager:ResourceTag/" + t.key, t.value);
        keys.emplace_back("aws:ResourceTag/" + t.key, t.value);
      }
      if (!n.secret->rotation_lambda_arn.empty()) {
        keys.emplace_back("secretsmanager:resource/AllowRotationLambdaArn",
                          n.secret->rotation_lambda_arn);
      }
    }
    auth::Access access(std::string(kActionPrefix) + action, n.arn, policy.get());
    access.keys = std::move(keys);
    return auth::authorize(caller, access, auth::DenialShape{"AccessDeniedException", 400});
  }

  Status check_global(const auth::Caller& caller, const std::string& action, Keys keys = {}) {
    auth::Access access(std::string(kActionPrefix) + action, "*");
    access.keys = std::move(keys);
    return auth::authorize(caller, access, auth::DenialShape{"AccessDeniedException", 400});
  }

  // Request tags as condition keys (aws:RequestTag/<k>; aws:TagKeys when there is one key: the
  // engine's request keys hold one value each).
  static void request_tag_keys(const std::vector<Tag>& tags, Keys& keys) {
    for (const Tag& t : tags) keys.emplace_back("aws:RequestTag/" + t.key, t.value);
    if (tags.size() == 1) keys.emplace_back("aws:TagKeys", tags[0].key);
  }

  // ------------------------------------------------------------------ actions
  // Blocking. The answer's JSON; a rotation to start once answered goes to `job`.

  Result<json::object> run(const std::string& action, const json::object& o,
                           const auth::Caller& caller, std::optional<RotationJob>& job) {
    if (action == "CreateSecret") return create_secret(o, caller);
    if (action == "GetSecretValue") return get_secret_value(o, caller);
    if (action == "PutSecretValue") return put_secret_value(o, caller);
    if (action == "UpdateSecret") return update_secret(o, caller);
    if (action == "DescribeSecret") return describe_secret(o, caller);
    if (action == "ListSecrets") return list_secrets(o, caller);
    if (action == "ListSecretVersionIds") return list_secret_version_ids(o, caller);
    if (action == "UpdateSecretVersionStage") return update_secret_version_stage(o, caller);
    if (action == "DeleteSecret") return delete_secret(o, caller);
    if (action == "RestoreSecret") return restore_secret(o, caller);
    if (action == "TagResource") return tag_resource(o, caller);
    if (action == "UntagResource") return untag_resource(o, caller);
    if (action == "PutResourcePolicy") return put_resource_policy(o, caller);
    if (action == "GetResourcePolicy") return get_resource_policy(o, caller);
    if (action == "DeleteResourcePolicy") return delete_resource_policy(o, caller);
    if (action == "ValidateResourcePolicy") return validate_resource_policy(o, caller);
    if (action == "GetRandomPassword") return get_random_password(o, caller);
    if (action == "BatchGetSecretValue") return batch_get_secret_value(o, caller);
    if (action == "RotateSecret") return rotate_secret(o, caller, job);
    if (action == "CancelRotateSecret") return cancel_rotate_secret(o, caller);
    if (action == "ReplicateSecretToRegions" || action == "RemoveRegionsFromReplication" ||
        action == "StopReplicationToReplica") {
      NUBO_ASSIGN_OR_RETURN(std::string id, required_secret_id(o));
      NUBO_ASSIGN_OR_RETURN(Named n, named(id));
      NUBO_TRY(check(caller, action, n));
      if (!n.secret) return secrets.describe(id).error();
      return invalid_request("nubo serves one Region: secrets are not replicated.");
    }
    return Error{"UnknownOperationException", 400, "Unknown operation " + action};
  }

  Result<json::object> create_secret(const json::object& o, const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> name, opt_string(o, "Name"));
    if (!name) return missing("name");
    NUBO_TRY(check_length("name", *name, 1, kNameMax));
    if (!name_chars_ok(*name)) return invalid_name();
    CreateRequest r;
    r.name = *name;
    NUBO_ASSIGN_OR_RETURN(r.token, opt_token(o));
    NUBO_ASSIGN_OR_RETURN(r.description, opt_description(o));
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> kms, opt_kms_key(o));
    r.kms_key_id = kms.value_or("");
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> type, opt_string(o, "Type"));
    if (type) NUBO_TRY(check_length("type", *type, 0, kTypeMax));
    r.type = type.value_or("");
    NUBO_ASSIGN_OR_RETURN(r.value, opt_value(o));
    NUBO_ASSIGN_OR_RETURN(const json::array* tags, opt_array(o, "Tags"));
    if (tags) {
      NUBO_ASSIGN_OR_RETURN(r.tags, tag_list(*tags));
    }
    NUBO_ASSIGN_OR_RETURN(const json::array* replicas, opt_array(o, "AddReplicaRegions"));
    NUBO_ASSIGN_OR_RETURN(std::optional<bool> force_overwrite,
                          opt_bool(o, "ForceOverwriteReplicaSecret"));
    json::array replication;
    if (replicas) {
      for (const json::value& v : *replicas) {
        if (!v.is_object()) return serialization("Unexpected value type in AddReplicaRegions.");
        NUBO_ASSIGN_OR_RETURN(std::optional<std::string> region,
                              opt_string(v.get_object(), "Region"));
        if (!region || *region == deps.region) return bad_parameter("Invalid replica region.");
        // One Region per node: the replica is reported as AWS reports a failed replication.
        replication.push_back(
            json::object{{"Region", *region},
                         {"Status", "Failed"},
                         {"StatusMessage", "Replication failed: nubo serves one Region (" +
                                               deps.region + ") and does not replicate secrets."}});
      }
    }
    r.arn = secrets.new_arn(r.name);
    Keys keys = {{"secretsmanager:Name", r.name}};
    if (r.description) keys.emplace_back("secretsmanager:Description", *r.description);
    if (!r.kms_key_id.empty()) keys.emplace_back("secretsmanager:KmsKeyId", r.kms_key_id);
    if (force_overwrite) {
      keys.emplace_back("secretsmanager:ForceOverwriteReplicaSecret",
                        *force_overwrite ? "true" : "false");
    }
    request_tag_keys(r.tags, keys);
    Named n{std::nullopt, r.arn};
    NUBO_TRY(check(caller, "CreateSecret", n, std::move(keys)));
    bool with_version = r.value.has_value();
    NUBO_ASSIGN_OR_RETURN(Written w, secrets.create(std::move(r)));
    json::object out = written_json(w, with_version);
    if (!replication.empty()) out["ReplicationStatus"] = std::move(replication);
    return out;
  }

  Result<json::object> get_secret_value(const json::object& o, const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(std::string id, required_secret_id(o));
    NUBO_ASSIGN_OR_RETURN(std::string vid, opt_version_id(o, "VersionId"));
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> stage, opt_string(o, "VersionStage"));
    if (stage) NUBO_TRY(check_length("versionStage", *stage, 1, kStageMax));
    NUBO_ASSIGN_OR_RETURN(ReadValue v, read(caller, id, vid, stage.value_or("")));
    return value_json(v);
  }

  // GetSecretValue's check and read (BatchGetSecretValue reads each secret this way).
  Result<ReadValue> read(const auth::Caller& caller, const std::string& id, const std::string& vid,
                         const std::string& stage) {
    NUBO_ASSIGN_OR_RETURN(Named n, named(id));
    Keys keys;
    if (!vid.empty()) keys.emplace_back("secretsmanager:VersionId", vid);
    if (!stage.empty()) keys.emplace_back("secretsmanager:VersionStage", stage);
    NUBO_TRY(check(caller, "GetSecretValue", n, std::move(keys)));
    return secrets.get_value(id, vid, stage);
  }

  Result<json::object> put_secret_value(const json::object& o, const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(std::string id, required_secret_id(o));
    PutRequest r;
    r.secret_id = id;
    NUBO_ASSIGN_OR_RETURN(r.token, opt_token(o));
    NUBO_ASSIGN_OR_RETURN(std::optional<SecretValue> value, opt_value(o));
    NUBO_ASSIGN_OR_RETURN(const json::array* stages, opt_array(o, "VersionStages"));
    if (stages) {
      NUBO_ASSIGN_OR_RETURN(std::vector<std::string> list, string_list(*stages, "VersionStages"));
      if (list.empty() || list.size() > kStagesPerVersionMax) {
        return validation(
            "versionStages", "'[...]'",
            "Member must have length between 1 and " + std::to_string(kStagesPerVersionMax));
      }
      for (const std::string& s : list)
        NUBO_TRY(check_length("versionStages.member", s, 1, kStageMax));
      r.stages = std::move(list);
    }
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> rotation_token,
                          opt_string(o, "RotationToken"));
    if (rotation_token) {
      NUBO_TRY(check_length("rotationToken", *rotation_token, kRotationTokenMin, kRotationTokenMax,
                            /*sensitive=*/true));
    }
    NUBO_ASSIGN_OR_RETURN(Named n, named(id));
    NUBO_TRY(check(caller, "PutSecretValue", n));
    if (!n.secret) return secrets.describe(id).error();
    if (!value) {
      return bad_parameter("You must provide either SecretString or SecretBinary.");
    }
    r.value = std::move(*value);
    NUBO_ASSIGN_OR_RETURN(Written w, secrets.put_value(std::move(r)));
    return written_json(w, true, true);
  }

  Result<json::object> update_secret(const json::object& o, const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(std::string id, required_secret_id(o));
    UpdateRequest r;
    r.secret_id = id;
    NUBO_ASSIGN_OR_RETURN(r.token, opt_token(o));
    NUBO_ASSIGN_OR_RETURN(r.description, opt_description(o));
    NUBO_ASSIGN_OR_RETURN(r.kms_key_id, opt_kms_key(o));
    NUBO_ASSIGN_OR_RETURN(r.type, opt_string(o, "Type"));
    if (r.type) NUBO_TRY(check_length("type", *r.type, 0, kTypeMax));
    NUBO_ASSIGN_OR_RETURN(r.value, opt_value(o));
    Keys keys;
    if (r.description) keys.emplace_back("secretsmanager:Description", *r.description);
    if (r.kms_key_id) keys.emplace_back("secretsmanager:KmsKeyId", *r.kms_key_id);
    NUBO_ASSIGN_OR_RETURN(Named n, named(id));
    NUBO_TRY(check(caller, "UpdateSecret", n, std::move(keys)));
    if (!n.secret) return secrets.describe(id).error();
    bool with_version = r.value.has_value();
    NUBO_ASSIGN_OR_RETURN(Written w, secrets.update(std::move(r)));
    return written_json(w, with_version);
  }

  Result<json::object> describe_secret(const json::object& o, const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(std::string id, required_secret_id(o));
    NUBO_ASSIGN_OR_RETURN(Named n, named(id));
    NUBO_TRY(check(caller, "DescribeSecret", n));
    if (!n.secret) return secrets.describe(id).error();
    return secret_json(*n.secret, false);
  }

  Result<json::object> list_secrets(const json::object& o, const auth::Caller& caller) {
    ListQuery q;
    NUBO_ASSIGN_OR_RETURN(std::optional<bool> planned, opt_bool(o, "IncludePlannedDeletion"));
    q.include_planned_deletion = planned.value_or(false);
    NUBO_ASSIGN_OR_RETURN(std::optional<int64_t> max, opt_int(o, "MaxResults"));
    if (max) NUBO_TRY(check_range("maxResults", *max, 1, kListMaxResultsMax));
    q.max_results = max.value_or(kListMaxResultsDefault);
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> token, opt_string(o, "NextToken"));
    if (token) NUBO_TRY(check_length("nextToken", *token, 1, kNextTokenMax));
    q.next_token = token.value_or("");
    NUBO_ASSIGN_OR_RETURN(const json::array* filters, opt_array(o, "Filters"));
    NUBO_ASSIGN_OR_RETURN(q.filters, filter_list(filters));
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> order, opt_string(o, "SortOrder"));
    if (order && *order != "asc" && *order != "desc") {
      return validation("sortOrder", quoted(*order),
                        "Member must satisfy enum value set: [asc, desc]");
    }
    q.descending = order && *order == "desc";
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> by, opt_string(o, "SortBy"));
    if (by) {
      if (*by != "created-date" && *by != "last-accessed-date" && *by != "last-changed-date" &&
          *by != "name") {
        return validation("sortBy", quoted(*by),
                          "Member must satisfy enum value set: [created-date, last-accessed-date, "
                          "last-changed-date, name]");
      }
      q.sort_by = *by;
    }
    NUBO_TRY(check_global(caller, "ListSecrets"));
    NUBO_ASSIGN_OR_RETURN(SecretPage page, secrets.list(q));
    json::array list;
    for (const Secret& s : page.secrets) list.push_back(secret_json(s, true));
    json::object out{{"SecretList", std::move(list)}};
    if (!page.next_token.empty()) out["NextToken"] = page.next_token;
    return out;
  }

  Result<json::object> list_secret_version_ids(const json::object& o, const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(std::string id, required_secret_id(o));
    NUBO_ASSIGN_OR_RETURN(std::optional<int64_t> max, opt_int(o, "MaxResults"));
    if (max) NUBO_TRY(check_range("maxResults", *max, 1, kListMaxResultsMax));
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> token, opt_string(o, "NextToken"));
    if (token) NUBO_TRY(check_length("nextToken", *token, 1, kNextTokenMax));
    NUBO_ASSIGN_OR_RETURN(std::optional<bool> deprecated, opt_bool(o, "IncludeDeprecated"));
    NUBO_ASSIGN_OR_RETURN(Named n, named(id));
    NUBO_TRY(check(caller, "ListSecretVersionIds", n));
    NUBO_ASSIGN_OR_RETURN(
        VersionPage page,
        secrets.list_versions(id, deprecated.value_or(false), max.value_or(kListMaxResultsDefault),
                              token.value_or("")));
    json::array versions;
    for (const Version& v : page.versions) {
      json::object e;
      e["VersionId"] = v.version_id;
      if (!v.stages.empty()) e["VersionStages"] = string_array(v.stages);
      if (v.last_accessed) e["LastAccessedDate"] = epoch(*v.last_accessed);
      e["CreatedDate"] = epoch(v.created);
      if (!v.kms_key_id.empty()) e["KmsKeyIds"] = json::array{json::value(v.kms_key_id)};
      versions.push_back(std::move(e));
    }
    json::object out{{"Versions", std::move(versions)}, {"ARN", page.arn}, {"Name", page.name}};
    if (!page.next_token.empty()) out["NextToken"] = page.next_token;
    return out;
  }

  Result<json::object> update_secret_version_stage(const json::object& o,
                                                   const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(std::string id, required_secret_id(o));
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> stage, opt_string(o, "VersionStage"));
    if (!stage) return missing("versionStage");
    NUBO_TRY(check_length("versionStage", *stage, 1, kStageMax));
    NUBO_ASSIGN_OR_RETURN(std::string remove_from, opt_version_id(o, "RemoveFromVersionId"));
    NUBO_ASSIGN_OR_RETURN(std::string move_to, opt_version_id(o, "MoveToVersionId"));
    NUBO_ASSIGN_OR_RETURN(Named n, named(id));
    NUBO_TRY(
        check(caller, "UpdateSecretVersionStage", n, {{"secretsmanager:VersionStage", *stage}}));
    NUBO_ASSIGN_OR_RETURN(Written w, secrets.update_stage(id, *stage, remove_from, move_to));
    return written_json(w, false);
  }

  Result<json::object> delete_secret(const json::object& o, const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(std::string id, required_secret_id(o));
    NUBO_ASSIGN_OR_RETURN(std::optional<int64_t> window, opt_int(o, "RecoveryWindowInDays"));
    NUBO_ASSIGN_OR_RETURN(std::optional<bool> force, opt_bool(o, "ForceDeleteWithoutRecovery"));
    if (window && force.value_or(false)) {
      return bad_parameter(
          "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
    }
    if (window && (*window < kRecoveryWindowMinDays || *window > kRecoveryWindowMaxDays)) {
      return bad_parameter(
          "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).");
    }
    Keys keys;
    if (window) keys.emplace_back("secretsmanager:RecoveryWindowInDays", std::to_string(*window));
    if (force) {
      keys.emplace_back("secretsmanager:ForceDeleteWithoutRecovery", *force ? "true" : "false");
    }
    NUBO_ASSIGN_OR_RETURN(Named n, named(id));
    NUBO_TRY(check(caller, "DeleteSecret", n, std::move(keys)));
    NUBO_ASSIGN_OR_RETURN(Deleted d, secrets.remove(id, window, force.value_or(false)));
    if (force.value_or(false)) {
      std::lock_guard lock(policy_mu);
      policies.erase(d.arn);
    }
    return json::object{{"ARN", d.arn}, {"Name", d.name}, {"DeletionDate", epoch(d.deletion_date)}};
  }

  Result<json::object> restore_secret(const json::object& o, const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(std::string id, required_secret_id(o));
    NUBO_ASSIGN_OR_RETURN(Named n, named(id));
    NUBO_TRY(check(caller, "RestoreSecret", n));
    NUBO_ASSIGN_OR_RETURN(Secret s, secrets.restore(id));
    return json::object{{"ARN", s.arn}, {"Name", s.name}};
  }

  Result<json::object> tag_resource(const json::object& o, const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(std::string id, required_secret_id(o));
    NUBO_ASSIGN_OR_RETURN(const json::array* tags, opt_array(o, "Tags"));
    if (!tags) return missing("tags");
    NUBO_ASSIGN_OR_RETURN(std::vector<Tag> list, tag_list(*tags));
    Keys keys;
    request_tag_keys(list, keys);
    NUBO_ASSIGN_OR_RETURN(Named n, named(id));
    NUBO_TRY(check(caller, "TagResource", n, std::move(keys)));
    NUBO_TRY(secrets.tag(id, list));
    return json::object{};
  }

  Result<json::object> untag_resource(const json::object& o, const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(std::string id, required_secret_id(o));
    NUBO_ASSIGN_OR_RETURN(const json::array* keys_json, opt_array(o, "TagKeys"));
    if (!keys_json) return missing("tagKeys");
    NUBO_ASSIGN_OR_RETURN(std::vector<std::string> tag_keys, string_list(*keys_json, "TagKeys"));
    for (const std::string& k : tag_keys)
      NUBO_TRY(check_length("tagKeys.member", k, 1, kTagKeyMax));
    Keys keys;
    if (tag_keys.size() == 1) keys.emplace_back("aws:TagKeys", tag_keys[0]);
    NUBO_ASSIGN_OR_RETURN(Named n, named(id));
    NUBO_TRY(check(caller, "UntagResource", n, std::move(keys)));
    NUBO_TRY(secrets.untag(id, tag_keys));
    return json::object{};
  }

  Result<std::string> policy_text(const json::object& o) {
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> policy, opt_string(o, "ResourcePolicy"));
    if (!policy) return missing("resourcePolicy");
    NUBO_TRY(check_length("resourcePolicy", *policy, 1, kResourcePolicyMax));
    return std::move(*policy);
  }

  Result<json::object> put_resource_policy(const json::object& o, const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(std::string id, required_secret_id(o));
    NUBO_ASSIGN_OR_RETURN(std::string text, policy_text(o));
    NUBO_ASSIGN_OR_RETURN(std::optional<bool> block, opt_bool(o, "BlockPublicPolicy"));
    Keys keys;
    if (block) keys.emplace_back("secretsmanager:BlockPublicPolicy", *block ? "true" : "false");
    NUBO_ASSIGN_OR_RETURN(Named n, named(id));
    NUBO_TRY(check(caller, "PutResourcePolicy", n, std::move(keys)));
    if (!n.secret) return secrets.describe(id).error();
    NUBO_ASSIGN_OR_RETURN(auth::Policy parsed, parse_resource_policy(text));
    if (block.value_or(false) && is_public(parsed)) {
      return Error{"PublicPolicyException", 400,
                   "The BlockPublicPolicy parameter is set to true and the resource policy did "
                   "not prevent broad access to the secret."};
    }
    NUBO_ASSIGN_OR_RETURN(Secret s, secrets.put_policy(id, text));
    {
      std::lock_guard lock(policy_mu);
      policies[s.arn] = {text, std::make_shared<const auth::Policy>(std::move(parsed))};
    }
    return json::object{{"ARN", s.arn}, {"Name", s.name}};
  }

  Result<json::object> get_resource_policy(const json::object& o, const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(std::string id, required_secret_id(o));
    NUBO_ASSIGN_OR_RETURN(Named n, named(id));
    NUBO_TRY(check(caller, "GetResourcePolicy", n));
    if (!n.secret) return secrets.describe(id).error();
    json::object out{{"ARN", n.secret->arn}, {"Name", n.secret->name}};
    if (n.secret->policy) out["ResourcePolicy"] = *n.secret->policy;
    return out;
  }

  Result<json::object> delete_resource_policy(const json::object& o, const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(std::string id, required_secret_id(o));
    NUBO_ASSIGN_OR_RETURN(Named n, named(id));
    NUBO_TRY(check(caller, "DeleteResourcePolicy", n));
    NUBO_ASSIGN_OR_RETURN(Secret s, secrets.delete_policy(id));
    {
      std::lock_guard lock(policy_mu);
      policies.erase(s.arn);
    }
    return json::object{{"ARN", s.arn}, {"Name", s.name}};
  }

  Result<json::object> validate_resource_policy(const json::object& o, const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(std::string text, policy_text(o));
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> id, opt_string(o, "SecretId"));
    if (id) {
      NUBO_ASSIGN_OR_RETURN(std::string checked, required_secret_id(o));
      NUBO_ASSIGN_OR_RETURN(Named n, named(checked));
      NUBO_TRY(check(caller, "ValidateResourcePolicy", n));
      if (!n.secret) return secrets.describe(checked).error();
    } else {
      NUBO_TRY(check_global(caller, "ValidateResourcePolicy"));
    }
    NUBO_ASSIGN_OR_RETURN(auth::Policy parsed, parse_resource_policy(text));
    json::array errors;
    if (is_public(parsed)) {
      errors.push_back(
          json::object{{"CheckName", "BLOCK_PUBLIC_POLICY"},
                       {"ErrorMessage",
                        "The resource policy grants broad access to the secret: a statement "
                        "allows every principal without a condition."}});
    }
    bool passed = errors.empty();
    return json::object{{"PolicyValidationPassed", passed},
                        {"ValidationErrors", std::move(errors)}};
  }

  Result<json::object> get_random_password(const json::object& o, const auth::Caller& caller) {
    PasswordOptions p;
    NUBO_ASSIGN_OR_RETURN(std::optional<int64_t> length, opt_int(o, "PasswordLength"));
    if (length) NUBO_TRY(check_range("passwordLength", *length, 1, kPasswordLengthMax));
    p.length = length.value_or(kPasswordLengthDefault);
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> exclude, opt_string(o, "ExcludeCharacters"));
    if (exclude) NUBO_TRY(check_length("excludeCharacters", *exclude, 0, kExcludeCharactersMax));
    p.exclude_characters = exclude.value_or("");
    auto flag = [&](const char* key, bool& out) -> Status {
      NUBO_ASSIGN_OR_RETURN(std::optional<bool> v, opt_bool(o, key));
      if (v) out = *v;
      return Ok{};
    };
    NUBO_TRY(flag("ExcludeNumbers", p.exclude_numbers));
    NUBO_TRY(flag("ExcludePunctuation", p.exclude_punctuation));
    NUBO_TRY(flag("ExcludeUppercase", p.exclude_uppercase));
    NUBO_TRY(flag("ExcludeLowercase", p.exclude_lowercase));
    NUBO_TRY(flag("IncludeSpace", p.include_space));
    NUBO_TRY(flag("RequireEachIncludedType", p.require_each_included_type));
    NUBO_TRY(check_global(caller, "GetRandomPassword"));
    NUBO_ASSIGN_OR_RETURN(std::string pw, random_password(p));
    return json::object{{"RandomPassword", std::move(pw)}};
  }

  Result<json::object> batch_get_secret_value(const json::object& o, const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(const json::array* ids_json, opt_array(o, "SecretIdList"));
    NUBO_ASSIGN_OR_RETURN(const json::array* filters_json, opt_array(o, "Filters"));
    NUBO_ASSIGN_OR_RETURN(std::optional<int64_t> max, opt_int(o, "MaxResults"));
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> token, opt_string(o, "NextToken"));
    if (max) NUBO_TRY(check_range("maxResults", *max, 1, kBatchMaxResultsMax));
    if (token) NUBO_TRY(check_length("nextToken", *token, 1, kNextTokenMax));
    if ((ids_json != nullptr) == (filters_json != nullptr)) {
      return bad_parameter("Either 'SecretIdList' or 'Filters' must be provided, but not both.");
    }
    if (max && !filters_json) {
      return bad_parameter(
          "'Filters' not specified. 'Filters' must also be specified when 'MaxResults' is "
          "provided.");
    }
    NUBO_TRY(check_global(caller, "BatchGetSecretValue"));
    // With filters it lists, too (BatchGetSecretValue: "If you use filters, you must also
    // have secretsmanager:ListSecrets").
    if (filters_json) NUBO_TRY(check_global(caller, "ListSecrets"));
    json::array values, errors;
    auto one = [&](const std::string& id) {
      auto v = read(caller, id, "", "");
      if (v.ok()) {
        values.push_back(value_json(*v));
      } else {
        errors.push_back(json::object{
            {"SecretId", id}, {"ErrorCode", v.error().code}, {"Message", v.error().message}});
      }
    };
    json::object out;
    if (ids_json) {
      NUBO_ASSIGN_OR_RETURN(std::vector<std::string> ids, string_list(*ids_json, "SecretIdList"));
      if (ids.empty() || ids.size() > kBatchSecretIdsMax) {
        return validation(
            "secretIdList", "'[...]'",
            "Member must have length between 1 and " + std::to_string(kBatchSecretIdsMax));
      }
      for (const std::string& id : ids) {
        NUBO_TRY(check_length("secretIdList.member", id, 1, kSecretIdMax));
        one(id);
      }
    } else {
      ListQuery q;
      NUBO_ASSIGN_OR_RETURN(q.filters, filter_list(filters_json));
      q.max_results = max.value_or(kBatchMaxResultsMax);
      q.next_token = token.value_or("");
      NUBO_ASSIGN_OR_RETURN(SecretPage page, secrets.list(q));
      for (const Secret& s : page.secrets) one(s.arn);
      if (!page.next_token.empty()) out["NextToken"] = page.next_token;
    }
    out["SecretValues"] = std::move(values);
    out["Errors"] = std::move(errors);
    return out;
  }

  Result<json::object> rotate_secret(const json::object& o, const auth::Caller& caller,
                                     std::optional<RotationJob>& job) {
    NUBO_ASSIGN_OR_RETURN(std::string id, required_secret_id(o));
    RotateRequest r;
    r.secret_id = id;
    NUBO_ASSIGN_OR_RETURN(r.token, opt_token(o));
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> lambda, opt_string(o, "RotationLambdaARN"));
    if (lambda) NUBO_TRY(check_length("rotationLambdaARN", *lambda, 0, kRotationLambdaArnMax));
    r.lambda_arn = lambda;
    NUBO_ASSIGN_OR_RETURN(const json::object* rules_json, opt_object(o, "RotationRules"));
    if (rules_json) {
      RotationRules rules;
      NUBO_ASSIGN_OR_RETURN(rules.automatically_after_days,
                            opt_int(*rules_json, "AutomaticallyAfterDays"));
      if (rules.automatically_after_days) {
        NUBO_TRY(check_range("rotationRules.automaticallyAfterDays",
                             *rules.automatically_after_days, kRotationDaysMin, kRotationDaysMax));
      }
      NUBO_ASSIGN_OR_RETURN(std::optional<std::string> duration,
                            opt_string(*rules_json, "Duration"));
      if (duration) NUBO_TRY(check_length("rotationRules.duration", *duration, 2, 3));
      rules.duration = duration.value_or("");
      NUBO_ASSIGN_OR_RETURN(std::optional<std::string> expression,
                            opt_string(*rules_json, "ScheduleExpression"));
      if (expression) {
        NUBO_TRY(check_length("rotationRules.scheduleExpression", *expression, 1,
                              kScheduleExpressionMax));
      }
      rules.schedule_expression = expression.value_or("");
      if (rules.empty()) {
        return bad_parameter(
            "RotationRules must contain AutomaticallyAfterDays or ScheduleExpression.");
      }
      NUBO_TRY(RotationSchedule::parse(rules));
      r.rules = std::move(rules);
    }
    NUBO_ASSIGN_OR_RETURN(std::optional<bool> immediately, opt_bool(o, "RotateImmediately"));
    r.rotate_immediately = immediately.value_or(true);
    NUBO_ASSIGN_OR_RETURN(const json::array* external,
                          opt_array(o, "ExternalSecretRotationMetadata"));
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> external_role,
                          opt_string(o, "ExternalSecretRotationRoleArn"));
    Keys keys = {{"secretsmanager:RotateImmediately", r.rotate_immediately ? "true" : "false"},
                 {"secretsmanager:ModifyRotationRules", r.rules ? "true" : "false"}};
    if (lambda) keys.emplace_back("secretsmanager:RotationLambdaARN", *lambda);
    NUBO_ASSIGN_OR_RETURN(Named n, named(id));
    NUBO_TRY(check(caller, "RotateSecret", n, std::move(keys)));
    if (!n.secret) return secrets.describe(id).error();
    // The caller must also be allowed to invoke the rotation function (RotateSecret: "you
    // also need lambda:InvokeFunction permissions on the rotation function").
    std::string function = lambda.value_or(n.secret->rotation_lambda_arn);
    if (!function.empty()) {
      NUBO_TRY(auth::authorize(caller, {"lambda:InvokeFunction", function},
                               {"AccessDeniedException", 400}));
    }
    if (external || external_role) {
      return invalid_request(
          "nubo rotates secrets with Lambda functions only: managed external "
          "secrets are not supported.");
    }
    if (!deps.invoke) {
      return invalid_request(
          "This node cannot invoke Lambda functions, so it cannot rotate secrets.");
    }
    NUBO_ASSIGN_OR_RETURN(RotationJob j, secrets.begin_rotation(std::move(r)));
    json::object out{{"ARN", j.arn}, {"Name", j.name}, {"VersionId", j.token}};
    job = std::move(j);
    return out;
  }

  Result<json::object> cancel_rotate_secret(const json::object& o, const auth::Caller& caller) {
    NUBO_ASSIGN_OR_RETURN(std::string id, required_secret_id(o));
    NUBO_ASSIGN_OR_RETURN(Named n, named(id));
    NUBO_TRY(check(caller, "CancelRotateSecret", n));
    NUBO_ASSIGN_OR_RETURN(Written w, secrets.cancel_rotation(id));
    return written_json(w, true);
  }

  // ------------------------------------------------------------------ the request boundary

  // Blocking: the whole answer of one request.
  net::Response answer(const net::Request& req, const auth::Caller& caller,
                       std::optional<RotationJob>& job) {
    const std::string rid = caller.request_id.empty() ? new_uuid() : caller.request_id;
    Result<json::object> r = Error{"UnknownOperationException", 400, "Unknown operation"};
    std::string_view target = net::header(req, "x-amz-target");
    if (req.method() != http::verb::post) {
      r = Error{"UnknownOperationException", 400, "Secrets Manager answers POST requests only."};
    } else if (starts_with(target, kTargetPrefix)) {
      std::string action(target.substr(kTargetPrefix.size()));
      std::string_view body = req.body();
      json::object o;
      bool parsed = true;
      if (!trim(body).empty()) {
        boost::system::error_code ec;
        json::value v = json::parse(body, ec);
        if (ec || !v.is_object()) {
          // The parser's complaint names a position, never the body's text.
          r = serialization("The request body is not a JSON object.");
          parsed = false;
        } else {
          o = std::move(v.get_object());
        }
      }
      if (parsed) {
        try {
          r = run(action, o, caller, job);
        } catch (const std::exception& e) {
          log_error(std::string("secretsmanager: ") + action + " failed: " + e.what());
          r = Error{"InternalServiceError", 500, "An error occurred on the server side."};
        }
      }
    }
    if (!r.ok()) return net::error_response(req, net::Protocol::kJson, r.error(), rid);
    net::Response res = net::make_response(req, http::status::ok, json::serialize(*r),
                                           "application/x-amz-json-1.1");
    res.set("x-amzn-RequestId", rid);
    return res;
  }

  // ------------------------------------------------------------------ background work

  // Starts `job` on deps.io unless a rotation of its secret is under way or the service stops.
  void spawn_rotation(RotationJob job) {
    {
      std::lock_guard lock(mu);
      if (stopping || !rotating.insert(job.arn).second) return;
      ++in_flight;
    }
    auto self = shared_from_this();
    asio::co_spawn(*deps.io, rotation_task(self, std::move(job)), asio::detached);
  }

  static net::Task<void> rotation_task(std::shared_ptr<Core> self, RotationJob job) {
    RotationDeps rd;
    rd.secrets = &self->secrets;
    rd.blocking = self->deps.blocking;
    rd.invoke = self->deps.invoke;
    rd.stopping = [self] {
      std::lock_guard lock(self->mu);
      return self->stopping;
    };
    try {
      auto rotation = run_rotation(std::move(rd), job);
      Status st = co_await std::move(rotation);
      (void)st;  // recorded and logged by run_rotation
    } catch (const std::exception& e) {
      log_error(std::string("secretsmanager: a rotation failed: ") + e.what());
    }
    self->done(job.arn);
  }

  void done(const std::string& arn) {
    std::lock_guard lock(mu);
    if (!arn.empty()) rotating.erase(arn);
    if (--in_flight == 0) idle.notify_all();
  }

  // One pass: secrets whose recovery window ended go; due rotations start. Blocking.
  Status tick() {
    const SystemTime now = deps.clock->now();
    NUBO_ASSIGN_OR_RETURN(int purged, secrets.purge(now));
    if (purged > 0) {
      log_info("secretsmanager: removed " + std::to_string(purged) +
               " secret(s) whose recovery window ended");
    }
    NUBO_ASSIGN_OR_RETURN(std::vector<RotationJob> jobs, secrets.due_rotations(now));
    for (RotationJob& j : jobs) spawn_rotation(std::move(j));
    return Ok{};
  }

  static net::Task<void> timer_loop(std::shared_ptr<Core> self,
                                    std::shared_ptr<asio::steady_timer> timer) {
    for (;;) {
      {
        std::lock_guard lock(self->mu);
        if (self->stopping) break;
      }
      timer->expires_after(self->deps.timer_period);
      boost::system::error_code ec;
      co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ec));
      {
        std::lock_guard lock(self->mu);
        if (self->stopping) break;
      }
      Core* core = self.get();
      auto pass = [core]() -> Status { return core->tick(); };
      auto passing = net::run_blocking(*self->deps.blocking, std::move(pass));
      Status st = co_await std::move(passing);
      if (!st.ok()) log_warn("secretsmanager: the background pass failed: " + st.error().message);
    }
    self->done("");
  }
};

SecretsManagerService::SecretsManagerService(SecretsDeps deps)
    : core_(std::make_shared<Core>(std::move(deps))) {
  NUBO_CHECK(core_->deps.store && core_->deps.clock && core_->deps.blocking && core_->deps.io &&
             core_->deps.keyring);
}

SecretsManagerService::~SecretsManagerService() {
  stop();
}

Status SecretsManagerService::start() {
  NUBO_TRY(core_->secrets.start());
  std::lock_guard lock(core_->mu);
  if (core_->started || core_->stopping) return Ok{};
  core_->started = true;
  if (core_->deps.timer_period.count() > 0) {
    core_->timer = std::make_shared<asio::steady_timer>(*core_->deps.io);
    ++core_->in_flight;
    asio::co_spawn(*core_->deps.io, Core::timer_loop(core_, core_->timer), asio::detached);
  }
  return Ok{};
}

void SecretsManagerService::stop() {
  Core& c = *core_;
  {
    std::lock_guard lock(c.mu);
    if (c.stopping) return;
    c.stopping = true;
    if (c.timer) {
      asio::post(*c.deps.io, [t = c.timer] { t->cancel(); });
    }
  }
  std::unique_lock lock(c.mu);
  // Rotations in flight finish their current step (or the io threads are gone: then they
  // cannot, and their frames hold the Core alive until the io_context goes).
  if (!c.idle.wait_for(lock, std::chrono::seconds(30), [&] { return c.in_flight == 0; })) {
    log_warn("secretsmanager: stopping with background work still in flight");
  }
}

Status SecretsManagerService::tick() {
  return core_->tick();
}

void SecretsManagerService::wait_idle() {
  std::unique_lock lock(core_->mu);
  const int timer = core_->timer && !core_->stopping ? 1 : 0;
  core_->idle.wait(lock, [&] { return core_->in_flight <= timer; });
}

net::Task<net::Response> SecretsManagerService::handle(net::Request& req,
                                                       const auth::Caller& caller) {
  std::shared_ptr<Core> core = core_;
  struct Answer {
    net::Response response;
    std::optional<RotationJob> job;
  };
  auto work = [core, &req, &caller]() -> Answer {
    Answer a;
    a.response = core->answer(req, caller, a.job);
    return a;
  };
  auto task = net::run_blocking(*core->deps.blocking, std::move(work));
  Answer a = co_await std::move(task);
  // RotateSecret answers at once; the rotation runs after, in the background.
  if (a.job) core->spawn_rotation(std::move(*a.job));
  co_return std::move(a.response);
}

}  // namespace nubo::secretsmanager

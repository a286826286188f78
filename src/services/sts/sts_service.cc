#include "services/sts/sts_service.h"

// GCC 12 reports a false -Wmismatched-new-delete on the frames of some Asio coroutines here (the
// frame's operator new/delete pair is Asio's own); see GCC bug 109224.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <algorithm>
#include <cctype>
#include <chrono>
#include <map>

#include "base/ids.h"
#include "base/strings.h"
#include "net/async.h"
#include "net/protocol.h"
#include "services/iam/principals.h"

namespace nubo::sts {

namespace {

using Form = std::map<std::string, std::string>;
const auth::DenialShape kDenied{"AccessDenied", 403};

std::string param(const Form& f, const std::string& k) {
  auto it = f.find(k);
  return it == f.end() ? std::string() : it->second;
}

Error validation(const std::string& value, const std::string& field, const std::string& what) {
  return Error{"ValidationError", 400,
               "1 validation error detected: Value '" + value + "' at '" + field +
                   "' failed to satisfy constraint: " + what};
}

std::string envelope(const std::string& action, const std::string& result, const std::string& rid) {
  return "<" + action + "Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <" +
         action + "Result>\n" + result + "  </" + action +
         "Result>\n  <ResponseMetadata>\n    <RequestId>" + rid +
         "</RequestId>\n  </ResponseMetadata>\n</" + action + "Response>\n";
}

std::string credentials_xml(const auth::Credentials& c) {
  return "    <Credentials>\n      <AccessKeyId>" + c.access_key_id +
         "</AccessKeyId>\n      <SecretAccessKey>" + net::xml_escape(c.secret_access_key) +
         "</SecretAccessKey>\n      <SessionToken>" + net::xml_escape(c.session_token) +
         "</SessionToken>\n      <Expiration>" +
         format_iso8601(SystemTime(std::chrono::seconds(c.expires_epoch))) +
         "</Expiration>\n    </Credentials>\n";
}

int64_t epoch_seconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// [\w+=,.@-]*
bool session_name_chars(const std::string& v) {
  return std::all_of(v.begin(), v.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("_+=,.@-").find(c) != std::string_view::npos;
  });
}

// DurationSeconds: absent -> default; else an integer in [min, max].
Result<int> duration_param(const Form& f, int dflt, int min, int max, bool* given) {
  std::string v = param(f, "DurationSeconds");
  *given = !v.empty();
  if (v.empty()) return std::min(dflt, max);
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0') {
    return validation(v, "durationSeconds", "Member must be a number");
  }
  if (n < min) {
    return validation(v, "durationSeconds",
                      "Member must have value greater than or equal to " + std::to_string(min));
  }
  if (n > max) return Error{"ValidationError", 400, ""};  // the caller words it
  return static_cast<int>(n);
}

// PolicyArns.member.N.arn, in order.
std::vector<std::string> policy_arns(const Form& f) {
  std::vector<std::string> out;
  for (int i = 1;; ++i) {
    auto it = f.find("PolicyArns.member." + std::to_string(i) + ".arn");
    if (it == f.end()) break;
    out.push_back(it->second);
  }
  return out;
}

}  // namespace

std::string role_name_of(const std::string& arn, const std::string& account_id) {
  std::string prefix = "arn:aws:iam::" + account_id + ":role/";
  if (!starts_with(arn, prefix)) return "";
  std::string rest = arn.substr(prefix.size());
  auto slash = rest.rfind('/');
  return slash == std::string::npos ? rest : rest.substr(slash + 1);
}

StsService::StsService(StsDeps deps) : deps_(std::move(deps)) {}

Result<auth::Credentials> StsService::assume_role_as_service(const std::string& role_arn,
                                                             const std::string& session_name,
                                                             const std::string& service,
                                                             int duration_seconds,
                                                             bool reuse) const {
  const std::string key = role_arn + "\n" + session_name + "\n" + service;
  const int64_t now = epoch_seconds(deps_.clock->now());
  if (reuse) {
    std::lock_guard lock(reuse_mu_);
    auto it = reused_.find(key);
    if (it != reused_.end() && it->second.expires_epoch - now > duration_seconds / 2) {
      return it->second;
    }
  }
  std::string name = role_name_of(role_arn, deps_.account_id);
  NUBO_ASSIGN_OR_RETURN(auto role, iam::load_role(*deps_.store, name));
  if (name.empty() || !role || role->arn != role_arn) {
    return Error{"NoSuchEntity", 404, "The role " + role_arn + " cannot be found."};
  }
  NUBO_ASSIGN_OR_RETURN(auth::Policy trust, auth::parse_policy(role->trust_policy));
  auth::RequestContext ctx;
  ctx.action = "sts:AssumeRole";
  ctx.resource = role_arn;
  ctx.service = service;
  ctx.set("aws:PrincipalServiceName", service);
  if (auth::evaluate(trust, ctx, /*check_principal=*/true) != auth::Decision::kAllow) {
    return Error{
        "AccessDenied", 403,
        service + " is not authorized to perform: sts:AssumeRole on resource: " + role_arn};
  }
  auth::Credentials claims;
  claims.kind = auth::Credentials::Kind::kAssumedRole;
  claims.account_id = deps_.account_id;
  claims.role_name = role->name;
  claims.principal_id = role->id;
  claims.session_name = session_name;
  claims.principal_arn =
      "arn:aws:sts::" + deps_.account_id + ":assumed-role/" + role->name + "/" + session_name;
  claims.expires_epoch = now + duration_seconds;
  auth::Credentials c = deps_.directory->tokens().issue(std::move(claims));
  if (reuse) {
    std::lock_guard lock(reuse_mu_);
    if (reused_.size() >= kMaxReused) reused_.clear();
    reused_[key] = c;
  }
  return c;
}

net::Task<net::Response> StsService::handle(net::Request& req, const auth::Caller& caller) const {
  std::string rid = new_uuid();
  Form form = net::form_params(req);
  std::string action = param(form, "Action");
  std::string version = param(form, "Version");
  auto fail = [&](const Error& e) {
    return net::error_response(req, net::Protocol::kQuery, e, rid);
  };
  auto ok = [&](const std::string& body) {
    net::Response res = net::make_response(req, net::http::status::ok, body, "text/xml");
    res.set("x-amzn-RequestId", rid);
    return res;
  };
  if (action.empty()) co_return fail(Error{"MissingAction", 400, "Missing Action"});
  if (version != kVersion) {
    co_return fail(Error{"InvalidAction", 400,
                         "Could not find operation " + action + " for version " +
                             (version.empty() ? std::string("NO_VERSION_SPECIFIED") : version)});
  }
  int64_t now = epoch_seconds(deps_.clock->now());

  if (action == "GetCallerIdentity") {
    // No permission is needed (STS API reference): even an explicit deny cannot hide it.
    std::string user_id = caller.is_root ? caller.account_id : caller.access_key_id;
    if (caller.identity && !caller.identity->user_id.empty()) user_id = caller.identity->user_id;
    co_return ok(envelope("GetCallerIdentity",
                          "    <Arn>" + net::xml_escape(caller.arn) + "</Arn>\n    <UserId>" +
                              net::xml_escape(user_id) + "</UserId>\n    <Account>" +
                              net::xml_escape(caller.account_id) + "</Account>\n",
                          rid));
  }

  if (action == "GetSessionToken") {
    if (caller.temporary) {
      co_return fail(
          Error{"AccessDenied", 403, "Cannot call GetSessionToken with session credentials"});
    }
    // No permission is needed (STS API reference, GetSessionToken). Root's sessions last at
    // most an hour: a longer request gets an hour, not an error.
    bool given = false;
    int max = kSessionTokenMaxSeconds;
    auto duration =
        duration_param(form, kSessionTokenDefaultSeconds, kSessionTokenMinSeconds, max, &given);
    if (duration.ok() && caller.is_root) {
      *duration = std::min(*duration, kRootSessionTokenMaxSeconds);
    }
    if (!duration.ok()) {
      Error e = duration.error();
      if (e.message.empty()) {
        e = validation(param(form, "DurationSeconds"), "durationSeconds",
                       "Member must have value less than or equal to " + std::to_string(max));
      }
      co_return fail(e);
    }
    auth::Credentials claims;
    claims.kind = auth::Credentials::Kind::kSession;
    claims.account_id = caller.account_id;
    claims.principal_arn = caller.arn;
    claims.is_root = caller.is_root;
    if (caller.identity) {
      claims.user_name = caller.identity->user_name;
      claims.principal_id = caller.identity->user_id;
    }
    claims.expires_epoch = now + *duration;
    auth::Credentials c = deps_.directory->tokens().issue(std::move(claims));
    co_return ok(envelope("GetSessionToken", credentials_xml(c), rid));
  }

  if (action == "AssumeRole") {
    std::string role_arn = param(form, "RoleArn");
    std::string session = param(form, "RoleSessionName");
    if (role_arn.empty()) {
      co_return fail(Error{"ValidationError", 400,
                           "1 validation error detected: Value null at 'roleArn' failed to "
                           "satisfy constraint: Member must not be null"});
    }
    if (session.empty()) {
      co_return fail(Error{"ValidationError", 400,
                           "1 validation error detected: Value null at 'roleSessionName' failed "
                           "to satisfy constraint: Member must not be null"});
    }
    if (role_arn.size() < 20 || role_arn.size() > 2048) {
      co_return fail(validation(role_arn, "roleArn",
                                role_arn.size() < 20
                                    ? "Member must have length greater than or equal to 20"
                                    : "Member must have length less than or equal to 2048"));
    }
    if (session.size() < kRoleSessionNameMin || session.size() > kRoleSessionNameMax) {
      co_return fail(validation(session, "roleSessionName",
                                session.size() < kRoleSessionNameMin
                                    ? "Member must have length greater than or equal to 2"
                                    : "Member must have length less than or equal to 64"));
    }
    if (!session_name_chars(session)) {
      co_return fail(validation(session, "roleSessionName",
                                "Member must satisfy regular expression pattern: [\\w+=,.@-]*"));
    }
    std::string policy = param(form, "Policy");
    std::vector<std::string> arns = policy_arns(form);
    if (arns.size() > kSessionPolicyArnsMax) {
      co_return fail(Error{"ValidationError", 400,
                           "1 validation error detected: Value at 'policyArns' failed to satisfy "
                           "constraint: Member must have length less than or equal to 10"});
    }
    if (!policy.empty()) {
      if (policy.size() > kSessionPolicyMax) {
        co_return fail(Error{"PackedPolicyTooLarge", 400,
                             "Packed policy consumes " +
                                 std::to_string(policy.size() * 100 / kSessionPolicyMax) +
                                 "% of allotted space, please use smaller policy."});
      }
      auto parsed = auth::parse_policy(policy);
      if (!parsed.ok()) co_return fail(parsed.error());
    }
    std::string name = role_name_of(role_arn, deps_.account_id);
    const StsDeps* deps = &deps_;
    auto load = [deps, name,
                 arns]() -> Result<std::pair<std::optional<iam::PrincipalRecord>, bool>> {
      if (name.empty()) return std::make_pair(std::optional<iam::PrincipalRecord>(), true);
      NUBO_ASSIGN_OR_RETURN(auto role, iam::load_role(*deps->store, name));
      bool arns_ok = true;
      if (!arns.empty()) {
        arns_ok = iam::managed_policy_documents(*deps->store, deps->account_id, arns).ok();
      }
      return std::make_pair(std::move(role), arns_ok);
    };
    auto loading = net::run_blocking(*deps_.blocking, std::move(load));
    auto loaded = co_await std::move(loading);
    if (!loaded.ok()) co_return fail(loaded.error());
    auto& [role, arns_ok] = *loaded;
    Error denied{"AccessDenied", 403,
                 "User: " + caller.arn + " is not authorized to perform: sts:AssumeRole on " +
                     "resource: " + role_arn};
    if (!role || role->arn != role_arn) {
      (void)auth::authorize(caller, {"sts:AssumeRole", role_arn}, kDenied);  // audited
      co_return fail(denied);
    }
    if (!arns_ok) {
      co_return fail(Error{"InvalidParameterValue", 400,
                           "The policy ARN in PolicyArns does not exist or is not attachable."});
    }
    auto trust = auth::parse_policy(role->trust_policy);
    if (!trust.ok()) co_return fail(denied);
    auth::Access access("sts:AssumeRole", role_arn, &*trust);
    access.keys.emplace_back("sts:RoleSessionName", session);
    if (std::string ext = param(form, "ExternalId"); !ext.empty()) {
      access.keys.emplace_back("sts:ExternalId", ext);
    }
    if (std::string src = param(form, "SourceIdentity"); !src.empty()) {
      access.keys.emplace_back("sts:SourceIdentity", src);
    }
    // The trust policy decides who may become the role, for every caller, root included: it
    // must name the caller (or its role, or its account). When it names only the account,
    // the caller's own policies must allow sts:AssumeRole too (authorize() below: within one
    // account a resource policy that grants the account delegates to identity policies).
    if (auth::evaluate(*trust, auth::request_context(caller, access), true) !=
        auth::Decision::kAllow) {
      co_return fail(denied);
    }
    auto st = auth::authorize(caller, access, kDenied);
    if (!st.ok()) co_return fail(denied);

    bool chained = caller.assumed_role;
    int max = chained ? std::min(kRoleChainingMaxSeconds, role->max_session_duration)
                      : role->max_session_duration;
    bool given = false;
    auto duration =
        duration_param(form, kAssumeRoleDefaultSeconds, kAssumeRoleMinSeconds, max, &given);
    if (!duration.ok()) {
      Error e = duration.error();
      if (e.message.empty()) {
        e.message = chained ? "The requested DurationSeconds exceeds the 1 hour session limit "
                              "for roles assumed by role chaining."
                            : "The requested DurationSeconds exceeds the MaxSessionDuration set "
                              "for this role.";
      }
      co_return fail(e);
    }
    auth::Credentials claims;
    claims.kind = auth::Credentials::Kind::kAssumedRole;
    claims.account_id = deps_.account_id;
    claims.role_name = role->name;
    claims.principal_id = role->id;
    claims.session_name = session;
    claims.session_policy = policy;
    claims.session_policy_arns = arns;
    claims.principal_arn =
        "arn:aws:sts::" + deps_.account_id + ":assumed-role/" + role->name + "/" + session;
    claims.expires_epoch = now + *duration;
    auth::Credentials c = deps_.directory->tokens().issue(claims);
    std::string body = credentials_xml(c) + "    <AssumedRoleUser>\n      <AssumedRoleId>" +
                       role->id + ":" + net::xml_escape(session) + "</AssumedRoleId>\n      <Arn>" +
                       net::xml_escape(claims.principal_arn) + "</Arn>\n    </AssumedRoleUser>\n";
    if (!policy.empty()) {
      body += "    <PackedPolicySize>" + std::to_string(policy.size() * 100 / kSessionPolicyMax) +
              "</PackedPolicySize>\n";
    }
    if (std::string src = param(form, "SourceIdentity"); !src.empty()) {
      body += "    <SourceIdentity>" + net::xml_escape(src) + "</SourceIdentity>\n";
    }
    co_return ok(envelope("AssumeRole", body, rid));
  }

  co_return fail(Error{"InvalidAction", 400,
                       "Could not find operation " + action + " for version " + version});
}

}  // namespace nubo::sts

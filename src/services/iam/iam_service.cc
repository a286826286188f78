#include "services/iam/iam_service.h"

// GCC 12 reports a false -Wmismatched-new-delete on the frames of some Asio coroutines here (the
// frame's operator new/delete pair is Asio's own); see GCC bug 109224.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <algorithm>
#include <cctype>
#include <map>

#include "base/ids.h"
#include "base/log.h"
#include "base/strings.h"
#include "net/async.h"
#include "net/protocol.h"
#include "services/iam/roles.h"

namespace nubo::iam {

namespace {

using Params = std::map<std::string, std::string>;

Error validation(const std::string& value, const std::string& field, const std::string& what) {
  return Error{"ValidationError", 400,
               "1 validation error detected: Value '" + value + "' at '" + field +
                   "' failed to satisfy constraint: " + what};
}

// [\w+=,.@-]+ of 1..max characters.
Status check_name(const Params& p, const char* key, const char* field, size_t max) {
  auto it = p.find(key);
  if (it == p.end()) {
    return Error{"ValidationError", 400,
                 "1 validation error detected: Value null at '" + std::string(field) +
                     "' failed to satisfy constraint: Member must not be null"};
  }
  const std::string& v = it->second;
  if (v.empty() || v.size() > max) {
    return validation(v, field,
                      "Member must have length less than or equal to " + std::to_string(max));
  }
  bool ok = std::all_of(v.begin(), v.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) ||
           std::string_view("_+=,.@-").find(c) != std::string_view::npos;
  });
  if (!ok)
    return validation(v, field, "Member must satisfy regular expression pattern: [\\w+=,.@-]+");
  return Ok{};
}

std::string param(const Params& p, const char* key) {
  auto it = p.find(key);
  return it == p.end() ? std::string() : it->second;
}

// A Role element (tag "Role", or "member" in a list).
std::string role_xml(const Role& r, const std::string& tag = "Role") {
  std::string x = "<" + tag + ">";
  x += "<Path>" + net::xml_escape(r.path) + "</Path>";
  x += "<RoleName>" + net::xml_escape(r.name) + "</RoleName>";
  x += "<RoleId>" + r.role_id + "</RoleId>";
  x += "<Arn>" + net::xml_escape(r.arn) + "</Arn>";
  x += "<CreateDate>" + r.create_date + "</CreateDate>";
  // IAM returns policy documents URL-encoded (the SDKs decode them).
  x += "<AssumeRolePolicyDocument>" + net::xml_escape(url_encode(r.trust_policy)) +
       "</AssumeRolePolicyDocument>";
  if (!r.description.empty()) {
    x += "<Description>" + net::xml_escape(r.description) + "</Description>";
  }
  x += "<MaxSessionDuration>" + std::to_string(r.max_session_duration) + "</MaxSessionDuration>";
  return x + "</" + tag + ">";
}

// <ActionResponse><ActionResult>result</ActionResult><ResponseMetadata>...</...>
std::string envelope(const std::string& action, const std::string& result, const std::string& rid) {
  std::string x = "<" + action + "Response xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">";
  if (!result.empty() || action.rfind("Get", 0) == 0 || action.rfind("List", 0) == 0 ||
      action.rfind("Create", 0) == 0) {
    x += "<" + action + "Result>" + result + "</" + action + "Result>";
  }
  x += "<ResponseMetadata><RequestId>" + rid + "</RequestId></ResponseMetadata>";
  return x + "</" + action + "Response>";
}

Result<int> max_items(const Params& p) {
  std::string v = param(p, "MaxItems");
  if (v.empty()) return kMaxItemsDefault;
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (*end != '\0' || n < 1 || n > 1000) {
    return validation(v, "maxItems", "Member must have value between 1 and 1000");
  }
  return static_cast<int>(n);
}

}  // namespace

struct IamService::Impl {
  explicit Impl(IamDeps d) : deps(std::move(d)), roles(deps.store, deps.clock, deps.account_id) {}

  IamDeps deps;
  Roles roles;

  // Blocking: the action's work; the XML of its Result element.
  Result<std::string> run(const std::string& action, const Params& p) {
    if (action == "CreateRole") {
      NUBO_TRY(check_name(p, "RoleName", "roleName", kRoleNameMax));
      Role r;
      r.name = param(p, "RoleName");
      r.trust_policy = param(p, "AssumeRolePolicyDocument");
      if (r.trust_policy.empty()) {
        return Error{"ValidationError", 400,
                     "1 validation error detected: Value null at 'assumeRolePolicyDocument' "
                     "failed to satisfy constraint: Member must not be null"};
      }
      if (policy_size(r.trust_policy) > kTrustPolicyMax) {
        return Error{"LimitExceeded", 409,
                     "Cannot exceed quota for ACLSizePerRole: " + std::to_string(kTrustPolicyMax)};
      }
      if (auto path = param(p, "Path"); !path.empty()) {
        if (path.size() > kPathMax || path.front() != '/' || path.back() != '/') {
          return validation(path, "path",
                            "Member must satisfy regular expression pattern: "
                            "(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)");
        }
        r.path = path;
      }
      r.description = param(p, "Description");
      if (r.description.size() > kRoleDescriptionMax) {
        return validation(r.description, "description",
                          "Member must have length less than or equal to 1000");
      }
      if (auto d = param(p, "MaxSessionDuration"); !d.empty()) {
        char* end = nullptr;
        long n = std::strtol(d.c_str(), &end, 10);
        if (*end != '\0' || n < kMaxSessionMin || n > kMaxSessionMax) {
          return validation(d, "maxSessionDuration",
                            "Member must have value between 3600 and 43200");
        }
        r.max_session_duration = static_cast<int>(n);
      }
      NUBO_ASSIGN_OR_RETURN(Role made, roles.create(std::move(r)));
      return role_xml(made);
    }
    if (action == "GetRole") {
      NUBO_TRY(check_name(p, "RoleName", "roleName", kRoleNameMax));
      NUBO_ASSIGN_OR_RETURN(Role r, roles.get(param(p, "RoleName")));
      return role_xml(r);
    }
    if (action == "DeleteRole") {
      NUBO_TRY(check_name(p, "RoleName", "roleName", kRoleNameMax));
      NUBO_TRY(roles.remove(param(p, "RoleName")));
      return std::string();
    }
    if (action == "ListRoles") {
      NUBO_ASSIGN_OR_RETURN(int n, max_items(p));
      std::string prefix = param(p, "PathPrefix");
      if (prefix.empty()) prefix = "/";
      NUBO_ASSIGN_OR_RETURN(RolePage page, roles.list(prefix, param(p, "Marker"), n));
      std::string x = "<Roles>";
      for (const Role& r : page.roles) x += role_xml(r, "member");
      x += "</Roles>";
      x += std::string("<IsTruncated>") + (page.marker.empty() ? "false" : "true") +
           "</IsTruncated>";
      if (!page.marker.empty()) x += "<Marker>" + net::xml_escape(page.marker) + "</Marker>";
      return x;
    }
    if (action == "PutRolePolicy" || action == "GetRolePolicy" || action == "DeleteRolePolicy") {
      NUBO_TRY(check_name(p, "RoleName", "roleName", kRoleNameMax));
      NUBO_TRY(check_name(p, "PolicyName", "policyName", kPolicyNameMax));
      std::string role = param(p, "RoleName"), name = param(p, "PolicyName");
      if (action == "PutRolePolicy") {
        std::string doc = param(p, "PolicyDocument");
        if (doc.empty()) {
          return Error{"ValidationError", 400,
                       "1 validation error detected: Value null at 'policyDocument' failed to "
                       "satisfy constraint: Member must not be null"};
        }
        NUBO_TRY(roles.put_policy(role, name, doc));
        return std::string();
      }
      if (action == "DeleteRolePolicy") {
        NUBO_TRY(roles.delete_policy(role, name));
        return std::string();
      }
      NUBO_ASSIGN_OR_RETURN(std::string doc, roles.get_policy(role, name));
      return "<RoleName>" + net::xml_escape(role) + "</RoleName><PolicyName>" +
             net::xml_escape(name) + "</PolicyName><PolicyDocument>" +
             net::xml_escape(url_encode(doc)) + "</PolicyDocument>";
    }
    if (action == "ListRolePolicies") {
      NUBO_TRY(check_name(p, "RoleName", "roleName", kRoleNameMax));
      NUBO_ASSIGN_OR_RETURN(auto names, roles.list_policies(param(p, "RoleName")));
      std::string x = "<PolicyNames>";
      for (const auto& n : names) x += "<member>" + net::xml_escape(n) + "</member>";
      return x + "</PolicyNames><IsTruncated>false</IsTruncated>";
    }
    return Error{"InvalidAction", 400,
                 "Could not find operation " + action + " for version " + kVersion +
                     " (nubo's IAM has roles and their inline policies so far)"};
  }

  net::Response answer(const net::Request& req) {
    std::string rid = new_uuid();
    Params p = net::form_params(req);
    std::string action = param(p, "Action");
    Result<std::string> r = Error{"MissingAction", 400, "Missing Action"};
    if (!action.empty()) {
      if (param(p, "Version") != kVersion) {
        r = Error{"InvalidAction", 400,
                  "Could not find operation " + action + " for version " + param(p, "Version")};
      } else {
        try {
          r = run(action, p);
        } catch (const std::exception& e) {
          log_error(std::string("iam: request failed: ") + e.what());
          r = Error{"ServiceFailure", 500, "An internal error occurred."};
        }
      }
    }
    if (!r.ok()) return net::error_response(req, net::Protocol::kQuery, r.error(), rid);
    net::Response res =
        net::make_response(req, net::http::status::ok, envelope(action, *r, rid), "text/xml");
    res.set("x-amzn-RequestId", rid);
    return res;
  }
};

IamService::IamService(IamDeps deps) : impl_(std::make_unique<Impl>(std::move(deps))) {
  NUBO_CHECK(impl_->deps.store && impl_->deps.clock && impl_->deps.blocking);
}

IamService::~IamService() = default;

Status IamService::start() {
  return impl_->roles.start();
}

net::Task<net::Response> IamService::handle(net::Request& req, const Principal& caller) {
  (void)caller;  // every caller is the root key pair until IAM users and roles sign requests
  Impl* impl = impl_.get();
  auto work = [impl, &req] { return impl->answer(req); };
  auto task = net::run_blocking(*impl->deps.blocking, std::move(work));
  co_return co_await std::move(task);
}

}  // namespace nubo::iam

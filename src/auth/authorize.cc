#include "auth/authorize.h"

#include <chrono>

#include "base/strings.h"

namespace nubo::auth {

namespace {

// The request's condition keys, computed when a policy asks for one (RequestContext's
// resolver; its sources are the Caller and the Access): the service's keys, then the caller's
// global ones.
bool request_key(const RequestContext& ctx, std::string_view key, std::vector<std::string>& out) {
  const Caller& caller = *static_cast<const Caller*>(ctx.sources[0]);
  const Access& access = *static_cast<const Access*>(ctx.sources[1]);
  auto one = [&](std::string value) {
    out.push_back(std::move(value));
    return true;
  };
  for (const auto& [k, v] : access.keys) {  // keys match case-insensitively
    if (iequals(k, key)) return one(v);
  }
  const Identity* id = caller.identity.get();
  if (key == "aws:principalarn") return one(caller.arn);
  if (key == "aws:principalaccount") return one(caller.account_id);
  if (key == "aws:securetransport") return one(caller.secure_transport ? "true" : "false");
  if (key == "aws:sourceip") return !caller.source_ip.empty() && one(caller.source_ip);
  if (key == "aws:useragent") return !caller.user_agent.empty() && one(caller.user_agent);
  if (key == "aws:currenttime" || key == "aws:epochtime") {
    SystemTime now = caller.time == SystemTime{} ? std::chrono::system_clock::now() : caller.time;
    if (key == "aws:currenttime") return one(format_iso8601(now));
    return one(std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count()));
  }
  if (key == "aws:principaltype") {
    if (id != nullptr) return !id->principal_type.empty() && one(id->principal_type);
    return caller.is_root && one("Account");
  }
  if (key == "aws:userid") {
    if (id != nullptr) return !id->user_id.empty() && one(id->user_id);
    return caller.is_root && one(caller.account_id);
  }
  if (key == "aws:username") return id != nullptr && !id->user_name.empty() && one(id->user_name);
  constexpr std::string_view kTag = "aws:principaltag/";
  if (id != nullptr && key.substr(0, kTag.size()) == kTag) {
    for (const auto& [k, v] : id->tags) {  // tag keys match case-insensitively
      if (to_lower(k) == key.substr(kTag.size())) return one(v);
    }
  }
  return false;
}

}  // namespace

RequestContext request_context(const Caller& caller, const Access& access) {
  RequestContext ctx;
  ctx.action = access.action;
  ctx.resource = access.resource;
  ctx.principal_arn = caller.arn;
  ctx.account_id = caller.account_id;
  ctx.resolve = request_key;
  ctx.sources = {&caller, &access};
  return ctx;
}

namespace {

std::string event_source(const std::string& action) {
  auto colon = action.find(':');
  return (colon == std::string::npos ? action : action.substr(0, colon)) + ".amazonaws.com";
}

}  // namespace

Caller root_caller(const std::string& account_id) {
  Caller c;
  c.arn = "arn:aws:iam::" + account_id + ":root";
  c.account_id = account_id;
  c.is_root = true;
  return c;
}

Decision decide_for(const Caller& caller, const Access& access) {
  if (caller.is_root) return Decision::kAllow;
  RequestContext ctx = request_context(caller, access);
  PolicySet set;
  if (caller.identity) {
    set.identity.reserve(caller.identity->policies.size());
    for (const auto& p : caller.identity->policies) set.identity.push_back(p.get());
    set.session.reserve(caller.identity->session.size());
    for (const auto& p : caller.identity->session) set.session.push_back(p.get());
  }
  if (access.resource_policy != nullptr) set.resource.push_back(access.resource_policy);
  return decide(set, ctx);
}

Status authorize(const Caller& caller, const Access& access, const DenialShape& shape) {
  Decision d = decide_for(caller, access);
  if (caller.audit != nullptr &&
      (!access.data_event || d != Decision::kAllow || caller.audit->wants_data_events())) {
    AuditEvent e;
    e.time = caller.time == SystemTime{} ? std::chrono::system_clock::now() : caller.time;
    e.event_source = event_source(access.action);
    auto colon = access.action.find(':');
    e.event_name = colon == std::string::npos ? access.action : access.action.substr(colon + 1);
    e.principal_arn = caller.arn;
    e.access_key_id = caller.access_key_id;
    e.action = access.action;
    e.resource = access.resource;
    e.allowed = d == Decision::kAllow;
    e.source_ip = caller.source_ip;
    e.user_agent = caller.user_agent;
    e.request_id = caller.request_id;
    caller.audit->record(std::move(e));
  }
  if (d == Decision::kAllow) return Ok{};
  std::string why;
  if (d == Decision::kExplicitDeny) {
    // Which kind of policy denied: the resource's when it alone denies.
    bool identity_denies = false;
    if (caller.identity) {
      RequestContext ctx = request_context(caller, access);
      for (const auto& p : caller.identity->policies) {
        if (evaluate(*p, ctx) == Decision::kExplicitDeny) identity_denies = true;
      }
      for (const auto& p : caller.identity->session) {
        if (evaluate(*p, ctx) == Decision::kExplicitDeny) identity_denies = true;
      }
    }
    why = identity_denies || access.resource_policy == nullptr
              ? "with an explicit deny in an identity-based policy"
              : "with an explicit deny in a resource-based policy";
  } else if (caller.identity && !caller.identity->session.empty() && [&] {
               // The identity alone would allow: the session policies are what denies.
               PolicySet alone;
               for (const auto& p : caller.identity->policies) alone.identity.push_back(p.get());
               return decide(alone, request_context(caller, access)) == Decision::kAllow;
             }()) {
    why = "because no session policy allows the " + access.action + " action";
  } else {
    why = "because no identity-based policy allows the " + access.action + " action";
  }
  return Error{shape.code, shape.status,
               "User: " + caller.arn + " is not authorized to perform: " + access.action +
                   " on resource: " + access.resource + " " + why};
}

}  // namespace nubo::auth

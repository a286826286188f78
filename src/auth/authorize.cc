#include "auth/authorize.h"

#include <chrono>

namespace nubo::auth {

RequestContext request_context(const Caller& caller, const Access& access) {
  RequestContext ctx;
  ctx.action = access.action;
  ctx.resource = access.resource;
  ctx.principal_arn = caller.arn;
  ctx.account_id = caller.account_id;
  ctx.set("aws:PrincipalArn", caller.arn);
  ctx.set("aws:PrincipalAccount", caller.account_id);
  if (!caller.source_ip.empty()) ctx.set("aws:SourceIp", caller.source_ip);
  ctx.set("aws:SecureTransport", caller.secure_transport ? "true" : "false");
  SystemTime now = caller.time == SystemTime{} ? std::chrono::system_clock::now() : caller.time;
  ctx.set("aws:CurrentTime", format_iso8601(now));
  ctx.set("aws:EpochTime",
          std::to_string(
              std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count()));
  if (!caller.user_agent.empty()) ctx.set("aws:UserAgent", caller.user_agent);
  if (caller.identity) {
    const Identity& id = *caller.identity;
    if (!id.principal_type.empty()) ctx.set("aws:PrincipalType", id.principal_type);
    if (!id.user_id.empty()) ctx.set("aws:userid", id.user_id);
    if (!id.user_name.empty()) ctx.set("aws:username", id.user_name);
    for (const auto& [k, v] : id.tags) ctx.set("aws:PrincipalTag/" + k, v);
  } else if (caller.is_root) {
    ctx.set("aws:PrincipalType", "Account");
    ctx.set("aws:userid", caller.account_id);
  }
  for (const auto& [k, v] : access.keys) ctx.set(k, v);
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
    for (const auto& p : caller.identity->policies) set.identity.push_back(p.get());
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

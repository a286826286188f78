// IAM actions on roles: CreateRole, GetRole, DeleteRole, ListRoles, UpdateRole,
// UpdateRoleDescription, UpdateAssumeRolePolicy, the role's tags and inline policies.
#include <cstdlib>

#include "services/iam/limits.h"
#include "services/iam/wire.h"

namespace nubo::iam::wire {

namespace {

Status role_name(const Params& p) {
  return check_name(p, "RoleName", "roleName", kRoleNameMax);
}

Status trust_size(const std::string& doc) {
  if (policy_size(doc) > kTrustPolicyMax) {
    return Error{"LimitExceeded", 409,
                 "Cannot exceed quota for ACLSizePerRole: " + std::to_string(kTrustPolicyMax)};
  }
  return Ok{};
}

Result<std::string> description_param(const Params& p) {
  std::string d = param(p, "Description");
  if (d.size() > kRoleDescriptionMax) {
    return validation(d, "description", "Member must have length less than or equal to 1000");
  }
  return d;
}

Result<std::optional<int>> max_session_param(const Params& p) {
  if (!has(p, "MaxSessionDuration")) return std::optional<int>();
  std::string d = param(p, "MaxSessionDuration");
  char* end = nullptr;
  long n = std::strtol(d.c_str(), &end, 10);
  if (d.empty() || *end != '\0' || n < kMaxSessionMin || n > kMaxSessionMax) {
    return validation(d, "maxSessionDuration", "Member must have value between 3600 and 43200");
  }
  return std::optional<int>(static_cast<int>(n));
}

Result<std::string> create_role(Call& c) {
  NUBO_TRY(role_name(c.p));
  Role r;
  r.name = param(c.p, "RoleName");
  NUBO_ASSIGN_OR_RETURN(
      r.trust_policy, document_param(c.p, "AssumeRolePolicyDocument", "assumeRolePolicyDocument"));
  NUBO_TRY(trust_size(r.trust_policy));
  NUBO_ASSIGN_OR_RETURN(r.path, path_param(c.p));
  NUBO_ASSIGN_OR_RETURN(r.description, description_param(c.p));
  NUBO_ASSIGN_OR_RETURN(std::optional<int> session, max_session_param(c.p));
  if (session) r.max_session_duration = *session;
  r.tags = tags_param(c.p);
  if (has(c.p, "PermissionsBoundary")) {
    return Error{"InvalidInput", 400, "nubo does not support permissions boundaries yet."};
  }
  std::vector<std::pair<std::string, std::string>> keys;
  for (const Tag& t : r.tags) keys.emplace_back("aws:RequestTag/" + t.key, t.value);
  NUBO_TRY(c.allow(iam_arn(c.logic.account_id, "role", r.path, r.name), keys));
  NUBO_ASSIGN_OR_RETURN(Role made, c.logic.roles.create(std::move(r)));
  return role_xml(made, "Role", true);
}

Result<std::string> get_role(Call& c) {
  NUBO_TRY(role_name(c.p));
  std::string name = param(c.p, "RoleName");
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.role_arn(name));
  NUBO_TRY(c.allow(arn));
  NUBO_ASSIGN_OR_RETURN(Role r, c.logic.roles.get(name));
  return role_xml(r, "Role", true);
}

Result<std::string> delete_role(Call& c) {
  NUBO_TRY(role_name(c.p));
  std::string name = param(c.p, "RoleName");
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.role_arn(name));
  NUBO_TRY(c.allow(arn));
  NUBO_TRY(c.logic.roles.remove(name));
  return std::string();
}

Result<std::string> list_roles(Call& c) {
  NUBO_ASSIGN_OR_RETURN(int n, max_items(c.p));
  NUBO_ASSIGN_OR_RETURN(std::string prefix, path_prefix_param(c.p));
  NUBO_TRY(c.allow("*"));
  NUBO_ASSIGN_OR_RETURN(RolePage page, c.logic.roles.list(prefix, param(c.p, "Marker"), n));
  std::string s = "<Roles>";
  for (const Role& r : page.roles) s += role_xml(r, "member");
  return s + "</Roles>" + truncation(page.marker);
}

// UpdateRole (empty result) and the older UpdateRoleDescription (answers the role).
Result<std::string> update_role(Call& c) {
  NUBO_TRY(role_name(c.p));
  std::string name = param(c.p, "RoleName");
  std::optional<std::string> description;
  if (has(c.p, "Description")) {
    NUBO_ASSIGN_OR_RETURN(std::string d, description_param(c.p));
    description = d;
  } else if (c.action == "UpdateRoleDescription") {
    return missing("description");
  }
  std::optional<int> session;
  if (c.action == "UpdateRole") {
    NUBO_ASSIGN_OR_RETURN(session, max_session_param(c.p));
  }
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.role_arn(name));
  NUBO_TRY(c.allow(arn));
  NUBO_TRY(c.logic.roles.update(name, description, session));
  if (c.action == "UpdateRole") return std::string();
  NUBO_ASSIGN_OR_RETURN(Role r, c.logic.roles.get(name));
  return role_xml(r, "Role", true);
}

Result<std::string> update_assume_role_policy(Call& c) {
  NUBO_TRY(role_name(c.p));
  std::string name = param(c.p, "RoleName");
  NUBO_ASSIGN_OR_RETURN(std::string doc, document_param(c.p));
  NUBO_TRY(trust_size(doc));
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.role_arn(name));
  NUBO_TRY(c.allow(arn));
  NUBO_TRY(c.logic.roles.update_trust_policy(name, doc));
  return std::string();
}

Result<std::string> tag_role(Call& c) {
  NUBO_TRY(role_name(c.p));
  std::string name = param(c.p, "RoleName");
  Tags tags = tags_param(c.p);
  if (tags.empty()) return missing("tags");
  std::vector<std::pair<std::string, std::string>> keys;
  for (const Tag& t : tags) keys.emplace_back("aws:RequestTag/" + t.key, t.value);
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.role_arn(name));
  NUBO_TRY(c.allow(arn, keys));
  NUBO_TRY(c.logic.roles.tag(name, tags));
  return std::string();
}

Result<std::string> untag_role(Call& c) {
  NUBO_TRY(role_name(c.p));
  std::string name = param(c.p, "RoleName");
  std::vector<std::string> keys = member_list(c.p, "TagKeys");
  if (keys.empty()) return missing("tagKeys");
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.role_arn(name));
  NUBO_TRY(c.allow(arn));
  NUBO_TRY(c.logic.roles.untag(name, keys));
  return std::string();
}

Result<std::string> list_role_tags(Call& c) {
  NUBO_TRY(role_name(c.p));
  std::string name = param(c.p, "RoleName");
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.role_arn(name));
  NUBO_TRY(c.allow(arn));
  NUBO_ASSIGN_OR_RETURN(Tags tags, c.logic.roles.tags(name));
  NUBO_ASSIGN_OR_RETURN(Page<Tag> page, page_of(std::move(tags), c.p));
  return tags_xml(page.items) + truncation(page.marker);
}

// PutRolePolicy, GetRolePolicy, DeleteRolePolicy.
Result<std::string> role_policy(Call& c) {
  NUBO_TRY(role_name(c.p));
  NUBO_TRY(check_name(c.p, "PolicyName", "policyName", kPolicyNameMax));
  std::string role = param(c.p, "RoleName"), name = param(c.p, "PolicyName");
  std::string doc;
  if (c.action == "PutRolePolicy") {
    NUBO_ASSIGN_OR_RETURN(doc, document_param(c.p));
  }
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.role_arn(role));
  NUBO_TRY(c.allow(arn));
  if (c.action == "PutRolePolicy") {
    NUBO_TRY(c.logic.roles.put_policy(role, name, doc));
    return std::string();
  }
  if (c.action == "DeleteRolePolicy") {
    NUBO_TRY(c.logic.roles.delete_policy(role, name));
    return std::string();
  }
  NUBO_ASSIGN_OR_RETURN(doc, c.logic.roles.get_policy(role, name));
  return x("RoleName", role) + x("PolicyName", name) + doc_xml("PolicyDocument", doc);
}

Result<std::string> list_role_policies(Call& c) {
  NUBO_TRY(role_name(c.p));
  std::string role = param(c.p, "RoleName");
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.role_arn(role));
  NUBO_TRY(c.allow(arn));
  NUBO_ASSIGN_OR_RETURN(std::vector<std::string> names, c.logic.roles.list_policies(role));
  NUBO_ASSIGN_OR_RETURN(Page<std::string> page, page_of(std::move(names), c.p));
  std::string s = "<PolicyNames>";
  for (const auto& n : page.items) s += x("member", n);
  return s + "</PolicyNames>" + truncation(page.marker);
}

}  // namespace

void add_role_actions(HandlerTable& t) {
  t["CreateRole"] = create_role;
  t["GetRole"] = get_role;
  t["DeleteRole"] = delete_role;
  t["ListRoles"] = list_roles;
  t["UpdateRole"] = update_role;
  t["UpdateRoleDescription"] = update_role;
  t["UpdateAssumeRolePolicy"] = update_assume_role_policy;
  t["TagRole"] = tag_role;
  t["UntagRole"] = untag_role;
  t["ListRoleTags"] = list_role_tags;
  t["PutRolePolicy"] = role_policy;
  t["GetRolePolicy"] = role_policy;
  t["DeleteRolePolicy"] = role_policy;
  t["ListRolePolicies"] = list_role_policies;
}

}  // namespace nubo::iam::wire

// IAM actions on managed policies: CreatePolicy, GetPolicy, DeletePolicy, ListPolicies, their
// versions, Attach/Detach/ListAttached{User,Group,Role}Policies, ListEntitiesForPolicy, and
// GetAccountAuthorizationDetails.
#include <algorithm>
#include <cctype>
#include <limits>

#include "services/iam/aws_managed_policies.h"
#include "services/iam/inline_policies.h"
#include "services/iam/limits.h"
#include "services/iam/wire.h"

namespace nubo::iam::wire {

namespace {

constexpr int kAll = std::numeric_limits<int>::max();

// AWS managed policies are AWS's: nobody in the account may change them, root included.
Status not_ours(Call& c, const std::string& arn) {
  if (!is_aws_managed_arn(arn) || find_aws_managed_policy(arn) == nullptr) return Ok{};
  return Error{"AccessDenied", 403,
               "User: " + c.caller.arn + " is not authorized to perform: iam:" + c.action +
                   " on resource: policy " + arn};
}

Status version_id_param(const Params& p) {
  if (!has(p, "VersionId")) return missing("versionId");
  std::string v = param(p, "VersionId");
  bool ok = v.size() >= 2 && v[0] == 'v' && v[1] >= '1' && v[1] <= '9';
  for (size_t i = 2; ok && i < v.size() && v[i] != '.'; ++i)
    ok = std::isdigit(static_cast<unsigned char>(v[i])) != 0;
  if (!ok) {
    return validation(v, "versionId",
                      "Member must satisfy regular expression pattern: "
                      "v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?");
  }
  return Ok{};
}

Result<std::string> create_policy(Call& c) {
  NUBO_TRY(check_name(c.p, "PolicyName", "policyName", kPolicyNameMax));
  ManagedPolicy mp;
  mp.name = param(c.p, "PolicyName");
  NUBO_ASSIGN_OR_RETURN(mp.path, policy_path_param(c.p));
  NUBO_ASSIGN_OR_RETURN(std::string doc, document_param(c.p));
  mp.description = param(c.p, "Description");
  if (mp.description.size() > kPolicyDescriptionMax) {
    return validation(mp.description, "description",
                      "Member must have length less than or equal to 1000");
  }
  mp.tags = tags_param(c.p);
  std::vector<std::pair<std::string, std::string>> keys;
  for (const Tag& t : mp.tags) keys.emplace_back("aws:RequestTag/" + t.key, t.value);
  NUBO_TRY(c.allow(iam_arn(c.logic.account_id, "policy", mp.path, mp.name), keys));
  NUBO_ASSIGN_OR_RETURN(ManagedPolicy made, c.logic.policies.create(std::move(mp), doc));
  return policy_xml(made, "Policy", true);
}

Result<std::string> get_policy(Call& c) {
  NUBO_ASSIGN_OR_RETURN(std::string arn, arn_param(c.p));
  NUBO_TRY(c.allow(arn));
  NUBO_ASSIGN_OR_RETURN(ManagedPolicy mp, c.logic.policies.get(arn));
  return policy_xml(mp, "Policy", true);
}

Result<std::string> delete_policy(Call& c) {
  NUBO_ASSIGN_OR_RETURN(std::string arn, arn_param(c.p));
  NUBO_TRY(c.allow(arn));
  NUBO_TRY(not_ours(c, arn));
  NUBO_TRY(c.logic.policies.remove(arn));
  return std::string();
}

Result<std::string> list_policies(Call& c) {
  PolicyScope scope = PolicyScope::kAll;
  if (has(c.p, "Scope")) {
    std::string s = param(c.p, "Scope");
    if (s == "AWS") {
      scope = PolicyScope::kAws;
    } else if (s == "Local") {
      scope = PolicyScope::kLocal;
    } else if (s != "All") {
      return validation(s, "scope", "Member must satisfy enum value set: [All, AWS, Local]");
    }
  }
  NUBO_ASSIGN_OR_RETURN(bool only_attached, bool_param(c.p, "OnlyAttached", "onlyAttached", false));
  NUBO_ASSIGN_OR_RETURN(std::string prefix, path_prefix_param(c.p));
  NUBO_ASSIGN_OR_RETURN(int n, max_items(c.p));
  std::string usage = param(c.p, "PolicyUsageFilter");
  if (!usage.empty() && usage != "PermissionsPolicy" && usage != "PermissionsBoundary") {
    return validation(usage, "policyUsageFilter",
                      "Member must satisfy enum value set: [PermissionsPolicy, "
                      "PermissionsBoundary]");
  }
  NUBO_TRY(c.allow("*"));
  std::vector<ManagedPolicy> all;
  if (usage != "PermissionsBoundary") {  // nubo has no permissions boundaries
    NUBO_ASSIGN_OR_RETURN(all, c.logic.policies.list(scope, only_attached, prefix));
  }
  Page<ManagedPolicy> page = paginate(std::move(all), param(c.p, "Marker"), n,
                                      [](const ManagedPolicy& mp) { return mp.arn; });
  std::string s = "<Policies>";
  for (const auto& mp : page.items) s += policy_xml(mp, "member");
  return s + "</Policies>" + truncation(page.marker);
}

Result<std::string> create_policy_version(Call& c) {
  NUBO_ASSIGN_OR_RETURN(std::string arn, arn_param(c.p));
  NUBO_ASSIGN_OR_RETURN(std::string doc, document_param(c.p));
  NUBO_ASSIGN_OR_RETURN(bool set_default, bool_param(c.p, "SetAsDefault", "setAsDefault", false));
  NUBO_TRY(c.allow(arn));
  NUBO_TRY(not_ours(c, arn));
  NUBO_ASSIGN_OR_RETURN(PolicyVersion v, c.logic.policies.create_version(arn, doc, set_default));
  return version_xml(v, "PolicyVersion", false);
}

Result<std::string> get_policy_version(Call& c) {
  NUBO_ASSIGN_OR_RETURN(std::string arn, arn_param(c.p));
  NUBO_TRY(version_id_param(c.p));
  NUBO_TRY(c.allow(arn));
  NUBO_ASSIGN_OR_RETURN(PolicyVersion v,
                        c.logic.policies.get_version(arn, param(c.p, "VersionId")));
  return version_xml(v);
}

Result<std::string> list_policy_versions(Call& c) {
  NUBO_ASSIGN_OR_RETURN(std::string arn, arn_param(c.p));
  NUBO_TRY(c.allow(arn));
  NUBO_ASSIGN_OR_RETURN(std::vector<PolicyVersion> all, c.logic.policies.list_versions(arn));
  NUBO_ASSIGN_OR_RETURN(Page<PolicyVersion> page, page_of(std::move(all), c.p));
  std::string s = "<Versions>";
  for (const auto& v : page.items) s += version_xml(v, "member", false);
  return s + "</Versions>" + truncation(page.marker);
}

// DeletePolicyVersion, SetDefaultPolicyVersion.
Result<std::string> change_policy_version(Call& c) {
  NUBO_ASSIGN_OR_RETURN(std::string arn, arn_param(c.p));
  NUBO_TRY(version_id_param(c.p));
  NUBO_TRY(c.allow(arn));
  NUBO_TRY(not_ours(c, arn));
  std::string v = param(c.p, "VersionId");
  if (c.action == "DeletePolicyVersion") {
    NUBO_TRY(c.logic.policies.delete_version(arn, v));
  } else {
    NUBO_TRY(c.logic.policies.set_default_version(arn, v));
  }
  return std::string();
}

struct EntityParam {
  EntityKind kind;
  const char* key;
  const char* field;
  size_t max;
};

EntityParam entity_of(const std::string& action) {
  if (action.find("User") != std::string::npos) {
    return {EntityKind::kUser, "UserName", "userName", kUserNameMax};
  }
  if (action.find("Group") != std::string::npos) {
    return {EntityKind::kGroup, "GroupName", "groupName", kGroupNameMax};
  }
  return {EntityKind::kRole, "RoleName", "roleName", kRoleNameMax};
}

Result<std::string> entity_arn(Call& c, EntityKind kind, const std::string& name) {
  switch (kind) {
    case EntityKind::kUser:
      return c.user_arn(name);
    case EntityKind::kGroup:
      return c.group_arn(name);
    case EntityKind::kRole:
      break;
  }
  return c.role_arn(name);
}

// Attach{User,Group,Role}Policy, Detach{User,Group,Role}Policy: authorised on the entity, with
// iam:PolicyARN.
Result<std::string> attachment(Call& c) {
  EntityParam e = entity_of(c.action);
  NUBO_TRY(check_name(c.p, e.key, e.field, e.max));
  NUBO_ASSIGN_OR_RETURN(std::string arn, arn_param(c.p));
  std::string name = param(c.p, e.key);
  NUBO_ASSIGN_OR_RETURN(std::string resource, entity_arn(c, e.kind, name));
  NUBO_TRY(c.allow(resource, {{"iam:PolicyARN", arn}}));
  if (c.action.rfind("Attach", 0) == 0) {
    NUBO_TRY(c.logic.policies.attach(e.kind, name, arn));
  } else {
    NUBO_TRY(c.logic.policies.detach(e.kind, name, arn));
  }
  return std::string();
}

Result<std::string> list_attached(Call& c) {
  EntityParam e = entity_of(c.action);
  NUBO_TRY(check_name(c.p, e.key, e.field, e.max));
  NUBO_ASSIGN_OR_RETURN(std::string prefix, path_prefix_param(c.p));
  std::string name = param(c.p, e.key);
  NUBO_ASSIGN_OR_RETURN(std::string resource, entity_arn(c, e.kind, name));
  NUBO_TRY(c.allow(resource));
  NUBO_ASSIGN_OR_RETURN(std::vector<AttachedPolicy> all,
                        c.logic.policies.attached(e.kind, name, prefix));
  NUBO_ASSIGN_OR_RETURN(Page<AttachedPolicy> page, page_of(std::move(all), c.p));
  return attached_xml(page.items) + truncation(page.marker);
}

Result<std::string> list_entities_for_policy(Call& c) {
  NUBO_ASSIGN_OR_RETURN(std::string arn, arn_param(c.p));
  std::optional<EntityKind> filter;
  if (has(c.p, "EntityFilter")) {
    std::string f = param(c.p, "EntityFilter");
    if (f == "User") {
      filter = EntityKind::kUser;
    } else if (f == "Group") {
      filter = EntityKind::kGroup;
    } else if (f == "Role") {
      filter = EntityKind::kRole;
    } else if (f != "LocalManagedPolicy" && f != "AWSManagedPolicy") {
      return validation(f, "entityFilter",
                        "Member must satisfy enum value set: [User, Role, Group, "
                        "LocalManagedPolicy, AWSManagedPolicy]");
    }
  }
  NUBO_ASSIGN_OR_RETURN(std::string prefix, path_prefix_param(c.p));
  NUBO_TRY(c.allow(arn));
  NUBO_ASSIGN_OR_RETURN(PolicyEntities all, c.logic.policies.entities(arn, filter, prefix));
  // One page over groups, users, roles in that order.
  std::vector<std::pair<int, PolicyEntity>> items;
  for (auto& g : all.groups) items.emplace_back(0, std::move(g));
  for (auto& u : all.users) items.emplace_back(1, std::move(u));
  for (auto& r : all.roles) items.emplace_back(2, std::move(r));
  NUBO_ASSIGN_OR_RETURN(auto page, page_of(std::move(items), c.p));
  const char* lists[] = {"PolicyGroups", "PolicyUsers", "PolicyRoles"};
  const char* names[] = {"GroupName", "UserName", "RoleName"};
  const char* ids[] = {"GroupId", "UserId", "RoleId"};
  std::string s;
  for (int k = 0; k < 3; ++k) {
    s += std::string("<") + lists[k] + ">";
    for (const auto& [kind, e] : page.items) {
      if (kind == k) s += "<member>" + x(names[k], e.name) + x(ids[k], e.id) + "</member>";
    }
    s += std::string("</") + lists[k] + ">";
  }
  return s + truncation(page.marker);
}

// ---- GetAccountAuthorizationDetails ----

std::string policy_details(const std::vector<std::pair<std::string, std::string>>& inline_docs,
                           const std::string& tag) {
  std::string s = "<" + tag + ">";
  for (const auto& [name, doc] : inline_docs) {
    s += "<member>" + x("PolicyName", name) + doc_xml("PolicyDocument", doc) + "</member>";
  }
  return s + "</" + tag + ">";
}

Result<std::string> user_detail(Call& c, const User& listed) {
  NUBO_ASSIGN_OR_RETURN(User u, c.logic.users.get(listed.name));
  NUBO_ASSIGN_OR_RETURN(auto docs, inline_policies(c.logic.store, kUserInlinePolicies, u.name));
  NUBO_ASSIGN_OR_RETURN(std::vector<Group> groups, c.logic.groups.groups_for_user(u.name));
  NUBO_ASSIGN_OR_RETURN(auto attached, attached_policies(c.logic.store, EntityKind::kUser, u.name));
  std::string s = "<member>" + x("Path", u.path) + x("UserName", u.name) + x("UserId", u.user_id) +
                  x("Arn", u.arn) + x("CreateDate", u.create_date) +
                  policy_details(docs, "UserPolicyList") + "<GroupList>";
  for (const Group& g : groups) s += x("member", g.name);
  s += "</GroupList>" + attached_xml(attached, "AttachedManagedPolicies") + tags_xml(u.tags);
  return s + "</member>";
}

Result<std::string> group_detail(Call& c, const Group& g) {
  NUBO_ASSIGN_OR_RETURN(auto docs, inline_policies(c.logic.store, kGroupInlinePolicies, g.name));
  NUBO_ASSIGN_OR_RETURN(auto attached,
                        attached_policies(c.logic.store, EntityKind::kGroup, g.name));
  return "<member>" + x("Path", g.path) + x("GroupName", g.name) + x("GroupId", g.group_id) +
         x("Arn", g.arn) + x("CreateDate", g.create_date) +
         policy_details(docs, "GroupPolicyList") +
         attached_xml(attached, "AttachedManagedPolicies") + "</member>";
}

Result<std::string> role_detail(Call& c, const Role& listed) {
  NUBO_ASSIGN_OR_RETURN(Role r, c.logic.roles.get(listed.name));
  NUBO_ASSIGN_OR_RETURN(std::vector<std::string> names, c.logic.roles.list_policies(r.name));
  std::vector<std::pair<std::string, std::string>> docs;
  for (const auto& n : names) {
    NUBO_ASSIGN_OR_RETURN(std::string d, c.logic.roles.get_policy(r.name, n));
    docs.emplace_back(n, std::move(d));
  }
  NUBO_ASSIGN_OR_RETURN(auto attached, attached_policies(c.logic.store, EntityKind::kRole, r.name));
  return "<member>" + x("Path", r.path) + x("RoleName", r.name) + x("RoleId", r.role_id) +
         x("Arn", r.arn) + x("CreateDate", r.create_date) +
         doc_xml("AssumeRolePolicyDocument", r.trust_policy) + "<InstanceProfileList/>" +
         policy_details(docs, "RolePolicyList") +
         attached_xml(attached, "AttachedManagedPolicies") + tags_xml(r.tags) +
         "<RoleLastUsed/></member>";
}

Result<std::string> policy_detail(Call& c, const ManagedPolicy& mp) {
  NUBO_ASSIGN_OR_RETURN(std::vector<PolicyVersion> versions,
                        c.logic.policies.list_versions(mp.arn));
  std::string s = "<member>" + x("PolicyName", mp.name) + x("PolicyId", mp.policy_id) +
                  x("Arn", mp.arn) + x("Path", mp.path) +
                  x("DefaultVersionId", mp.default_version) +
                  x("AttachmentCount", std::to_string(mp.attachment_count)) +
                  "<PermissionsBoundaryUsageCount>0</PermissionsBoundaryUsageCount>"
                  "<IsAttachable>true</IsAttachable>";
  if (!mp.description.empty()) s += x("Description", mp.description);
  s += x("CreateDate", mp.create_date) + x("UpdateDate", mp.update_date) + "<PolicyVersionList>";
  for (const auto& v : versions) s += version_xml(v, "member", true);
  return s + "</PolicyVersionList></member>";
}

Result<std::string> get_account_authorization_details(Call& c) {
  std::vector<std::string> filter = member_list(c.p, "Filter");
  const std::vector<std::string> kinds = {"User", "Role", "Group", "LocalManagedPolicy",
                                          "AWSManagedPolicy"};
  for (const auto& f : filter) {
    if (std::find(kinds.begin(), kinds.end(), f) == kinds.end()) {
      return validation(f, "filter",
                        "Member must satisfy enum value set: [User, Role, Group, "
                        "LocalManagedPolicy, AWSManagedPolicy]");
    }
  }
  auto wanted = [&](const std::string& k) {
    return filter.empty() || std::find(filter.begin(), filter.end(), k) != filter.end();
  };
  NUBO_TRY(max_items(c.p));
  NUBO_TRY(c.allow("*"));
  // Every detail as (list index, XML), then one page over them all.
  std::vector<std::pair<int, std::string>> items;
  if (wanted("User")) {
    NUBO_ASSIGN_OR_RETURN(Page<User> users, c.logic.users.list("/", "", kAll));
    for (const User& u : users.items) {
      NUBO_ASSIGN_OR_RETURN(std::string d, user_detail(c, u));
      items.emplace_back(0, std::move(d));
    }
  }
  if (wanted("Group")) {
    NUBO_ASSIGN_OR_RETURN(Page<Group> groups, c.logic.groups.list("/", "", kAll));
    for (const Group& g : groups.items) {
      NUBO_ASSIGN_OR_RETURN(std::string d, group_detail(c, g));
      items.emplace_back(1, std::move(d));
    }
  }
  if (wanted("Role")) {
    NUBO_ASSIGN_OR_RETURN(RolePage roles, c.logic.roles.list("/", "", kAll));
    for (const Role& r : roles.roles) {
      NUBO_ASSIGN_OR_RETURN(std::string d, role_detail(c, r));
      items.emplace_back(2, std::move(d));
    }
  }
  bool local = wanted("LocalManagedPolicy"), aws = wanted("AWSManagedPolicy");
  if (local || aws) {
    PolicyScope scope = local && aws ? PolicyScope::kAll
                        : local      ? PolicyScope::kLocal
                                     : PolicyScope::kAws;
    NUBO_ASSIGN_OR_RETURN(std::vector<ManagedPolicy> policies,
                          c.logic.policies.list(scope, false, "/"));
    for (const auto& mp : policies) {
      // As in IAM, AWS managed policies appear only while something in the account uses them.
      if (mp.aws_managed && mp.attachment_count == 0) continue;
      NUBO_ASSIGN_OR_RETURN(std::string d, policy_detail(c, mp));
      items.emplace_back(3, std::move(d));
    }
  }
  NUBO_ASSIGN_OR_RETURN(auto page, page_of(std::move(items), c.p));
  const char* lists[] = {"UserDetailList", "GroupDetailList", "RoleDetailList", "Policies"};
  std::string s;
  for (int k = 0; k < 4; ++k) {
    s += std::string("<") + lists[k] + ">";
    for (const auto& [kind, d] : page.items) {
      if (kind == k) s += d;
    }
    s += std::string("</") + lists[k] + ">";
  }
  return s + truncation(page.marker);
}

}  // namespace

void add_policy_actions(HandlerTable& t) {
  t["CreatePolicy"] = create_policy;
  t["GetPolicy"] = get_policy;
  t["DeletePolicy"] = delete_policy;
  t["ListPolicies"] = list_policies;
  t["CreatePolicyVersion"] = create_policy_version;
  t["GetPolicyVersion"] = get_policy_version;
  t["ListPolicyVersions"] = list_policy_versions;
  t["DeletePolicyVersion"] = change_policy_version;
  t["SetDefaultPolicyVersion"] = change_policy_version;
  for (const char* kind : {"User", "Group", "Role"}) {
    t[std::string("Attach") + kind + "Policy"] = attachment;
    t[std::string("Detach") + kind + "Policy"] = attachment;
    t[std::string("ListAttached") + kind + "Policies"] = list_attached;
  }
  t["ListEntitiesForPolicy"] = list_entities_for_policy;
  t["GetAccountAuthorizationDetails"] = get_account_authorization_details;
}

}  // namespace nubo::iam::wire

// IAM actions on groups: CreateGroup, GetGroup, DeleteGroup, ListGroups, membership
// (AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser) and the group's inline policies.
#include "services/iam/limits.h"
#include "services/iam/wire.h"

namespace nubo::iam::wire {

namespace {

Status group_name(const Params& p) {
  return check_name(p, "GroupName", "groupName", kGroupNameMax);
}

Result<std::string> create_group(Call& c) {
  NUBO_TRY(group_name(c.p));
  Group g;
  g.name = param(c.p, "GroupName");
  NUBO_ASSIGN_OR_RETURN(g.path, path_param(c.p));
  NUBO_TRY(c.allow(iam_arn(c.logic.account_id, "group", g.path, g.name)));
  NUBO_ASSIGN_OR_RETURN(Group made, c.logic.groups.create(std::move(g)));
  return group_xml(made);
}

Result<std::string> get_group(Call& c) {
  NUBO_TRY(group_name(c.p));
  std::string name = param(c.p, "GroupName");
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.group_arn(name));
  NUBO_TRY(c.allow(arn));
  NUBO_ASSIGN_OR_RETURN(Group g, c.logic.groups.get(name));
  NUBO_ASSIGN_OR_RETURN(std::vector<User> users, c.logic.groups.members(name));
  NUBO_ASSIGN_OR_RETURN(Page<User> page, page_of(std::move(users), c.p));
  std::string s = group_xml(g) + "<Users>";
  for (const User& u : page.items) s += user_xml(u, "member");
  return s + "</Users>" + truncation(page.marker);
}

Result<std::string> delete_group(Call& c) {
  NUBO_TRY(group_name(c.p));
  std::string name = param(c.p, "GroupName");
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.group_arn(name));
  NUBO_TRY(c.allow(arn));
  NUBO_TRY(c.logic.groups.remove(name));
  return std::string();
}

Result<std::string> list_groups(Call& c) {
  NUBO_ASSIGN_OR_RETURN(std::string prefix, path_prefix_param(c.p));
  NUBO_ASSIGN_OR_RETURN(int n, max_items(c.p));
  NUBO_TRY(c.allow("*"));
  NUBO_ASSIGN_OR_RETURN(Page<Group> page, c.logic.groups.list(prefix, param(c.p, "Marker"), n));
  std::string s = "<Groups>";
  for (const Group& g : page.items) s += group_xml(g, "member");
  return s + "</Groups>" + truncation(page.marker);
}

// AddUserToGroup, RemoveUserFromGroup: authorised on the group.
Result<std::string> membership(Call& c) {
  NUBO_TRY(group_name(c.p));
  NUBO_TRY(check_name(c.p, "UserName", "userName", kExistingUserNameMax));
  std::string group = param(c.p, "GroupName"), user = param(c.p, "UserName");
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.group_arn(group));
  NUBO_TRY(c.allow(arn));
  if (c.action == "AddUserToGroup") {
    NUBO_TRY(c.logic.groups.add_user(group, user));
  } else {
    NUBO_TRY(c.logic.groups.remove_user(group, user));
  }
  return std::string();
}

Result<std::string> list_groups_for_user(Call& c) {
  NUBO_TRY(check_name(c.p, "UserName", "userName", kExistingUserNameMax));
  std::string user = param(c.p, "UserName");
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.user_arn(user));
  NUBO_TRY(c.allow(arn));
  NUBO_ASSIGN_OR_RETURN(std::vector<Group> groups, c.logic.groups.groups_for_user(user));
  NUBO_ASSIGN_OR_RETURN(Page<Group> page, page_of(std::move(groups), c.p));
  std::string s = "<Groups>";
  for (const Group& g : page.items) s += group_xml(g, "member");
  return s + "</Groups>" + truncation(page.marker);
}

// PutGroupPolicy, GetGroupPolicy, DeleteGroupPolicy.
Result<std::string> group_policy(Call& c) {
  NUBO_TRY(group_name(c.p));
  NUBO_TRY(check_name(c.p, "PolicyName", "policyName", kPolicyNameMax));
  std::string group = param(c.p, "GroupName"), name = param(c.p, "PolicyName");
  std::string doc;
  if (c.action == "PutGroupPolicy") {
    NUBO_ASSIGN_OR_RETURN(doc, document_param(c.p));
  }
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.group_arn(group));
  NUBO_TRY(c.allow(arn));
  if (c.action == "PutGroupPolicy") {
    NUBO_TRY(c.logic.groups.put_policy(group, name, doc));
    return std::string();
  }
  if (c.action == "DeleteGroupPolicy") {
    NUBO_TRY(c.logic.groups.delete_policy(group, name));
    return std::string();
  }
  NUBO_ASSIGN_OR_RETURN(doc, c.logic.groups.get_policy(group, name));
  return x("GroupName", group) + x("PolicyName", name) + doc_xml("PolicyDocument", doc);
}

Result<std::string> list_group_policies(Call& c) {
  NUBO_TRY(group_name(c.p));
  std::string group = param(c.p, "GroupName");
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.group_arn(group));
  NUBO_TRY(c.allow(arn));
  NUBO_ASSIGN_OR_RETURN(std::vector<std::string> names, c.logic.groups.list_policies(group));
  NUBO_ASSIGN_OR_RETURN(Page<std::string> page, page_of(std::move(names), c.p));
  std::string s = "<PolicyNames>";
  for (const auto& n : page.items) s += x("member", n);
  return s + "</PolicyNames>" + truncation(page.marker);
}

}  // namespace

void add_group_actions(HandlerTable& t) {
  t["CreateGroup"] = create_group;
  t["GetGroup"] = get_group;
  t["DeleteGroup"] = delete_group;
  t["ListGroups"] = list_groups;
  t["AddUserToGroup"] = membership;
  t["RemoveUserFromGroup"] = membership;
  t["ListGroupsForUser"] = list_groups_for_user;
  t["PutGroupPolicy"] = group_policy;
  t["GetGroupPolicy"] = group_policy;
  t["DeleteGroupPolicy"] = group_policy;
  t["ListGroupPolicies"] = list_group_policies;
}

}  // namespace nubo::iam::wire

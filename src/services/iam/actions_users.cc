// IAM actions on users: CreateUser, GetUser, DeleteUser, ListUsers, UpdateUser, the user's
// tags, inline policies and access keys. Each authorises before it acts (wire::Call::allow).
#include "services/iam/limits.h"
#include "services/iam/wire.h"

namespace nubo::iam::wire {

namespace {

Status user_name(const Params& p, size_t max = kExistingUserNameMax) {
  return check_name(p, "UserName", "userName", max);
}

Error non_user_credentials() {
  return Error{"ValidationError", 400,
               "Must specify userName when calling with non-User credentials"};
}

// UserName, or the caller's own user when the action allows leaving it out.
Result<std::string> user_or_caller(Call& c) {
  if (has(c.p, "UserName")) {
    NUBO_TRY(user_name(c.p));
    return param(c.p, "UserName");
  }
  auto own = c.caller_user();
  if (!own) return non_user_credentials();
  return *own;
}

std::vector<std::pair<std::string, std::string>> request_tag_keys(const Tags& tags) {
  std::vector<std::pair<std::string, std::string>> keys;
  for (const Tag& t : tags) keys.emplace_back("aws:RequestTag/" + t.key, t.value);
  return keys;
}

Result<std::string> create_user(Call& c) {
  NUBO_TRY(user_name(c.p, kUserNameMax));
  User u;
  u.name = param(c.p, "UserName");
  NUBO_ASSIGN_OR_RETURN(u.path, path_param(c.p));
  u.tags = tags_param(c.p);
  if (has(c.p, "PermissionsBoundary")) {
    return Error{"InvalidInput", 400, "nubo does not support permissions boundaries yet."};
  }
  NUBO_TRY(c.allow(iam_arn(c.logic.account_id, "user", u.path, u.name), request_tag_keys(u.tags)));
  NUBO_ASSIGN_OR_RETURN(User made, c.logic.users.create(std::move(u)));
  return user_xml(made, "User", true);
}

Result<std::string> get_user(Call& c) {
  if (!has(c.p, "UserName") && c.caller.is_root) {
    // The root user: no name or path; its id is the account's.
    std::string root = "arn:aws:iam::" + c.logic.account_id + ":root";
    NUBO_TRY(c.allow(root));
    return "<User>" + x("UserId", c.logic.account_id) + x("Arn", root) +
           x("CreateDate", c.logic.root_create_date) + "</User>";
  }
  NUBO_ASSIGN_OR_RETURN(std::string name, user_or_caller(c));
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.user_arn(name));
  NUBO_TRY(c.allow(arn));
  NUBO_ASSIGN_OR_RETURN(User u, c.logic.users.get(name));
  return user_xml(u, "User", true);
}

Result<std::string> delete_user(Call& c) {
  NUBO_TRY(user_name(c.p));
  std::string name = param(c.p, "UserName");
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.user_arn(name));
  NUBO_TRY(c.allow(arn));
  NUBO_TRY(c.logic.users.remove(name));
  return std::string();
}

Result<std::string> list_users(Call& c) {
  NUBO_ASSIGN_OR_RETURN(std::string prefix, path_prefix_param(c.p));
  NUBO_ASSIGN_OR_RETURN(int n, max_items(c.p));
  NUBO_TRY(c.allow("*"));
  NUBO_ASSIGN_OR_RETURN(Page<User> page, c.logic.users.list(prefix, param(c.p, "Marker"), n));
  std::string s = "<Users>";
  for (const User& u : page.items) s += user_xml(u, "member");
  return s + "</Users>" + truncation(page.marker);
}

Result<std::string> update_user(Call& c) {
  NUBO_TRY(user_name(c.p));
  std::string name = param(c.p, "UserName");
  std::optional<std::string> new_name, new_path;
  if (has(c.p, "NewUserName")) {
    NUBO_TRY(check_name(c.p, "NewUserName", "newUserName", kUserNameMax));
    new_name = param(c.p, "NewUserName");
  }
  if (has(c.p, "NewPath")) {
    NUBO_ASSIGN_OR_RETURN(std::string path, path_param(c.p, "NewPath", "newPath"));
    new_path = path;
  }
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.user_arn(name));
  NUBO_TRY(c.allow(arn));
  // IAM checks the target as well as the source (UpdateUser: "permission on both the source
  // object and the target object"), so a rename cannot move a user out of reach of a Deny.
  if (new_name || new_path) {
    NUBO_ASSIGN_OR_RETURN(std::optional<User> u, c.logic.users.find(name));
    std::string to_path = new_path.value_or(u ? u->path : std::string("/"));
    std::string to_name = new_name.value_or(name);
    NUBO_TRY(c.allow(iam_arn(c.logic.account_id, "user", to_path, to_name)));
  }
  NUBO_TRY(c.logic.users.update(name, new_name, new_path));
  return std::string();
}

Result<std::string> tag_user(Call& c) {
  NUBO_TRY(user_name(c.p));
  std::string name = param(c.p, "UserName");
  Tags tags = tags_param(c.p);
  if (tags.empty()) return missing("tags");
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.user_arn(name));
  NUBO_TRY(c.allow(arn, request_tag_keys(tags)));
  NUBO_TRY(c.logic.users.tag(name, tags));
  return std::string();
}

Result<std::string> untag_user(Call& c) {
  NUBO_TRY(user_name(c.p));
  std::string name = param(c.p, "UserName");
  std::vector<std::string> keys = member_list(c.p, "TagKeys");
  if (keys.empty()) return missing("tagKeys");
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.user_arn(name));
  NUBO_TRY(c.allow(arn));
  NUBO_TRY(c.logic.users.untag(name, keys));
  return std::string();
}

Result<std::string> list_user_tags(Call& c) {
  NUBO_TRY(user_name(c.p));
  std::string name = param(c.p, "UserName");
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.user_arn(name));
  NUBO_TRY(c.allow(arn));
  NUBO_ASSIGN_OR_RETURN(Tags tags, c.logic.users.tags(name));
  NUBO_ASSIGN_OR_RETURN(Page<Tag> page, page_of(std::move(tags), c.p));
  return tags_xml(page.items) + truncation(page.marker);
}

// PutUserPolicy, GetUserPolicy, DeleteUserPolicy.
Result<std::string> user_policy(Call& c) {
  NUBO_TRY(user_name(c.p));
  NUBO_TRY(check_name(c.p, "PolicyName", "policyName", kPolicyNameMax));
  std::string user = param(c.p, "UserName"), name = param(c.p, "PolicyName");
  std::string doc;
  if (c.action == "PutUserPolicy") {
    NUBO_ASSIGN_OR_RETURN(doc, document_param(c.p));
  }
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.user_arn(user));
  NUBO_TRY(c.allow(arn));
  if (c.action == "PutUserPolicy") {
    NUBO_TRY(c.logic.users.put_policy(user, name, doc));
    return std::string();
  }
  if (c.action == "DeleteUserPolicy") {
    NUBO_TRY(c.logic.users.delete_policy(user, name));
    return std::string();
  }
  NUBO_ASSIGN_OR_RETURN(doc, c.logic.users.get_policy(user, name));
  return x("UserName", user) + x("PolicyName", name) + doc_xml("PolicyDocument", doc);
}

Result<std::string> list_user_policies(Call& c) {
  NUBO_TRY(user_name(c.p));
  std::string user = param(c.p, "UserName");
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.user_arn(user));
  NUBO_TRY(c.allow(arn));
  NUBO_ASSIGN_OR_RETURN(std::vector<std::string> names, c.logic.users.list_policies(user));
  NUBO_ASSIGN_OR_RETURN(Page<std::string> page, page_of(std::move(names), c.p));
  std::string s = "<PolicyNames>";
  for (const auto& n : page.items) s += x("member", n);
  return s + "</PolicyNames>" + truncation(page.marker);
}

std::string key_metadata_xml(const AccessKey& k, const std::string& tag) {
  return "<" + tag + ">" + x("UserName", k.user_name) + x("AccessKeyId", k.access_key_id) +
         x("Status", k.status) + x("CreateDate", k.create_date) + "</" + tag + ">";
}

Result<std::string> create_access_key(Call& c) {
  NUBO_ASSIGN_OR_RETURN(std::string user, user_or_caller(c));
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.user_arn(user));
  NUBO_TRY(c.allow(arn));
  NUBO_ASSIGN_OR_RETURN(AccessKey k, c.logic.keys.create(user));
  return "<AccessKey>" + x("UserName", k.user_name) + x("AccessKeyId", k.access_key_id) +
         x("Status", k.status) + x("SecretAccessKey", k.secret_access_key) +
         x("CreateDate", k.create_date) + "</AccessKey>";
}

Result<std::string> list_access_keys(Call& c) {
  if (!has(c.p, "UserName") && c.caller.is_root) {
    // The root key pair is the node's configuration, not an IAM user's key.
    NUBO_TRY(c.allow("arn:aws:iam::" + c.logic.account_id + ":root"));
    return std::string("<AccessKeyMetadata></AccessKeyMetadata>") + truncation("");
  }
  NUBO_ASSIGN_OR_RETURN(std::string user, user_or_caller(c));
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.user_arn(user));
  NUBO_TRY(c.allow(arn));
  NUBO_ASSIGN_OR_RETURN(std::vector<AccessKey> keys, c.logic.keys.list(user));
  NUBO_ASSIGN_OR_RETURN(Page<AccessKey> page, page_of(std::move(keys), c.p));
  std::string s = "<AccessKeyMetadata>";
  for (const auto& k : page.items) s += key_metadata_xml(k, "member");
  return s + "</AccessKeyMetadata>" + truncation(page.marker);
}

Status access_key_id(const Params& p) {
  if (!has(p, "AccessKeyId")) return missing("accessKeyId");
  std::string id = param(p, "AccessKeyId");
  if (id.size() < 16 || id.size() > 128) {
    return validation(id, "accessKeyId", "Member must have length greater than or equal to 16");
  }
  bool word = std::all_of(id.begin(), id.end(), [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
  });
  if (!word)
    return validation(id, "accessKeyId", "Member must satisfy regular expression pattern: [\\w]+");
  return Ok{};
}

// UpdateAccessKey, DeleteAccessKey.
Result<std::string> change_access_key(Call& c) {
  NUBO_TRY(access_key_id(c.p));
  std::string status;
  if (c.action == "UpdateAccessKey") {
    if (!has(c.p, "Status")) return missing("status");
    status = param(c.p, "Status");
    if (status != "Active" && status != "Inactive") {
      return validation(status, "status",
                        "Member must satisfy enum value set: [Active, Inactive, Expired]");
    }
  }
  NUBO_ASSIGN_OR_RETURN(std::string user, user_or_caller(c));
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.user_arn(user));
  NUBO_TRY(c.allow(arn));
  std::string id = param(c.p, "AccessKeyId");
  if (c.action == "UpdateAccessKey") {
    NUBO_TRY(c.logic.keys.update(user, id, status));
  } else {
    NUBO_TRY(c.logic.keys.remove(user, id));
  }
  return std::string();
}

Result<std::string> get_access_key_last_used(Call& c) {
  NUBO_TRY(access_key_id(c.p));
  std::string id = param(c.p, "AccessKeyId");
  auto use = c.logic.keys.last_used(id);
  if (!use.ok()) {
    if (use.error().code != "NoSuchEntity") return use.error();
    NUBO_TRY(c.allow("*"));
    return use.error();
  }
  NUBO_ASSIGN_OR_RETURN(std::string arn, c.user_arn(use->user_name));
  NUBO_TRY(c.allow(arn));
  std::string s = x("UserName", use->user_name) + "<AccessKeyLastUsed>";
  if (!use->last_used_date.empty()) s += x("LastUsedDate", use->last_used_date);
  s += x("ServiceName", use->service_name) + x("Region", use->region);
  return s + "</AccessKeyLastUsed>";
}

}  // namespace

void add_user_actions(HandlerTable& t) {
  t["CreateUser"] = create_user;
  t["GetUser"] = get_user;
  t["DeleteUser"] = delete_user;
  t["ListUsers"] = list_users;
  t["UpdateUser"] = update_user;
  t["TagUser"] = tag_user;
  t["UntagUser"] = untag_user;
  t["ListUserTags"] = list_user_tags;
  t["PutUserPolicy"] = user_policy;
  t["GetUserPolicy"] = user_policy;
  t["DeleteUserPolicy"] = user_policy;
  t["ListUserPolicies"] = list_user_policies;
  t["CreateAccessKey"] = create_access_key;
  t["ListAccessKeys"] = list_access_keys;
  t["UpdateAccessKey"] = change_access_key;
  t["DeleteAccessKey"] = change_access_key;
  t["GetAccessKeyLastUsed"] = get_access_key_last_used;
}

}  // namespace nubo::iam::wire

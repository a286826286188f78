#include "services/iam/groups.h"

#include "base/strings.h"
#include "services/iam/inline_policies.h"
#include "services/iam/limits.h"

namespace nubo::iam {

namespace {

constexpr const char* kColumns = "name, path, group_id, arn, create_date";

Group group_of(const storage::Row& r) {
  Group g;
  g.name = r.text(0);
  g.path = r.text(1);
  g.group_id = r.text(2);
  g.arn = r.text(3);
  g.create_date = r.text(4);
  return g;
}

Status group_exists(storage::Txn& txn, const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      txn.query("SELECT name FROM iam_groups WHERE name_lower = ?", {to_lower(name)}));
  if (rows.empty()) return no_such_group(name);
  return Ok{};
}

Status user_exists(storage::Txn& txn, const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      txn.query("SELECT name FROM iam_users WHERE name_lower = ?", {to_lower(name)}));
  if (rows.empty()) return no_such_user(name);
  return Ok{};
}

int64_t count(const storage::Rows& rows) {
  return rows.empty() ? 0 : rows[0].integer(0);
}

}  // namespace

Error no_such_group(const std::string& name) {
  return Error{"NoSuchEntity", 404, "The group with name " + name + " cannot be found."};
}

Groups::Groups(storage::Store* store, const Clock* clock, std::string account_id)
    : store_(store), clock_(clock), account_id_(std::move(account_id)) {}

Result<Group> Groups::create(Group group) {
  group.group_id = new_entity_id("AGPA");
  group.create_date = format_iso8601(clock_->now());
  group.arn = iam_arn(account_id_, "group", group.path, group.name);
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows rows,
        txn.query("SELECT name FROM iam_groups WHERE name_lower = ?", {to_lower(group.name)}));
    if (!rows.empty()) {
      return Error{"EntityAlreadyExists", 409,
                   "Group with name " + group.name + " already exists."};
    }
    NUBO_TRY(txn.exec(std::string("INSERT INTO iam_groups (name_lower, ") + kColumns +
                          ") VALUES (?, ?, ?, ?, ?, ?)",
                      {to_lower(group.name), group.name, group.path, group.group_id, group.arn,
                       group.create_date}));
    return Ok{};
  }));
  return group;
}

Result<std::optional<Group>> Groups::find(const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store_->query(std::string("SELECT ") + kColumns + " FROM iam_groups WHERE name_lower = ?",
                    {to_lower(name)}));
  if (rows.empty()) return std::optional<Group>();
  return std::optional<Group>(group_of(rows[0]));
}

Result<Group> Groups::get(const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(std::optional<Group> found, find(name));
  if (!found) return no_such_group(name);
  return std::move(*found);
}

Status Groups::remove(const std::string& name) {
  std::string key = to_lower(name);
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(group_exists(txn, name));
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows members,
        txn.query("SELECT COUNT(*) FROM iam_group_members WHERE group_lower = ?", {key}));
    if (count(members) > 0) {
      return Error{"DeleteConflict", 409,
                   "Cannot delete entity, must remove users from group first."};
    }
    NUBO_ASSIGN_OR_RETURN(int64_t inline_n, count_inline_policies(txn, kGroupInlinePolicies, name));
    if (inline_n > 0) {
      return Error{"DeleteConflict", 409, "Cannot delete entity, must delete policies first."};
    }
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows attached,
        txn.query("SELECT COUNT(*) FROM iam_attachments WHERE kind = 'group' AND owner = ?",
                  {key}));
    if (count(attached) > 0) {
      return Error{"DeleteConflict", 409, "Cannot delete entity, must detach all policies first."};
    }
    NUBO_TRY(txn.exec("DELETE FROM iam_groups WHERE name_lower = ?", {key}));
    return Ok{};
  });
}

Result<Page<Group>> Groups::list(const std::string& path_prefix, const std::string& marker,
                                 int max_items) {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows, store_->query(std::string("SELECT ") + kColumns +
                                                          " FROM iam_groups ORDER BY name_lower"));
  std::vector<Group> groups;
  for (const auto& r : rows) {
    Group g = group_of(r);
    if (starts_with(g.path, path_prefix)) groups.push_back(std::move(g));
  }
  return paginate(std::move(groups), to_lower(marker), max_items,
                  [](const Group& g) { return to_lower(g.name); });
}

Status Groups::add_user(const std::string& group, const std::string& user) {
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(group_exists(txn, group));
    NUBO_TRY(user_exists(txn, user));
    NUBO_ASSIGN_OR_RETURN(storage::Rows already,
                          txn.query("SELECT user_lower FROM iam_group_members "
                                    "WHERE group_lower = ? AND user_lower = ?",
                                    {to_lower(group), to_lower(user)}));
    if (!already.empty()) return Ok{};
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows n,
        txn.query("SELECT COUNT(*) FROM iam_group_members WHERE user_lower = ?", {to_lower(user)}));
    if (count(n) >= kGroupsPerUser) {
      return Error{"LimitExceeded", 409,
                   "Cannot exceed quota for GroupsPerUser: " + std::to_string(kGroupsPerUser)};
    }
    NUBO_TRY(txn.exec("INSERT INTO iam_group_members (group_lower, user_lower) VALUES (?, ?)",
                      {to_lower(group), to_lower(user)}));
    return Ok{};
  });
}

Status Groups::remove_user(const std::string& group, const std::string& user) {
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(group_exists(txn, group));
    NUBO_TRY(user_exists(txn, user));
    NUBO_ASSIGN_OR_RETURN(int64_t n, txn.exec("DELETE FROM iam_group_members "
                                              "WHERE group_lower = ? AND user_lower = ?",
                                              {to_lower(group), to_lower(user)}));
    if (n == 0) {
      return Error{"NoSuchEntity", 404,
                   "The user with name " + user + " cannot be found in group " + group + "."};
    }
    return Ok{};
  });
}

Result<std::vector<User>> Groups::members(const std::string& group) {
  NUBO_TRY(get(group));
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store_->query("SELECT u.name, u.path, u.user_id, u.arn, u.create_date FROM iam_users u "
                    "JOIN iam_group_members m ON m.user_lower = u.name_lower "
                    "WHERE m.group_lower = ? ORDER BY u.name_lower",
                    {to_lower(group)}));
  std::vector<User> out;
  for (const auto& r : rows) {
    User u;
    u.name = r.text(0);
    u.path = r.text(1);
    u.user_id = r.text(2);
    u.arn = r.text(3);
    u.create_date = r.text(4);
    out.push_back(std::move(u));
  }
  return out;
}

Result<std::vector<Group>> Groups::groups_for_user(const std::string& user) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows found,
      store_->query("SELECT name FROM iam_users WHERE name_lower = ?", {to_lower(user)}));
  if (found.empty()) return no_such_user(user);
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store_->query("SELECT g.name, g.path, g.group_id, g.arn, g.create_date FROM iam_groups g "
                    "JOIN iam_group_members m ON m.group_lower = g.name_lower "
                    "WHERE m.user_lower = ? ORDER BY g.name_lower",
                    {to_lower(user)}));
  std::vector<Group> out;
  for (const auto& r : rows) out.push_back(group_of(r));
  return out;
}

Status Groups::put_policy(const std::string& group, const std::string& policy,
                          const std::string& doc) {
  NUBO_TRY(check_policy_document(doc));
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(group_exists(txn, group));
    return put_inline_policy(txn, kGroupInlinePolicies, group, policy, doc);
  });
}

Result<std::string> Groups::get_policy(const std::string& group, const std::string& policy) {
  NUBO_TRY(get(group));
  return get_inline_policy(*store_, kGroupInlinePolicies, group, policy);
}

Status Groups::delete_policy(const std::string& group, const std::string& policy) {
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(group_exists(txn, group));
    return delete_inline_policy(txn, kGroupInlinePolicies, group, policy);
  });
}

Result<std::vector<std::string>> Groups::list_policies(const std::string& group) {
  NUBO_TRY(get(group));
  NUBO_ASSIGN_OR_RETURN(auto all, inline_policies(*store_, kGroupInlinePolicies, group));
  std::vector<std::string> names;
  for (auto& [n, d] : all) names.push_back(n);
  return names;
}

}  // namespace nubo::iam

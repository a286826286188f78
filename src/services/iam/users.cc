#include "services/iam/users.h"

#include "base/strings.h"
#include "services/iam/inline_policies.h"

namespace nubo::iam {

namespace {

constexpr const char* kColumns = "name, path, user_id, arn, create_date";

User user_of(const storage::Row& r) {
  User u;
  u.name = r.text(0);
  u.path = r.text(1);
  u.user_id = r.text(2);
  u.arn = r.text(3);
  u.create_date = r.text(4);
  return u;
}

Status exists_in(storage::Txn& txn, const std::string& name) {
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

Error no_such_user(const std::string& name) {
  return Error{"NoSuchEntity", 404, "The user with name " + name + " cannot be found."};
}

Users::Users(storage::Store* store, const Clock* clock, std::string account_id)
    : store_(store), clock_(clock), account_id_(std::move(account_id)) {}

Result<User> Users::create(User user) {
  NUBO_TRY(validate_tags(user.tags));
  user.user_id = new_entity_id("AIDA");
  user.create_date = format_iso8601(clock_->now());
  user.arn = iam_arn(account_id_, "user", user.path, user.name);
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows rows,
        txn.query("SELECT name FROM iam_users WHERE name_lower = ?", {to_lower(user.name)}));
    if (!rows.empty()) {
      return Error{"EntityAlreadyExists", 409, "User with name " + user.name + " already exists."};
    }
    NUBO_TRY(txn.exec(
        std::string("INSERT INTO iam_users (name_lower, ") + kColumns +
            ") VALUES (?, ?, ?, ?, ?, ?)",
        {to_lower(user.name), user.name, user.path, user.user_id, user.arn, user.create_date}));
    return merge_tags(txn, TagOwner{"user", to_lower(user.name)}, user.tags, "User");
  }));
  return user;
}

Result<std::optional<User>> Users::find(const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store_->query(std::string("SELECT ") + kColumns + " FROM iam_users WHERE name_lower = ?",
                    {to_lower(name)}));
  if (rows.empty()) return std::optional<User>();
  return std::optional<User>(user_of(rows[0]));
}

Result<User> Users::get(const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(std::optional<User> found, find(name));
  if (!found) return no_such_user(name);
  NUBO_ASSIGN_OR_RETURN(found->tags, load_tags(*store_, TagOwner{"user", to_lower(name)}));
  return std::move(*found);
}

Status Users::remove(const std::string& name) {
  std::string key = to_lower(name);
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(exists_in(txn, name));
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows keys,
        txn.query("SELECT COUNT(*) FROM iam_access_keys WHERE user_lower = ?", {key}));
    if (count(keys) > 0) {
      return Error{"DeleteConflict", 409, "Cannot delete entity, must delete access keys first."};
    }
    NUBO_ASSIGN_OR_RETURN(int64_t inline_n, count_inline_policies(txn, kUserInlinePolicies, name));
    if (inline_n > 0) {
      return Error{"DeleteConflict", 409, "Cannot delete entity, must delete policies first."};
    }
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows attached,
        txn.query("SELECT COUNT(*) FROM iam_attachments WHERE kind = 'user' AND owner = ?", {key}));
    if (count(attached) > 0) {
      return Error{"DeleteConflict", 409, "Cannot delete entity, must detach all policies first."};
    }
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows groups,
        txn.query("SELECT COUNT(*) FROM iam_group_members WHERE user_lower = ?", {key}));
    if (count(groups) > 0) {
      return Error{"DeleteConflict", 409,
                   "Cannot delete entity, must remove user from all groups first."};
    }
    NUBO_TRY(txn.exec("DELETE FROM iam_users WHERE name_lower = ?", {key}));
    return drop_tags(txn, TagOwner{"user", key});
  });
}

Result<Page<User>> Users::list(const std::string& path_prefix, const std::string& marker,
                               int max_items) {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows, store_->query(std::string("SELECT ") + kColumns +
                                                          " FROM iam_users ORDER BY name_lower"));
  std::vector<User> users;
  for (const auto& r : rows) {
    User u = user_of(r);
    if (starts_with(u.path, path_prefix)) users.push_back(std::move(u));
  }
  return paginate(std::move(users), to_lower(marker), max_items,
                  [](const User& u) { return to_lower(u.name); });
}

Status Users::update(const std::string& name, std::optional<std::string> new_name,
                     std::optional<std::string> new_path) {
  std::string key = to_lower(name);
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(storage::Rows rows, txn.query(std::string("SELECT ") + kColumns +
                                                            " FROM iam_users WHERE name_lower = ?",
                                                        {key}));
    if (rows.empty()) return no_such_user(name);
    User u = user_of(rows[0]);
    std::string to_name = new_name.value_or(u.name);
    std::string to_path = new_path.value_or(u.path);
    std::string to_key = to_lower(to_name);
    if (to_key != key) {
      NUBO_ASSIGN_OR_RETURN(storage::Rows taken,
                            txn.query("SELECT name FROM iam_users WHERE name_lower = ?", {to_key}));
      if (!taken.empty()) {
        return Error{"EntityAlreadyExists", 409, "User with name " + to_name + " already exists."};
      }
    }
    NUBO_TRY(txn.exec(
        "UPDATE iam_users SET name_lower = ?, name = ?, path = ?, arn = ? WHERE name_lower = ?",
        {to_key, to_name, to_path, iam_arn(account_id_, "user", to_path, to_name), key}));
    if (to_key == key) return Ok{};
    NUBO_TRY(txn.exec("UPDATE iam_user_policies SET user_lower = ? WHERE user_lower = ?",
                      {to_key, key}));
    NUBO_TRY(txn.exec("UPDATE iam_group_members SET user_lower = ? WHERE user_lower = ?",
                      {to_key, key}));
    NUBO_TRY(txn.exec("UPDATE iam_attachments SET owner = ? WHERE kind = 'user' AND owner = ?",
                      {to_key, key}));
    NUBO_TRY(
        txn.exec("UPDATE iam_access_keys SET user_lower = ? WHERE user_lower = ?", {to_key, key}));
    return rename_tags(txn, TagOwner{"user", key}, to_key);
  });
}

Status Users::tag(const std::string& name, const Tags& tags) {
  NUBO_TRY(validate_tags(tags));
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(exists_in(txn, name));
    return merge_tags(txn, TagOwner{"user", to_lower(name)}, tags, "User");
  });
}

Status Users::untag(const std::string& name, const std::vector<std::string>& keys) {
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(exists_in(txn, name));
    return remove_tags(txn, TagOwner{"user", to_lower(name)}, keys);
  });
}

Result<Tags> Users::tags(const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(User u, get(name));
  return u.tags;
}

Status Users::put_policy(const std::string& user, const std::string& policy,
                         const std::string& doc) {
  NUBO_TRY(check_policy_document(doc));
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(exists_in(txn, user));
    return put_inline_policy(txn, kUserInlinePolicies, user, policy, doc);
  });
}

Result<std::string> Users::get_policy(const std::string& user, const std::string& policy) {
  NUBO_TRY(get(user));
  return get_inline_policy(*store_, kUserInlinePolicies, user, policy);
}

Status Users::delete_policy(const std::string& user, const std::string& policy) {
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(exists_in(txn, user));
    return delete_inline_policy(txn, kUserInlinePolicies, user, policy);
  });
}

Result<std::vector<std::string>> Users::list_policies(const std::string& user) {
  NUBO_TRY(get(user));
  NUBO_ASSIGN_OR_RETURN(auto all, inline_policies(*store_, kUserInlinePolicies, user));
  std::vector<std::string> names;
  for (auto& [n, d] : all) names.push_back(n);
  return names;
}

}  // namespace nubo::iam

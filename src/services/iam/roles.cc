#include "services/iam/roles.h"

#include <algorithm>
#include <cctype>

#include "base/strings.h"
#include "services/iam/schema.h"

namespace nubo::iam {

namespace {

Error no_role(const std::string& name) {
  return Error{"NoSuchEntity", 404, "The role with name " + name + " cannot be found."};
}

constexpr const char* kColumns =
    "name, path, role_id, create_date, trust_policy, description, max_session";

Role role_of(const storage::Row& r, const std::string& account) {
  Role role;
  role.name = r.text(0);
  role.path = r.text(1);
  role.role_id = r.text(2);
  role.create_date = r.text(3);
  role.trust_policy = r.text(4);
  role.description = r.text(5);
  role.max_session_duration = static_cast<int>(r.integer(6));
  role.arn = "arn:aws:iam::" + account + ":role" + role.path + role.name;
  return role;
}

}  // namespace

Roles::Roles(storage::Store* store, const Clock* clock, std::string account_id)
    : store_(store), clock_(clock), account_id_(std::move(account_id)) {}

Status Roles::start() {
  return migrate_iam_schema(*store_);
}

Result<Role> Roles::create(Role role) {
  NUBO_TRY(check_policy_document(role.trust_policy));
  NUBO_TRY(validate_tags(role.tags));
  role.role_id = new_entity_id("AROA");
  role.create_date = format_iso8601(clock_->now());
  role.arn = "arn:aws:iam::" + account_id_ + ":role" + role.path + role.name;
  bool exists = false;
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows rows,
        txn.query("SELECT name FROM iam_roles WHERE name_lower = ?", {to_lower(role.name)}));
    if (!rows.empty()) {
      exists = true;
      return Ok{};
    }
    NUBO_TRY(txn.exec(
        std::string("INSERT INTO iam_roles (name_lower, arn, ") + kColumns +
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {to_lower(role.name), role.arn, role.name, role.path, role.role_id, role.create_date,
         role.trust_policy, role.description, static_cast<int64_t>(role.max_session_duration)}));
    return merge_tags(txn, TagOwner{"role", to_lower(role.name)}, role.tags, "Role");
  }));
  if (exists) {
    return Error{"EntityAlreadyExists", 409, "Role with name " + role.name + " already exists."};
  }
  return role;
}

Result<Role> Roles::get(const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store_->query(std::string("SELECT ") + kColumns + " FROM iam_roles WHERE name_lower = ?",
                    {to_lower(name)}));
  if (rows.empty()) return no_role(name);
  Role role = role_of(rows[0], account_id_);
  NUBO_ASSIGN_OR_RETURN(role.tags, load_tags(*store_, TagOwner{"role", to_lower(name)}));
  return role;
}

Status Roles::remove(const std::string& name) {
  std::optional<Error> refused;
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows rows,
        txn.query("SELECT name FROM iam_roles WHERE name_lower = ?", {to_lower(name)}));
    if (rows.empty()) {
      refused = no_role(name);
      return Ok{};
    }
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows policies,
        txn.query("SELECT COUNT(*) FROM iam_role_policies WHERE role_lower = ?", {to_lower(name)}));
    if (!policies.empty() && policies[0].integer(0) > 0) {
      refused = Error{"DeleteConflict", 409, "Cannot delete entity, must delete policies first."};
      return Ok{};
    }
    NUBO_ASSIGN_OR_RETURN(storage::Rows attached, txn.query("SELECT COUNT(*) FROM iam_attachments "
                                                            "WHERE kind = 'role' AND owner = ?",
                                                            {to_lower(name)}));
    if (!attached.empty() && attached[0].integer(0) > 0) {
      refused =
          Error{"DeleteConflict", 409, "Cannot delete entity, must detach all policies first."};
      return Ok{};
    }
    NUBO_TRY(txn.exec("DELETE FROM iam_roles WHERE name_lower = ?", {to_lower(name)}));
    return drop_tags(txn, TagOwner{"role", to_lower(name)});
  }));
  if (refused) return *refused;
  return Ok{};
}

Result<RolePage> Roles::list(const std::string& path_prefix, const std::string& marker,
                             int max_items) {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                        store_->query(std::string("SELECT ") + kColumns +
                                          " FROM iam_roles WHERE name_lower > ? "
                                          "ORDER BY name_lower",
                                      {to_lower(marker)}));
  RolePage page;
  for (const auto& r : rows) {
    Role role = role_of(r, account_id_);
    if (!starts_with(role.path, path_prefix)) continue;
    if (static_cast<int>(page.roles.size()) == max_items) {
      page.marker = page.roles.back().name;
      break;
    }
    page.roles.push_back(std::move(role));
  }
  return page;
}

Status Roles::put_policy(const std::string& role, const std::string& policy,
                         const std::string& doc) {
  NUBO_TRY(check_policy_document(doc));
  std::optional<Error> refused;
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows rows,
        txn.query("SELECT name FROM iam_roles WHERE name_lower = ?", {to_lower(role)}));
    if (rows.empty()) {
      refused = no_role(role);
      return Ok{};
    }
    NUBO_ASSIGN_OR_RETURN(storage::Rows docs, txn.query("SELECT document FROM iam_role_policies "
                                                        "WHERE role_lower = ? AND name <> ?",
                                                        {to_lower(role), policy}));
    size_t total = policy_size(doc);
    for (const auto& d : docs) total += policy_size(d.text(0));
    if (total > kInlineRolePoliciesMax) {
      refused = Error{"LimitExceeded", 409,
                      "Maximum policy size of " + std::to_string(kInlineRolePoliciesMax) +
                          " bytes exceeded for role " + role};
      return Ok{};
    }
    NUBO_TRY(txn.exec("DELETE FROM iam_role_policies WHERE role_lower = ? AND name = ?",
                      {to_lower(role), policy}));
    NUBO_TRY(
        txn.exec("INSERT INTO iam_role_policies (role_lower, name, document) "
                 "VALUES (?, ?, ?)",
                 {to_lower(role), policy, doc}));
    return Ok{};
  }));
  if (refused) return *refused;
  return Ok{};
}

Result<std::string> Roles::get_policy(const std::string& role, const std::string& policy) {
  NUBO_TRY(get(role));
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store_->query("SELECT document FROM iam_role_policies WHERE role_lower = ? AND name = ?",
                    {to_lower(role), policy}));
  if (rows.empty()) {
    return Error{"NoSuchEntity", 404, "The role policy with name " + policy + " cannot be found."};
  }
  return rows[0].text(0);
}

Status Roles::delete_policy(const std::string& role, const std::string& policy) {
  NUBO_TRY(get_policy(role, policy));
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(txn.exec("DELETE FROM iam_role_policies WHERE role_lower = ? AND name = ?",
                      {to_lower(role), policy}));
    return Ok{};
  });
}

Result<std::vector<std::string>> Roles::list_policies(const std::string& role) {
  NUBO_TRY(get(role));
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store_->query("SELECT name FROM iam_role_policies WHERE role_lower = ? ORDER BY name",
                    {to_lower(role)}));
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.text(0));
  return out;
}

Status Roles::update(const std::string& name, std::optional<std::string> description,
                     std::optional<int> max_session_duration) {
  std::optional<Error> refused;
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows rows,
        txn.query("SELECT name FROM iam_roles WHERE name_lower = ?", {to_lower(name)}));
    if (rows.empty()) {
      refused = no_role(name);
      return Ok{};
    }
    if (description) {
      NUBO_TRY(txn.exec("UPDATE iam_roles SET description = ? WHERE name_lower = ?",
                        {*description, to_lower(name)}));
    }
    if (max_session_duration) {
      NUBO_TRY(txn.exec("UPDATE iam_roles SET max_session = ? WHERE name_lower = ?",
                        {static_cast<int64_t>(*max_session_duration), to_lower(name)}));
    }
    return Ok{};
  }));
  if (refused) return *refused;
  return Ok{};
}

Status Roles::update_trust_policy(const std::string& name, const std::string& document) {
  NUBO_TRY(check_policy_document(document));
  std::optional<Error> refused;
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(int64_t n,
                          txn.exec("UPDATE iam_roles SET trust_policy = ? WHERE name_lower = ?",
                                   {document, to_lower(name)}));
    if (n == 0) refused = no_role(name);
    return Ok{};
  }));
  if (refused) return *refused;
  return Ok{};
}

Status Roles::tag(const std::string& name, const Tags& tags) {
  NUBO_TRY(validate_tags(tags));
  // An error returned inside the transaction rolls it back and comes out as it is.
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows rows,
        txn.query("SELECT name FROM iam_roles WHERE name_lower = ?", {to_lower(name)}));
    if (rows.empty()) return no_role(name);
    return merge_tags(txn, TagOwner{"role", to_lower(name)}, tags, "Role");
  });
}

Status Roles::untag(const std::string& name, const std::vector<std::string>& keys) {
  NUBO_TRY(get(name));
  return store_->transaction([&](storage::Txn& txn) -> Status {
    return remove_tags(txn, TagOwner{"role", to_lower(name)}, keys);
  });
}

Result<Tags> Roles::tags(const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(Role role, get(name));
  return role.tags;
}

}  // namespace nubo::iam

#include "services/iam/roles.h"

#include <algorithm>
#include <cctype>

#include "auth/policy.h"
#include "base/ids.h"
#include "base/strings.h"

namespace nubo::iam {

namespace {

const std::vector<std::string>& schema() {
  static const std::vector<std::string> s = {
      "CREATE TABLE iam_roles ("
      " name_lower TEXT PRIMARY KEY,"  // role names are unique without regard to case
      " name TEXT NOT NULL,"
      " path TEXT NOT NULL,"
      " role_id TEXT NOT NULL,"
      " create_date TEXT NOT NULL,"
      " trust_policy TEXT NOT NULL,"
      " description TEXT NOT NULL,"
      " max_session INTEGER NOT NULL)",
      "CREATE TABLE iam_role_policies ("
      " role_lower TEXT NOT NULL,"
      " name TEXT NOT NULL,"
      " document TEXT NOT NULL,"
      " PRIMARY KEY (role_lower, name))",
  };
  return s;
}

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

std::string new_role_id() {
  std::string hex = random_hex(9);  // 18 characters
  for (char& c : hex) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return "AROA" + hex.substr(0, 17);
}

}  // namespace

size_t policy_size(const std::string& document) {
  return static_cast<size_t>(std::count_if(document.begin(), document.end(), [](char c) {
    return c != ' ' && c != '\t' && c != '\n' && c != '\r';
  }));
}

Roles::Roles(storage::Store* store, const Clock* clock, std::string account_id)
    : store_(store), clock_(clock), account_id_(std::move(account_id)) {}

Status Roles::start() {
  return store_->migrate("iam_roles", schema());
}

Result<Role> Roles::create(Role role) {
  auto parsed = auth::parse_policy(role.trust_policy);
  if (!parsed.ok()) return parsed.error();
  role.role_id = new_role_id();
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
        std::string("INSERT INTO iam_roles (name_lower, ") + kColumns +
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        {to_lower(role.name), role.name, role.path, role.role_id, role.create_date,
         role.trust_policy, role.description, static_cast<int64_t>(role.max_session_duration)}));
    return Ok{};
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
  return role_of(rows[0], account_id_);
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
    NUBO_TRY(txn.exec("DELETE FROM iam_roles WHERE name_lower = ?", {to_lower(name)}));
    return Ok{};
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
  auto parsed = auth::parse_policy(doc);
  if (!parsed.ok()) return parsed.error();
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

}  // namespace nubo::iam

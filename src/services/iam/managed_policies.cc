#include "services/iam/managed_policies.h"

#include <algorithm>

#include "base/strings.h"
#include "services/iam/aws_managed_policies.h"
#include "services/iam/groups.h"
#include "services/iam/limits.h"
#include "services/iam/users.h"

namespace nubo::iam {

namespace {

constexpr const char* kColumns =
    "name, path, policy_id, arn, description, create_date, update_date, default_version";

ManagedPolicy policy_of(const storage::Row& r) {
  ManagedPolicy p;
  p.name = r.text(0);
  p.path = r.text(1);
  p.policy_id = r.text(2);
  p.arn = r.text(3);
  p.description = r.text(4);
  p.create_date = r.text(5);
  p.update_date = r.text(6);
  p.default_version = r.text(7);
  return p;
}

ManagedPolicy policy_of(const AwsManagedPolicy& a) {
  ManagedPolicy p;
  p.name = a.name;
  p.path = a.path;
  p.policy_id = a.policy_id;
  p.arn = aws_managed_policy_arn(a);
  p.description = a.description;
  p.create_date = a.create_date;
  p.update_date = a.update_date;
  p.default_version = a.version_id;
  p.aws_managed = true;
  return p;
}

Error not_found(const std::string& arn) {
  return Error{"NoSuchEntity", 404, "Policy " + arn + " was not found."};
}

Error not_attachable(const std::string& arn) {
  return Error{"NoSuchEntity", 404, "Policy " + arn + " does not exist or is not attachable."};
}

Error no_version(const std::string& arn, const std::string& version) {
  return Error{"NoSuchEntity", 404,
               "Policy " + arn + " version " + version + " does not exist or is not attachable."};
}

Error read_only(const std::string& arn) {
  return Error{"AccessDenied", 403, "Policy " + arn + " is an AWS managed policy: read-only."};
}

std::string name_of_arn(const std::string& arn) {
  auto slash = arn.rfind('/');
  return slash == std::string::npos ? arn : arn.substr(slash + 1);
}

const char* entity_table(EntityKind k) {
  switch (k) {
    case EntityKind::kUser:
      return "iam_users";
    case EntityKind::kGroup:
      return "iam_groups";
    case EntityKind::kRole:
      return "iam_roles";
  }
  return "";
}

Error no_entity(EntityKind k, const std::string& name) {
  switch (k) {
    case EntityKind::kUser:
      return no_such_user(name);
    case EntityKind::kGroup:
      return no_such_group(name);
    case EntityKind::kRole:
      break;
  }
  return Error{"NoSuchEntity", 404, "The role with name " + name + " cannot be found."};
}

const char* quota_word(EntityKind k) {
  switch (k) {
    case EntityKind::kUser:
      return "PoliciesPerUser";
    case EntityKind::kGroup:
      return "PoliciesPerGroup";
    case EntityKind::kRole:
      return "PoliciesPerRole";
  }
  return "";
}

Status entity_exists(storage::Txn& txn, EntityKind k, const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows, txn.query(std::string("SELECT name FROM ") +
                                                          entity_table(k) + " WHERE name_lower = ?",
                                                      {to_lower(name)}));
  if (rows.empty()) return no_entity(k, name);
  return Ok{};
}

int64_t count(const storage::Rows& rows) {
  return rows.empty() ? 0 : rows[0].integer(0);
}

// The customer managed policy's row inside txn; NoSuchEntity when missing.
Result<ManagedPolicy> local_in(storage::Txn& txn, const std::string& arn) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      txn.query(std::string("SELECT ") + kColumns + " FROM iam_policies WHERE arn = ?", {arn}));
  if (rows.empty()) return not_found(arn);
  return policy_of(rows[0]);
}

Status check_size(const std::string& document) {
  if (policy_size(document) > kManagedPolicySizeMax) {
    return Error{"LimitExceeded", 409,
                 "Cannot exceed quota for PolicySize: " + std::to_string(kManagedPolicySizeMax)};
  }
  return Ok{};
}

}  // namespace

const char* entity_kind_name(EntityKind k) {
  switch (k) {
    case EntityKind::kUser:
      return "user";
    case EntityKind::kGroup:
      return "group";
    case EntityKind::kRole:
      return "role";
  }
  return "";
}

Status check_policy_arn(const std::string& arn) {
  // arn:aws:iam::<account or "aws">:policy/...
  auto parts = split(arn, ':');
  if (parts.size() < 6 || parts[0] != "arn" || parts[2] != "iam" ||
      !starts_with(parts[5], "policy/") || parts[5].size() <= 7) {
    return Error{"InvalidInput", 400, "ARN " + arn + " is not valid."};
  }
  return Ok{};
}

Result<std::optional<std::string>> default_policy_document(storage::Store& store,
                                                           const std::string& arn) {
  if (const AwsManagedPolicy* a = find_aws_managed_policy(arn)) {
    return std::optional<std::string>(a->document);
  }
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                        store.query("SELECT v.document FROM iam_policies p "
                                    "JOIN iam_policy_versions v ON v.policy_arn = p.arn "
                                    "AND v.version_id = p.default_version WHERE p.arn = ?",
                                    {arn}));
  if (rows.empty()) return std::optional<std::string>();
  return std::optional<std::string>(rows[0].text(0));
}

Result<std::vector<AttachedPolicy>> attached_policies(storage::Store& store, EntityKind kind,
                                                      const std::string& entity) {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                        store.query("SELECT policy_arn FROM iam_attachments "
                                    "WHERE kind = ? AND owner = ?",
                                    {std::string(entity_kind_name(kind)), to_lower(entity)}));
  std::vector<AttachedPolicy> out;
  for (const auto& r : rows) out.push_back(AttachedPolicy{name_of_arn(r.text(0)), r.text(0)});
  std::sort(out.begin(), out.end(), [](const AttachedPolicy& a, const AttachedPolicy& b) {
    return std::make_pair(a.name, a.arn) < std::make_pair(b.name, b.arn);
  });
  return out;
}

ManagedPolicies::ManagedPolicies(storage::Store* store, const Clock* clock, std::string account_id)
    : store_(store), clock_(clock), account_id_(std::move(account_id)) {}

Result<ManagedPolicy> ManagedPolicies::create(ManagedPolicy policy, const std::string& document) {
  NUBO_TRY(check_policy_document(document));
  NUBO_TRY(check_size(document));
  NUBO_TRY(validate_tags(policy.tags));
  policy.policy_id = new_entity_id("ANPA");
  policy.create_date = format_iso8601(clock_->now());
  policy.update_date = policy.create_date;
  policy.default_version = "v1";
  policy.arn = iam_arn(account_id_, "policy", policy.path, policy.name);
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows taken,
        txn.query("SELECT arn FROM iam_policies WHERE name_lower = ?", {to_lower(policy.name)}));
    if (!taken.empty()) {
      return Error{
          "EntityAlreadyExists", 409,
          "A policy called " + policy.name + " already exists. Duplicate names are not allowed."};
    }
    NUBO_TRY(txn.exec(
        std::string("INSERT INTO iam_policies (name_lower, next_version, ") + kColumns +
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        {to_lower(policy.name), int64_t{2}, policy.name, policy.path, policy.policy_id, policy.arn,
         policy.description, policy.create_date, policy.update_date, policy.default_version}));
    NUBO_TRY(
        txn.exec("INSERT INTO iam_policy_versions (policy_arn, version_id, version_no, "
                 "document, create_date) VALUES (?, 'v1', 1, ?, ?)",
                 {policy.arn, document, policy.create_date}));
    return merge_tags(txn, TagOwner{"policy", policy.arn}, policy.tags, "Policy");
  }));
  return policy;
}

Result<ManagedPolicy> ManagedPolicies::get(const std::string& arn) {
  NUBO_TRY(check_policy_arn(arn));
  ManagedPolicy p;
  if (const AwsManagedPolicy* a = find_aws_managed_policy(arn)) {
    p = policy_of(*a);
  } else {
    NUBO_ASSIGN_OR_RETURN(storage::Rows rows, store_->query(std::string("SELECT ") + kColumns +
                                                                " FROM iam_policies WHERE arn = ?",
                                                            {arn}));
    if (rows.empty()) return not_found(arn);
    p = policy_of(rows[0]);
    NUBO_ASSIGN_OR_RETURN(p.tags, load_tags(*store_, TagOwner{"policy", arn}));
  }
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows n,
      store_->query("SELECT COUNT(*) FROM iam_attachments WHERE policy_arn = ?", {arn}));
  p.attachment_count = static_cast<int>(count(n));
  return p;
}

Status ManagedPolicies::remove(const std::string& arn) {
  NUBO_TRY(check_policy_arn(arn));
  if (is_aws_managed_arn(arn)) {
    if (find_aws_managed_policy(arn) == nullptr) return not_found(arn);
    return read_only(arn);
  }
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(ManagedPolicy p, local_in(txn, arn));
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows attached,
        txn.query("SELECT COUNT(*) FROM iam_attachments WHERE policy_arn = ?", {arn}));
    if (count(attached) > 0) {
      return Error{"DeleteConflict", 409, "Cannot delete a policy attached to entities."};
    }
    NUBO_ASSIGN_OR_RETURN(storage::Rows versions,
                          txn.query("SELECT COUNT(*) FROM iam_policy_versions "
                                    "WHERE policy_arn = ? AND version_id <> ?",
                                    {arn, p.default_version}));
    if (count(versions) > 0) {
      return Error{"DeleteConflict", 409,
                   "This policy has more than one version. Before you delete a policy, you must "
                   "delete the policy's versions. The default version is deleted with the "
                   "policy."};
    }
    NUBO_TRY(txn.exec("DELETE FROM iam_policy_versions WHERE policy_arn = ?", {arn}));
    NUBO_TRY(txn.exec("DELETE FROM iam_policies WHERE arn = ?", {arn}));
    return drop_tags(txn, TagOwner{"policy", arn});
  });
}

Result<std::vector<ManagedPolicy>> ManagedPolicies::list(PolicyScope scope, bool only_attached,
                                                         const std::string& path_prefix) {
  std::vector<ManagedPolicy> all;
  if (scope != PolicyScope::kAws) {
    NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                          store_->query(std::string("SELECT ") + kColumns + " FROM iam_policies"));
    for (const auto& r : rows) all.push_back(policy_of(r));
  }
  if (scope != PolicyScope::kLocal) {
    for (const auto& a : aws_managed_policies()) all.push_back(policy_of(a));
  }
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows counts,
      store_->query("SELECT policy_arn, COUNT(*) FROM iam_attachments GROUP BY policy_arn"));
  std::vector<ManagedPolicy> out;
  for (auto& p : all) {
    for (const auto& c : counts) {
      if (c.text(0) == p.arn) p.attachment_count = static_cast<int>(c.integer(1));
    }
    if (!starts_with(p.path, path_prefix)) continue;
    if (only_attached && p.attachment_count == 0) continue;
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(),
            [](const ManagedPolicy& a, const ManagedPolicy& b) { return a.arn < b.arn; });
  return out;
}

Result<PolicyVersion> ManagedPolicies::create_version(const std::string& arn,
                                                      const std::string& document,
                                                      bool set_as_default) {
  NUBO_TRY(check_policy_arn(arn));
  if (is_aws_managed_arn(arn)) {
    if (find_aws_managed_policy(arn) == nullptr) return not_found(arn);
    return read_only(arn);
  }
  NUBO_TRY(check_policy_document(document));
  NUBO_TRY(check_size(document));
  PolicyVersion v;
  v.document = document;
  v.create_date = format_iso8601(clock_->now());
  v.is_default = set_as_default;
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(local_in(txn, arn));
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows n,
        txn.query("SELECT COUNT(*) FROM iam_policy_versions WHERE policy_arn = ?", {arn}));
    if (count(n) >= kPolicyVersionsMax) {
      return Error{"LimitExceeded", 409,
                   "A managed policy can have up to " + std::to_string(kPolicyVersionsMax) +
                       " versions. Before you create a new version, you must delete an existing "
                       "version."};
    }
    NUBO_ASSIGN_OR_RETURN(storage::Rows next,
                          txn.query("SELECT next_version FROM iam_policies WHERE arn = ?", {arn}));
    int64_t no = next[0].integer(0);
    v.version_id = "v" + std::to_string(no);
    NUBO_TRY(
        txn.exec("INSERT INTO iam_policy_versions (policy_arn, version_id, version_no, "
                 "document, create_date) VALUES (?, ?, ?, ?, ?)",
                 {arn, v.version_id, no, document, v.create_date}));
    NUBO_TRY(txn.exec("UPDATE iam_policies SET next_version = ?, update_date = ? WHERE arn = ?",
                      {no + 1, v.create_date, arn}));
    if (set_as_default) {
      NUBO_TRY(txn.exec("UPDATE iam_policies SET default_version = ? WHERE arn = ?",
                        {v.version_id, arn}));
    }
    return Ok{};
  }));
  return v;
}

Result<PolicyVersion> ManagedPolicies::get_version(const std::string& arn,
                                                   const std::string& version_id) {
  NUBO_ASSIGN_OR_RETURN(std::vector<PolicyVersion> all, list_versions(arn));
  for (auto& v : all) {
    if (v.version_id == version_id) return std::move(v);
  }
  return no_version(arn, version_id);
}

Result<std::vector<PolicyVersion>> ManagedPolicies::list_versions(const std::string& arn) {
  NUBO_TRY(check_policy_arn(arn));
  if (const AwsManagedPolicy* a = find_aws_managed_policy(arn)) {
    // AWS keeps the older versions of its policies too; nubo has the default one.
    return std::vector<PolicyVersion>{
        PolicyVersion{a->version_id, a->document, a->update_date, true}};
  }
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows p,
      store_->query("SELECT default_version FROM iam_policies WHERE arn = ?", {arn}));
  if (p.empty()) return not_found(arn);
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                        store_->query("SELECT version_id, document, create_date "
                                      "FROM iam_policy_versions WHERE policy_arn = ? "
                                      "ORDER BY version_no DESC",
                                      {arn}));
  std::vector<PolicyVersion> out;
  for (const auto& r : rows) {
    out.push_back(PolicyVersion{r.text(0), r.text(1), r.text(2), r.text(0) == p[0].text(0)});
  }
  return out;
}

Status ManagedPolicies::delete_version(const std::string& arn, const std::string& version_id) {
  NUBO_TRY(check_policy_arn(arn));
  if (is_aws_managed_arn(arn)) {
    if (find_aws_managed_policy(arn) == nullptr) return not_found(arn);
    return read_only(arn);
  }
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(ManagedPolicy p, local_in(txn, arn));
    if (p.default_version == version_id) {
      return Error{"DeleteConflict", 409, "Cannot delete the default version of a policy."};
    }
    NUBO_ASSIGN_OR_RETURN(
        int64_t n,
        txn.exec("DELETE FROM iam_policy_versions WHERE policy_arn = ? AND version_id = ?",
                 {arn, version_id}));
    if (n == 0) return no_version(arn, version_id);
    return Ok{};
  });
}

Status ManagedPolicies::set_default_version(const std::string& arn, const std::string& version_id) {
  NUBO_TRY(check_policy_arn(arn));
  if (is_aws_managed_arn(arn)) {
    if (find_aws_managed_policy(arn) == nullptr) return not_found(arn);
    return read_only(arn);
  }
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(local_in(txn, arn));
    NUBO_ASSIGN_OR_RETURN(storage::Rows v, txn.query("SELECT version_id FROM iam_policy_versions "
                                                     "WHERE policy_arn = ? AND version_id = ?",
                                                     {arn, version_id}));
    if (v.empty()) return no_version(arn, version_id);
    NUBO_TRY(
        txn.exec("UPDATE iam_policies SET default_version = ? WHERE arn = ?", {version_id, arn}));
    return Ok{};
  });
}

Status ManagedPolicies::attach(EntityKind kind, const std::string& entity, const std::string& arn) {
  NUBO_TRY(check_policy_arn(arn));
  std::string owner = to_lower(entity);
  std::string k = entity_kind_name(kind);
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(entity_exists(txn, kind, entity));
    if (find_aws_managed_policy(arn) == nullptr) {
      NUBO_ASSIGN_OR_RETURN(storage::Rows p,
                            txn.query("SELECT arn FROM iam_policies WHERE arn = ?", {arn}));
      if (p.empty()) return not_attachable(arn);
    }
    NUBO_ASSIGN_OR_RETURN(storage::Rows already,
                          txn.query("SELECT policy_arn FROM iam_attachments "
                                    "WHERE kind = ? AND owner = ? AND policy_arn = ?",
                                    {k, owner, arn}));
    if (!already.empty()) return Ok{};
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows n,
        txn.query("SELECT COUNT(*) FROM iam_attachments WHERE kind = ? AND owner = ?", {k, owner}));
    if (count(n) >= kManagedPoliciesPerEntity) {
      return Error{"LimitExceeded", 409,
                   std::string("Cannot exceed quota for ") + quota_word(kind) + ": " +
                       std::to_string(kManagedPoliciesPerEntity)};
    }
    NUBO_TRY(txn.exec("INSERT INTO iam_attachments (kind, owner, policy_arn) VALUES (?, ?, ?)",
                      {k, owner, arn}));
    return Ok{};
  });
}

Status ManagedPolicies::detach(EntityKind kind, const std::string& entity, const std::string& arn) {
  NUBO_TRY(check_policy_arn(arn));
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(entity_exists(txn, kind, entity));
    NUBO_ASSIGN_OR_RETURN(int64_t n,
                          txn.exec("DELETE FROM iam_attachments "
                                   "WHERE kind = ? AND owner = ? AND policy_arn = ?",
                                   {std::string(entity_kind_name(kind)), to_lower(entity), arn}));
    if (n == 0) return not_found(arn);
    return Ok{};
  });
}

Result<std::vector<AttachedPolicy>> ManagedPolicies::attached(EntityKind kind,
                                                              const std::string& entity,
                                                              const std::string& path_prefix) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store_->query(std::string("SELECT name FROM ") + entity_table(kind) + " WHERE name_lower = ?",
                    {to_lower(entity)}));
  if (rows.empty()) return no_entity(kind, entity);
  NUBO_ASSIGN_OR_RETURN(std::vector<AttachedPolicy> all, attached_policies(*store_, kind, entity));
  std::vector<AttachedPolicy> out;
  for (auto& a : all) {
    // The policy's path: what lies between "policy" and its name.
    auto at = a.arn.find(":policy/");
    std::string path = at == std::string::npos
                           ? "/"
                           : a.arn.substr(at + 7, a.arn.size() - (at + 7) - a.name.size());
    if (starts_with(path, path_prefix)) out.push_back(std::move(a));
  }
  return out;
}

Result<PolicyEntities> ManagedPolicies::entities(const std::string& arn,
                                                 std::optional<EntityKind> filter,
                                                 const std::string& path_prefix) {
  NUBO_TRY(get(arn));  // NoSuchEntity for an unknown policy
  PolicyEntities out;
  struct Spec {
    EntityKind kind;
    const char* id_column;
    std::vector<PolicyEntity>* into;
  };
  const Spec specs[] = {{EntityKind::kUser, "user_id", &out.users},
                        {EntityKind::kGroup, "group_id", &out.groups},
                        {EntityKind::kRole, "role_id", &out.roles}};
  for (const Spec& s : specs) {
    if (filter && *filter != s.kind) continue;
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows rows,
        store_->query(std::string("SELECT e.name, e.") + s.id_column + ", e.path FROM " +
                          entity_table(s.kind) +
                          " e JOIN iam_attachments a ON a.owner = e.name_lower "
                          "WHERE a.kind = ? AND a.policy_arn = ? ORDER BY e.name_lower",
                      {std::string(entity_kind_name(s.kind)), arn}));
    for (const auto& r : rows) {
      if (!starts_with(r.text(2), path_prefix)) continue;
      s.into->push_back(PolicyEntity{r.text(0), r.text(1), r.text(2)});
    }
  }
  return out;
}

}  // namespace nubo::iam

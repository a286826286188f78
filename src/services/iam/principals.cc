#include "services/iam/principals.h"

#include "base/strings.h"
#include "services/iam/aws_managed_policies.h"
#include "services/iam/common.h"
#include "services/iam/inline_policies.h"
#include "services/iam/managed_policies.h"

namespace nubo::iam {

namespace {

// Appends the default documents of the entity's attached managed policies; their ARNs to arns
// when given.
Status add_attached(storage::Store& store, EntityKind kind, const std::string& name,
                    std::vector<std::string>& docs, std::vector<std::string>* arns) {
  NUBO_ASSIGN_OR_RETURN(std::vector<AttachedPolicy> attached, attached_policies(store, kind, name));
  for (const auto& a : attached) {
    NUBO_ASSIGN_OR_RETURN(std::optional<std::string> doc, default_policy_document(store, a.arn));
    // Attached policies cannot be deleted, so every one has its document.
    if (doc) docs.push_back(std::move(*doc));
    if (arns) arns->push_back(a.arn);
  }
  return Ok{};
}

Status add_inline(storage::Store& store, const InlineTable& t, const std::string& name,
                  std::vector<std::string>& docs) {
  NUBO_ASSIGN_OR_RETURN(auto all, inline_policies(store, t, name));
  for (auto& [n, d] : all) docs.push_back(std::move(d));
  return Ok{};
}

Result<std::map<std::string, std::string>> tag_map(storage::Store& store, const char* kind,
                                                   const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(Tags tags, load_tags(store, TagOwner{kind, to_lower(name)}));
  std::map<std::string, std::string> out;
  for (auto& t : tags) out[t.key] = t.value;
  return out;
}

}  // namespace

Result<std::optional<AccessKeyRecord>> find_access_key(storage::Store& store,
                                                       const auth::Keyring& keyring,
                                                       const std::string& access_key_id) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store.query("SELECT k.sealed_secret, k.status, k.create_date, u.name, u.arn, u.user_id "
                  "FROM iam_access_keys k JOIN iam_users u ON u.name_lower = k.user_lower "
                  "WHERE k.access_key_id = ?",
                  {access_key_id}));
  if (rows.empty()) return std::optional<AccessKeyRecord>();
  const storage::Row& r = rows[0];
  NUBO_ASSIGN_OR_RETURN(std::string secret, keyring.open_sealed(r.text(0), access_key_id));
  AccessKeyRecord rec;
  rec.access_key_id = access_key_id;
  rec.secret_access_key = std::move(secret);
  rec.active = r.text(1) == "Active";
  rec.create_date = r.text(2);
  rec.user_name = r.text(3);
  rec.user_arn = r.text(4);
  rec.user_id = r.text(5);
  return std::optional<AccessKeyRecord>(std::move(rec));
}

Result<std::optional<PrincipalRecord>> load_user(storage::Store& store,
                                                 const std::string& user_name) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store.query("SELECT name, path, user_id, arn FROM iam_users WHERE name_lower = ?",
                  {to_lower(user_name)}));
  if (rows.empty()) return std::optional<PrincipalRecord>();
  PrincipalRecord p;
  p.name = rows[0].text(0);
  p.path = rows[0].text(1);
  p.id = rows[0].text(2);
  p.arn = rows[0].text(3);
  NUBO_TRY(add_inline(store, kUserInlinePolicies, p.name, p.policy_documents));
  NUBO_TRY(
      add_attached(store, EntityKind::kUser, p.name, p.policy_documents, &p.managed_policy_arns));
  NUBO_ASSIGN_OR_RETURN(storage::Rows groups,
                        store.query("SELECT g.name FROM iam_groups g JOIN iam_group_members m "
                                    "ON m.group_lower = g.name_lower WHERE m.user_lower = ? "
                                    "ORDER BY g.name_lower",
                                    {to_lower(p.name)}));
  for (const auto& g : groups) {
    p.group_names.push_back(g.text(0));
    NUBO_TRY(add_inline(store, kGroupInlinePolicies, g.text(0), p.policy_documents));
    NUBO_TRY(add_attached(store, EntityKind::kGroup, g.text(0), p.policy_documents, nullptr));
  }
  NUBO_ASSIGN_OR_RETURN(p.tags, tag_map(store, "user", p.name));
  return std::optional<PrincipalRecord>(std::move(p));
}

Result<std::optional<PrincipalRecord>> load_role(storage::Store& store,
                                                 const std::string& role_name) {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                        store.query("SELECT name, path, role_id, arn, trust_policy, max_session "
                                    "FROM iam_roles WHERE name_lower = ?",
                                    {to_lower(role_name)}));
  if (rows.empty()) return std::optional<PrincipalRecord>();
  PrincipalRecord p;
  p.name = rows[0].text(0);
  p.path = rows[0].text(1);
  p.id = rows[0].text(2);
  p.arn = rows[0].text(3);
  p.trust_policy = rows[0].text(4);
  p.max_session_duration = static_cast<int>(rows[0].integer(5));
  NUBO_ASSIGN_OR_RETURN(storage::Rows inl,
                        store.query("SELECT document FROM iam_role_policies WHERE role_lower = ? "
                                    "ORDER BY name",
                                    {to_lower(p.name)}));
  for (const auto& r : inl) p.policy_documents.push_back(r.text(0));
  NUBO_TRY(
      add_attached(store, EntityKind::kRole, p.name, p.policy_documents, &p.managed_policy_arns));
  NUBO_ASSIGN_OR_RETURN(p.tags, tag_map(store, "role", p.name));
  return std::optional<PrincipalRecord>(std::move(p));
}

Result<std::vector<std::string>> managed_policy_documents(
    storage::Store& store, const std::string& account_id,
    const std::vector<std::string>& policy_arns) {
  std::vector<std::string> out;
  for (const auto& arn : policy_arns) {
    bool ours = starts_with(arn, "arn:aws:iam::" + account_id + ":policy/");
    std::optional<std::string> doc;
    if (ours || is_aws_managed_arn(arn)) {
      NUBO_ASSIGN_OR_RETURN(doc, default_policy_document(store, arn));
    }
    if (!doc)
      return Error{"NoSuchEntity", 404, "Policy " + arn + " does not exist or is not attachable."};
    out.push_back(std::move(*doc));
  }
  return out;
}

}  // namespace nubo::iam

#include "services/iam/inline_policies.h"

#include "base/strings.h"
#include "services/iam/common.h"
#include "services/iam/limits.h"

namespace nubo::iam {

const InlineTable kUserInlinePolicies{"iam_user_policies", "user_lower", kInlineUserPoliciesMax,
                                      "user"};
const InlineTable kGroupInlinePolicies{"iam_group_policies", "group_lower", kInlineGroupPoliciesMax,
                                       "group"};

namespace {

std::string where(const InlineTable& t) {
  return std::string(" WHERE ") + t.owner_column + " = ?";
}

Error no_policy(const InlineTable& t, const std::string& name) {
  return Error{"NoSuchEntity", 404,
               std::string("The ") + t.what + " policy with name " + name + " cannot be found."};
}

}  // namespace

Status put_inline_policy(storage::Txn& txn, const InlineTable& t, const std::string& owner,
                         const std::string& name, const std::string& document) {
  std::string key = to_lower(owner);
  NUBO_ASSIGN_OR_RETURN(storage::Rows docs, txn.query(std::string("SELECT document FROM ") +
                                                          t.table + where(t) + " AND name <> ?",
                                                      {key, name}));
  size_t total = policy_size(document);
  for (const auto& d : docs) total += policy_size(d.text(0));
  if (total > t.max_total) {
    return Error{"LimitExceeded", 409,
                 "Maximum policy size of " + std::to_string(t.max_total) + " bytes exceeded for " +
                     t.what + " " + owner};
  }
  NUBO_TRY(
      txn.exec(std::string("DELETE FROM ") + t.table + where(t) + " AND name = ?", {key, name}));
  NUBO_TRY(txn.exec(std::string("INSERT INTO ") + t.table + " (" + t.owner_column +
                        ", name, document) VALUES (?, ?, ?)",
                    {key, name, document}));
  return Ok{};
}

Result<std::string> get_inline_policy(storage::Store& store, const InlineTable& t,
                                      const std::string& owner, const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows, store.query(std::string("SELECT document FROM ") +
                                                            t.table + where(t) + " AND name = ?",
                                                        {to_lower(owner), name}));
  if (rows.empty()) return no_policy(t, name);
  return rows[0].text(0);
}

Status delete_inline_policy(storage::Txn& txn, const InlineTable& t, const std::string& owner,
                            const std::string& name) {
  NUBO_ASSIGN_OR_RETURN(int64_t n,
                        txn.exec(std::string("DELETE FROM ") + t.table + where(t) + " AND name = ?",
                                 {to_lower(owner), name}));
  if (n == 0) return no_policy(t, name);
  return Ok{};
}

Result<std::vector<std::pair<std::string, std::string>>> inline_policies(storage::Store& store,
                                                                         const InlineTable& t,
                                                                         const std::string& owner) {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows, store.query(std::string("SELECT name, document FROM ") +
                                                            t.table + where(t) + " ORDER BY name",
                                                        {to_lower(owner)}));
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : rows) out.emplace_back(r.text(0), r.text(1));
  return out;
}

Result<int64_t> count_inline_policies(storage::Txn& txn, const InlineTable& t,
                                      const std::string& owner) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      txn.query(std::string("SELECT COUNT(*) FROM ") + t.table + where(t), {to_lower(owner)}));
  return rows.empty() ? 0 : rows[0].integer(0);
}

}  // namespace nubo::iam

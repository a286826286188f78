// Inline policies of users and groups (roles keep theirs in roles.h): one table each, keyed by
// the owner's lower-cased name and the policy name, with IAM's limit on their total size.
//
// Threads: the Store functions block on it; the Txn ones run inside the caller's transaction.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "storage/store.h"

namespace nubo::iam {

struct InlineTable {
  const char* table;         // "iam_user_policies"
  const char* owner_column;  // "user_lower"
  size_t max_total;          // kInlineUserPoliciesMax
  const char* what;          // "user", as the LimitExceeded and NoSuchEntity messages say it
};

extern const InlineTable kUserInlinePolicies;
extern const InlineTable kGroupInlinePolicies;

// Adds or replaces `name` of owner (its display name; stored lower-cased) inside txn.
// LimitExceeded (409) when the owner's inline policies together would pass max_total.
// REQUIRES: the document parsed (check_policy_document) and the owner exists.
Status put_inline_policy(storage::Txn& txn, const InlineTable& t, const std::string& owner,
                         const std::string& name, const std::string& document);
// The document, or NoSuchEntity (404) "The user policy with name X cannot be found."
Result<std::string> get_inline_policy(storage::Store& store, const InlineTable& t,
                                      const std::string& owner, const std::string& name);
// NoSuchEntity when there is no such policy.
Status delete_inline_policy(storage::Txn& txn, const InlineTable& t, const std::string& owner,
                            const std::string& name);
// (name, document) pairs in name order.
Result<std::vector<std::pair<std::string, std::string>>> inline_policies(storage::Store& store,
                                                                         const InlineTable& t,
                                                                         const std::string& owner);
Result<int64_t> count_inline_policies(storage::Txn& txn, const InlineTable& t,
                                      const std::string& owner);

}  // namespace nubo::iam

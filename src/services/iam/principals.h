// What other components know of IAM's principals: access keys (with their secrets, opened) and
// the users and roles with every identity policy that applies to them. The credential
// directory (services/sts) calls these to authenticate requests and build auth::Identity.
//
// REQUIRES: the IAM schema is applied (migrate_iam_schema, which IamService::start() runs).
// Threads: every function blocks on the Store (call from the blocking pool); thread-safe.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "auth/keyring.h"
#include "base/result.h"
#include "services/iam/schema.h"
#include "storage/store.h"

namespace nubo::iam {

struct AccessKeyRecord {
  std::string access_key_id, secret_access_key /* unsealed */, user_name, user_arn, user_id;
  bool active = true;
  std::string create_date;
};

// nullopt when no such key. ServiceException (500) when the sealed secret does not open with
// this keyring. Blocks on the Store.
Result<std::optional<AccessKeyRecord>> find_access_key(storage::Store& store,
                                                       const auth::Keyring& keyring,
                                                       const std::string& access_key_id);

struct PrincipalRecord {
  std::string arn, id, name, path;
  // Every identity policy that applies: inline, attached managed (default version, built-ins
  // included), and for users each group's inline + attached. In that order: the principal's
  // inline policies by name, its attached policies by name, then each group (by name) with its
  // inline and attached policies.
  std::vector<std::string> policy_documents;
  std::map<std::string, std::string> tags;
  std::string trust_policy;                      // roles only
  int max_session_duration = 3600;               // roles only
  std::vector<std::string> group_names;          // users only, by name
  std::vector<std::string> managed_policy_arns;  // attached directly, by name
};

// nullopt when no such user/role (names compared without regard to case). Blocks on the Store.
Result<std::optional<PrincipalRecord>> load_user(storage::Store& store,
                                                 const std::string& user_name);
Result<std::optional<PrincipalRecord>> load_role(storage::Store& store,
                                                 const std::string& role_name);

// The default-version documents of managed policies (built-ins included), in order;
// NoSuchEntity (404) naming the first unknown ARN. account_id: the caller's account (an ARN of
// another account is unknown).
Result<std::vector<std::string>> managed_policy_documents(
    storage::Store& store, const std::string& account_id,
    const std::vector<std::string>& policy_arns);

}  // namespace nubo::iam

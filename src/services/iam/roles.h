// Roles: IAM roles, their inline policies and tags, the logic layer (no HTTP types). The Store
// is the truth; every write is one transaction. (Managed policies attached to roles:
// managed_policies.h.)
//
// Threads: every method blocks on the Store: call them from the blocking pool. Thread-safe
// (the Store serialises writes; an exists-check and its insert share one transaction).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "services/iam/common.h"
#include "services/iam/limits.h"
#include "storage/store.h"

namespace nubo::iam {

struct Role {
  std::string name;
  std::string path = "/";
  std::string role_id;  // "AROA" + 17 characters
  std::string arn;
  std::string create_date;  // ISO 8601, "2024-01-01T00:00:00Z"
  std::string trust_policy;
  std::string description;
  int max_session_duration = kMaxSessionDefault;
  Tags tags;  // get() fills them; create() stores them
};

struct RolePage {
  std::vector<Role> roles;
  std::string marker;  // non-empty: more
};

class Roles {
 public:
  Roles(storage::Store* store, const Clock* clock, std::string account_id);
  Status start();  // applies the schema (migrate_iam_schema)

  // EntityAlreadyExists (409); the trust policy must parse (MalformedPolicyDocument); tags as
  // validate_tags() allows them.
  Result<Role> create(Role role);
  Result<Role> get(const std::string& name);  // NoSuchEntity (404); with its tags
  // DeleteConflict (409) while the role has inline policies or attached managed policies.
  Status remove(const std::string& name);
  Result<RolePage> list(const std::string& path_prefix, const std::string& marker, int max_items);

  // UpdateRole: a new description and/or maximum session duration (nullopt: unchanged).
  Status update(const std::string& name, std::optional<std::string> description,
                std::optional<int> max_session_duration);
  // UpdateAssumeRolePolicy: the document must parse (MalformedPolicyDocument).
  Status update_trust_policy(const std::string& name, const std::string& document);

  Status tag(const std::string& name, const Tags& tags);  // LimitExceeded past 50 tags
  Status untag(const std::string& name, const std::vector<std::string>& keys);
  Result<Tags> tags(const std::string& name);

  Status put_policy(const std::string& role, const std::string& policy, const std::string& doc);
  Result<std::string> get_policy(const std::string& role, const std::string& policy);
  Status delete_policy(const std::string& role, const std::string& policy);
  Result<std::vector<std::string>> list_policies(const std::string& role);

 private:
  storage::Store* store_;
  const Clock* clock_;
  std::string account_id_;
};

}  // namespace nubo::iam

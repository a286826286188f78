// Roles: IAM roles and their inline policies, the logic layer (no HTTP types). The Store is the
// truth; every write is one transaction.
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
#include "storage/store.h"

namespace nubo::iam {

// IAM's limits (IAM User Guide, "IAM and AWS STS quotas"; API reference).
inline constexpr size_t kRoleNameMax = 64;
inline constexpr size_t kPolicyNameMax = 128;
inline constexpr size_t kPathMax = 512;
inline constexpr size_t kRoleDescriptionMax = 1000;
inline constexpr int kMaxSessionMin = 3600;
inline constexpr int kMaxSessionMax = 43200;
inline constexpr size_t kTrustPolicyMax = 2048;          // role trust policy, characters
inline constexpr size_t kInlineRolePoliciesMax = 10240;  // all inline policies of a role
inline constexpr int kMaxItemsDefault = 100;

// A policy's size as IAM counts it against its quotas: characters, white space not counted.
size_t policy_size(const std::string& document);

struct Role {
  std::string name;
  std::string path = "/";
  std::string role_id;  // "AROA" + 17 characters
  std::string arn;
  std::string create_date;  // ISO 8601, "2024-01-01T00:00:00Z"
  std::string trust_policy;
  std::string description;
  int max_session_duration = 3600;
};

struct RolePage {
  std::vector<Role> roles;
  std::string marker;  // non-empty: more
};

class Roles {
 public:
  Roles(storage::Store* store, const Clock* clock, std::string account_id);
  Status start();  // applies the schema

  // EntityAlreadyExists (409); the trust policy must parse (MalformedPolicyDocument).
  Result<Role> create(Role role);
  Result<Role> get(const std::string& name);  // NoSuchEntity (404)
  // DeleteConflict (409) while the role has inline policies.
  Status remove(const std::string& name);
  Result<RolePage> list(const std::string& path_prefix, const std::string& marker, int max_items);

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

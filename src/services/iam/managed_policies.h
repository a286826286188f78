// ManagedPolicies: customer managed policies, their versions and their attachments to users,
// groups and roles, beside the AWS managed policies of aws_managed_policies.h (read-only,
// attachable). The logic layer (no HTTP types); the Store is the truth and every write is one
// transaction.
//
// Threads: every method blocks on the Store: call them from the blocking pool. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "services/iam/common.h"
#include "storage/store.h"

namespace nubo::iam {

struct ManagedPolicy {
  std::string name;
  std::string path = "/";
  std::string policy_id;  // "ANPA" + 17 characters
  std::string arn;        // arn:aws:iam::<account>:policy<path><name>, or ::aws: for AWS's
  std::string description;
  std::string create_date;
  std::string update_date;  // when its newest version was made
  std::string default_version = "v1";
  int attachment_count = 0;
  bool aws_managed = false;
  Tags tags;  // customer managed only
};

struct PolicyVersion {
  std::string version_id;  // "v1", "v2", ...
  std::string document;
  std::string create_date;
  bool is_default = false;
};

struct AttachedPolicy {
  std::string name;
  std::string arn;
};

enum class EntityKind { kUser, kGroup, kRole };
const char* entity_kind_name(EntityKind k);  // "user", "group", "role" (the Store's words)

struct PolicyEntity {
  std::string name;
  std::string id;
  std::string path;
};
struct PolicyEntities {
  std::vector<PolicyEntity> users, groups, roles;  // each by name
};

enum class PolicyScope { kAll, kAws, kLocal };

// InvalidInput (400) "ARN x is not valid." unless arn looks like an IAM policy ARN.
Status check_policy_arn(const std::string& arn);

// The default version's document of the managed policy `arn` (AWS managed ones included), or
// nullopt when there is no such policy. Blocks on the Store.
Result<std::optional<std::string>> default_policy_document(storage::Store& store,
                                                           const std::string& arn);
// The managed policies attached to one entity (name lower-cased or not), by policy name.
Result<std::vector<AttachedPolicy>> attached_policies(storage::Store& store, EntityKind kind,
                                                      const std::string& entity);

class ManagedPolicies {
 public:
  ManagedPolicies(storage::Store* store, const Clock* clock, std::string account_id);

  // CreatePolicy: policy.name/path/description/tags and the first version's document (v1,
  // the default). EntityAlreadyExists (409) for a name in use; MalformedPolicyDocument;
  // LimitExceeded past kManagedPolicySizeMax.
  Result<ManagedPolicy> create(ManagedPolicy policy, const std::string& document);
  Result<ManagedPolicy> get(const std::string& arn);  // NoSuchEntity "Policy x was not found."
  // DeleteConflict (409) while attached or while it has versions besides the default.
  // AccessDenied (403) for AWS managed policies.
  Status remove(const std::string& arn);
  // ListPolicies' selection, by ARN (customer managed first).
  Result<std::vector<ManagedPolicy>> list(PolicyScope scope, bool only_attached,
                                          const std::string& path_prefix);

  // At most kPolicyVersionsMax versions (LimitExceeded).
  Result<PolicyVersion> create_version(const std::string& arn, const std::string& document,
                                       bool set_as_default);
  Result<PolicyVersion> get_version(const std::string& arn, const std::string& version_id);
  Result<std::vector<PolicyVersion>> list_versions(const std::string& arn);  // newest first
  // DeleteConflict (409) for the default version.
  Status delete_version(const std::string& arn, const std::string& version_id);
  Status set_default_version(const std::string& arn, const std::string& version_id);

  // NoSuchEntity for an unknown entity or policy; LimitExceeded past kManagedPoliciesPerEntity.
  // Attaching twice is not an error.
  Status attach(EntityKind kind, const std::string& entity, const std::string& arn);
  Status detach(EntityKind kind, const std::string& entity, const std::string& arn);
  // The entity's attached policies whose path starts with path_prefix.
  Result<std::vector<AttachedPolicy>> attached(EntityKind kind, const std::string& entity,
                                               const std::string& path_prefix);
  // ListEntitiesForPolicy: filter nullopt = all kinds; entities whose path starts with prefix.
  Result<PolicyEntities> entities(const std::string& arn, std::optional<EntityKind> filter,
                                  const std::string& path_prefix);

 private:
  storage::Store* store_;
  const Clock* clock_;
  std::string account_id_;
};

}  // namespace nubo::iam

// Groups: IAM groups, their members and inline policies, the logic layer (no HTTP types). The
// Store is the truth; every write is one transaction. (Attached managed policies:
// managed_policies.h.)
//
// Threads: every method blocks on the Store: call them from the blocking pool. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "services/iam/common.h"
#include "services/iam/users.h"
#include "storage/store.h"

namespace nubo::iam {

struct Group {
  std::string name;
  std::string path = "/";
  std::string group_id;  // "AGPA" + 17 characters
  std::string arn;
  std::string create_date;
};

Error no_such_group(const std::string& name);  // NoSuchEntity (404), IAM's words

class Groups {
 public:
  Groups(storage::Store* store, const Clock* clock, std::string account_id);

  Result<Group> create(Group group);           // EntityAlreadyExists (409)
  Result<Group> get(const std::string& name);  // NoSuchEntity (404)
  Result<std::optional<Group>> find(const std::string& name);
  // DeleteConflict (409) while the group has members, inline policies or attached policies.
  Status remove(const std::string& name);
  Result<Page<Group>> list(const std::string& path_prefix, const std::string& marker,
                           int max_items);

  // NoSuchEntity for an unknown group or user; LimitExceeded (409) past kGroupsPerUser groups.
  // Adding a member twice is not an error (as in IAM).
  Status add_user(const std::string& group, const std::string& user);
  Status remove_user(const std::string& group, const std::string& user);
  Result<std::vector<User>> members(const std::string& group);          // by name
  Result<std::vector<Group>> groups_for_user(const std::string& user);  // by name

  // Inline policies, at most kInlineGroupPoliciesMax characters together (LimitExceeded).
  Status put_policy(const std::string& group, const std::string& policy, const std::string& doc);
  Result<std::string> get_policy(const std::string& group, const std::string& policy);
  Status delete_policy(const std::string& group, const std::string& policy);
  Result<std::vector<std::string>> list_policies(const std::string& group);

 private:
  storage::Store* store_;
  const Clock* clock_;
  std::string account_id_;
};

}  // namespace nubo::iam

// Users: IAM users, their inline policies and tags, the logic layer (no HTTP types). The Store
// is the truth; every write is one transaction. (Access keys: access_keys.h; groups:
// groups.h; attached managed policies: managed_policies.h.)
//
// Threads: every method blocks on the Store: call them from the blocking pool. Thread-safe
// (the Store serialises writes; an exists-check and its write share one transaction).
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

struct User {
  std::string name;
  std::string path = "/";
  std::string user_id;  // "AIDA" + 17 characters
  std::string arn;
  std::string create_date;  // "2024-01-01T00:00:00.000Z"
  Tags tags;                // get() fills them; create() stores them
};

Error no_such_user(const std::string& name);  // NoSuchEntity (404), IAM's words

class Users {
 public:
  Users(storage::Store* store, const Clock* clock, std::string account_id);

  // EntityAlreadyExists (409) when the name is taken (without regard to case).
  Result<User> create(User user);
  Result<User> get(const std::string& name);                  // NoSuchEntity (404); with its tags
  Result<std::optional<User>> find(const std::string& name);  // without tags
  // DeleteConflict (409) while the user has access keys, inline policies, attached managed
  // policies or groups.
  Status remove(const std::string& name);
  // Users whose path starts with path_prefix, by name.
  Result<Page<User>> list(const std::string& path_prefix, const std::string& marker, int max_items);
  // UpdateUser: a new name and/or path (nullopt: unchanged). Everything of the user follows the
  // new name (policies, groups, attachments, access keys, tags).
  Status update(const std::string& name, std::optional<std::string> new_name,
                std::optional<std::string> new_path);

  Status tag(const std::string& name, const Tags& tags);  // LimitExceeded past 50 tags
  Status untag(const std::string& name, const std::vector<std::string>& keys);
  Result<Tags> tags(const std::string& name);

  // Inline policies: the document must parse (MalformedPolicyDocument); all of a user's
  // together at most kInlineUserPoliciesMax characters (LimitExceeded).
  Status put_policy(const std::string& user, const std::string& policy, const std::string& doc);
  Result<std::string> get_policy(const std::string& user, const std::string& policy);
  Status delete_policy(const std::string& user, const std::string& policy);
  Result<std::vector<std::string>> list_policies(const std::string& user);

 private:
  storage::Store* store_;
  const Clock* clock_;
  std::string account_id_;
};

}  // namespace nubo::iam

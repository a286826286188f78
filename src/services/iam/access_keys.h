// AccessKeys: IAM users' access keys, the logic layer (no HTTP types). The secret is generated
// here, returned once by create(), and stored only sealed (auth::Keyring::seal bound to the
// access key id): never in plaintext in the Store. principals.h opens it for the credential
// directory.
//
// Threads: every method blocks on the Store: call them from the blocking pool. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "auth/keyring.h"
#include "base/clock.h"
#include "base/result.h"
#include "storage/store.h"

namespace nubo::iam {

struct AccessKey {
  std::string access_key_id;  // "AKIA" + 16 characters of [A-Z2-7]
  std::string user_name;
  std::string status = "Active";  // "Active" | "Inactive"
  std::string create_date;
  std::string secret_access_key;  // only in what create() returns
};

struct AccessKeyUse {
  std::string user_name;
  std::string last_used_date;  // empty: never used
  std::string service_name = "N/A";
  std::string region = "N/A";
};

Error no_such_access_key(const std::string& access_key_id);  // NoSuchEntity (404)

class AccessKeys {
 public:
  // keyring: borrowed; null means keys cannot be made (create() answers ServiceFailure).
  AccessKeys(storage::Store* store, const Clock* clock, const auth::Keyring* keyring);

  // A new Active key of `user`. NoSuchEntity (404) for an unknown user; LimitExceeded (409)
  // when the user already has kAccessKeysPerUser keys.
  Result<AccessKey> create(const std::string& user);
  // The user's keys (without secrets), oldest first.
  Result<std::vector<AccessKey>> list(const std::string& user);
  // NoSuchEntity when the user or the key (of that user) does not exist.
  Status update(const std::string& user, const std::string& access_key_id,
                const std::string& status);
  Status remove(const std::string& user, const std::string& access_key_id);
  // GetAccessKeyLastUsed. NoSuchEntity for an unknown key.
  Result<AccessKeyUse> last_used(const std::string& access_key_id);

 private:
  storage::Store* store_;
  const Clock* clock_;
  const auth::Keyring* keyring_;
};

}  // namespace nubo::iam

#include "services/iam/access_keys.h"

#include "base/crypto.h"
#include "base/strings.h"
#include "services/iam/common.h"
#include "services/iam/limits.h"
#include "services/iam/users.h"

namespace nubo::iam {

namespace {

// The key must exist and belong to `user` (compared without regard to case).
Status key_of_user(storage::Txn& txn, const std::string& user, const std::string& id) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows users,
      txn.query("SELECT name FROM iam_users WHERE name_lower = ?", {to_lower(user)}));
  if (users.empty()) return no_such_user(user);
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows keys,
      txn.query("SELECT user_lower FROM iam_access_keys WHERE access_key_id = ?", {id}));
  if (keys.empty() || keys[0].text(0) != to_lower(user)) return no_such_access_key(id);
  return Ok{};
}

}  // namespace

Error no_such_access_key(const std::string& access_key_id) {
  return Error{"NoSuchEntity", 404,
               "The Access Key with id " + access_key_id + " cannot be found."};
}

AccessKeys::AccessKeys(storage::Store* store, const Clock* clock, const auth::Keyring* keyring)
    : store_(store), clock_(clock), keyring_(keyring) {}

Result<AccessKey> AccessKeys::create(const std::string& user) {
  if (keyring_ == nullptr) {
    return Error{"ServiceFailure", 500,
                 "This node's IAM has no keyring: it cannot store access keys."};
  }
  AccessKey key;
  key.access_key_id = "AKIA" + random_base32(kAccessKeyIdSuffix);
  // 30 random bytes are 40 characters of base64 ([A-Za-z0-9+/], as AWS's secrets).
  key.secret_access_key = base64_encode(random_bytes(kSecretAccessKeySize * 3 / 4));
  key.create_date = format_iso8601(clock_->now());
  std::string sealed = keyring_->seal(key.secret_access_key, key.access_key_id);
  NUBO_TRY(store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows users,
        txn.query("SELECT name FROM iam_users WHERE name_lower = ?", {to_lower(user)}));
    if (users.empty()) return no_such_user(user);
    key.user_name = users[0].text(0);
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows n,
        txn.query("SELECT COUNT(*) FROM iam_access_keys WHERE user_lower = ?", {to_lower(user)}));
    if (!n.empty() && n[0].integer(0) >= kAccessKeysPerUser) {
      return Error{
          "LimitExceeded", 409,
          "Cannot exceed quota for AccessKeysPerUser: " + std::to_string(kAccessKeysPerUser)};
    }
    NUBO_TRY(txn.exec(
        "INSERT INTO iam_access_keys (access_key_id, user_lower, status, "
        "create_date, sealed_secret) VALUES (?, ?, ?, ?, ?)",
        {key.access_key_id, to_lower(user), key.status, key.create_date, storage::Blob{sealed}}));
    return Ok{};
  }));
  return key;
}

Result<std::vector<AccessKey>> AccessKeys::list(const std::string& user) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows users,
      store_->query("SELECT name FROM iam_users WHERE name_lower = ?", {to_lower(user)}));
  if (users.empty()) return no_such_user(user);
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                        store_->query("SELECT access_key_id, status, create_date "
                                      "FROM iam_access_keys WHERE user_lower = ? "
                                      "ORDER BY create_date, access_key_id",
                                      {to_lower(user)}));
  std::vector<AccessKey> out;
  for (const auto& r : rows) {
    AccessKey k;
    k.access_key_id = r.text(0);
    k.user_name = users[0].text(0);
    k.status = r.text(1);
    k.create_date = r.text(2);
    out.push_back(std::move(k));
  }
  return out;
}

Status AccessKeys::update(const std::string& user, const std::string& access_key_id,
                          const std::string& status) {
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(key_of_user(txn, user, access_key_id));
    NUBO_TRY(txn.exec("UPDATE iam_access_keys SET status = ? WHERE access_key_id = ?",
                      {status, access_key_id}));
    return Ok{};
  });
}

Status AccessKeys::remove(const std::string& user, const std::string& access_key_id) {
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_TRY(key_of_user(txn, user, access_key_id));
    NUBO_TRY(txn.exec("DELETE FROM iam_access_keys WHERE access_key_id = ?", {access_key_id}));
    return Ok{};
  });
}

Result<AccessKeyUse> AccessKeys::last_used(const std::string& access_key_id) {
  NUBO_ASSIGN_OR_RETURN(
      storage::Rows rows,
      store_->query("SELECT u.name, k.last_used_date, k.last_used_service, k.last_used_region "
                    "FROM iam_access_keys k JOIN iam_users u ON u.name_lower = k.user_lower "
                    "WHERE k.access_key_id = ?",
                    {access_key_id}));
  if (rows.empty()) return no_such_access_key(access_key_id);
  AccessKeyUse use;
  use.user_name = rows[0].text(0);
  if (!rows[0].is_null(1)) {
    use.last_used_date = rows[0].text(1);
    use.service_name = rows[0].text(2);
    use.region = rows[0].text(3);
  }
  return use;
}

}  // namespace nubo::iam

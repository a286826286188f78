// Secrets: Secrets Manager's logic layer (no HTTP types) — secrets, their versions and staging
// labels, tags, resource policies, deletion with a recovery window, and the state of rotation.
// The Store is the truth; every write is one transaction.
//
// Encryption at rest: a secret's values are stored only as ciphertext. Each secret has its own
// random data key, stored wrapped by the Keyring and bound to the secret's ARN; each version's
// value is AES-256-GCM under that key with the ARN, the version id and the value's kind as
// associated data, so a ciphertext copied to another version or secret does not open. Values
// never reach an error message or a log line.
//
// Threads: every method blocks on the Store: call them from the blocking pool. Thread-safe (the
// Store serialises writes; each check and the write it guards share one transaction).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "auth/keyring.h"
#include "base/clock.h"
#include "base/result.h"
#include "services/secretsmanager/limits.h"
#include "services/secretsmanager/schedule.h"
#include "storage/store.h"

namespace nubo::secretsmanager {

enum class ValueKind { kNone = 0, kString = 1, kBinary = 2 };

// A secret value in plaintext. Lives only in memory, for the request that carries it.
struct SecretValue {
  ValueKind kind = ValueKind::kNone;
  std::string bytes;
  bool operator==(const SecretValue&) const = default;
};

struct Tag {
  std::string key, value;
};

struct Version {
  std::string version_id;
  std::vector<std::string> stages;
  SystemTime created{};
  std::optional<SystemTime> last_accessed;  // a date (midnight UTC)
  std::string kms_key_id;                   // empty: the default key
  ValueKind kind = ValueKind::kNone;        // kNone: a rotation's version not yet given a value
};

// A secret's metadata (no value).
struct Secret {
  std::string arn, name, description, kms_key_id, type;
  bool has_description = false;
  SystemTime created{}, last_changed{};
  std::optional<SystemTime> last_accessed;  // a date (midnight UTC)
  // Set while the secret is scheduled for deletion: when it will be removed (DescribeSecret's
  // DeletedDate, DeleteSecret's DeletionDate).
  std::optional<SystemTime> deletion_date;
  std::optional<std::string> policy;
  std::vector<Tag> tags;
  std::vector<Version> versions;  // oldest first
  // Rotation: configured once RotateSecret was called.
  bool rotation_configured = false;
  bool rotation_enabled = false;
  std::string rotation_lambda_arn;
  RotationRules rotation_rules;
  std::optional<SystemTime> last_rotated, next_rotation;  // next_rotation: the window's opening
  std::string rotation_failure;  // the step and error code of the last failed rotation, if any

  bool deleted() const { return deletion_date.has_value(); }
  const Version* version(const std::string& id) const;
  const Version* staged(std::string_view stage) const;  // the version that carries `stage`
  std::string owning_service() const;                   // the aws:secretsmanager:owningService tag
};

// What a write answers: the secret, and the version it created or found (empty when none).
struct Written {
  std::string arn, name, version_id;
  std::vector<std::string> stages;
};

struct CreateRequest {
  std::string name, kms_key_id, type;
  std::optional<std::string> description;
  std::vector<Tag> tags;
  std::optional<SecretValue> value;
  std::string token;  // the first version's id (ClientRequestToken); empty: a new UUID
  // The ARN to give the secret (the wire layer makes it first, to authorise against it); empty:
  // a new one.
  std::string arn;
};

struct PutRequest {
  std::string secret_id;
  SecretValue value;
  std::string token;                               // empty: a new UUID
  std::optional<std::vector<std::string>> stages;  // default: AWSCURRENT
};

struct UpdateRequest {
  std::string secret_id;
  std::optional<std::string> description, kms_key_id, type;
  std::optional<SecretValue> value;
  std::string token;
};

struct ReadValue {
  std::string arn, name, version_id;
  std::vector<std::string> stages;
  SystemTime created{};
  SecretValue value;
};

struct Deleted {
  std::string arn, name;
  SystemTime deletion_date{};
};

// ListSecrets / BatchGetSecretValue filters (Filter: Key and Values).
struct Filter {
  std::string key;  // name, description, tag-key, tag-value, primary-region, owning-service, all
  std::vector<std::string> values;
};
bool matches(const Secret& s, const std::vector<Filter>& filters);

struct ListQuery {
  std::vector<Filter> filters;
  bool include_planned_deletion = false;
  std::string sort_by =
      "created-date";  // created-date, last-accessed-date, last-changed-date, name
  bool descending = false;
  int64_t max_results = kListMaxResultsDefault;
  std::string next_token;
};

struct SecretPage {
  std::vector<Secret> secrets;
  std::string next_token;  // non-empty: more
};

struct VersionPage {
  std::string arn, name;
  std::vector<Version> versions;
  std::string next_token;
};

// A rotation to run: which function, which secret, the version it creates.
struct RotationJob {
  std::string arn, name, lambda_arn, token;
  bool test_only = false;  // RotateImmediately false: only testSecret, then the version goes
};

struct RotateRequest {
  std::string secret_id;
  std::string token;  // empty: a new UUID
  std::optional<std::string> lambda_arn;
  std::optional<RotationRules> rules;
  bool rotate_immediately = true;
};

class Secrets {
 public:
  Secrets(storage::Store* store, const Clock* clock, const auth::Keyring* keyring,
          std::string account_id, std::string region);
  Status start();  // applies the schema

  // The ARN every secret of this account and region starts with ("arn:aws:...:secret:").
  std::string arn_prefix() const;
  // A new ARN for `name`: the prefix, the name, '-' and six random alphanumerics.
  std::string new_arn(const std::string& name) const;
  // The ARN to authorise an unknown SecretId against: the id when it is an ARN, else the
  // partial ARN of the name (arn:...:secret:NAME).
  std::string unresolved_arn(const std::string& secret_id) const;

  // The secret a SecretId names — its name, full ARN or partial ARN (without the suffix) —
  // deleted or not. ResourceNotFoundException when none.
  Result<Secret> describe(const std::string& secret_id);

  // ResourceExistsException for a taken name (unless the token names a version of that secret
  // with the same value: the retry gets the first answer), InvalidRequestException when the
  // name's secret is scheduled for deletion.
  Result<Written> create(CreateRequest request);
  // A new version (or the value of a rotation's empty version, or the first answer again for a
  // retried token); ResourceExistsException for a token already used with another value;
  // LimitExceededException beyond 20 labels on the version.
  Result<Written> put_value(PutRequest request);
  Result<Written> update(UpdateRequest request);
  // The value of a version: VersionId and/or VersionStage (default AWSCURRENT). Records the
  // access date. ResourceNotFoundException for a version or label that does not exist or has no
  // value; InvalidRequestException for a secret scheduled for deletion, or a VersionStage that
  // is not on VersionId.
  Result<ReadValue> get_value(const std::string& secret_id, const std::string& version_id,
                              const std::string& version_stage);
  // UpdateSecretVersionStage: moves `stage` to `move_to` (empty: only removes it from
  // `remove_from`), with AWS's rules (RemoveFromVersionId must name the version that has the
  // label; AWSCURRENT only moves, and the version it leaves gets AWSPREVIOUS).
  Result<Written> update_stage(const std::string& secret_id, const std::string& stage,
                               const std::string& remove_from, const std::string& move_to);

  // DeleteSecret. `window_days` nullopt: 30 days. force: removed at once (a secret that does not
  // exist is then not an error: the answer names the id).
  Result<Deleted> remove(const std::string& secret_id, std::optional<int64_t> window_days,
                         bool force);
  Result<Secret> restore(const std::string& secret_id);
  // Removes the secrets whose recovery window ended by `now`; returns how many.
  Result<int> purge(SystemTime now);

  Status tag(const std::string& secret_id, const std::vector<Tag>& tags);
  Status untag(const std::string& secret_id, const std::vector<std::string>& keys);
  // REQUIRES: `policy` parsed (the wire layer checks it).
  Result<Secret> put_policy(const std::string& secret_id, const std::string& policy);
  Result<Secret> delete_policy(const std::string& secret_id);

  Result<SecretPage> list(const ListQuery& query);
  Result<VersionPage> list_versions(const std::string& secret_id, bool include_deprecated,
                                    int64_t max_results, const std::string& next_token);

  // RotateSecret's state change: stores the configuration (RotationEnabled, the function, the
  // rules and the next window) and creates the rotation's AWSPENDING version without a value (a
  // copy of AWSCURRENT's value when only testing). InvalidRequestException when no function is
  // configured or given, or when an earlier rotation's AWSPENDING version is not finished (unless
  // `token` names it: that rotation is tried again). The wire layer parsed request.rules.
  Result<RotationJob> begin_rotation(RotateRequest request);
  // After every step succeeded: the rotation's version must carry AWSCURRENT; AWSPENDING leaves
  // it, LastRotatedDate and the next window are set. A test-only job's version is removed.
  Status finish_rotation(const RotationJob& job);
  // A step failed: its version keeps AWSPENDING; the failure is recorded (step and error code,
  // never a value). A test-only job's version is removed.
  Status fail_rotation(const RotationJob& job, const std::string& what);
  // CancelRotateSecret: RotationEnabled false, no next window. Answers the version a rotation in
  // progress created (empty when none).
  Result<Written> cancel_rotation(const std::string& secret_id);
  // The rotations due by `now` (enabled, next window opened): each with the token of its
  // unfinished AWSPENDING version, or a new version made for it.
  Result<std::vector<RotationJob>> due_rotations(SystemTime now);

 private:
  // Reads come from a cache of what the Store holds (the secret with its versions and tags, its
  // unwrapped data key, each version's ciphertext), tagged with the write generation they were
  // read at. Every write transaction bumps the generation in the Store (sm_generation), and a
  // read checks it there first (one indexed row), so no read sees an entry older than the last
  // acknowledged write of any node sharing the Store. Values stay sealed in the cache; they are
  // opened per read.
  Result<Secret> cached_load(const std::string& secret_id);
  Result<std::string> cached_data_key(const std::string& arn);
  Result<std::pair<int64_t, std::string>> cached_ciphertext(const std::string& arn,
                                                            const std::string& version_id);
  // store_->transaction, bumping the write generation in the same transaction.
  Status write(const std::function<Status(storage::Txn&)>& fn);
  Result<uint64_t> generation();  // the Store's write generation

  static constexpr size_t kCacheMax = 10000;

  storage::Store* store_;
  const Clock* clock_;
  const auth::Keyring* keyring_;
  std::string account_id_, region_;
  std::mutex cache_mu_;
  template <typename T>
  using Cache = std::unordered_map<std::string, std::pair<uint64_t, T>>;
  Cache<Secret> secrets_;                            // GUARDED_BY(cache_mu_), by SecretId
  Cache<std::string> keys_;                          // GUARDED_BY(cache_mu_), by ARN
  Cache<std::pair<int64_t, std::string>> versions_;  // GUARDED_BY(cache_mu_), ARN '\n' id
};

}  // namespace nubo::secretsmanager

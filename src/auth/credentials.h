// Credentials: access key pairs and who they belong to.
//
// A CredentialProvider answers "which secret and principal does this access key id belong to?"
// for the SigV4 verifier. Today the only implementation is StaticCredentialProvider (the root
// pair main configures); IAM users' keys and STS session credentials will sit behind the same
// interface.
//
// Threads: every CredentialProvider is thread-safe; lookup() is called concurrently from every
// request thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/principal.h"

namespace nubo::auth {

// The root pair of a fresh data directory (DESIGN.md "Who uses it and how"). main overrides them
// from NUBO_ROOT_ACCESS_KEY_ID / NUBO_ROOT_SECRET_ACCESS_KEY; this library never reads the
// environment.
inline constexpr std::string_view kDefaultRootAccessKeyId = "test";
inline constexpr std::string_view kDefaultRootSecretAccessKey = "test";

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty for long-term keys; set for temporary (STS) credentials
  std::string principal_arn;  // arn:aws:iam::<account>:root, a user, or an assumed role
  std::string account_id;     // 12 digits
  bool is_root = false;
  // What kind of principal signs with these credentials, and what an authoriser needs beyond
  // the ARN: the IAM user's name, or the role an assumed-role session came from, its session
  // name, session policies and expiry.
  enum class Kind { kRoot, kUser, kAssumedRole, kSession } kind = Kind::kRoot;
  std::string user_name;  // kUser, and kSession from a user's GetSessionToken
  std::string role_name;  // kAssumedRole
  // The role's or user's unique id (AROA..., AIDA...) the session was issued for: a principal
  // deleted and made again under the same name is another principal, and gets nothing.
  std::string principal_id;
  std::string session_name;                      // kAssumedRole
  std::string session_policy;                    // kAssumedRole: AssumeRole's Policy, "" for none
  std::vector<std::string> session_policy_arns;  // kAssumedRole: AssumeRole's PolicyArns
  int64_t expires_epoch = 0;                     // temporary credentials: expiry, unix seconds

  // The principal these credentials act as (access key id included).
  Principal principal() const;
};

// The root principal of an account: arn:aws:iam::<account_id>:root.
std::string root_principal_arn(std::string_view account_id);

// Why a key did not resolve.
enum class KeyProblem { kNone, kUnknownKey, kInvalidToken, kExpiredToken };
struct KeyLookup {
  std::optional<Credentials> credentials;  // set when problem == kNone
  KeyProblem problem = KeyProblem::kNone;
};

class CredentialProvider {
 public:
  virtual ~CredentialProvider() = default;
  // The credentials of a long-term `access_key_id`, or nullopt when no such key exists (or it is
  // disabled). Thread-safe.
  virtual std::optional<Credentials> lookup(std::string_view access_key_id) const = 0;
  // The credentials a request signs with: its access key id and its X-Amz-Security-Token (empty
  // when it sent none). The default resolves long-term keys with lookup(), and temporary ones
  // (whose Credentials carry a session_token) only with that exact token. Thread-safe.
  virtual KeyLookup lookup(std::string_view access_key_id, std::string_view session_token) const;
};

// Holds exactly one key pair, the account's root pair. Immutable after construction, hence
// thread-safe.
class StaticCredentialProvider final : public CredentialProvider {
 public:
  // REQUIRES: access_key_id and secret_access_key are non-empty.
  StaticCredentialProvider(std::string access_key_id, std::string secret_access_key,
                           std::string account_id);

  std::optional<Credentials> lookup(std::string_view access_key_id) const override;
  using CredentialProvider::lookup;

 private:
  Credentials root_;
};

}  // namespace nubo::auth

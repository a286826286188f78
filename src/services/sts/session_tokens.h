// SessionTokens: STS's temporary credentials, self-contained (issue 4).
//
// A session token carries its own claims (who, which role, the session policies, the expiry),
// sealed with AES-256-GCM under the keyring's "session-token" key: a token cannot be read,
// changed or forged without the node's master key, and checking one needs no database read.
// The secret access key is not in the token: it is derived from the access key id and the
// sealed claims (HMAC under the "session-secret" key), so the holder of a token alone cannot
// sign. Tokens live until their expiry (STS cannot revoke one either; deleting the role or
// changing its policies takes effect at once, because the policies are looked up per request).
//
// Immutable after construction: thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/credentials.h"
#include "auth/keyring.h"
#include "base/result.h"

namespace nubo::sts {

// STS's limits and defaults (STS API reference: AssumeRole, GetSessionToken).
inline constexpr int kAssumeRoleMinSeconds = 900;
inline constexpr int kAssumeRoleDefaultSeconds = 3600;
inline constexpr int kSessionTokenMinSeconds = 900;
inline constexpr int kSessionTokenDefaultSeconds = 43200;
inline constexpr int kSessionTokenMaxSeconds = 129600;
inline constexpr int kRootSessionTokenMaxSeconds = 3600;
inline constexpr size_t kSessionPolicyMax = 2048;  // packed size; characters here
inline constexpr size_t kSessionPolicyArnsMax = 10;
inline constexpr size_t kRoleSessionNameMin = 2;
inline constexpr size_t kRoleSessionNameMax = 64;
// Temporary access key ids start with ASIA (long-term ones with AKIA).
inline constexpr std::string_view kTemporaryKeyPrefix = "ASIA";
inline constexpr std::string_view kTokenPrefix = "NUBO";

class SessionTokens {
 public:
  explicit SessionTokens(const auth::Keyring& keyring);

  // New temporary credentials for `claims` (its access_key_id, secret and session_token are
  // filled in here; expires_epoch, principal and session fields come from the caller).
  auth::Credentials issue(auth::Credentials claims) const;

  // The credentials a token was issued as (secret included), or kInvalidToken when it was not
  // made by this node or does not belong to `access_key_id`, or kExpiredToken at or after
  // its expiry (`now_epoch`, unix seconds).
  auth::KeyLookup open(std::string_view access_key_id, std::string_view token,
                       int64_t now_epoch) const;

 private:
  std::string token_key_;
  std::string secret_key_;
};

}  // namespace nubo::sts

// Directory: who a request's access key belongs to, and which policies apply to that principal
// (issue 4). The front door's CredentialProvider and the source of every Caller's Identity.
//
//   - the root key pair of the node (allowed everything);
//   - IAM users' access keys (iam/principals.h), Active ones only;
//   - STS session credentials (ASIA... keys with a session token, sts/session_tokens.h), which
//     need no lookup at all until their principal's policies are wanted.
//
// Policies are read from the Store and parsed once per principal, then cached until IAM changes
// anything (invalidate(), which IamService calls through IamDeps::on_change). The cache is this
// node's only: a second node would need IAM writes broadcast (DESIGN.md's PostgreSQL future).
//
// Threads: thread-safe. lookup() and identity() may read the Store on a cache miss (a few
// indexed reads), on the calling io thread.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/authorize.h"
#include "auth/credentials.h"
#include "auth/keyring.h"
#include "base/clock.h"
#include "base/result.h"
#include "base/strings.h"
#include "services/sts/session_tokens.h"
#include "storage/store.h"

namespace nubo::sts {

struct DirectoryDeps {
  storage::Store* store = nullptr;
  const auth::Keyring* keyring = nullptr;
  const Clock* clock = nullptr;
  std::string account_id;
  std::string root_access_key_id;
  std::string root_secret_access_key;
};

class Directory final : public auth::CredentialProvider {
 public:
  explicit Directory(DirectoryDeps deps);

  // Long-term keys: the root pair and IAM users' active keys.
  std::optional<auth::Credentials> lookup(std::string_view access_key_id) const override;
  // Long-term keys, and temporary ones with their session token.
  auth::KeyLookup lookup(std::string_view access_key_id,
                         std::string_view session_token) const override;

  // The identity policies of an authenticated principal; null for root. An assumed role's
  // identity carries its session policies. A principal whose user or role is gone gets an
  // identity with no policies (denied everything).
  Result<std::shared_ptr<const auth::Identity>> identity(const auth::Credentials& who) const;

  // Issues temporary credentials (AssumeRole, GetSessionToken, function instances).
  const SessionTokens& tokens() const { return tokens_; }

  // Something in IAM changed: forget every cached key and identity.
  void invalidate();

 private:
  Result<std::shared_ptr<const auth::Identity>> load(const auth::Credentials& who) const;

  static constexpr size_t kMaxCached = 4096;

  DirectoryDeps deps_;
  SessionTokens tokens_;
  auth::Credentials root_;
  mutable std::mutex mu_;
  // access key id -> credentials, nullopt for a key that does not exist. GUARDED_BY(mu_)
  mutable StringMap<std::optional<auth::Credentials>> keys_;
  // "user/NAME", "role/NAME" + session policies -> identity. GUARDED_BY(mu_)
  mutable StringMap<std::shared_ptr<const auth::Identity>> identities_;
  mutable uint64_t generation_ = 0;  // GUARDED_BY(mu_): bumped by invalidate()
  // Session tokens already opened, by access key id: a token's claims are sealed in it and
  // never change, so an entry is right for as long as the token is unexpired (checked on every
  // lookup); IAM changes do not touch it. Saves the decrypt, parse and MAC of every request
  // made with the same session. GUARDED_BY(mu_)
  // An entry also remembers the session's identity, as of IAM's `generation`.
  struct Opened {
    std::string token;
    auth::Credentials credentials;
    std::shared_ptr<const auth::Identity> identity;
    uint64_t generation = 0;
  };
  mutable StringMap<Opened> sessions_;
};

}  // namespace nubo::sts

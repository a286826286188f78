// Keyring: the node's master key and the keys derived from it (issue 4 "Encryption at rest").
//
// The master key never enters the database: it is 32 random bytes in a key file of the data
// directory, created 0600 on first start, or NUBO_MASTER_KEY (64 hex digits or base64 of 32
// bytes; main reads the environment and passes the text here). Everything else is derived:
// subkey(purpose) = HMAC-SHA256(master, "nubo/" + purpose), so that session tokens, wrapped data
// keys and stored access-key secrets never share a key.
//
// Envelope encryption (Secrets Manager, IAM access keys): each record gets its own random data
// key; wrap() seals it under subkey("wrap") bound to a context (the record's ARN or id), so a
// wrapped key copied onto another record does not open.
//
// Immutable after construction: thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace nubo::auth {

inline constexpr size_t kMasterKeySize = 32;
inline constexpr const char* kMasterKeyFile = "master.key";

class Keyring {
 public:
  // REQUIRES: master.size() == kMasterKeySize.
  explicit Keyring(std::string master);

  // The master key from `env_value` when non-empty (hex or base64 of 32 bytes), else from
  // `key_file`, created with a new random key (mode 0600, fsynced) when missing.
  // Errors: ServiceException (500) for an unreadable file or a key that is not 32 bytes.
  static Result<Keyring> open(const std::string& key_file, std::string_view env_value);

  // A 32-byte key for one purpose ("session-token", "wrap", ...).
  std::string subkey(std::string_view purpose) const;

  // A fresh random 32-byte data key.
  static std::string new_data_key();
  // data_key sealed under subkey("wrap"), bound to `context`.
  std::string wrap(std::string_view data_key, std::string_view context) const;
  // The data key, or ServiceException (500) when `wrapped` was not made by wrap() with this
  // master key and context.
  Result<std::string> unwrap(std::string_view wrapped, std::string_view context) const;

  // Shorthands for one value under its own data key: seal() returns wrapped key length (2
  // bytes, big-endian) || wrapped key || AES-GCM(data key, plaintext, context).
  std::string seal(std::string_view plaintext, std::string_view context) const;
  Result<std::string> open_sealed(std::string_view sealed, std::string_view context) const;

 private:
  std::string master_;
  std::string wrap_key_;
};

}  // namespace nubo::auth

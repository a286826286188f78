// Hashes, MACs and encodings (OpenSSL 3 underneath). Thread-safe, no state.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nubo {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest sha256(std::string_view data);
std::string sha256_hex(std::string_view data);
// HMAC-SHA256 of data under key; returns the raw 32 bytes as a string.
std::string hmac_sha256(std::string_view key, std::string_view data);
// HMAC-SHA1 of data under key; returns the raw 20 bytes as a string (SigV2's MAC; not for new
// designs).
std::string hmac_sha1(std::string_view key, std::string_view data);
std::string md5_hex(std::string_view data);

// Incremental SHA-256 for data that arrives in pieces (uploads, files).
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;
  void update(std::string_view data);
  Sha256Digest finish();

 private:
  void* ctx_;  // EVP_MD_CTX*
};

// Incremental MD5 (S3's ETags and Content-MD5; not for security).
class Md5Stream {
 public:
  Md5Stream();
  ~Md5Stream();
  Md5Stream(const Md5Stream&) = delete;
  Md5Stream& operator=(const Md5Stream&) = delete;
  void update(std::string_view data);
  std::string finish();  // the 16 raw bytes

 private:
  void* ctx_;  // EVP_MD_CTX*
};

std::string hex_encode(std::string_view bytes);
std::string hex_encode(const Sha256Digest& d);
// Hex (either case) to bytes; nullopt for an odd length or a non-hex character.
std::optional<std::string> hex_decode(std::string_view hex);
std::string base64_encode(std::string_view bytes);
// Standard alphabet with padding; nullopt for anything that is not valid base64.
std::optional<std::string> base64_decode(std::string_view text);

// Cryptographically random bytes.
std::string random_bytes(size_t n);

// AES-256-GCM. seal() returns nonce (12 random bytes) || ciphertext || tag (16 bytes); `aad` is
// authenticated, not encrypted (bind a ciphertext to what it belongs to). open() returns nullopt
// when the key, the aad or any byte of `sealed` is wrong. REQUIRES: key.size() == 32.
inline constexpr size_t kAeadKeySize = 32;
inline constexpr size_t kAeadOverhead = 12 + 16;
std::string aes256gcm_seal(std::string_view key, std::string_view plaintext,
                           std::string_view aad = {});
std::optional<std::string> aes256gcm_open(std::string_view key, std::string_view sealed,
                                          std::string_view aad = {});

}  // namespace nubo

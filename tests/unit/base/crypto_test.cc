#include "base/crypto.h"

#include <gtest/gtest.h>

namespace nubo {
namespace {

TEST(AeadTest, RoundTripsAndRejectsAnyChange) {
  std::string key = random_bytes(kAeadKeySize);
  std::string sealed = aes256gcm_seal(key, "the plaintext", "context-a");
  EXPECT_EQ(sealed.size(), std::string("the plaintext").size() + kAeadOverhead);
  EXPECT_EQ(sealed.find("the plaintext"), std::string::npos);
  EXPECT_EQ(aes256gcm_open(key, sealed, "context-a"), std::optional<std::string>("the plaintext"));
  // Another context, another key, a flipped byte anywhere, a truncation: nothing opens.
  EXPECT_FALSE(aes256gcm_open(key, sealed, "context-b").has_value());
  EXPECT_FALSE(aes256gcm_open(random_bytes(kAeadKeySize), sealed, "context-a").has_value());
  for (size_t i = 0; i < sealed.size(); ++i) {
    std::string bad = sealed;
    bad[i] ^= 0x01;
    EXPECT_FALSE(aes256gcm_open(key, bad, "context-a").has_value()) << "byte " << i;
  }
  EXPECT_FALSE(aes256gcm_open(key, sealed.substr(0, 20), "context-a").has_value());
  // Two seals of one value differ (a fresh nonce each time).
  EXPECT_NE(aes256gcm_seal(key, "x"), aes256gcm_seal(key, "x"));
  EXPECT_EQ(aes256gcm_open(key, aes256gcm_seal(key, "")), std::optional<std::string>(""));
}

// RFC 2202 section 3, test cases 1, 2 and 6 (a key longer than SHA-1's 64-byte block is hashed
// first).
TEST(HmacSha1Test, MatchesRfc2202Vectors) {
  std::string mac = hmac_sha1(std::string(20, '\x0b'), "Hi There");
  EXPECT_EQ(mac.size(), 20u);
  EXPECT_EQ(hex_encode(mac), "b617318655057264e28bc0b6fb378c8ef146be00");
  EXPECT_EQ(hex_encode(hmac_sha1("Jefe", "what do ya want for nothing?")),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
  EXPECT_EQ(hex_encode(hmac_sha1(std::string(80, '\xaa'),
                                 "Test Using Larger Than Block-Size Key - Hash Key First")),
            "aa4ae5e15272d00e95705637ce8a3b55ed402112");
  // A different key or message gives a different MAC.
  EXPECT_NE(hmac_sha1("Jefe", "what do ya want for nothing!"),
            hmac_sha1("Jefe", "what do ya want for nothing?"));
  EXPECT_NE(hmac_sha1("jefe", "what do ya want for nothing?"),
            hmac_sha1("Jefe", "what do ya want for nothing?"));
}

}  // namespace
}  // namespace nubo

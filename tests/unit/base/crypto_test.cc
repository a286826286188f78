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

}  // namespace
}  // namespace nubo

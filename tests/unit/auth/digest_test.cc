#include "auth/digest.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "base/crypto.h"

namespace nubo::auth {
namespace {

TEST(Digest, Sha256MatchesKnownAnswers) {
  EXPECT_EQ(hex_encode(fast_sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(hex_encode(fast_sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string out = "x";
  append_sha256_hex(out, "abc");
  EXPECT_EQ(out, "xba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Digest, HmacMatchesRfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(hex_encode(fast_hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a key longer than the block size is hashed first.
  EXPECT_EQ(hex_encode(fast_hmac_sha256(std::string(131, '\xaa'),
                                        "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Digest, AgreesWithBaseCryptoOnManySizes) {
  std::string data;
  for (int n = 0; n < 300; ++n) {
    std::string key(static_cast<size_t>(n % 97), static_cast<char>('k' + n % 7));
    EXPECT_EQ(hex_encode(fast_sha256(data)), sha256_hex(data)) << n;
    EXPECT_EQ(hex_encode(fast_hmac_sha256(key, data)), hex_encode(hmac_sha256(key, data))) << n;
    data += static_cast<char>(n * 31);
  }
}

TEST(Digest, ThreadsHaveTheirOwnContext) {
  std::vector<std::thread> threads;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([t, &bad] {
      std::string data(static_cast<size_t>(100 + t), 'a');
      std::string want = sha256_hex(data);
      for (int i = 0; i < 2000; ++i) {
        if (hex_encode(fast_sha256(data)) != want) ++bad[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(bad[t], 0);
}

}  // namespace
}  // namespace nubo::auth

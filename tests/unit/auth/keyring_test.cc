#include "auth/keyring.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "base/crypto.h"
#include "base/ids.h"

namespace nubo::auth {
namespace {

namespace fs = std::filesystem;

class KeyringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("nubo-keyring-" + random_hex(6));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(KeyringTest, CreatesItsKeyFileOnceWithMode0600) {
  std::string file = (dir_ / kMasterKeyFile).string();
  auto a = Keyring::open(file, "");
  ASSERT_TRUE(a.ok()) << a.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // The second start reads the same key: what the first sealed, the second opens.
  std::string sealed = a->seal("hunter2", "arn:secret");
  auto b = Keyring::open(file, "");
  ASSERT_TRUE(b.ok());
  auto opened = b->open_sealed(sealed, "arn:secret");
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(*opened, "hunter2");
  EXPECT_EQ(a->subkey("x"), b->subkey("x"));
  EXPECT_NE(a->subkey("x"), a->subkey("y"));
}

TEST_F(KeyringTest, TheEnvironmentKeyWinsAndMustBe32Bytes) {
  std::string hex = hex_encode(std::string(32, '\x07'));
  auto k = Keyring::open((dir_ / "unused.key").string(), hex);
  ASSERT_TRUE(k.ok());
  EXPECT_FALSE(fs::exists(dir_ / "unused.key"));
  auto b64 = Keyring::open((dir_ / "unused.key").string(), base64_encode(std::string(32, '\x07')));
  ASSERT_TRUE(b64.ok());
  EXPECT_EQ(k->subkey("p"), b64->subkey("p"));
  EXPECT_FALSE(Keyring::open((dir_ / "unused.key").string(), "abcd").ok());
  std::ofstream(dir_ / "short.key") << "0011\n";
  EXPECT_FALSE(Keyring::open((dir_ / "short.key").string(), "").ok());
}

TEST_F(KeyringTest, WrappedKeysAreBoundToTheirContextAndMasterKey) {
  Keyring a(random_bytes(kMasterKeySize)), b(random_bytes(kMasterKeySize));
  std::string dk = Keyring::new_data_key();
  std::string wrapped = a.wrap(dk, "secret-1");
  EXPECT_EQ(a.unwrap(wrapped, "secret-1").value(), dk);
  EXPECT_FALSE(a.unwrap(wrapped, "secret-2").ok());
  EXPECT_FALSE(b.unwrap(wrapped, "secret-1").ok());
  std::string sealed = a.seal("value", "ctx");
  EXPECT_EQ(sealed.find("value"), std::string::npos);
  EXPECT_FALSE(b.open_sealed(sealed, "ctx").ok());
  EXPECT_FALSE(a.open_sealed(sealed, "other").ok());
  EXPECT_FALSE(a.open_sealed(sealed.substr(0, 10), "ctx").ok());
}

}  // namespace
}  // namespace nubo::auth

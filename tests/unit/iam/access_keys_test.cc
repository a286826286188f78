#include "services/iam/access_keys.h"

#include <gtest/gtest.h>

#include "services/iam/principals.h"
#include "services/iam/users.h"
#include "test_util.h"

namespace nubo::iam {
namespace {

using testing::kAccount;

class AccessKeysTest : public testing::StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    users_ = std::make_unique<Users>(store_.get(), &clock_, kAccount);
    keys_ = std::make_unique<AccessKeys>(store_.get(), &clock_, &keyring_);
    User u;
    u.name = "ci";
    u.path = "/bots/";
    ASSERT_TRUE(users_->create(u).ok());
  }
  std::unique_ptr<Users> users_;
  std::unique_ptr<AccessKeys> keys_;
};

TEST_F(AccessKeysTest, KeysLookLikeAwsKeysAndStopAtTwo) {
  auto k = keys_->create("CI");
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->user_name, "ci");
  EXPECT_EQ(k->status, "Active");
  ASSERT_EQ(k->access_key_id.size(), 20u);
  EXPECT_EQ(k->access_key_id.rfind("AKIA", 0), 0u);
  EXPECT_EQ(k->access_key_id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 4),
            std::string::npos);
  ASSERT_EQ(k->secret_access_key.size(), 40u);
  EXPECT_EQ(k->secret_access_key.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
            std::string::npos);

  auto k2 = keys_->create("ci");
  ASSERT_TRUE(k2.ok());
  EXPECT_NE(k2->access_key_id, k->access_key_id);
  auto third = keys_->create("ci");
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, "LimitExceeded");
  EXPECT_EQ(third.error().status, 409);
  EXPECT_EQ(third.error().message, "Cannot exceed quota for AccessKeysPerUser: 2");
  EXPECT_EQ(keys_->create("nobody").error().code, "NoSuchEntity");

  auto listed = keys_->list("ci");
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 2u);
  EXPECT_TRUE(listed->at(0).secret_access_key.empty());  // never listed
}

TEST_F(AccessKeysTest, UpdateDeleteAndLastUsed) {
  auto k = keys_->create("ci");
  ASSERT_TRUE(k.ok());
  ASSERT_TRUE(keys_->update("ci", k->access_key_id, "Inactive").ok());
  EXPECT_EQ(keys_->list("ci")->at(0).status, "Inactive");

  User other;
  other.name = "other";
  ASSERT_TRUE(users_->create(other).ok());
  auto wrong = keys_->update("other", k->access_key_id, "Active");  // not its key
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, "NoSuchEntity");
  EXPECT_EQ(wrong.error().message,
            "The Access Key with id " + k->access_key_id + " cannot be found.");

  auto use = keys_->last_used(k->access_key_id);
  ASSERT_TRUE(use.ok());
  EXPECT_EQ(use->user_name, "ci");
  EXPECT_TRUE(use->last_used_date.empty());
  EXPECT_EQ(use->service_name, "N/A");
  EXPECT_EQ(use->region, "N/A");

  ASSERT_TRUE(keys_->remove("ci", k->access_key_id).ok());
  EXPECT_EQ(keys_->remove("ci", k->access_key_id).error().code, "NoSuchEntity");
  EXPECT_EQ(keys_->last_used(k->access_key_id).error().code, "NoSuchEntity");
  EXPECT_TRUE(keys_->list("ci")->empty());
}

TEST_F(AccessKeysTest, TheSecretIsStoredSealedAndOpensForTheDirectory) {
  auto k = keys_->create("ci");
  ASSERT_TRUE(k.ok());
  auto found = find_access_key(*store_, keyring_, k->access_key_id);
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_TRUE(found->has_value());
  const AccessKeyRecord& rec = **found;
  EXPECT_EQ(rec.secret_access_key, k->secret_access_key);
  EXPECT_EQ(rec.user_name, "ci");
  EXPECT_EQ(rec.user_arn, "arn:aws:iam::000000000000:user/bots/ci");
  EXPECT_EQ(rec.user_id.rfind("AIDA", 0), 0u);
  EXPECT_TRUE(rec.active);
  ASSERT_TRUE(keys_->update("ci", k->access_key_id, "Inactive").ok());
  EXPECT_FALSE((*find_access_key(*store_, keyring_, k->access_key_id))->active);
  EXPECT_FALSE(find_access_key(*store_, keyring_, "AKIANOSUCHKEY0000000")->has_value());

  // The plaintext secret is nowhere in the data directory (database, WAL, anything).
  std::string bytes = data_dir_bytes();
  ASSERT_FALSE(bytes.empty());
  EXPECT_NE(bytes.find(k->access_key_id), std::string::npos);  // the id is there
  EXPECT_EQ(bytes.find(k->secret_access_key), std::string::npos);

  // Another node's master key cannot open it.
  auth::Keyring other(std::string(32, '\x07'));
  auto foreign = find_access_key(*store_, other, k->access_key_id);
  EXPECT_FALSE(foreign.ok());
}

TEST_F(AccessKeysTest, WithoutAKeyringNoKeyIsMade) {
  AccessKeys bare(store_.get(), &clock_, nullptr);
  auto k = bare.create("ci");
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.error().code, "ServiceFailure");
  EXPECT_EQ(k.error().status, 500);
  EXPECT_TRUE(keys_->list("ci")->empty());
}

}  // namespace
}  // namespace nubo::iam

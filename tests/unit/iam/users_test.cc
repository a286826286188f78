#include "services/iam/users.h"

#include <gtest/gtest.h>

#include "services/iam/access_keys.h"
#include "services/iam/groups.h"
#include "services/iam/managed_policies.h"
#include "test_util.h"

namespace nubo::iam {
namespace {

using testing::kAccount;
using testing::kReadQueues;
using testing::kReadSecrets;

class UsersTest : public testing::StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    users_ = std::make_unique<Users>(store_.get(), &clock_, kAccount);
  }
  User user(const std::string& name, const std::string& path = "/", Tags tags = {}) {
    User u;
    u.name = name;
    u.path = path;
    u.tags = std::move(tags);
    return u;
  }
  std::unique_ptr<Users> users_;
};

TEST_F(UsersTest, CreateGetListDelete) {
  auto made = users_->create(user("alice", "/eng/", {{"team", "core"}}));
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_EQ(made->arn, "arn:aws:iam::000000000000:user/eng/alice");
  EXPECT_EQ(made->user_id.rfind("AIDA", 0), 0u);
  EXPECT_EQ(made->user_id.size(), 21u);
  EXPECT_EQ(made->user_id.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 4),
            std::string::npos);
  EXPECT_EQ(made->create_date, "2023-11-14T22:13:20.000Z");

  auto again = users_->create(user("ALICE"));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "EntityAlreadyExists");
  EXPECT_EQ(again.error().status, 409);
  EXPECT_EQ(again.error().message, "User with name ALICE already exists.");

  auto got = users_->get("Alice");  // names match without regard to case
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->name, "alice");
  EXPECT_EQ(got->tags, (Tags{{"team", "core"}}));

  ASSERT_TRUE(users_->create(user("bob")).ok());
  ASSERT_TRUE(users_->create(user("carol")).ok());
  auto page = users_->list("/", "", 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].name, "alice");
  EXPECT_EQ(page->marker, "bob");
  auto rest = users_->list("/", page->marker, 2);
  ASSERT_EQ(rest->items.size(), 1u);
  EXPECT_EQ(rest->items[0].name, "carol");
  EXPECT_TRUE(rest->marker.empty());
  EXPECT_EQ(users_->list("/eng/", "", 10)->items.size(), 1u);

  ASSERT_TRUE(users_->remove("bob").ok());
  auto gone = users_->get("bob");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, "NoSuchEntity");
  EXPECT_EQ(gone.error().status, 404);
  EXPECT_EQ(gone.error().message, "The user with name bob cannot be found.");
  EXPECT_EQ(users_->remove("bob").error().code, "NoSuchEntity");
}

TEST_F(UsersTest, DeleteConflictsWhileTheUserHasThings) {
  ASSERT_TRUE(users_->create(user("dave")).ok());
  AccessKeys keys(store_.get(), &clock_, &keyring_);
  auto key = keys.create("dave");
  ASSERT_TRUE(key.ok());
  auto conflict = users_->remove("dave");
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, "DeleteConflict");
  EXPECT_EQ(conflict.error().status, 409);
  EXPECT_EQ(conflict.error().message, "Cannot delete entity, must delete access keys first.");
  ASSERT_TRUE(keys.remove("dave", key->access_key_id).ok());

  ASSERT_TRUE(users_->put_policy("dave", "read", kReadSecrets).ok());
  EXPECT_EQ(users_->remove("dave").error().message,
            "Cannot delete entity, must delete policies first.");
  ASSERT_TRUE(users_->delete_policy("dave", "read").ok());

  ManagedPolicies policies(store_.get(), &clock_, kAccount);
  const std::string admin = "arn:aws:iam::aws:policy/AdministratorAccess";
  ASSERT_TRUE(policies.attach(EntityKind::kUser, "dave", admin).ok());
  EXPECT_EQ(users_->remove("dave").error().message,
            "Cannot delete entity, must detach all policies first.");
  ASSERT_TRUE(policies.detach(EntityKind::kUser, "dave", admin).ok());

  Groups groups(store_.get(), &clock_, kAccount);
  Group g;
  g.name = "devs";
  ASSERT_TRUE(groups.create(g).ok());
  ASSERT_TRUE(groups.add_user("devs", "dave").ok());
  EXPECT_EQ(users_->remove("dave").error().message,
            "Cannot delete entity, must remove user from all groups first.");
  ASSERT_TRUE(groups.remove_user("devs", "dave").ok());

  EXPECT_TRUE(users_->remove("dave").ok());
}

TEST_F(UsersTest, InlinePoliciesAndTheirLimit) {
  ASSERT_TRUE(users_->create(user("erin")).ok());
  ASSERT_TRUE(users_->put_policy("erin", "read", kReadSecrets).ok());
  ASSERT_TRUE(users_->put_policy("erin", "queues", kReadQueues).ok());
  EXPECT_EQ(*users_->get_policy("erin", "read"), kReadSecrets);
  EXPECT_EQ(*users_->list_policies("erin"), (std::vector<std::string>{"queues", "read"}));
  EXPECT_EQ(users_->put_policy("erin", "bad", "{not json").error().code, "MalformedPolicyDocument");
  EXPECT_EQ(users_->put_policy("nobody", "x", kReadSecrets).error().code, "NoSuchEntity");
  auto missing = users_->get_policy("erin", "missing");
  EXPECT_EQ(missing.error().code, "NoSuchEntity");
  EXPECT_EQ(missing.error().message, "The user policy with name missing cannot be found.");
  EXPECT_EQ(users_->delete_policy("erin", "missing").error().code, "NoSuchEntity");
  // A user's inline policies together stay within IAM's 2,048 characters.
  std::string big = std::string(R"({"Statement": [{"Effect": "Allow", "Action": ")") +
                    std::string(2100, 'a') + R"(", "Resource": "*"}]})";
  auto over = users_->put_policy("erin", "big", big);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, "LimitExceeded");
  EXPECT_EQ(over.error().status, 409);
  EXPECT_EQ(over.error().message, "Maximum policy size of 2048 bytes exceeded for user erin");
  EXPECT_EQ(users_->list_policies("erin")->size(), 2u);  // nothing half-written
}

TEST_F(UsersTest, TagsMergeReplaceAndStopAtFifty) {
  ASSERT_TRUE(users_->create(user("frank", "/", {{"Env", "dev"}})).ok());
  ASSERT_TRUE(users_->tag("frank", {{"env", "prod"}, {"owner", "ops"}}).ok());  // case-insensitive
  EXPECT_EQ(*users_->tags("frank"), (Tags{{"env", "prod"}, {"owner", "ops"}}));
  ASSERT_TRUE(users_->untag("frank", {"ENV", "absent"}).ok());
  EXPECT_EQ(*users_->tags("frank"), (Tags{{"owner", "ops"}}));

  auto dup = users_->tag("frank", {{"a", "1"}, {"A", "2"}});
  EXPECT_EQ(dup.error().code, "InvalidInput");
  EXPECT_EQ(dup.error().message,
            "Duplicate tag keys found. Please note that Tag keys are case insensitive.");
  EXPECT_EQ(users_->tag("frank", {{"bad!key", "v"}}).error().code, "ValidationError");

  Tags many;
  for (int i = 0; i < 49; ++i) many.push_back({"k" + std::to_string(i), "v"});
  ASSERT_TRUE(users_->tag("frank", many).ok());  // 50 with "owner"
  auto over = users_->tag("frank", {{"one-more", "v"}});
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, "LimitExceeded");
  EXPECT_EQ(users_->tags("frank")->size(), 50u);
  EXPECT_TRUE(users_->tag("frank", {{"owner", "dev"}}).ok());  // replacing stays at 50
  EXPECT_EQ(users_->tag("nobody", {{"a", "b"}}).error().code, "NoSuchEntity");
}

TEST_F(UsersTest, RenameCarriesEverythingAlong) {
  ASSERT_TRUE(users_->create(user("gina", "/", {{"team", "a"}})).ok());
  ASSERT_TRUE(users_->put_policy("gina", "read", kReadSecrets).ok());
  AccessKeys keys(store_.get(), &clock_, &keyring_);
  ASSERT_TRUE(keys.create("gina").ok());
  Groups groups(store_.get(), &clock_, kAccount);
  Group g;
  g.name = "ops";
  ASSERT_TRUE(groups.create(g).ok());
  ASSERT_TRUE(groups.add_user("ops", "gina").ok());
  ASSERT_TRUE(users_->create(user("taken")).ok());

  EXPECT_EQ(users_->update("gina", std::string("taken"), std::nullopt).error().code,
            "EntityAlreadyExists");
  ASSERT_TRUE(users_->update("gina", std::string("regina"), std::string("/new/")).ok());
  EXPECT_EQ(users_->get("gina").error().code, "NoSuchEntity");
  auto u = users_->get("regina");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->arn, "arn:aws:iam::000000000000:user/new/regina");
  EXPECT_EQ(u->tags, (Tags{{"team", "a"}}));
  EXPECT_EQ(*users_->list_policies("regina"), std::vector<std::string>{"read"});
  EXPECT_EQ(keys.list("regina")->size(), 1u);
  EXPECT_EQ(groups.members("ops")->at(0).name, "regina");
  // A change of case only is a rename too.
  ASSERT_TRUE(users_->update("regina", std::string("Regina"), std::nullopt).ok());
  EXPECT_EQ(users_->get("regina")->name, "Regina");
}

}  // namespace
}  // namespace nubo::iam

#include "services/iam/groups.h"

#include <gtest/gtest.h>

#include "services/iam/managed_policies.h"
#include "test_util.h"

namespace nubo::iam {
namespace {

using testing::kAccount;
using testing::kReadSecrets;

class GroupsTest : public testing::StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    users_ = std::make_unique<Users>(store_.get(), &clock_, kAccount);
    groups_ = std::make_unique<Groups>(store_.get(), &clock_, kAccount);
  }
  void make_user(const std::string& name) {
    User u;
    u.name = name;
    ASSERT_TRUE(users_->create(u).ok());
  }
  void make_group(const std::string& name, const std::string& path = "/") {
    Group g;
    g.name = name;
    g.path = path;
    auto made = groups_->create(g);
    ASSERT_TRUE(made.ok()) << made.error().message;
  }
  std::unique_ptr<Users> users_;
  std::unique_ptr<Groups> groups_;
};

TEST_F(GroupsTest, CreateGetListMembers) {
  make_group("admins", "/ops/");
  auto g = groups_->get("ADMINS");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->arn, "arn:aws:iam::000000000000:group/ops/admins");
  EXPECT_EQ(g->group_id.rfind("AGPA", 0), 0u);
  EXPECT_EQ(g->group_id.size(), 21u);
  Group dup;
  dup.name = "Admins";
  auto again = groups_->create(dup);
  EXPECT_EQ(again.error().code, "EntityAlreadyExists");
  EXPECT_EQ(again.error().message, "Group with name Admins already exists.");
  EXPECT_EQ(groups_->get("nope").error().message, "The group with name nope cannot be found.");

  make_group("devs");
  EXPECT_EQ(groups_->list("/", "", 10)->items.size(), 2u);
  EXPECT_EQ(groups_->list("/ops/", "", 10)->items.size(), 1u);

  make_user("zed");
  make_user("amy");
  ASSERT_TRUE(groups_->add_user("devs", "zed").ok());
  ASSERT_TRUE(groups_->add_user("devs", "amy").ok());
  ASSERT_TRUE(groups_->add_user("devs", "amy").ok());  // twice is fine
  ASSERT_TRUE(groups_->add_user("admins", "amy").ok());
  auto members = groups_->members("devs");
  ASSERT_EQ(members->size(), 2u);
  EXPECT_EQ(members->at(0).name, "amy");
  EXPECT_EQ(members->at(1).name, "zed");
  auto of_amy = groups_->groups_for_user("amy");
  ASSERT_EQ(of_amy->size(), 2u);
  EXPECT_EQ(of_amy->at(0).name, "admins");
  EXPECT_EQ(groups_->add_user("devs", "ghost").error().code, "NoSuchEntity");
  EXPECT_EQ(groups_->add_user("ghosts", "amy").error().code, "NoSuchEntity");
  EXPECT_EQ(groups_->groups_for_user("ghost").error().code, "NoSuchEntity");

  ASSERT_TRUE(groups_->remove_user("devs", "zed").ok());
  EXPECT_EQ(groups_->remove_user("devs", "zed").error().code, "NoSuchEntity");
  EXPECT_EQ(groups_->members("devs")->size(), 1u);
}

TEST_F(GroupsTest, DeleteConflictsAndInlinePolicies) {
  make_group("team");
  make_user("ann");
  ASSERT_TRUE(groups_->add_user("team", "ann").ok());
  auto conflict = groups_->remove("team");
  EXPECT_EQ(conflict.error().code, "DeleteConflict");
  EXPECT_EQ(conflict.error().message, "Cannot delete entity, must remove users from group first.");
  ASSERT_TRUE(groups_->remove_user("team", "ann").ok());

  ASSERT_TRUE(groups_->put_policy("team", "read", kReadSecrets).ok());
  EXPECT_EQ(*groups_->get_policy("team", "read"), kReadSecrets);
  EXPECT_EQ(*groups_->list_policies("team"), std::vector<std::string>{"read"});
  EXPECT_EQ(groups_->get_policy("team", "x").error().message,
            "The group policy with name x cannot be found.");
  EXPECT_EQ(groups_->remove("team").error().message,
            "Cannot delete entity, must delete policies first.");
  ASSERT_TRUE(groups_->delete_policy("team", "read").ok());

  ManagedPolicies policies(store_.get(), &clock_, kAccount);
  ASSERT_TRUE(
      policies.attach(EntityKind::kGroup, "team", "arn:aws:iam::aws:policy/IAMReadOnlyAccess")
          .ok());
  EXPECT_EQ(groups_->remove("team").error().message,
            "Cannot delete entity, must detach all policies first.");
  ASSERT_TRUE(
      policies.detach(EntityKind::kGroup, "team", "arn:aws:iam::aws:policy/IAMReadOnlyAccess")
          .ok());
  EXPECT_TRUE(groups_->remove("team").ok());
  EXPECT_EQ(groups_->remove("team").error().code, "NoSuchEntity");
}

TEST_F(GroupsTest, AUserIsInAtMostTenGroups) {
  make_user("joiner");
  for (int i = 0; i < 10; ++i) {
    make_group("g" + std::to_string(i));
    ASSERT_TRUE(groups_->add_user("g" + std::to_string(i), "joiner").ok());
  }
  make_group("g10");
  auto over = groups_->add_user("g10", "joiner");
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, "LimitExceeded");
  EXPECT_EQ(over.error().status, 409);
  EXPECT_EQ(over.error().message, "Cannot exceed quota for GroupsPerUser: 10");
}

}  // namespace
}  // namespace nubo::iam

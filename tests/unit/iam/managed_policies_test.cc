#include "services/iam/managed_policies.h"

#include <gtest/gtest.h>

#include "auth/policy.h"
#include "services/iam/aws_managed_policies.h"
#include "services/iam/groups.h"
#include "services/iam/roles.h"
#include "services/iam/users.h"
#include "test_util.h"

namespace nubo::iam {
namespace {

using testing::kAccount;
using testing::kReadQueues;
using testing::kReadSecrets;
using testing::kTrust;

constexpr const char* kAdmin = "arn:aws:iam::aws:policy/AdministratorAccess";
constexpr const char* kBasic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";

class ManagedPoliciesTest : public testing::StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    policies_ = std::make_unique<ManagedPolicies>(store_.get(), &clock_, kAccount);
    roles_ = std::make_unique<Roles>(store_.get(), &clock_, kAccount);
    users_ = std::make_unique<Users>(store_.get(), &clock_, kAccount);
  }
  ManagedPolicy make(const std::string& name, const std::string& doc = kReadSecrets,
                     const std::string& path = "/") {
    ManagedPolicy mp;
    mp.name = name;
    mp.path = path;
    mp.description = "reads secrets";
    auto made = policies_->create(mp, doc);
    EXPECT_TRUE(made.ok()) << made.error().message;
    return made.ok() ? *made : ManagedPolicy{};
  }
  void make_role(const std::string& name) {
    Role r;
    r.name = name;
    r.trust_policy = kTrust;
    ASSERT_TRUE(roles_->create(r).ok());
  }
  std::unique_ptr<ManagedPolicies> policies_;
  std::unique_ptr<Roles> roles_;
  std::unique_ptr<Users> users_;
};

TEST_F(ManagedPoliciesTest, CreateGetAndTheirErrors) {
  ManagedPolicy mp = make("read-secrets", kReadSecrets, "/app/");
  EXPECT_EQ(mp.arn, "arn:aws:iam::000000000000:policy/app/read-secrets");
  EXPECT_EQ(mp.policy_id.rfind("ANPA", 0), 0u);
  EXPECT_EQ(mp.policy_id.size(), 21u);
  EXPECT_EQ(mp.default_version, "v1");

  auto got = policies_->get(mp.arn);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->description, "reads secrets");
  EXPECT_EQ(got->attachment_count, 0);
  EXPECT_FALSE(got->aws_managed);
  EXPECT_EQ(policies_->get_version(mp.arn, "v1")->document, kReadSecrets);

  ManagedPolicy again;
  again.name = "READ-SECRETS";
  auto dup = policies_->create(again, kReadSecrets);
  EXPECT_EQ(dup.error().code, "EntityAlreadyExists");
  EXPECT_EQ(dup.error().message,
            "A policy called READ-SECRETS already exists. Duplicate names are not allowed.");
  ManagedPolicy bad;
  bad.name = "bad";
  EXPECT_EQ(policies_->create(bad, R"({"Statement": "nope"})").error().code,
            "MalformedPolicyDocument");
  std::string big = std::string(R"({"Statement": [{"Effect": "Allow", "Action": ")") +
                    std::string(6200, 'a') + R"(", "Resource": "*"}]})";
  auto too_big = policies_->create(bad, big);
  EXPECT_EQ(too_big.error().code, "LimitExceeded");
  EXPECT_EQ(too_big.error().message, "Cannot exceed quota for PolicySize: 6144");
  EXPECT_EQ(policies_->get(iam_arn(kAccount, "policy", "/", "bad")).error().code, "NoSuchEntity");

  auto missing = policies_->get("arn:aws:iam::000000000000:policy/missing");
  EXPECT_EQ(missing.error().status, 404);
  EXPECT_EQ(missing.error().message,
            "Policy arn:aws:iam::000000000000:policy/missing was not found.");
  auto invalid = policies_->get("not-an-arn-at-all-really");
  EXPECT_EQ(invalid.error().code, "InvalidInput");
  EXPECT_EQ(invalid.error().message, "ARN not-an-arn-at-all-really is not valid.");
}

TEST_F(ManagedPoliciesTest, VersionsTheirLimitAndTheDefault) {
  ManagedPolicy mp = make("versioned");
  auto v2 = policies_->create_version(mp.arn, kReadQueues, false);
  ASSERT_TRUE(v2.ok());
  EXPECT_EQ(v2->version_id, "v2");
  EXPECT_FALSE(v2->is_default);
  auto v3 = policies_->create_version(mp.arn, kReadQueues, true);
  ASSERT_TRUE(v3.ok());
  EXPECT_EQ(policies_->get(mp.arn)->default_version, "v3");
  auto list = policies_->list_versions(mp.arn);
  ASSERT_EQ(list->size(), 3u);
  EXPECT_EQ(list->at(0).version_id, "v3");  // newest first
  EXPECT_TRUE(list->at(0).is_default);
  EXPECT_FALSE(list->at(2).is_default);

  ASSERT_TRUE(policies_->create_version(mp.arn, kReadQueues, false).ok());
  ASSERT_TRUE(policies_->create_version(mp.arn, kReadQueues, false).ok());
  auto sixth = policies_->create_version(mp.arn, kReadQueues, false);
  ASSERT_FALSE(sixth.ok());
  EXPECT_EQ(sixth.error().code, "LimitExceeded");
  EXPECT_EQ(sixth.error().message,
            "A managed policy can have up to 5 versions. Before you create a new version, you "
            "must delete an existing version.");

  auto del_default = policies_->delete_version(mp.arn, "v3");
  EXPECT_EQ(del_default.error().code, "DeleteConflict");
  EXPECT_EQ(del_default.error().message, "Cannot delete the default version of a policy.");
  EXPECT_EQ(policies_->delete_version(mp.arn, "v9").error().code, "NoSuchEntity");
  EXPECT_EQ(policies_->set_default_version(mp.arn, "v9").error().code, "NoSuchEntity");
  ASSERT_TRUE(policies_->set_default_version(mp.arn, "v1").ok());
  ASSERT_TRUE(policies_->delete_version(mp.arn, "v2").ok());
  auto v6 = policies_->create_version(mp.arn, kReadQueues, false);  // ids are never reused
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->version_id, "v6");

  auto conflict = policies_->remove(mp.arn);
  EXPECT_EQ(conflict.error().code, "DeleteConflict");
  EXPECT_EQ(conflict.error().message,
            "This policy has more than one version. Before you delete a policy, you must delete "
            "the policy's versions. The default version is deleted with the policy.");
  for (const char* v : {"v3", "v4", "v5", "v6"})
    ASSERT_TRUE(policies_->delete_version(mp.arn, v).ok());
  EXPECT_TRUE(policies_->remove(mp.arn).ok());
  EXPECT_EQ(policies_->get(mp.arn).error().code, "NoSuchEntity");
}

TEST_F(ManagedPoliciesTest, AttachDetachAndTheirLimits) {
  ManagedPolicy mp = make("attach-me");
  make_role("worker");
  User u;
  u.name = "ops";
  ASSERT_TRUE(users_->create(u).ok());

  ASSERT_TRUE(policies_->attach(EntityKind::kRole, "worker", mp.arn).ok());
  ASSERT_TRUE(policies_->attach(EntityKind::kRole, "WORKER", mp.arn).ok());  // twice is fine
  ASSERT_TRUE(policies_->attach(EntityKind::kRole, "worker", kBasic).ok());
  ASSERT_TRUE(policies_->attach(EntityKind::kUser, "ops", mp.arn).ok());
  EXPECT_EQ(policies_->get(mp.arn)->attachment_count, 2);
  EXPECT_EQ(policies_->get(kBasic)->attachment_count, 1);

  auto attached = policies_->attached(EntityKind::kRole, "worker", "/");
  ASSERT_EQ(attached->size(), 2u);
  EXPECT_EQ(attached->at(0).name, "AWSLambdaBasicExecutionRole");
  EXPECT_EQ(attached->at(0).arn, kBasic);
  EXPECT_EQ(policies_->attached(EntityKind::kRole, "worker", "/service-role/")->size(), 1u);
  EXPECT_EQ(policies_->attached(EntityKind::kRole, "nobody", "/").error().code, "NoSuchEntity");

  auto entities = policies_->entities(mp.arn, std::nullopt, "/");
  ASSERT_TRUE(entities.ok());
  ASSERT_EQ(entities->roles.size(), 1u);
  EXPECT_EQ(entities->roles[0].name, "worker");
  EXPECT_EQ(entities->roles[0].id.rfind("AROA", 0), 0u);
  ASSERT_EQ(entities->users.size(), 1u);
  EXPECT_TRUE(entities->groups.empty());
  EXPECT_TRUE(policies_->entities(mp.arn, EntityKind::kGroup, "/")->roles.empty());

  // Neither the policy nor the role may go while attached.
  EXPECT_EQ(policies_->remove(mp.arn).error().message,
            "Cannot delete a policy attached to entities.");
  auto role_conflict = roles_->remove("worker");
  EXPECT_EQ(role_conflict.error().code, "DeleteConflict");
  EXPECT_EQ(role_conflict.error().message, "Cannot delete entity, must detach all policies first.");

  auto unknown =
      policies_->attach(EntityKind::kRole, "worker", "arn:aws:iam::000000000000:policy/nope");
  EXPECT_EQ(unknown.error().code, "NoSuchEntity");
  EXPECT_EQ(unknown.error().message,
            "Policy arn:aws:iam::000000000000:policy/nope does not exist or is not attachable.");
  EXPECT_EQ(policies_->attach(EntityKind::kRole, "nobody", mp.arn).error().message,
            "The role with name nobody cannot be found.");
  EXPECT_EQ(policies_->attach(EntityKind::kGroup, "nobody", mp.arn).error().message,
            "The group with name nobody cannot be found.");

  ASSERT_TRUE(policies_->detach(EntityKind::kRole, "worker", mp.arn).ok());
  auto again = policies_->detach(EntityKind::kRole, "worker", mp.arn);
  EXPECT_EQ(again.error().code, "NoSuchEntity");
  EXPECT_EQ(again.error().message, "Policy " + mp.arn + " was not found.");
  ASSERT_TRUE(policies_->detach(EntityKind::kRole, "worker", kBasic).ok());
  EXPECT_TRUE(roles_->remove("worker").ok());

  // At most ten managed policies per entity: ops has attach-me and nine more.
  for (int i = 0; i < 9; ++i) {
    ManagedPolicy p = make("p" + std::to_string(i));
    ASSERT_TRUE(policies_->attach(EntityKind::kUser, "ops", p.arn).ok()) << i;
  }
  auto over = policies_->attach(EntityKind::kUser, "ops", kAdmin);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, "LimitExceeded");
  EXPECT_EQ(over.error().status, 409);
  EXPECT_EQ(over.error().message, "Cannot exceed quota for PoliciesPerUser: 10");
}

TEST_F(ManagedPoliciesTest, AwsManagedPoliciesAreBuiltInReadOnlyAndAttachable) {
  // Every built-in document is a policy the engine accepts.
  ASSERT_EQ(aws_managed_policies().size(), 20u);
  for (const auto& a : aws_managed_policies()) {
    auto parsed = auth::parse_policy(a.document);
    EXPECT_TRUE(parsed.ok()) << a.name << ": " << (parsed.ok() ? "" : parsed.error().message);
    EXPECT_EQ(std::string(a.policy_id).size(), 21u) << a.name;
    auto got = policies_->get(aws_managed_policy_arn(a));
    ASSERT_TRUE(got.ok()) << a.name;
    EXPECT_TRUE(got->aws_managed);
  }
  auto admin = policies_->get(kAdmin);
  EXPECT_EQ(admin->policy_id, "ANPAIWMBCKSKIEE64ZLYK");
  EXPECT_EQ(admin->path, "/");
  EXPECT_EQ(policies_->get(kBasic)->path, "/service-role/");
  auto versions = policies_->list_versions(kAdmin);
  ASSERT_EQ(versions->size(), 1u);
  EXPECT_TRUE(versions->at(0).is_default);
  EXPECT_NE(versions->at(0).document.find(R"("Action": "*")"), std::string::npos);
  EXPECT_EQ(policies_->get("arn:aws:iam::aws:policy/NoSuchPolicy").error().code, "NoSuchEntity");

  EXPECT_EQ(policies_->remove(kAdmin).error().code, "AccessDenied");
  EXPECT_EQ(policies_->create_version(kAdmin, kReadSecrets, true).error().code, "AccessDenied");
  EXPECT_EQ(policies_->delete_version(kAdmin, "v1").error().code, "AccessDenied");
  EXPECT_EQ(policies_->set_default_version(kAdmin, "v1").error().code, "AccessDenied");

  make("mine");
  EXPECT_EQ(policies_->list(PolicyScope::kAws, false, "/")->size(), 20u);
  EXPECT_EQ(policies_->list(PolicyScope::kLocal, false, "/")->size(), 1u);
  auto all = policies_->list(PolicyScope::kAll, false, "/");
  ASSERT_EQ(all->size(), 21u);
  EXPECT_EQ(all->at(0).name, "mine");  // customer managed first (by ARN)
  EXPECT_EQ(policies_->list(PolicyScope::kAws, false, "/service-role/")->size(), 4u);
  EXPECT_TRUE(policies_->list(PolicyScope::kAll, true, "/")->empty());
  make_role("fn");
  ASSERT_TRUE(policies_->attach(EntityKind::kRole, "fn", kBasic).ok());
  auto attached = policies_->list(PolicyScope::kAll, true, "/");
  ASSERT_EQ(attached->size(), 1u);
  EXPECT_EQ(attached->at(0).arn, kBasic);
  EXPECT_EQ(attached->at(0).attachment_count, 1);
}

}  // namespace
}  // namespace nubo::iam

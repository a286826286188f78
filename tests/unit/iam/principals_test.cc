#include "services/iam/principals.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "services/iam/aws_managed_policies.h"
#include "services/iam/groups.h"
#include "services/iam/managed_policies.h"
#include "services/iam/roles.h"
#include "services/iam/users.h"
#include "test_util.h"

namespace nubo::iam {
namespace {

using testing::kAccount;
using testing::kReadQueues;
using testing::kReadSecrets;
using testing::kTrust;

constexpr const char* kWriteLogs = R"({"Version": "2012-10-17", "Statement": [{"Effect":
    "Allow", "Action": "logs:PutLogEvents", "Resource": "*"}]})";
constexpr const char* kGetObjects = R"({"Version": "2012-10-17", "Statement": [{"Effect":
    "Allow", "Action": "s3:GetObject", "Resource": "*"}]})";

class PrincipalsTest : public testing::StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    users_ = std::make_unique<Users>(store_.get(), &clock_, kAccount);
    groups_ = std::make_unique<Groups>(store_.get(), &clock_, kAccount);
    roles_ = std::make_unique<Roles>(store_.get(), &clock_, kAccount);
    policies_ = std::make_unique<ManagedPolicies>(store_.get(), &clock_, kAccount);
  }
  std::string make_policy(const std::string& name, const std::string& doc) {
    ManagedPolicy mp;
    mp.name = name;
    auto made = policies_->create(mp, doc);
    EXPECT_TRUE(made.ok());
    return made.ok() ? made->arn : "";
  }
  std::unique_ptr<Users> users_;
  std::unique_ptr<Groups> groups_;
  std::unique_ptr<Roles> roles_;
  std::unique_ptr<ManagedPolicies> policies_;
};

TEST_F(PrincipalsTest, AUserGetsItsOwnAndItsGroupsPolicies) {
  User u;
  u.name = "alice";
  u.path = "/eng/";
  u.tags = {{"team", "core"}};
  ASSERT_TRUE(users_->create(u).ok());
  ASSERT_TRUE(users_->put_policy("alice", "inline", kReadSecrets).ok());
  std::string queues = make_policy("queues", kReadQueues);
  ASSERT_TRUE(policies_->attach(EntityKind::kUser, "alice", queues).ok());
  Group g;
  g.name = "devs";
  ASSERT_TRUE(groups_->create(g).ok());
  ASSERT_TRUE(groups_->add_user("devs", "alice").ok());
  ASSERT_TRUE(groups_->put_policy("devs", "logs", kWriteLogs).ok());
  std::string objects = make_policy("objects", kGetObjects);
  ASSERT_TRUE(policies_->attach(EntityKind::kGroup, "devs", objects).ok());
  const std::string basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
  ASSERT_TRUE(policies_->attach(EntityKind::kGroup, "devs", basic).ok());
  // A new default version is what applies.
  ASSERT_TRUE(policies_->create_version(queues, kWriteLogs, false).ok());

  auto rec = load_user(*store_, "ALICE");
  ASSERT_TRUE(rec.ok()) << rec.error().message;
  ASSERT_TRUE(rec->has_value());
  const PrincipalRecord& p = **rec;
  EXPECT_EQ(p.name, "alice");
  EXPECT_EQ(p.path, "/eng/");
  EXPECT_EQ(p.arn, "arn:aws:iam::000000000000:user/eng/alice");
  EXPECT_EQ(p.id.rfind("AIDA", 0), 0u);
  EXPECT_EQ(p.tags, (std::map<std::string, std::string>{{"team", "core"}}));
  EXPECT_EQ(p.group_names, std::vector<std::string>{"devs"});
  EXPECT_EQ(p.managed_policy_arns, std::vector<std::string>{queues});
  const std::string basic_doc = find_aws_managed_policy(basic)->document;
  // Own inline, own attached, then the group's inline and attached (by name).
  EXPECT_EQ(p.policy_documents, (std::vector<std::string>{kReadSecrets, kReadQueues, kWriteLogs,
                                                          basic_doc, kGetObjects}));

  ASSERT_TRUE(policies_->set_default_version(queues, "v2").ok());
  auto after = load_user(*store_, "alice");
  EXPECT_EQ((*after)->policy_documents[1], kWriteLogs);

  EXPECT_FALSE(load_user(*store_, "nobody")->has_value());
}

TEST_F(PrincipalsTest, ARoleGetsItsPoliciesTrustAndSessionLimit) {
  Role r;
  r.name = "fn-exec";
  r.path = "/service-role/";
  r.trust_policy = kTrust;
  r.max_session_duration = 7200;
  r.tags = {{"app", "shop"}};
  ASSERT_TRUE(roles_->create(r).ok());
  ASSERT_TRUE(roles_->put_policy("fn-exec", "secrets", kReadSecrets).ok());
  const std::string admin = "arn:aws:iam::aws:policy/AdministratorAccess";
  ASSERT_TRUE(policies_->attach(EntityKind::kRole, "fn-exec", admin).ok());

  auto rec = load_role(*store_, "FN-EXEC");
  ASSERT_TRUE(rec.ok()) << rec.error().message;
  ASSERT_TRUE(rec->has_value());
  const PrincipalRecord& p = **rec;
  EXPECT_EQ(p.arn, "arn:aws:iam::000000000000:role/service-role/fn-exec");
  EXPECT_EQ(p.id.rfind("AROA", 0), 0u);
  EXPECT_EQ(p.trust_policy, kTrust);
  EXPECT_EQ(p.max_session_duration, 7200);
  EXPECT_EQ(p.tags.at("app"), "shop");
  ASSERT_EQ(p.policy_documents.size(), 2u);
  EXPECT_EQ(p.policy_documents[0], kReadSecrets);
  EXPECT_EQ(p.policy_documents[1], find_aws_managed_policy(admin)->document);
  EXPECT_EQ(p.managed_policy_arns, std::vector<std::string>{admin});
  EXPECT_FALSE(load_role(*store_, "nobody")->has_value());
}

TEST_F(PrincipalsTest, ManagedPolicyDocumentsInOrderOrTheFirstUnknown) {
  std::string mine = make_policy("mine", kReadQueues);
  const std::string s3 = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess";
  auto docs = managed_policy_documents(*store_, kAccount, {s3, mine});
  ASSERT_TRUE(docs.ok());
  ASSERT_EQ(docs->size(), 2u);
  EXPECT_EQ((*docs)[0], find_aws_managed_policy(s3)->document);
  EXPECT_EQ((*docs)[1], kReadQueues);

  auto unknown = managed_policy_documents(
      *store_, kAccount, {mine, "arn:aws:iam::000000000000:policy/ghost", "arn:aws:iam::aws:x"});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, "NoSuchEntity");
  EXPECT_EQ(unknown.error().status, 404);
  EXPECT_NE(unknown.error().message.find("arn:aws:iam::000000000000:policy/ghost"),
            std::string::npos);
  // Another account's policy is not ours to read.
  EXPECT_FALSE(managed_policy_documents(*store_, "111111111111", {mine}).ok());
}

}  // namespace
}  // namespace nubo::iam

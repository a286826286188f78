#include "services/iam/roles.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/ids.h"
#include "storage/store.h"

namespace nubo::iam {
namespace {

constexpr const char* kTrust = R"({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
    "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})";
constexpr const char* kReadSecrets = R"({"Version": "2012-10-17", "Statement": [{"Effect":
    "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})";

class RolesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("nubo-iam-test-" + random_hex(6))).string();
    std::filesystem::create_directories(dir_);
    storage::SqliteOptions o;
    o.path = dir_ + "/nubo.db";
    auto st = storage::open_sqlite_store(o);
    ASSERT_TRUE(st.ok());
    store_ = std::move(st).value();
    roles_ = std::make_unique<Roles>(store_.get(), &clock_, "000000000000");
    ASSERT_TRUE(roles_->start().ok());
  }
  void TearDown() override {
    roles_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  Role role(const std::string& name, const std::string& path = "/") {
    Role r;
    r.name = name;
    r.path = path;
    r.trust_policy = kTrust;
    return r;
  }

  std::string dir_;
  FakeClock clock_{SystemTime(std::chrono::seconds(1700000000))};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Roles> roles_;
};

TEST_F(RolesTest, CreateGetListDelete) {
  auto made = roles_->create(role("fn-role", "/service/"));
  ASSERT_TRUE(made.ok()) << made.error().message;
  EXPECT_EQ(made->arn, "arn:aws:iam::000000000000:role/service/fn-role");
  EXPECT_EQ(made->role_id.rfind("AROA", 0), 0u);
  EXPECT_EQ(made->role_id.size(), 21u);
  EXPECT_EQ(made->create_date, "2023-11-14T22:13:20.000Z");

  auto again = roles_->create(role("FN-ROLE"));  // names are unique without regard to case
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, "EntityAlreadyExists");
  EXPECT_EQ(again.error().status, 409);

  auto got = roles_->get("fn-role");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->role_id, made->role_id);
  EXPECT_EQ(got->trust_policy, kTrust);

  ASSERT_TRUE(roles_->create(role("a-role")).ok());
  ASSERT_TRUE(roles_->create(role("b-role")).ok());
  auto page = roles_->list("/", "", 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->roles.size(), 2u);
  EXPECT_EQ(page->roles[0].name, "a-role");
  EXPECT_EQ(page->marker, "b-role");
  auto rest = roles_->list("/", page->marker, 2);
  ASSERT_EQ(rest->roles.size(), 1u);
  EXPECT_EQ(rest->roles[0].name, "fn-role");
  EXPECT_TRUE(rest->marker.empty());
  EXPECT_EQ(roles_->list("/service/", "", 10)->roles.size(), 1u);

  ASSERT_TRUE(roles_->remove("a-role").ok());
  auto gone = roles_->get("a-role");
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, "NoSuchEntity");
  EXPECT_EQ(gone.error().message, "The role with name a-role cannot be found.");
  EXPECT_EQ(roles_->remove("a-role").error().code, "NoSuchEntity");
}

TEST_F(RolesTest, ATrustPolicyThatDoesNotParseIsRefused) {
  Role r = role("bad");
  r.trust_policy = R"({"Statement": {"Effect": "Perhaps"}})";
  auto made = roles_->create(r);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(made.error().code, "MalformedPolicyDocument");
  EXPECT_EQ(roles_->get("bad").error().code, "NoSuchEntity");  // nothing half-written
}

TEST_F(RolesTest, InlinePoliciesAndTheDeleteConflict) {
  ASSERT_TRUE(roles_->create(role("worker")).ok());
  ASSERT_TRUE(roles_->put_policy("worker", "read-secrets", kReadSecrets).ok());
  EXPECT_EQ(*roles_->get_policy("worker", "read-secrets"), kReadSecrets);
  EXPECT_EQ(*roles_->list_policies("worker"), std::vector<std::string>{"read-secrets"});
  // Put replaces.
  ASSERT_TRUE(roles_->put_policy("worker", "read-secrets", kTrust).ok());
  EXPECT_EQ(*roles_->get_policy("worker", "read-secrets"), kTrust);

  auto conflict = roles_->remove("worker");
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, "DeleteConflict");
  EXPECT_EQ(roles_->put_policy("worker", "x", "{not json").error().code, "MalformedPolicyDocument");
  EXPECT_EQ(roles_->put_policy("nobody", "x", kReadSecrets).error().code, "NoSuchEntity");
  EXPECT_EQ(roles_->get_policy("worker", "missing").error().message,
            "The role policy with name missing cannot be found.");
  // The role's inline policies together stay under IAM's 10,240 characters.
  std::string big = std::string(R"({"Statement": [)") + R"({"Effect": "Allow", "Action": ")" +
                    std::string(10300, 'a') + R"(", "Resource": "*"}]})";
  EXPECT_EQ(roles_->put_policy("worker", "big", big).error().code, "LimitExceeded");
  // White space does not count, as in IAM: a pretty-printed policy fits.
  std::string padded = std::string(kReadSecrets) + std::string(12000, ' ');
  EXPECT_TRUE(roles_->put_policy("worker", "padded", padded).ok());
  ASSERT_TRUE(roles_->delete_policy("worker", "padded").ok());

  ASSERT_TRUE(roles_->delete_policy("worker", "read-secrets").ok());
  EXPECT_TRUE(roles_->list_policies("worker")->empty());
  EXPECT_TRUE(roles_->remove("worker").ok());
}

}  // namespace
}  // namespace nubo::iam

#include "services/sts/sts_service.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <filesystem>
#include <future>

#include "base/crypto.h"
#include "base/ids.h"
#include "base/strings.h"
#include "services/iam/access_keys.h"
#include "services/iam/roles.h"
#include "services/iam/schema.h"
#include "services/iam/users.h"
#include "services/sts/directory.h"
#include "storage/store.h"

namespace nubo::sts {
namespace {

namespace asio = boost::asio;
constexpr const char* kAccount = "000000000000";

constexpr const char* kTrustAccount = R"({"Version": "2012-10-17", "Statement": [{"Effect":
    "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "sts:AssumeRole"}]})";
constexpr const char* kTrustLambda = R"({"Version": "2012-10-17", "Statement": [{"Effect":
    "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})";
constexpr const char* kReadSecrets = R"({"Version": "2012-10-17", "Statement": [{"Effect":
    "Allow", "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
    "Resource": "*"}]})";

std::string between(const std::string& s, const std::string& open, const std::string& close) {
  auto a = s.find(open);
  if (a == std::string::npos) return "";
  a += open.size();
  auto b = s.find(close, a);
  return b == std::string::npos ? "" : s.substr(a, b - a);
}

class StsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("nubo-sts-test-" + random_hex(6))).string();
    std::filesystem::create_directories(dir_);
    auto st = storage::open_sqlite_store({.path = dir_ + "/nubo.db", .strict = false});
    ASSERT_TRUE(st.ok());
    store_ = std::move(st).value();
    ASSERT_TRUE(iam::migrate_iam_schema(*store_).ok());
    DirectoryDeps d{store_.get(), &keyring_, &clock_, kAccount, "test", "test"};
    directory_ = std::make_unique<Directory>(d);
    sts_ = std::make_unique<StsService>(
        StsDeps{directory_.get(), store_.get(), &clock_, &pool_, kAccount});
    roles_ = std::make_unique<iam::Roles>(store_.get(), &clock_, kAccount);
  }
  void TearDown() override {
    pool_.join();
    std::filesystem::remove_all(dir_);
  }

  void make_role(const std::string& name, const char* trust, const char* policy = nullptr) {
    iam::Role r;
    r.name = name;
    r.trust_policy = trust;
    ASSERT_TRUE(roles_->create(r).ok());
    if (policy) {
      ASSERT_TRUE(roles_->put_policy(name, "p", policy).ok());
    }
  }

  net::Response call(const std::string& body, const auth::Caller& who) {
    net::Request req{net::http::verb::post, "/", 11};
    req.set(net::http::field::content_type, "application/x-www-form-urlencoded");
    req.body() = body;
    req.prepare_payload();
    std::promise<net::Response> done;
    asio::co_spawn(
        io_, [&]() -> net::Task<void> { done.set_value(co_await sts_->handle(req, who)); },
        asio::detached);
    io_.restart();
    io_.run();
    return done.get_future().get();
  }

  // The Caller the front door would build for these credentials.
  auth::Caller caller_for(const auth::Credentials& c) {
    auth::Caller out;
    out.arn = c.principal_arn;
    out.account_id = kAccount;
    out.access_key_id = c.access_key_id;
    out.is_root = c.is_root;
    out.temporary = !c.session_token.empty();
    out.assumed_role = c.kind == auth::Credentials::Kind::kAssumedRole;
    if (!c.is_root) out.identity = directory_->identity(c).value();
    return out;
  }

  std::string dir_;
  FakeClock clock_{SystemTime(std::chrono::seconds(1700000000))};
  auth::Keyring keyring_{random_bytes(32)};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Directory> directory_;
  std::unique_ptr<StsService> sts_;
  std::unique_ptr<iam::Roles> roles_;
  asio::io_context io_;
  asio::thread_pool pool_{1};
};

TEST_F(StsTest, TokensCarryTheirClaimsAndCannotBeForgedOrKeptPastExpiry) {
  SessionTokens tokens(keyring_);
  auth::Credentials claims;
  claims.kind = auth::Credentials::Kind::kAssumedRole;
  claims.principal_arn = "arn:aws:sts::000000000000:assumed-role/r/s";
  claims.account_id = kAccount;
  claims.role_name = "r";
  claims.session_name = "s";
  claims.session_policy = R"({"Statement": []})";
  claims.session_policy_arns = {"arn:aws:iam::aws:policy/ReadOnlyAccess"};
  claims.expires_epoch = 1000;
  auth::Credentials c = tokens.issue(claims);
  EXPECT_TRUE(starts_with(c.access_key_id, "ASIA"));
  EXPECT_EQ(c.access_key_id.size(), 20u);
  EXPECT_EQ(c.secret_access_key.size(), 40u);
  EXPECT_EQ(c.session_token.find("assumed-role"), std::string::npos);  // sealed, not readable
  auth::KeyLookup ok = tokens.open(c.access_key_id, c.session_token, 999);
  ASSERT_EQ(ok.problem, auth::KeyProblem::kNone);
  EXPECT_EQ(ok.credentials->secret_access_key, c.secret_access_key);
  EXPECT_EQ(ok.credentials->principal_arn, claims.principal_arn);
  EXPECT_EQ(ok.credentials->session_policy, claims.session_policy);
  EXPECT_EQ(ok.credentials->session_policy_arns, claims.session_policy_arns);
  EXPECT_EQ(ok.credentials->kind, auth::Credentials::Kind::kAssumedRole);
  EXPECT_EQ(tokens.open(c.access_key_id, c.session_token, 1000).problem,
            auth::KeyProblem::kExpiredToken);
  // Another key id, a changed character, another node's master key: invalid.
  EXPECT_EQ(tokens.open("ASIAAAAAAAAAAAAAAAAA", c.session_token, 1).problem,
            auth::KeyProblem::kInvalidToken);
  std::string bad = c.session_token;
  bad[bad.size() / 2] = bad[bad.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(tokens.open(c.access_key_id, bad, 1).problem, auth::KeyProblem::kInvalidToken);
  auth::Keyring other(random_bytes(32));
  EXPECT_EQ(SessionTokens(other).open(c.access_key_id, c.session_token, 1).problem,
            auth::KeyProblem::kInvalidToken);
  EXPECT_EQ(tokens.open(c.access_key_id, "garbage", 1).problem, auth::KeyProblem::kInvalidToken);
}

TEST_F(StsTest, TheDirectoryRemembersOpenedTokensUntilTheyExpire) {
  auth::Credentials claims;
  claims.kind = auth::Credentials::Kind::kAssumedRole;
  claims.principal_arn = "arn:aws:sts::000000000000:assumed-role/r/s";
  claims.account_id = kAccount;
  claims.role_name = "r";
  claims.session_name = "s";
  claims.expires_epoch = 1700000000 + 60;
  auth::Credentials c = directory_->tokens().issue(claims);
  for (int i = 0; i < 2; ++i) {  // opened, then from the cache: the same answer
    auth::KeyLookup ok = directory_->lookup(c.access_key_id, c.session_token);
    ASSERT_EQ(ok.problem, auth::KeyProblem::kNone);
    EXPECT_EQ(ok.credentials->secret_access_key, c.secret_access_key);
    EXPECT_EQ(ok.credentials->principal_arn, claims.principal_arn);
  }
  // The same key id with another token is not served from the cache.
  std::string bad = c.session_token;
  bad[bad.size() / 2] = bad[bad.size() / 2] == 'A' ? 'B' : 'A';
  EXPECT_EQ(directory_->lookup(c.access_key_id, bad).problem, auth::KeyProblem::kInvalidToken);
  EXPECT_EQ(directory_->lookup(c.access_key_id, "").problem, auth::KeyProblem::kUnknownKey);
  EXPECT_EQ(directory_->lookup(c.access_key_id, c.session_token).problem, auth::KeyProblem::kNone);
  // The session's identity is remembered beside it, until IAM changes anything.
  make_role("r", kTrustAccount, kReadSecrets);
  auth::Credentials looked = *directory_->lookup(c.access_key_id, c.session_token).credentials;
  auto first = directory_->identity(looked);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ((*first)->policies.size(), 1u);
  EXPECT_EQ(directory_->identity(looked).value(), *first);
  ASSERT_TRUE(roles_->put_policy("r", "second", kReadSecrets).ok());
  directory_->invalidate();  // what IamService does on every change
  auto second = directory_->identity(looked);
  ASSERT_TRUE(second.ok());
  EXPECT_NE(*second, *first);
  EXPECT_EQ((*second)->policies.size(), 2u);
  EXPECT_EQ(directory_->identity(looked).value(), *second);
  // Other claims under the same key id (not from this token) do not get its identity.
  auth::Credentials other = looked;
  other.role_name = "someone-else";
  auto theirs = directory_->identity(other);
  ASSERT_TRUE(theirs.ok());
  EXPECT_TRUE((*theirs)->policies.empty());
  // Expiry is checked on every lookup, cached or not.
  clock_.advance(std::chrono::seconds(60));
  EXPECT_EQ(directory_->lookup(c.access_key_id, c.session_token).problem,
            auth::KeyProblem::kExpiredToken);
  EXPECT_EQ(directory_->lookup(c.access_key_id, c.session_token).problem,
            auth::KeyProblem::kExpiredToken);
}

TEST_F(StsTest, GetCallerIdentitySaysWhoSigned) {
  net::Response r =
      call("Action=GetCallerIdentity&Version=2011-06-15", auth::root_caller(kAccount));
  EXPECT_EQ(r.result(), net::http::status::ok);
  const std::string& b = r.body();
  EXPECT_NE(b.find("<Arn>arn:aws:iam::000000000000:root</Arn>"), std::string::npos) << b;
  EXPECT_NE(b.find("<UserId>000000000000</UserId>"), std::string::npos) << b;
  EXPECT_NE(b.find("<Account>000000000000</Account>"), std::string::npos) << b;
  EXPECT_FALSE(r["x-amzn-RequestId"].empty());
}

TEST_F(StsTest, UnknownActionsAndVersionsGetStsErrors) {
  auth::Caller root = auth::root_caller(kAccount);
  net::Response r = call("Action=GetCallerIdentity&Version=2000-01-01", root);
  EXPECT_EQ(r.result(), net::http::status::bad_request);
  EXPECT_NE(r.body().find("<Code>InvalidAction</Code>"), std::string::npos) << r.body();
  r = call("Action=Frobnicate&Version=2011-06-15", root);
  EXPECT_NE(r.body().find("Could not find operation Frobnicate"), std::string::npos);
  r = call("Version=2011-06-15", root);
  EXPECT_NE(r.body().find("<Code>MissingAction</Code>"), std::string::npos) << r.body();
}

TEST_F(StsTest, AssumeRoleChecksTrustAndIdentityAndBoundsTheSession) {
  make_role("reader", kTrustAccount, kReadSecrets);
  make_role("lambda-only", kTrustLambda);
  auth::Caller root = auth::root_caller(kAccount);
  std::string arn = "arn:aws:iam::000000000000:role/reader";
  net::Response r = call(
      "Action=AssumeRole&Version=2011-06-15&RoleSessionName=s1&RoleArn=" + url_encode(arn), root);
  ASSERT_EQ(r.result(), net::http::status::ok) << r.body();
  std::string key = between(r.body(), "<AccessKeyId>", "</AccessKeyId>");
  std::string token = between(r.body(), "<SessionToken>", "</SessionToken>");
  EXPECT_NE(r.body().find("<Arn>arn:aws:sts::000000000000:assumed-role/reader/s1</Arn>"),
            std::string::npos);
  EXPECT_NE(r.body().find("<Expiration>2023-11-14T23:13:20"), std::string::npos) << r.body();

  // The credentials resolve to the assumed role, whose policies apply.
  auth::KeyLookup found = directory_->lookup(key, token);
  ASSERT_EQ(found.problem, auth::KeyProblem::kNone);
  auth::Caller session = caller_for(*found.credentials);
  EXPECT_EQ(session.arn, "arn:aws:sts::000000000000:assumed-role/reader/s1");
  const auth::DenialShape shape{"AccessDeniedException", 400};
  EXPECT_TRUE(auth::authorize(session, {"secretsmanager:GetSecretValue", "*"}, shape).ok());
  EXPECT_FALSE(auth::authorize(session, {"secretsmanager:DeleteSecret", "*"}, shape).ok());
  EXPECT_NE(
      call("Action=GetCallerIdentity&Version=2011-06-15", session).body().find("<UserId>AROA"),
      std::string::npos);
  // Expired after the hour.
  clock_.advance(std::chrono::seconds(3600));
  EXPECT_EQ(directory_->lookup(key, token).problem, auth::KeyProblem::kExpiredToken);
  clock_.advance(std::chrono::seconds(-3600));

  // A role that trusts only Lambda cannot be assumed, not even by root.
  r = call("Action=AssumeRole&Version=2011-06-15&RoleSessionName=s1&RoleArn=" +
               url_encode("arn:aws:iam::000000000000:role/lambda-only"),
           root);
  EXPECT_EQ(r.result(), net::http::status::forbidden);
  EXPECT_NE(r.body().find("<Code>AccessDenied</Code>"), std::string::npos) << r.body();
  // A session (role chaining) without sts:AssumeRole in its identity is denied the account-trusting
  // role.
  r = call("Action=AssumeRole&Version=2011-06-15&RoleSessionName=s2&RoleArn=" + url_encode(arn),
           session);
  EXPECT_EQ(r.result(), net::http::status::forbidden) << r.body();
  // Duration past the role's maximum; unknown role; bad session name.
  r = call("Action=AssumeRole&Version=2011-06-15&RoleSessionName=s1&DurationSeconds=7200&RoleArn=" +
               url_encode(arn),
           root);
  EXPECT_NE(r.body().find("exceeds the MaxSessionDuration"), std::string::npos) << r.body();
  r = call("Action=AssumeRole&Version=2011-06-15&RoleSessionName=s1&DurationSeconds=100&RoleArn=" +
               url_encode(arn),
           root);
  EXPECT_NE(r.body().find("greater than or equal to 900"), std::string::npos) << r.body();
  r = call("Action=AssumeRole&Version=2011-06-15&RoleSessionName=a%20b&RoleArn=" + url_encode(arn),
           root);
  EXPECT_NE(r.body().find("<Code>ValidationError</Code>"), std::string::npos) << r.body();
  r = call("Action=AssumeRole&Version=2011-06-15&RoleSessionName=s1&RoleArn=" +
               url_encode("arn:aws:iam::000000000000:role/nope"),
           root);
  EXPECT_EQ(r.result(), net::http::status::forbidden);
}

TEST_F(StsTest, AnIdentityAllowCannotSkipTheTrustPolicy) {
  make_role("lambda-only", kTrustLambda);
  make_role("reader", kTrustAccount, kReadSecrets);
  // A principal whose own policies allow sts:AssumeRole on everything.
  make_role("admin", kTrustAccount,
            R"({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*",
                "Resource": "*"}]})");
  auto admin = sts_->assume_role_as_service("arn:aws:iam::000000000000:role/admin", "x",
                                            "lambda.amazonaws.com", 3600);
  ASSERT_FALSE(admin.ok());  // admin trusts the account, not Lambda
  net::Response r = call("Action=AssumeRole&Version=2011-06-15&RoleSessionName=a1&RoleArn=" +
                             url_encode("arn:aws:iam::000000000000:role/admin"),
                         auth::root_caller(kAccount));
  ASSERT_EQ(r.result(), net::http::status::ok) << r.body();
  auth::KeyLookup found =
      directory_->lookup(between(r.body(), "<AccessKeyId>", "</AccessKeyId>"),
                         between(r.body(), "<SessionToken>", "</SessionToken>"));
  ASSERT_EQ(found.problem, auth::KeyProblem::kNone);
  auth::Caller admin_session = caller_for(*found.credentials);
  // Its identity allows everything, but lambda-only's trust policy names only Lambda.
  r = call("Action=AssumeRole&Version=2011-06-15&RoleSessionName=a2&RoleArn=" +
               url_encode("arn:aws:iam::000000000000:role/lambda-only"),
           admin_session);
  EXPECT_EQ(r.result(), net::http::status::forbidden) << r.body();
  // A role that trusts the account: the identity allow is what lets it in.
  r = call("Action=AssumeRole&Version=2011-06-15&RoleSessionName=a3&RoleArn=" +
               url_encode("arn:aws:iam::000000000000:role/reader"),
           admin_session);
  EXPECT_EQ(r.result(), net::http::status::ok) << r.body();
}

TEST_F(StsTest, ASessionOfADeletedRoleGetsNothingFromItsNamesake) {
  make_role("reader", kTrustAccount, kReadSecrets);
  net::Response r = call("Action=AssumeRole&Version=2011-06-15&RoleSessionName=old&RoleArn=" +
                             url_encode("arn:aws:iam::000000000000:role/reader"),
                         auth::root_caller(kAccount));
  ASSERT_EQ(r.result(), net::http::status::ok) << r.body();
  std::string key = between(r.body(), "<AccessKeyId>", "</AccessKeyId>");
  std::string token = between(r.body(), "<SessionToken>", "</SessionToken>");
  ASSERT_TRUE(roles_->delete_policy("reader", "p").ok());
  ASSERT_TRUE(roles_->remove("reader").ok());
  make_role("reader", kTrustAccount, kReadSecrets);  // same name, another role
  directory_->invalidate();
  auth::KeyLookup found = directory_->lookup(key, token);
  ASSERT_EQ(found.problem, auth::KeyProblem::kNone);  // the token itself is still genuine
  auth::Caller c = caller_for(*found.credentials);
  EXPECT_FALSE(
      auth::authorize(c, {"secretsmanager:GetSecretValue", "*"}, {"AccessDeniedException", 400})
          .ok());
}

TEST_F(StsTest, SessionPoliciesNarrowTheRole) {
  make_role("reader", kTrustAccount, kReadSecrets);
  std::string policy = R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",)"
                       R"("Action":"secretsmanager:DescribeSecret","Resource":"*"}]})";
  net::Response r = call("Action=AssumeRole&Version=2011-06-15&RoleSessionName=narrow&RoleArn=" +
                             url_encode("arn:aws:iam::000000000000:role/reader") +
                             "&Policy=" + url_encode(policy),
                         auth::root_caller(kAccount));
  ASSERT_EQ(r.result(), net::http::status::ok) << r.body();
  EXPECT_NE(r.body().find("<PackedPolicySize>"), std::string::npos);
  auth::KeyLookup found =
      directory_->lookup(between(r.body(), "<AccessKeyId>", "</AccessKeyId>"),
                         between(r.body(), "<SessionToken>", "</SessionToken>"));
  ASSERT_EQ(found.problem, auth::KeyProblem::kNone);
  auth::Caller c = caller_for(*found.credentials);
  const auth::DenialShape shape{"AccessDeniedException", 400};
  EXPECT_TRUE(auth::authorize(c, {"secretsmanager:DescribeSecret", "*"}, shape).ok());
  EXPECT_FALSE(auth::authorize(c, {"secretsmanager:GetSecretValue", "*"}, shape).ok());
  r = call("Action=AssumeRole&Version=2011-06-15&RoleSessionName=bad&RoleArn=" +
               url_encode("arn:aws:iam::000000000000:role/reader") + "&Policy=%7Bnot",
           auth::root_caller(kAccount));
  EXPECT_NE(r.body().find("MalformedPolicyDocument"), std::string::npos) << r.body();
}

TEST_F(StsTest, LambdaAssumesOnlyRolesThatTrustIt) {
  make_role("fn", kTrustLambda, kReadSecrets);
  make_role("humans", kTrustAccount);
  auto c = sts_->assume_role_as_service("arn:aws:iam::000000000000:role/fn", "my-function",
                                        "lambda.amazonaws.com", 3600);
  ASSERT_TRUE(c.ok()) << c.error().message;
  EXPECT_EQ(c->principal_arn, "arn:aws:sts::000000000000:assumed-role/fn/my-function");
  EXPECT_EQ(directory_->lookup(c->access_key_id, c->session_token).problem,
            auth::KeyProblem::kNone);
  // Reused while more than half their lifetime is left; new ones after that.
  auto again = sts_->assume_role_as_service("arn:aws:iam::000000000000:role/fn", "my-function",
                                            "lambda.amazonaws.com", 3600, /*reuse=*/true);
  auto same = sts_->assume_role_as_service("arn:aws:iam::000000000000:role/fn", "my-function",
                                           "lambda.amazonaws.com", 3600, /*reuse=*/true);
  ASSERT_TRUE(again.ok() && same.ok());
  EXPECT_EQ(again->access_key_id, same->access_key_id);
  EXPECT_NE(again->access_key_id, c->access_key_id);  // c was not issued for reuse
  clock_.advance(std::chrono::seconds(1801));
  auto later = sts_->assume_role_as_service("arn:aws:iam::000000000000:role/fn", "my-function",
                                            "lambda.amazonaws.com", 3600, /*reuse=*/true);
  ASSERT_TRUE(later.ok());
  EXPECT_NE(later->access_key_id, same->access_key_id);
  auto denied = sts_->assume_role_as_service("arn:aws:iam::000000000000:role/humans", "f",
                                             "lambda.amazonaws.com", 3600);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.error().code, "AccessDenied");
  auto missing = sts_->assume_role_as_service("arn:aws:iam::000000000000:role/none", "f",
                                              "lambda.amazonaws.com", 3600);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "NoSuchEntity");
}

TEST_F(StsTest, UsersKeysResolveWhileActiveAndIamChangesReachTheCache) {
  iam::Users users(store_.get(), &clock_, kAccount);
  iam::User u;
  u.name = "alice";
  ASSERT_TRUE(users.create(u).ok());
  ASSERT_TRUE(users.put_policy("alice", "read", kReadSecrets).ok());
  iam::AccessKeys keys(store_.get(), &clock_, &keyring_);
  auto k = keys.create("alice");
  ASSERT_TRUE(k.ok()) << k.error().message;
  auto found = directory_->lookup(k->access_key_id);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->secret_access_key, k->secret_access_key);
  EXPECT_EQ(found->principal_arn, "arn:aws:iam::000000000000:user/alice");
  auth::Caller alice = caller_for(*found);
  const auth::DenialShape shape{"AccessDeniedException", 400};
  EXPECT_TRUE(auth::authorize(alice, {"secretsmanager:GetSecretValue", "*"}, shape).ok());
  EXPECT_EQ(alice.identity->user_name, "alice");

  // Policy removed: denied once IAM says it changed.
  ASSERT_TRUE(users.delete_policy("alice", "read").ok());
  directory_->invalidate();
  alice = caller_for(*directory_->lookup(k->access_key_id));
  EXPECT_FALSE(auth::authorize(alice, {"secretsmanager:GetSecretValue", "*"}, shape).ok());
  // An inactive key no longer signs.
  ASSERT_TRUE(keys.update("alice", k->access_key_id, "Inactive").ok());
  directory_->invalidate();
  EXPECT_FALSE(directory_->lookup(k->access_key_id).has_value());
  EXPECT_FALSE(directory_->lookup("AKIANOSUCHKEY0000000").has_value());
  EXPECT_TRUE(directory_->lookup("test").has_value());
}

}  // namespace
}  // namespace nubo::sts

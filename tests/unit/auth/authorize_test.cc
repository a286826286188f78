#include "auth/authorize.h"

#include <gtest/gtest.h>

#include <mutex>

namespace nubo::auth {
namespace {

std::shared_ptr<const Policy> policy(const char* text) {
  auto p = parse_policy(text);
  EXPECT_TRUE(p.ok()) << p.error().message;
  return std::make_shared<const Policy>(std::move(p).value());
}

class Recorder final : public AuditSink {
 public:
  void record(AuditEvent e) override { events.push_back(std::move(e)); }
  bool wants_data_events() const override { return data_events; }
  std::vector<AuditEvent> events;
  bool data_events = true;
};

Caller user_with(std::vector<std::shared_ptr<const Policy>> policies) {
  Caller c;
  c.arn = "arn:aws:iam::000000000000:user/alice";
  c.account_id = "000000000000";
  c.access_key_id = "AKIAALICE";
  auto id = std::make_shared<Identity>();
  id->policies = std::move(policies);
  id->principal_type = "User";
  id->user_name = "alice";
  c.identity = id;
  c.source_ip = "10.1.2.3";
  return c;
}

const DenialShape kShape{"AccessDeniedException", 403};
const char* kSecret = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf";

TEST(AuthorizeTest, RootIsAllowedEverythingAndOthersNothingByDefault) {
  Recorder audit;
  Caller root = root_caller("000000000000");
  root.audit = &audit;
  EXPECT_TRUE(authorize(root, {"iam:DeleteRole", "arn:aws:iam::000000000000:role/x"}, kShape).ok());
  Caller nobody = user_with({});
  nobody.audit = &audit;
  Status st = authorize(nobody, {"secretsmanager:GetSecretValue", kSecret}, kShape);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, "AccessDeniedException");
  EXPECT_EQ(st.error().status, 403);
  EXPECT_EQ(st.error().message,
            std::string("User: arn:aws:iam::000000000000:user/alice is not authorized to perform: "
                        "secretsmanager:GetSecretValue on resource: ") +
                kSecret +
                " because no identity-based policy allows the secretsmanager:GetSecretValue "
                "action");
  ASSERT_EQ(audit.events.size(), 2u);
  EXPECT_TRUE(audit.events[0].allowed);
  EXPECT_EQ(audit.events[0].event_source, "iam.amazonaws.com");
  EXPECT_EQ(audit.events[0].event_name, "DeleteRole");
  EXPECT_FALSE(audit.events[1].allowed);
  EXPECT_EQ(audit.events[1].source_ip, "10.1.2.3");
  EXPECT_EQ(audit.events[1].resource, kSecret);
}

TEST(AuthorizeTest, AllowedDataEventsAreKeptOnlyWhenTheSinkWantsThem) {
  Recorder audit;
  audit.data_events = false;
  Caller root = root_caller("000000000000");
  root.audit = &audit;
  Access invoke("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:000000000000:function:f");
  invoke.data_event = true;
  EXPECT_TRUE(authorize(root, invoke, kShape).ok());
  EXPECT_TRUE(audit.events.empty());
  Caller nobody = user_with({});
  nobody.audit = &audit;
  EXPECT_FALSE(authorize(nobody, invoke, kShape).ok());  // a denied one is always kept
  ASSERT_EQ(audit.events.size(), 1u);
  EXPECT_FALSE(audit.events[0].allowed);
  audit.data_events = true;
  EXPECT_TRUE(authorize(root, invoke, kShape).ok());
  EXPECT_EQ(audit.events.size(), 2u);
}

TEST(AuthorizeTest, ExplicitDenyOverridesAllowAndSaysWhere) {
  auto allow = policy(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
      "Action": "secretsmanager:*", "Resource": "*"}})");
  auto deny = policy(R"({"Version": "2012-10-17", "Statement": {"Effect": "Deny",
      "Action": "secretsmanager:GetSecretValue", "Resource": "*:secret:db-*"}})");
  Caller c = user_with({allow, deny});
  Status st = authorize(c, {"secretsmanager:GetSecretValue", kSecret}, kShape);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("with an explicit deny in an identity-based policy"),
            std::string::npos);
  EXPECT_TRUE(authorize(c, {"secretsmanager:DescribeSecret", kSecret}, kShape).ok());
  // A resource policy's deny is named as such.
  Caller only_allow = user_with({allow});
  auto rdeny = policy(R"({"Version": "2012-10-17", "Statement": {"Effect": "Deny",
      "Principal": "*", "Action": "*", "Resource": "*"}})");
  st = authorize(only_allow, {"secretsmanager:GetSecretValue", kSecret, rdeny.get()}, kShape);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("resource-based policy"), std::string::npos);
}

TEST(AuthorizeTest, GlobalConditionKeysComeFromTheCaller) {
  auto from_net = policy(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
      "Action": "lambda:InvokeFunction", "Resource": "*",
      "Condition": {"IpAddress": {"aws:SourceIp": "10.1.0.0/16"},
                    "StringEquals": {"aws:username": "${aws:username}"},
                    "Bool": {"aws:SecureTransport": "false"}}}})");
  Caller c = user_with({from_net});
  EXPECT_TRUE(authorize(c, {"lambda:InvokeFunction", "*"}, kShape).ok());
  c.source_ip = "192.168.0.1";
  EXPECT_FALSE(authorize(c, {"lambda:InvokeFunction", "*"}, kShape).ok());
}

TEST(AuthorizeTest, AResourcePolicyNamingTheAccountDelegatesToIdentityPolicies) {
  auto account = policy(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "*", "Resource": "*"}})");
  auto named = policy(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::000000000000:user/alice"}, "Action": "*",
      "Resource": "*"}})");
  Caller c = user_with({});
  EXPECT_FALSE(
      authorize(c, {"sts:AssumeRole", "arn:aws:iam::000000000000:role/r", account.get()}, kShape)
          .ok());
  EXPECT_TRUE(
      authorize(c, {"sts:AssumeRole", "arn:aws:iam::000000000000:role/r", named.get()}, kShape)
          .ok());
  auto allow = policy(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
      "Action": "sts:AssumeRole", "Resource": "*"}})");
  Caller granted = user_with({allow});
  EXPECT_TRUE(authorize(granted,
                        {"sts:AssumeRole", "arn:aws:iam::000000000000:role/r", account.get()},
                        kShape)
                  .ok());
}

TEST(AuthorizeTest, SessionPoliciesBoundTheIdentity) {
  auto all = policy(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
      "Action": "*", "Resource": "*"}})");
  auto only_get = policy(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
      "Action": "secretsmanager:GetSecretValue", "Resource": "*"}})");
  Caller c = user_with({all});
  auto id = std::make_shared<Identity>(*c.identity);
  id->session = {only_get};
  c.identity = id;
  EXPECT_TRUE(authorize(c, {"secretsmanager:GetSecretValue", kSecret}, kShape).ok());
  Status st = authorize(c, {"secretsmanager:DeleteSecret", kSecret}, kShape);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("no session policy allows"), std::string::npos);
  // Neither allows: the identity is what is missing.
  Caller bare = user_with({});
  auto bare_id = std::make_shared<Identity>(*bare.identity);
  bare_id->session = {only_get};
  bare.identity = bare_id;
  st = authorize(bare, {"secretsmanager:DeleteSecret", kSecret}, kShape);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("no identity-based policy allows"), std::string::npos);
}

}  // namespace
}  // namespace nubo::auth

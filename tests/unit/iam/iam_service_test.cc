// IamService end to end below HTTP: form parameters in, IAM's XML and errors out, and the
// authorisation of every action (root vs. IAM users with and without policies).
#include "services/iam/iam_service.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace nubo::iam {
namespace {

using testing::Answer;
using testing::kReadSecrets;
using testing::kTrust;
using testing::user_caller;

class IamServiceTest : public testing::StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    iam_ = std::make_unique<testing::ServiceHarness>(store_.get(), &clock_, &keyring_);
    ASSERT_TRUE(iam_->start_status().ok());
  }
  void TearDown() override {
    iam_.reset();
    StoreFixture::TearDown();
  }
  Answer ok(const std::string& action,
            const std::vector<std::pair<std::string, std::string>>& params = {},
            const auth::Caller* as = nullptr) {
    Answer a = iam_->call(action, params, as);
    EXPECT_EQ(a.status, 200) << action << ": " << a.body;
    return a;
  }
  std::unique_ptr<testing::ServiceHarness> iam_;
};

TEST_F(IamServiceTest, UsersRoundTripInIamsXml) {
  Answer made = ok("CreateUser", {{"UserName", "alice"},
                                  {"Path", "/eng/"},
                                  {"Tags.member.1.Key", "team"},
                                  {"Tags.member.1.Value", "core"}});
  EXPECT_NE(
      made.body.find("<CreateUserResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">"
                     "<CreateUserResult><User>"),
      std::string::npos);
  EXPECT_EQ(made.text("Arn"), "arn:aws:iam::000000000000:user/eng/alice");
  EXPECT_EQ(made.text("Key"), "team");
  EXPECT_EQ(iam_->changes.load(), 1);

  Answer got = ok("GetUser", {{"UserName", "alice"}});
  EXPECT_EQ(got.text("UserId"), made.text("UserId"));
  Answer listed = ok("ListUsers", {{"PathPrefix", "/eng/"}});
  EXPECT_EQ(listed.count("member"), 1);
  EXPECT_EQ(listed.text("IsTruncated"), "false");
  EXPECT_EQ(iam_->changes.load(), 1);  // reads change nothing

  // The root user, when GetUser names nobody.
  Answer root = ok("GetUser");
  EXPECT_EQ(root.text("UserId"), "000000000000");
  EXPECT_EQ(root.text("Arn"), "arn:aws:iam::000000000000:root");
  EXPECT_EQ(root.text("UserName"), "");
  EXPECT_FALSE(root.text("CreateDate").empty());

  Answer dup = iam_->call("CreateUser", {{"UserName", "alice"}});
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(dup.code(), "EntityAlreadyExists");
  EXPECT_NE(dup.body.find("<ErrorResponse><Error><Type>Sender</Type>"), std::string::npos);
  Answer bad = iam_->call("CreateUser", {{"UserName", "has space"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(bad.code(), "ValidationError");
  EXPECT_EQ(bad.message(),
            "1 validation error detected: Value 'has space' at 'userName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]+");
  EXPECT_EQ(iam_->call("CreateUser").message(),
            "1 validation error detected: Value null at 'userName' failed to satisfy constraint: "
            "Member must not be null");
  EXPECT_EQ(iam_->call("CreateUser", {{"UserName", "x"}, {"Path", "no-slashes"}}).code(),
            "ValidationError");
  EXPECT_EQ(iam_->call("NoSuchAction").code(), "InvalidAction");
  EXPECT_EQ(iam_->changes.load(), 1);  // failures change nothing

  ok("UpdateUser", {{"UserName", "alice"}, {"NewUserName", "alicia"}});
  EXPECT_EQ(iam_->call("GetUser", {{"UserName", "alice"}}).status, 404);
  ok("DeleteUser", {{"UserName", "alicia"}});
  EXPECT_EQ(iam_->changes.load(), 3);
}

TEST_F(IamServiceTest, ACallerWithoutPoliciesIsDeniedBeforeAnythingHappens) {
  ok("CreateUser", {{"UserName", "bob"}});
  ok("CreateUser", {{"UserName", "victim"}});
  int changes = iam_->changes.load();
  auth::Caller bob = user_caller("bob", {});

  Answer denied = iam_->call("CreateUser", {{"UserName", "eve"}}, &bob);
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.code(), "AccessDenied");
  EXPECT_EQ(denied.message(),
            "User: arn:aws:iam::000000000000:user/bob is not authorized to perform: "
            "iam:CreateUser on resource: arn:aws:iam::000000000000:user/eve because no "
            "identity-based policy allows the iam:CreateUser action");
  EXPECT_EQ(iam_->call("DeleteUser", {{"UserName", "victim"}}, &bob).status, 403);
  EXPECT_EQ(iam_->call("ListUsers", {}, &bob).code(), "AccessDenied");
  EXPECT_EQ(
      iam_->call("CreatePolicy", {{"PolicyName", "p"}, {"PolicyDocument", kReadSecrets}}, &bob)
          .code(),
      "AccessDenied");
  EXPECT_EQ(iam_->call("GetAccountAuthorizationDetails", {}, &bob).code(), "AccessDenied");
  EXPECT_EQ(iam_->changes.load(), changes);
  // Nothing was written.
  EXPECT_EQ(iam_->call("GetUser", {{"UserName", "eve"}}).code(), "NoSuchEntity");
  ok("GetUser", {{"UserName", "victim"}});
  EXPECT_EQ(iam_->call("ListPolicies", {{"Scope", "Local"}}).count("member"), 0);
}

TEST_F(IamServiceTest, TheResourceIsTheEntitysArnWithItsPath) {
  ok("CreateUser", {{"UserName", "reader"}});
  ok("CreateUser", {{"UserName", "alice"}, {"Path", "/eng/"}});
  ok("CreateUser", {{"UserName", "carl"}});
  auth::Caller reader = user_caller("reader", {R"({"Version": "2012-10-17", "Statement": [
          {"Effect": "Allow", "Action": "iam:GetUser",
           "Resource": ["arn:aws:iam::000000000000:user/eng/*",
                        "arn:aws:iam::000000000000:user/${aws:username}"]},
          {"Effect": "Allow", "Action": "iam:List*", "Resource": "*"},
          {"Effect": "Deny", "Action": "iam:ListRoles", "Resource": "*"}]})"});
  EXPECT_EQ(iam_->call("GetUser", {{"UserName", "alice"}}, &reader).status, 200);
  Answer carl = iam_->call("GetUser", {{"UserName", "carl"}}, &reader);
  EXPECT_EQ(carl.status, 403);
  EXPECT_NE(carl.message().find("on resource: arn:aws:iam::000000000000:user/carl"),
            std::string::npos);
  // GetUser without a name is the caller's own user.
  Answer self = ok("GetUser", {}, &reader);
  EXPECT_EQ(self.text("UserName"), "reader");
  // An unknown user's ARN has path "/": the check comes before NoSuchEntity.
  EXPECT_EQ(iam_->call("GetUser", {{"UserName", "ghost"}}, &reader).code(), "AccessDenied");
  EXPECT_EQ(iam_->call("GetUser", {{"UserName", "ghost"}}).code(), "NoSuchEntity");
  ok("ListUsers", {}, &reader);
  Answer explicit_deny = iam_->call("ListRoles", {}, &reader);
  EXPECT_EQ(explicit_deny.status, 403);
  EXPECT_NE(explicit_deny.message().find("with an explicit deny in an identity-based policy"),
            std::string::npos);
}

TEST_F(IamServiceTest, AttachIsCheckedWithThePolicyArnKey) {
  ok("CreateRole", {{"RoleName", "fn"}, {"AssumeRolePolicyDocument", kTrust}});
  ok("CreateUser", {{"UserName", "deployer"}});
  auth::Caller deployer =
      user_caller("deployer", {R"({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
          "Action": ["iam:AttachRolePolicy", "iam:DetachRolePolicy"],
          "Resource": "arn:aws:iam::000000000000:role/*",
          "Condition": {"ArnLike": {"iam:PolicyARN":
              "arn:aws:iam::aws:policy/service-role/AWSLambda*"}}}]})"});
  const std::string basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole";
  ok("AttachRolePolicy", {{"RoleName", "fn"}, {"PolicyArn", basic}}, &deployer);
  Answer admin =
      iam_->call("AttachRolePolicy",
                 {{"RoleName", "fn"}, {"PolicyArn", "arn:aws:iam::aws:policy/AdministratorAccess"}},
                 &deployer);
  EXPECT_EQ(admin.status, 403);
  Answer attached = ok("ListAttachedRolePolicies", {{"RoleName", "fn"}});
  EXPECT_EQ(attached.count("member"), 1);
  EXPECT_EQ(attached.text("PolicyArn"), basic);
  EXPECT_EQ(iam_->call("DeleteRole", {{"RoleName", "fn"}}).code(), "DeleteConflict");
}

TEST_F(IamServiceTest, ManagedPoliciesOnTheWire) {
  Answer made = ok("CreatePolicy", {{"PolicyName", "read"},
                                    {"Path", "/app/"},
                                    {"Description", "reads"},
                                    {"PolicyDocument", kReadSecrets}});
  std::string arn = made.text("Arn");
  EXPECT_EQ(arn, "arn:aws:iam::000000000000:policy/app/read");
  EXPECT_EQ(made.text("DefaultVersionId"), "v1");
  EXPECT_EQ(made.text("IsAttachable"), "true");
  Answer v1 = ok("GetPolicyVersion", {{"PolicyArn", arn}, {"VersionId", "v1"}});
  EXPECT_EQ(url_decode(v1.text("Document")), kReadSecrets);  // URL-encoded, as IAM sends it
  EXPECT_EQ(v1.text("IsDefaultVersion"), "true");
  Answer v2 = ok("CreatePolicyVersion",
                 {{"PolicyArn", arn}, {"PolicyDocument", kTrust}, {"SetAsDefault", "true"}});
  EXPECT_EQ(v2.text("VersionId"), "v2");
  EXPECT_EQ(v2.text("Document"), "");  // CreatePolicyVersion answers without it
  EXPECT_EQ(ok("GetPolicy", {{"PolicyArn", arn}}).text("DefaultVersionId"), "v2");
  EXPECT_EQ(ok("ListPolicyVersions", {{"PolicyArn", arn}}).count("member"), 2);

  Answer aws = ok("ListPolicies", {{"Scope", "AWS"}, {"MaxItems", "5"}});
  EXPECT_EQ(aws.count("member"), 5);
  EXPECT_EQ(aws.text("IsTruncated"), "true");
  std::string marker = aws.text("Marker");
  int seen = 5;
  while (!marker.empty()) {
    Answer next = ok("ListPolicies", {{"Scope", "AWS"}, {"MaxItems", "5"}, {"Marker", marker}});
    seen += next.count("member");
    marker = next.text("Marker");
  }
  EXPECT_EQ(seen, 20);
  EXPECT_EQ(ok("ListPolicies", {{"Scope", "Local"}}).count("member"), 1);
  EXPECT_EQ(iam_->call("ListPolicies", {{"Scope", "Mine"}}).code(), "ValidationError");

  const std::string admin = "arn:aws:iam::aws:policy/AdministratorAccess";
  Answer del = iam_->call("DeletePolicy", {{"PolicyArn", admin}});
  EXPECT_EQ(del.status, 403);
  EXPECT_EQ(del.code(), "AccessDenied");
  EXPECT_EQ(del.message(),
            "User: arn:aws:iam::000000000000:root is not authorized to perform: "
            "iam:DeletePolicy on resource: policy " +
                admin);
  EXPECT_EQ(
      iam_->call("CreatePolicyVersion", {{"PolicyArn", admin}, {"PolicyDocument", kTrust}}).code(),
      "AccessDenied");
  EXPECT_EQ(iam_->call("GetPolicy", {{"PolicyArn", "arn:aws:iam::aws:policy/Nope"}}).status, 404);
  EXPECT_EQ(iam_->call("GetPolicy", {{"PolicyArn", "this-is-not-an-arn-at-all"}}).code(),
            "InvalidInput");
  Answer malformed =
      iam_->call("CreatePolicy", {{"PolicyName", "bad"}, {"PolicyDocument", "{nope"}});
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(malformed.code(), "MalformedPolicyDocument");

  ok("CreateUser", {{"UserName", "u1"}});
  ok("AttachUserPolicy", {{"UserName", "u1"}, {"PolicyArn", arn}});
  Answer entities = ok("ListEntitiesForPolicy", {{"PolicyArn", arn}});
  EXPECT_EQ(entities.text("UserName"), "u1");
  EXPECT_EQ(iam_->call("DeletePolicy", {{"PolicyArn", arn}}).code(), "DeleteConflict");
}

TEST_F(IamServiceTest, AccessKeysAndTheCallersOwnUser) {
  ok("CreateUser", {{"UserName", "ci"}});
  Answer key = ok("CreateAccessKey", {{"UserName", "ci"}});
  EXPECT_EQ(key.text("AccessKeyId").size(), 20u);
  EXPECT_EQ(key.text("SecretAccessKey").size(), 40u);
  EXPECT_EQ(key.text("Status"), "Active");
  // Root must name the user; an IAM user's own keys need no name.
  Answer no_user = iam_->call("CreateAccessKey");
  EXPECT_EQ(no_user.code(), "ValidationError");
  EXPECT_EQ(no_user.message(), "Must specify userName when calling with non-User credentials");
  auth::Caller ci = user_caller("ci", {R"({"Version": "2012-10-17", "Statement": [{"Effect":
      "Allow", "Action": "iam:*AccessKey*", "Resource": "arn:aws:iam::000000000000:user/ci"}]})"});
  Answer mine = ok("ListAccessKeys", {}, &ci);
  EXPECT_EQ(mine.text("AccessKeyId"), key.text("AccessKeyId"));
  EXPECT_EQ(mine.text("SecretAccessKey"), "");
  ok("UpdateAccessKey", {{"AccessKeyId", key.text("AccessKeyId")}, {"Status", "Inactive"}}, &ci);
  EXPECT_EQ(ok("ListAccessKeys", {{"UserName", "ci"}}).text("Status"), "Inactive");
  EXPECT_EQ(iam_->call("UpdateAccessKey", {{"UserName", "ci"},
                                           {"AccessKeyId", key.text("AccessKeyId")},
                                           {"Status", "Sleepy"}})
                .code(),
            "ValidationError");
  Answer used = ok("GetAccessKeyLastUsed", {{"AccessKeyId", key.text("AccessKeyId")}});
  EXPECT_EQ(used.text("UserName"), "ci");
  EXPECT_EQ(used.text("ServiceName"), "N/A");
  ok("CreateAccessKey", {{"UserName", "ci"}});
  Answer third = iam_->call("CreateAccessKey", {{"UserName", "ci"}});
  EXPECT_EQ(third.status, 409);
  EXPECT_EQ(third.message(), "Cannot exceed quota for AccessKeysPerUser: 2");
  EXPECT_EQ(iam_->call("DeleteUser", {{"UserName", "ci"}}).code(), "DeleteConflict");
  // The secret went over the wire once and is nowhere on disk.
  EXPECT_EQ(data_dir_bytes().find(key.text("SecretAccessKey")), std::string::npos);
}

TEST_F(IamServiceTest, GroupsAndAccountAuthorizationDetails) {
  ok("CreateUser", {{"UserName", "amy"}});
  ok("CreateGroup", {{"GroupName", "devs"}});
  ok("AddUserToGroup", {{"GroupName", "devs"}, {"UserName", "amy"}});
  ok("PutGroupPolicy",
     {{"GroupName", "devs"}, {"PolicyName", "read"}, {"PolicyDocument", kReadSecrets}});
  ok("PutUserPolicy",
     {{"UserName", "amy"}, {"PolicyName", "mine"}, {"PolicyDocument", kReadSecrets}});
  ok("CreateRole", {{"RoleName", "fn"}, {"AssumeRolePolicyDocument", kTrust}});
  ok("AttachRolePolicy",
     {{"RoleName", "fn"},
      {"PolicyArn", "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}});
  Answer group = ok("GetGroup", {{"GroupName", "devs"}});
  EXPECT_EQ(group.text("GroupName"), "devs");
  EXPECT_EQ(group.text("UserName"), "amy");
  EXPECT_EQ(ok("ListGroupsForUser", {{"UserName", "amy"}}).text("GroupName"), "devs");
  EXPECT_EQ(iam_->call("DeleteGroup", {{"GroupName", "devs"}}).code(), "DeleteConflict");

  Answer all = ok("GetAccountAuthorizationDetails");
  EXPECT_EQ(all.text("UserName"), "amy");
  EXPECT_NE(all.text("GroupList").find("<member>devs</member>"), std::string::npos);
  EXPECT_EQ(all.text("RoleName"), "fn");
  EXPECT_NE(all.body.find("<InstanceProfileList/>"), std::string::npos);
  // The attached AWS managed policy is listed with its versions; unused ones are not.
  EXPECT_EQ(all.count("PolicyVersionList"), 1);
  EXPECT_EQ(all.text("PolicyName").empty(), false);
  EXPECT_EQ(all.body.find("AdministratorAccess"), std::string::npos);

  Answer roles_only = ok("GetAccountAuthorizationDetails", {{"Filter.member.1", "Role"}});
  EXPECT_EQ(roles_only.text("UserDetailList"), "");
  EXPECT_EQ(roles_only.text("RoleName"), "fn");
  Answer first = ok("GetAccountAuthorizationDetails", {{"MaxItems", "1"}});
  EXPECT_EQ(first.text("IsTruncated"), "true");
  Answer second =
      ok("GetAccountAuthorizationDetails", {{"MaxItems", "1"}, {"Marker", first.text("Marker")}});
  EXPECT_EQ(second.text("GroupName"), "devs");
  EXPECT_EQ(iam_->call("GetAccountAuthorizationDetails", {{"Filter.member.1", "Cats"}}).code(),
            "ValidationError");
}

}  // namespace
}  // namespace nubo::iam

// Function policies: AddPermission / GetPolicy / RemovePermission as Lambda answers them, their
// persistence, and the policy taking part in authorisation (handle() and service_may_invoke).
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "auth/authorize.h"
#include "auth/policy.h"
#include "base/crypto.h"
#include "services/lambda/lambda_service.h"
#include "test_util.h"

namespace nubo::lambda {
namespace {

using net::http::verb;
using testing::bootstrap_zip;
using testing::FakeInvoker;
using testing::Harness;
using testing::HttpResult;
using testing::TempDir;

constexpr const char* kFns = "/2015-03-31/functions";
constexpr const char* kFnArn = "arn:aws:lambda:us-east-1:000000000000:function:f";
constexpr const char* kAlice = "arn:aws:iam::000000000000:user/alice";

std::string create_body(const std::string& name) {
  return json::serialize(testing::create_function_body(name));
}

// A user of the account whose identity policies are `policies` (JSON documents).
auth::Caller user(const std::string& arn, const std::vector<std::string>& policies) {
  auth::Caller c;
  c.arn = arn;
  c.account_id = "000000000000";
  c.is_root = false;
  auto id = std::make_shared<auth::Identity>();
  for (const auto& text : policies) {
    auto p = auth::parse_policy(text);
    NUBO_CHECK(p.ok());
    id->policies.push_back(std::make_shared<const auth::Policy>(std::move(p).value()));
  }
  id->principal_type = "User";
  c.identity = std::move(id);
  return c;
}

class FunctionPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override { h_ = std::make_unique<Harness>(dir_.path(), &invoker_); }

  HttpResult create(const std::string& name) {
    return h_->call(verb::post, kFns, create_body(name));
  }
  HttpResult add(const std::string& fn, json::object body, const std::string& query = "") {
    return h_->call(verb::post, std::string(kFns) + "/" + fn + "/policy" + query,
                    json::serialize(body));
  }
  HttpResult get_policy(const std::string& fn, const std::string& query = "") {
    return h_->call(verb::get, std::string(kFns) + "/" + fn + "/policy" + query);
  }
  HttpResult remove(const std::string& fn, const std::string& sid, const std::string& query = "") {
    return h_->call(verb::delete_, std::string(kFns) + "/" + fn + "/policy/" + sid + query);
  }
  static json::object permission(const std::string& sid, const std::string& principal,
                                 const std::string& action = "lambda:InvokeFunction") {
    return json::object{{"StatementId", sid}, {"Action", action}, {"Principal", principal}};
  }
  // The statements GetPolicy answers, as JSON text each.
  std::vector<std::string> statements(const std::string& fn, const std::string& query = "") {
    HttpResult r = get_policy(fn, query);
    std::vector<std::string> out;
    if (r.status != 200) return out;
    auto doc = parse_json(get_string(r.obj(), "Policy").value_or(""));
    if (!doc.ok()) return out;
    for (const auto& s : doc->as_object().at("Statement").as_array()) {
      out.push_back(json::serialize(s));
    }
    return out;
  }
  std::string revision(const std::string& fn, const std::string& query = "") {
    HttpResult r = h_->call(verb::get, std::string(kFns) + "/" + fn + "/configuration" + query);
    return get_string(r.obj(), "RevisionId").value_or("");
  }
  void expect_error(const HttpResult& r, int status, const std::string& type,
                    const std::string& message) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.error_type(), type) << r.body;
    EXPECT_EQ(r.message(), message) << r.body;
  }

  TempDir dir_;
  FakeInvoker invoker_;
  std::unique_ptr<Harness> h_;
};

TEST_F(FunctionPolicyTest, StatementsAreWrittenAsLambdaWritesThem) {
  ASSERT_EQ(create("f").status, 201);
  json::object s3 = permission("s3", "s3.amazonaws.com");
  s3["SourceArn"] = "arn:aws:s3:::bucket";
  s3["SourceAccount"] = "000000000000";
  HttpResult r = add("f", s3);
  ASSERT_EQ(r.status, 201) << r.body;
  std::string want_s3 = std::string(R"({"Sid":"s3","Effect":"Allow","Principal":{"Service":)") +
                        R"("s3.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":")" +
                        kFnArn +
                        R"(","Condition":{"StringEquals":{"AWS:SourceAccount":"000000000000"},)"
                        R"("ArnLike":{"AWS:SourceArn":"arn:aws:s3:::bucket"}}})";
  EXPECT_EQ(get_string(r.obj(), "Statement"), want_s3);

  r = add("f", permission("acct", "123456789012", "lambda:GetFunction"));
  ASSERT_EQ(r.status, 201) << r.body;
  std::string want_acct = std::string(R"({"Sid":"acct","Effect":"Allow","Principal":{"AWS":)") +
                          R"("arn:aws:iam::123456789012:root"},"Action":"lambda:GetFunction",)" +
                          R"("Resource":")" + kFnArn + R"("})";
  EXPECT_EQ(get_string(r.obj(), "Statement"), want_acct);

  json::object url = permission("url", "*", "lambda:InvokeFunctionUrl");
  url["FunctionUrlAuthType"] = "NONE";
  url["PrincipalOrgID"] = "o-abcdefghij";
  r = add("f", url);
  ASSERT_EQ(r.status, 201) << r.body;
  std::string want_url = std::string(R"({"Sid":"url","Effect":"Allow","Principal":"*","Action":)") +
                         R"("lambda:InvokeFunctionUrl","Resource":")" + kFnArn +
                         R"(","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-abcdefghij",)" +
                         R"("lambda:FunctionUrlAuthType":"NONE"}}})";
  EXPECT_EQ(get_string(r.obj(), "Statement"), want_url);

  r = add("f", permission("role", "arn:aws:iam::000000000000:role/r", "lambda:*"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_NE(get_string(r.obj(), "Statement")
                ->find(R"("Principal":{"AWS":"arn:aws:iam::)"
                       R"(000000000000:role/r"})"),
            std::string::npos);

  // GetPolicy: the document in order, and the function's (new) RevisionId.
  HttpResult g = get_policy("f");
  ASSERT_EQ(g.status, 200) << g.body;
  EXPECT_EQ(get_string(g.obj(), "Policy")
                ->rfind(R"({"Version":"2012-10-17","Id":"default","Statement":[)" + want_s3 + "," +
                            want_acct + "," + want_url + ",",
                        0),
            0u);
  EXPECT_EQ(get_string(g.obj(), "RevisionId"), revision("f"));
  EXPECT_EQ(statements("f").size(), 4u);

  // RemovePermission, one at a time; the last takes the policy with it.
  HttpResult d = remove("f", "acct");
  EXPECT_EQ(d.status, 204) << d.body;
  EXPECT_TRUE(d.body.empty());
  EXPECT_EQ(statements("f"), (std::vector<std::string>{want_s3, want_url, statements("f")[2]}));
  for (const char* sid : {"s3", "url", "role"}) EXPECT_EQ(remove("f", sid).status, 204);
  expect_error(get_policy("f"), 404, "ResourceNotFoundException",
               "The resource you requested does not exist.");
}

TEST_F(FunctionPolicyTest, ErrorsAreLambdas) {
  std::string missing_arn = "arn:aws:lambda:us-east-1:000000000000:function:nope";
  expect_error(add("nope", permission("a", "s3.amazonaws.com")), 404, "ResourceNotFoundException",
               "Function not found: " + missing_arn);
  expect_error(get_policy("nope"), 404, "ResourceNotFoundException",
               "Function not found: " + missing_arn);
  expect_error(remove("nope", "a"), 404, "ResourceNotFoundException",
               "No policy found for: " + missing_arn);

  ASSERT_EQ(create("f").status, 201);
  expect_error(get_policy("f"), 404, "ResourceNotFoundException",
               "The resource you requested does not exist.");
  expect_error(remove("f", "a"), 404, "ResourceNotFoundException",
               "No policy is associated with the given resource.");
  ASSERT_EQ(add("f", permission("a", "s3.amazonaws.com")).status, 201);
  expect_error(add("f", permission("a", "sns.amazonaws.com")), 409, "ResourceConflictException",
               "The statement id (a) provided already exists. Please provide a new statement id, "
               "or remove the existing statement.");
  expect_error(remove("f", "b"), 404, "ResourceNotFoundException",
               "Statement b is not found in resource policy.");
  expect_error(add("f", permission("l", "s3.amazonaws.com"), "?Qualifier=$LATEST"), 400,
               "InvalidParameterValueException",
               "We currently do not support adding policies for $LATEST.");

  // RevisionId: the function's (or alias's) current one, or 412.
  std::string precondition =
      "The Revision Id provided does not match the latest Revision Id. Call the "
      "GetFunction/GetAlias API to retrieve the latest Revision Id";
  json::object stale = permission("b", "s3.amazonaws.com");
  stale["RevisionId"] = "00000000-0000-0000-0000-000000000000";
  expect_error(add("f", stale), 412, "PreconditionFailedException", precondition);
  expect_error(remove("f", "a", "?RevisionId=00000000-0000-0000-0000-000000000000"), 412,
               "PreconditionFailedException", precondition);
  std::string current = revision("f");
  stale["RevisionId"] = current;
  ASSERT_EQ(add("f", stale).status, 201);
  // Each change gives the function a new RevisionId, so the one just used is stale now.
  EXPECT_NE(revision("f"), current);
  expect_error(remove("f", "b", "?RevisionId=" + current), 412, "PreconditionFailedException",
               precondition);
  EXPECT_EQ(remove("f", "b", "?RevisionId=" + revision("f")).status, 204);

  // Validation, as Lambda's framework words it.
  expect_error(add("f", permission("bad sid!", "s3.amazonaws.com")), 400, "ValidationException",
               "1 validation error detected: Value 'bad sid!' at 'statementId' failed to satisfy "
               "constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)");
  expect_error(add("f", permission("x", "s3.amazonaws.com", "s3:GetObject")), 400,
               "ValidationException",
               "1 validation error detected: Value 's3:GetObject' at 'action' failed to satisfy "
               "constraint: Member must satisfy regular expression pattern: "
               "(lambda:[*]|lambda:[a-zA-Z]+|[*])");
  expect_error(add("f", json::object{{"StatementId", "x"}, {"Action", "lambda:InvokeFunction"}}),
               400, "ValidationException",
               "1 validation error detected: Value null at 'principal' failed to satisfy "
               "constraint: Member must not be null");
  expect_error(add("f", permission("x", "two words")), 400, "ValidationException",
               "1 validation error detected: Value 'two words' at 'principal' failed to satisfy "
               "constraint: Member must satisfy regular expression pattern: [^\\s]+");
  expect_error(add("f", permission("x", "nobody")), 400, "InvalidParameterValueException",
               "The provided principal was invalid. Please check the principal and try again.");
  json::object bad_account = permission("x", "s3.amazonaws.com");
  bad_account["SourceAccount"] = "12345";
  bad_account["FunctionUrlAuthType"] = "BASIC";
  expect_error(add("f", bad_account), 400, "ValidationException",
               "2 validation errors detected: Value '12345' at 'sourceAccount' failed to satisfy "
               "constraint: Member must satisfy regular expression pattern: \\d{12}; Value "
               "'BASIC' at 'functionUrlAuthType' failed to satisfy constraint: Member must "
               "satisfy enum value set: [NONE, AWS_IAM]");
  expect_error(remove("f", "bad$sid"), 400, "ValidationException",
               "1 validation error detected: Value 'bad$sid' at 'statementId' failed to satisfy "
               "constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_.]+)");
  // Nothing was added by the refused requests.
  EXPECT_EQ(statements("f").size(), 1u);
}

TEST_F(FunctionPolicyTest, PolicyIsLimitedTo20KB) {
  ASSERT_EQ(create("f").status, 201);
  std::string long_arn = "arn:aws:s3:::" + std::string(900, 'b');
  int added = 0;
  HttpResult r;
  for (int i = 0; i < 40; ++i) {
    json::object p = permission("s" + std::to_string(i), "s3.amazonaws.com");
    p["SourceArn"] = long_arn;
    r = add("f", p);
    if (r.status != 201) break;
    ++added;
  }
  EXPECT_GT(added, 10);
  EXPECT_LT(added, 40);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.error_type(), "PolicyLengthExceededException");
  EXPECT_EQ(r.message().rfind("The final policy size (", 0), 0u) << r.message();
  EXPECT_NE(r.message().find(") is bigger than the limit (20480)."), std::string::npos);
  EXPECT_EQ(statements("f").size(), static_cast<size_t>(added));
  EXPECT_LE(get_string(get_policy("f").obj(), "Policy")->size(), 20480u);
}

TEST_F(FunctionPolicyTest, VersionsAndAliasesHaveTheirOwnPolicies) {
  ASSERT_EQ(create("f").status, 201);
  ASSERT_EQ(h_->call(verb::post, std::string(kFns) + "/f/versions", "{}").status, 201);
  ASSERT_EQ(h_->call(verb::post, std::string(kFns) + "/f/aliases",
                     R"({"Name":"live","FunctionVersion":"1"})")
                .status,
            201);
  HttpResult r = add("f", permission("v1", "s3.amazonaws.com"), "?Qualifier=1");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_NE(
      get_string(r.obj(), "Statement")->find(std::string(R"("Resource":")") + kFnArn + R"(:1")"),
      std::string::npos);
  std::string alias_revision =
      get_string(h_->call(verb::get, std::string(kFns) + "/f/aliases/live").obj(), "RevisionId")
          .value_or("");
  r = add("f:live", permission("live", "s3.amazonaws.com"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_NE(get_string(r.obj(), "Statement")->find(std::string(kFnArn) + ":live\""),
            std::string::npos);
  // The alias's RevisionId moved, and GetPolicy reports the alias's.
  HttpResult alias = h_->call(verb::get, std::string(kFns) + "/f/aliases/live");
  EXPECT_NE(get_string(alias.obj(), "RevisionId"), alias_revision);
  EXPECT_EQ(get_string(get_policy("f", "?Qualifier=live").obj(), "RevisionId"),
            get_string(alias.obj(), "RevisionId"));

  EXPECT_EQ(statements("f", "?Qualifier=1").size(), 1u);
  EXPECT_EQ(statements("f", "?Qualifier=live").size(), 1u);
  EXPECT_EQ(get_policy("f").status, 404);
  expect_error(add("f", permission("x", "s3.amazonaws.com"), "?Qualifier=7"), 404,
               "ResourceNotFoundException", "Function not found: " + std::string(kFnArn) + ":7");
  expect_error(add("f", permission("x", "s3.amazonaws.com"), "?Qualifier=nope"), 404,
               "ResourceNotFoundException", "Function not found: " + std::string(kFnArn) + ":nope");

  // Deleting the alias deletes its policy: a new alias of that name starts with none.
  ASSERT_EQ(h_->call(verb::delete_, std::string(kFns) + "/f/aliases/live").status, 204);
  ASSERT_EQ(h_->call(verb::post, std::string(kFns) + "/f/aliases",
                     R"({"Name":"live","FunctionVersion":"1"})")
                .status,
            201);
  EXPECT_EQ(get_policy("f", "?Qualifier=live").status, 404);
  // Deleting the function deletes every policy of it.
  ASSERT_EQ(add("f", permission("top", "s3.amazonaws.com")).status, 201);
  ASSERT_EQ(h_->call(verb::delete_, std::string(kFns) + "/f").status, 204);
  ASSERT_EQ(create("f").status, 201);
  ASSERT_EQ(h_->call(verb::post, std::string(kFns) + "/f/versions", "{}").status, 201);
  EXPECT_EQ(get_policy("f").status, 404);
  EXPECT_EQ(get_policy("f", "?Qualifier=1").status, 404);
}

TEST_F(FunctionPolicyTest, PoliciesSurviveARestart) {
  ASSERT_EQ(create("f").status, 201);
  json::object s3 = permission("s3", "s3.amazonaws.com");
  s3["SourceArn"] = "arn:aws:s3:::bucket";
  ASSERT_EQ(add("f", s3).status, 201);
  HttpResult before = get_policy("f");
  ASSERT_EQ(before.status, 200);
  h_.reset();
  h_ = std::make_unique<Harness>(dir_.path(), &invoker_);
  ASSERT_TRUE(h_->start_status().ok());
  HttpResult after = get_policy("f");
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(after.body, before.body);
  auto may = h_->service().service_may_invoke("f", "lambda:InvokeFunction", "s3.amazonaws.com",
                                              "arn:aws:s3:::bucket", "");
  ASSERT_TRUE(may.ok());
  EXPECT_TRUE(*may);
}

TEST_F(FunctionPolicyTest, FunctionPolicyAllowsWhomItNames) {
  ASSERT_EQ(create("f").status, 201);
  ASSERT_EQ(h_->call(verb::post, std::string(kFns) + "/f/versions", "{}").status, 201);
  ASSERT_EQ(h_->call(verb::post, std::string(kFns) + "/f/aliases",
                     R"({"Name":"live","FunctionVersion":"1"})")
                .status,
            201);
  // Alice may read functions, nothing else.
  auth::Caller alice = user(kAlice, {R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",)"
                                     R"("Action":"lambda:GetFunction","Resource":"*"}]})"});
  auto invoke = [&](const std::string& name) {
    return h_->call_as(alice, verb::post, std::string(kFns) + "/" + name + "/invocations", "{}");
  };
  HttpResult denied = invoke("f");
  EXPECT_EQ(denied.status, 403);
  EXPECT_EQ(denied.error_type(), "AccessDeniedException");
  EXPECT_EQ(denied.message(), std::string("User: ") + kAlice +
                                  " is not authorized to perform: lambda:InvokeFunction on "
                                  "resource: " +
                                  kFnArn +
                                  " because no identity-based policy allows the "
                                  "lambda:InvokeFunction action");

  // A statement naming the account delegates to the account's identity policies, as in AWS.
  ASSERT_EQ(add("f", permission("account", "000000000000")).status, 201);
  EXPECT_EQ(invoke("f").status, 403);

  // A statement naming Alice allows her (the cached "no policy" was dropped by the write).
  ASSERT_EQ(add("f", permission("alice", kAlice)).status, 201);
  HttpResult ok = invoke("f");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.body, "{}");
  // The unqualified function's policy is not the alias's.
  EXPECT_EQ(invoke("f:live").status, 403);
  ASSERT_EQ(add("f:live", permission("alice", kAlice)).status, 201);
  EXPECT_EQ(invoke("f:live").status, 200);
  // Only the action granted.
  EXPECT_EQ(h_->call_as(alice, verb::delete_, std::string(kFns) + "/f").status, 403);
  // Another user is not Alice.
  auth::Caller bob = user("arn:aws:iam::000000000000:user/bob", {});
  EXPECT_EQ(h_->call_as(bob, verb::post, std::string(kFns) + "/f/invocations", "{}").status, 403);

  // Removing the statement takes the permission away again.
  ASSERT_EQ(remove("f", "alice").status, 204);
  EXPECT_EQ(invoke("f").status, 403);
  EXPECT_EQ(invoke("f:live").status, 200);
}

TEST_F(FunctionPolicyTest, ServiceMayInvokeEvaluatesTheConditions) {
  ASSERT_EQ(create("f").status, 201);
  LambdaService& svc = h_->service();
  auto may = [&](const std::string& fn, const std::string& service, const std::string& arn,
                 const std::string& account) {
    auto r = svc.service_may_invoke(fn, "lambda:InvokeFunction", service, arn, account);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
    return r.ok() && *r;
  };
  EXPECT_FALSE(may("f", "s3.amazonaws.com", "arn:aws:s3:::bucket", "000000000000"));

  json::object s3 = permission("s3", "s3.amazonaws.com");
  s3["SourceArn"] = "arn:aws:s3:::bucket*";
  s3["SourceAccount"] = "000000000000";
  ASSERT_EQ(add("f", s3).status, 201);
  EXPECT_TRUE(may("f", "s3.amazonaws.com", "arn:aws:s3:::bucket", "000000000000"));
  EXPECT_TRUE(may(kFnArn, "s3.amazonaws.com", "arn:aws:s3:::bucket-2", "000000000000"));
  EXPECT_FALSE(may("f", "s3.amazonaws.com", "arn:aws:s3:::other", "000000000000"));
  EXPECT_FALSE(may("f", "s3.amazonaws.com", "arn:aws:s3:::bucket", "111111111111"));
  EXPECT_FALSE(may("f", "s3.amazonaws.com", "", "000000000000"));  // a condition key missing
  EXPECT_FALSE(may("f", "sns.amazonaws.com", "arn:aws:s3:::bucket", "000000000000"));
  auto other_action = svc.service_may_invoke("f", "lambda:GetFunction", "s3.amazonaws.com",
                                             "arn:aws:s3:::bucket", "000000000000");
  ASSERT_TRUE(other_action.ok());
  EXPECT_FALSE(*other_action);
  // The unqualified policy does not cover a qualified ARN.
  EXPECT_FALSE(may("f:1", "s3.amazonaws.com", "arn:aws:s3:::bucket", "000000000000"));

  // An unconditioned grant to a service.
  ASSERT_EQ(add("f", permission("sns", "sns.amazonaws.com")).status, 201);
  EXPECT_TRUE(may("f", "sns.amazonaws.com", "arn:aws:sns:us-east-1:000000000000:t", ""));

  ASSERT_EQ(remove("f", "s3").status, 204);
  EXPECT_FALSE(may("f", "s3.amazonaws.com", "arn:aws:s3:::bucket", "000000000000"));

  auto missing =
      svc.service_may_invoke("nope", "lambda:InvokeFunction", "s3.amazonaws.com", "", "");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, "ResourceNotFoundException");
}

}  // namespace
}  // namespace nubo::lambda

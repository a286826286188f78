#include "auth/policy.h"

#include <gtest/gtest.h>

namespace nubo::auth {
namespace {

Policy parse(const std::string& doc) {
  auto p = parse_policy(doc);
  EXPECT_TRUE(p.ok()) << (p.ok() ? "" : p.error().message) << "\n" << doc;
  return p.ok() ? std::move(p).value() : Policy{};
}

RequestContext request(std::string action, std::string resource) {
  RequestContext r;
  r.action = std::move(action);
  r.resource = std::move(resource);
  r.principal_arn = "arn:aws:iam::000000000000:user/alice";
  r.account_id = "000000000000";
  r.set("aws:username", "alice");
  return r;
}

const char* kSecret = "arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf";

TEST(PolicyTest, WildcardsMatchActionsWithoutCaseAndResourcesByComponent) {
  EXPECT_TRUE(glob_match("s3:Get*", "s3:GetObject"));
  EXPECT_TRUE(glob_match("s3:get*", "S3:GETOBJECT", true));
  EXPECT_FALSE(glob_match("s3:get*", "s3:GetObject"));
  EXPECT_TRUE(glob_match("a?c", "abc"));
  EXPECT_FALSE(glob_match("a?c", "ac"));
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(arn_match("arn:aws:lambda:*:*:function:app-*",
                        "arn:aws:lambda:us-east-1:000000000000:function:app-api"));
  EXPECT_FALSE(arn_match("arn:aws:lambda:*:*:function:app-*",
                         "arn:aws:lambda:us-east-1:000000000000:layer:app-x"));
  // A wildcard stays inside its component.
  EXPECT_FALSE(arn_match("arn:aws:lambda:us-*:function:f",
                         "arn:aws:lambda:us-east-1:000000000000:function:f"));
  EXPECT_TRUE(arn_match("arn:aws:s3:::bucket/*", "arn:aws:s3:::bucket/a/b:c"));
}

TEST(PolicyTest, CompiledPatternsMatchAsTheGlobDoes) {
  EXPECT_EQ(compile_glob("*").kind, Glob::Kind::kAny);
  EXPECT_EQ(compile_glob("s3:getobject").kind, Glob::Kind::kExact);
  EXPECT_EQ(compile_glob("s3:get*").kind, Glob::Kind::kPrefix);
  EXPECT_EQ(compile_glob("s3:get*").literal, 6);
  EXPECT_EQ(compile_glob("s3:*object").kind, Glob::Kind::kGeneral);
  EXPECT_EQ(compile_glob("s3:?et").kind, Glob::Kind::kGeneral);
  EXPECT_EQ(compile_glob("s3:get?").kind, Glob::Kind::kGeneral);
  const char* patterns[] = {"*",   "",  "abc", "abc*", "ab*c", "*c",    "a?c",   "a*",
                            "a**", "?", "*?*", "ab?*", "abc?", "a*b*c", "*.exe", "abcd"};
  const char* texts[] = {"", "a", "ab", "abc", "abcd", "abxc", "ac", "*x.exe", "ab*c", "abc?"};
  for (const char* p : patterns) {
    Glob g = compile_glob(p);
    for (const char* t : texts) {
      EXPECT_EQ(glob_matches(g, p, t), glob_match(p, t)) << "pattern " << p << " text " << t;
    }
  }
}

TEST(PolicyTest, StatementsAreLookedUpByTheServiceOfTheirActions) {
  Policy p = parse(R"({"Statement": [
      {"Effect": "Allow", "Action": ["S3:Get*", "sqs:SendMessage"], "Resource": "*"},
      {"Effect": "Allow", "Action": "s?s:ReceiveMessage", "Resource": "*"},
      {"Effect": "Deny", "NotAction": "dynamodb:*", "Resource": "arn:aws:s3:::secret/*"},
      {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:dynamodb:*:*:table/open"}]})");
  ASSERT_EQ(p.by_service.size(), 2u);
  EXPECT_EQ(p.by_service[0].first, "s3");
  EXPECT_EQ(p.by_service[1].first, "sqs");
  EXPECT_EQ(p.any_service, (std::vector<uint32_t>{1, 2, 3}));
  EXPECT_EQ(evaluate(p, request("s3:GetObject", "arn:aws:s3:::b/k")), Decision::kAllow);
  EXPECT_EQ(evaluate(p, request("s3:PutObject", "arn:aws:s3:::b/k")), Decision::kImplicitDeny);
  EXPECT_EQ(evaluate(p, request("SQS:SendMessage", "*")), Decision::kAllow);
  EXPECT_EQ(evaluate(p, request("sqs:ReceiveMessage", "*")), Decision::kAllow);
  EXPECT_EQ(evaluate(p, request("sns:ReceiveMessage", "*")), Decision::kAllow);
  EXPECT_EQ(evaluate(p, request("s3:GetObject", "arn:aws:s3:::secret/k")), Decision::kExplicitDeny);
  EXPECT_EQ(evaluate(p, request("dynamodb:GetItem", "arn:aws:dynamodb:us-east-1:0:table/open")),
            Decision::kAllow);
  EXPECT_EQ(evaluate(p, request("lambda:InvokeFunction", "*")), Decision::kImplicitDeny);
}

TEST(PolicyTest, ResolvedKeysAreAskedForOnlyWhenAConditionNeedsThem) {
  struct Source {
    int calls = 0;
  } source;
  RequestContext r = request("s3:GetObject", "arn:aws:s3:::b/k");
  r.sources[0] = &source;
  r.resolve = [](const RequestContext& ctx, std::string_view key, std::vector<std::string>& out) {
    ++const_cast<Source*>(static_cast<const Source*>(ctx.sources[0]))->calls;
    if (key != "aws:principaltag/team") return false;
    out.push_back("blue");
    return true;
  };
  Policy plain = parse(R"({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}})");
  EXPECT_EQ(evaluate(plain, r), Decision::kAllow);
  EXPECT_EQ(source.calls, 0);
  Policy tagged = parse(R"({"Statement": [
      {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
       "Condition": {"StringEquals": {"aws:PrincipalTag/Team": "blue"}}},
      {"Effect": "Allow", "Action": "s3:*", "Resource": "*",
       "Condition": {"StringEquals": {"aws:PrincipalTag/team": "blue"}}},
      {"Effect": "Deny", "Action": "s3:*", "Resource": "*",
       "Condition": {"Null": {"aws:SourceVpc": "false"}}}]})");
  EXPECT_EQ(evaluate(tagged, r), Decision::kAllow);
  EXPECT_EQ(source.calls, 2);  // the tag once (then remembered), the missing key once
  // Keys set on the context win over resolved ones.
  r.set("aws:PrincipalTag/team", "red");
  EXPECT_EQ(evaluate(tagged, r), Decision::kImplicitDeny);
}

TEST(PolicyTest, ExplicitDenyOverridesAllowOverImplicitDeny) {
  Policy p = parse(R"({"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"},
      {"Effect": "Deny", "Action": "secretsmanager:DeleteSecret", "Resource": "*"}]})");
  EXPECT_EQ(evaluate(p, request("secretsmanager:GetSecretValue", kSecret)), Decision::kAllow);
  EXPECT_EQ(evaluate(p, request("secretsmanager:DeleteSecret", kSecret)), Decision::kExplicitDeny);
  EXPECT_EQ(evaluate(p, request("lambda:InvokeFunction", "*")), Decision::kImplicitDeny);
}

TEST(PolicyTest, NotActionAndNotResource) {
  Policy p = parse(R"({"Statement": {"Effect": "Allow", "NotAction": "iam:*",
      "NotResource": "arn:aws:secretsmanager:*:*:secret:prod-*"}})");
  EXPECT_EQ(evaluate(p, request("secretsmanager:GetSecretValue", kSecret)), Decision::kAllow);
  EXPECT_EQ(evaluate(p, request("iam:CreateUser", "*")), Decision::kImplicitDeny);
  EXPECT_EQ(evaluate(p, request("secretsmanager:GetSecretValue",
                                "arn:aws:secretsmanager:us-east-1:0:secret:prod-x")),
            Decision::kImplicitDeny);
}

TEST(PolicyTest, ConditionsCombineAsIamDoes) {
  // Operators AND, keys AND, values OR.
  Policy p = parse(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
      "Action": "*", "Resource": "*", "Condition": {
        "StringEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]},
        "Bool": {"aws:SecureTransport": "true"}}}})");
  RequestContext r = request("s3:GetObject", "*");
  r.set("aws:RequestedRegion", "eu-west-1");
  r.set("aws:SecureTransport", "true");
  EXPECT_EQ(evaluate(p, r), Decision::kAllow);
  r.set("aws:SecureTransport", "false");
  EXPECT_EQ(evaluate(p, r), Decision::kImplicitDeny);
  r.set("aws:SecureTransport", "TRUE");
  r.set("aws:RequestedRegion", "ap-south-1");
  EXPECT_EQ(evaluate(p, r), Decision::kImplicitDeny);
}

TEST(PolicyTest, NegatedOperatorsAreNorAndTrueWhenTheKeyIsMissing) {
  Policy p = parse(R"({"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*",
      "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": ["audit", "security"]}}}})");
  RequestContext r = request("s3:GetObject", "*");
  r.set("aws:PrincipalTag/team", "audit");
  EXPECT_EQ(evaluate(p, r), Decision::kImplicitDeny);  // equal to one of them: no deny
  r.set("aws:PrincipalTag/team", "dev");
  EXPECT_EQ(evaluate(p, r), Decision::kExplicitDeny);
  r.keys.erase("aws:principaltag/team");
  EXPECT_EQ(evaluate(p, r), Decision::kExplicitDeny);  // missing: a negated operator holds
}

TEST(PolicyTest, IfExistsNullAndSetQualifiers) {
  Policy p = parse(R"({"Statement": [
      {"Effect": "Allow", "Action": "a:One", "Resource": "*",
       "Condition": {"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}},
      {"Effect": "Allow", "Action": "a:Two", "Resource": "*",
       "Condition": {"Null": {"aws:TokenIssueTime": "true"}}},
      {"Effect": "Allow", "Action": "a:Three", "Resource": "*",
       "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}},
      {"Effect": "Allow", "Action": "a:Four", "Resource": "*",
       "Condition": {"ForAnyValue:StringLike": {"aws:TagKeys": ["cost-*"]}}}]})");
  RequestContext r = request("a:One", "*");
  EXPECT_EQ(evaluate(p, r), Decision::kAllow);  // absent: IfExists holds
  r.set("aws:SourceVpc", "vpc-2");
  EXPECT_EQ(evaluate(p, r), Decision::kImplicitDeny);

  r = request("a:Two", "*");
  EXPECT_EQ(evaluate(p, r), Decision::kAllow);
  r.set("aws:TokenIssueTime", "2024-01-01T00:00:00Z");
  EXPECT_EQ(evaluate(p, r), Decision::kImplicitDeny);

  r = request("a:Three", "*");
  EXPECT_EQ(evaluate(p, r), Decision::kAllow);  // no tags: every one of none
  r.keys["aws:tagkeys"] = {"env", "team"};
  EXPECT_EQ(evaluate(p, r), Decision::kAllow);
  r.keys["aws:tagkeys"] = {"env", "owner"};
  EXPECT_EQ(evaluate(p, r), Decision::kImplicitDeny);

  r = request("a:Four", "*");
  EXPECT_EQ(evaluate(p, r), Decision::kImplicitDeny);  // none of none
  r.keys["aws:tagkeys"] = {"env", "cost-center"};
  EXPECT_EQ(evaluate(p, r), Decision::kAllow);
}

TEST(PolicyTest, NumericDateIpAndArnOperators) {
  Policy p = parse(R"({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
      "Condition": {
        "NumericLessThanEquals": {"s3:max-keys": "10"},
        "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"},
        "IpAddress": {"aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"]},
        "ArnLike": {"aws:SourceArn": "arn:aws:s3:::uploads-*"}}}})");
  RequestContext r = request("s3:ListBucket", "*");
  r.set("s3:max-keys", "10");
  r.set("aws:CurrentTime", "2026-12-01T10:00:00Z");
  r.set("aws:SourceIp", "10.1.2.3");
  r.set("aws:SourceArn", "arn:aws:s3:::uploads-prod");
  EXPECT_EQ(evaluate(p, r), Decision::kAllow);
  r.set("aws:SourceIp", "2001:db8::1");
  EXPECT_EQ(evaluate(p, r), Decision::kAllow);
  r.set("aws:SourceIp", "192.168.0.1");
  EXPECT_EQ(evaluate(p, r), Decision::kImplicitDeny);
  r.set("aws:SourceIp", "10.1.2.3");
  r.set("s3:max-keys", "11");
  EXPECT_EQ(evaluate(p, r), Decision::kImplicitDeny);
  r.set("s3:max-keys", "2");
  r.set("aws:CurrentTime", "2031-06-01T00:00:00+02:00");
  EXPECT_EQ(evaluate(p, r), Decision::kImplicitDeny);
  r.set("aws:CurrentTime", "1700000000");  // epoch seconds (2023)
  EXPECT_EQ(evaluate(p, r), Decision::kAllow);
  r.set("aws:SourceArn", "arn:aws:s3:::other");
  EXPECT_EQ(evaluate(p, r), Decision::kImplicitDeny);
}

TEST(PolicyTest, PolicyVariablesInResourcesAndConditions) {
  Policy p = parse(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow",
      "Action": "secretsmanager:GetSecretValue",
      "Resource": "arn:aws:secretsmanager:*:*:secret:${aws:username}/*"}})");
  EXPECT_EQ(evaluate(p, request("secretsmanager:GetSecretValue",
                                "arn:aws:secretsmanager:us-east-1:0:secret:alice/db")),
            Decision::kAllow);
  EXPECT_EQ(evaluate(p, request("secretsmanager:GetSecretValue",
                                "arn:aws:secretsmanager:us-east-1:0:secret:bob/db")),
            Decision::kImplicitDeny);
  // No aws:username (a role session): the variable has no value, the statement matches nothing.
  RequestContext role = request("secretsmanager:GetSecretValue",
                                "arn:aws:secretsmanager:us-east-1:0:secret:alice/db");
  role.keys.erase("aws:username");
  EXPECT_EQ(evaluate(p, role), Decision::kImplicitDeny);
  // With a default; and in the 2008 version variables are plain text.
  Policy d = parse(R"({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "*",
      "Resource": "arn:aws:s3:::home/${aws:username, 'shared'}/*"}})");
  role.resource = "arn:aws:s3:::home/shared/x";
  EXPECT_EQ(evaluate(d, role), Decision::kAllow);
  Policy old = parse(R"({"Version": "2008-10-17", "Statement": {"Effect": "Allow", "Action": "*",
      "Resource": "arn:aws:s3:::home/${aws:username}/*"}})");
  EXPECT_EQ(evaluate(old, request("s3:GetObject", "arn:aws:s3:::home/alice/x")),
            Decision::kImplicitDeny);
}

TEST(PolicyTest, ResourcePoliciesMatchTheirPrincipal) {
  Policy fn = parse(R"({"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
       "Action": "lambda:InvokeFunction", "Resource": "*",
       "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"}}},
      {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:role/worker"},
       "Action": "lambda:InvokeFunction", "Resource": "*"}]})");
  RequestContext s3 = request("lambda:InvokeFunction", "arn:aws:lambda:us-east-1:0:function:f");
  s3.principal_arn.clear();
  s3.service = "s3.amazonaws.com";
  s3.set("aws:SourceArn", "arn:aws:s3:::uploads");
  EXPECT_EQ(evaluate(fn, s3, /*check_principal=*/true), Decision::kAllow);
  s3.set("aws:SourceArn", "arn:aws:s3:::elsewhere");
  EXPECT_EQ(evaluate(fn, s3, true), Decision::kImplicitDeny);
  // A session of the role is the role.
  RequestContext session = request("lambda:InvokeFunction", "*");
  session.principal_arn = "arn:aws:sts::000000000000:assumed-role/worker/job-1";
  EXPECT_EQ(evaluate(fn, session, true), Decision::kAllow);
  EXPECT_EQ(evaluate(fn, request("lambda:InvokeFunction", "*"), true), Decision::kImplicitDeny);
}

TEST(PolicyTest, DecideCombinesIdentitySessionAndResourcePolicies) {
  Policy identity = parse(R"({"Statement": {"Effect": "Allow", "Action": "secretsmanager:*",
      "Resource": "*"}})");
  Policy session = parse(R"({"Statement": {"Effect": "Allow",
      "Action": "secretsmanager:GetSecretValue", "Resource": "*"}})");
  Policy secret_policy = parse(R"({"Statement": {"Effect": "Deny", "Principal": "*",
      "Action": "secretsmanager:PutSecretValue", "Resource": "*"}})");
  RequestContext get = request("secretsmanager:GetSecretValue", kSecret);
  RequestContext put = request("secretsmanager:PutSecretValue", kSecret);
  RequestContext del = request("secretsmanager:DeleteSecret", kSecret);
  EXPECT_EQ(decide({{&identity}, {}, {}}, del), Decision::kAllow);
  EXPECT_EQ(decide({{&identity}, {&session}, {}}, del), Decision::kImplicitDeny);
  EXPECT_EQ(decide({{&identity}, {&session}, {}}, get), Decision::kAllow);
  EXPECT_EQ(decide({{&identity}, {}, {&secret_policy}}, put), Decision::kExplicitDeny);
  EXPECT_EQ(decide({{}, {}, {}}, get), Decision::kImplicitDeny);  // nothing by default
}

// Found by review: each of these once let a request through that IAM would not.
TEST(PolicyTest, ReviewedEdgeCases) {
  // A '*' in the text is text: the wildcard of the pattern still spans it.
  EXPECT_TRUE(glob_match("*.exe", "*x.exe"));
  Policy deny_exe = parse(R"({"Statement": [
      {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
      {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::b/*.exe"}]})");
  EXPECT_EQ(evaluate(deny_exe, request("s3:GetObject", "arn:aws:s3:::b/*x.exe")),
            Decision::kExplicitDeny);
  // A resource policy naming the role does not lift the session policies; naming the session
  // does.
  Policy identity = parse(R"({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*"}})");
  Policy session = parse(R"({"Statement": {"Effect": "Allow", "Action": "sqs:*",
      "Resource": "*"}})");
  Policy by_role = parse(R"({"Statement": {"Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::000000000000:role/svc/R"}, "Action": "s3:*",
      "Resource": "*"}})");
  Policy by_session = parse(R"({"Statement": {"Effect": "Allow",
      "Principal": {"AWS": "arn:aws:sts::000000000000:assumed-role/R/s1"}, "Action": "s3:*",
      "Resource": "*"}})");
  RequestContext r = request("s3:GetObject", "arn:aws:s3:::b/k");
  r.principal_arn = "arn:aws:sts::000000000000:assumed-role/R/s1";
  EXPECT_EQ(decide({{&identity}, {&session}, {&by_role}}, r), Decision::kImplicitDeny);
  EXPECT_EQ(decide({{&identity}, {&session}, {&by_session}}, r), Decision::kAllow);
  // A role with a path matches its sessions (whose ARNs have no path).
  EXPECT_EQ(evaluate(by_role, r, /*check_principal=*/true), Decision::kAllow);
  // IPv4-mapped IPv6 addresses are their IPv4 ones; fractional epochs are dates.
  Policy ip = parse(R"({"Statement": {"Effect": "Deny", "Action": "*", "Resource": "*",
      "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}})");
  RequestContext mapped = request("s3:GetObject", "*");
  mapped.set("aws:SourceIp", "::ffff:10.1.2.3");
  EXPECT_EQ(evaluate(ip, mapped), Decision::kExplicitDeny);
  Policy when = parse(R"({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*",
      "Condition": {"DateGreaterThan": {"aws:CurrentTime": "1717243201.5"}}}})");
  RequestContext now = request("s3:GetObject", "*");
  now.set("aws:CurrentTime", "2026-12-01T00:00:00Z");
  EXPECT_EQ(evaluate(when, now), Decision::kAllow);
}

TEST(PolicyTest, MalformedDocumentsAreRefused) {
  for (const char* doc : {
           "not json",
           R"({"Statement": []})" /* valid: no statement */,
           R"({"Version": "2020-01-01", "Statement": []})",
           R"({"Statement": {"Effect": "Maybe", "Action": "*"}})",
           R"({"Statement": {"Effect": "Allow"}})",
           R"({"Statement": {"Effect": "Allow", "Action": "*", "NotAction": "x"}})",
           R"({"Statement": {"Effect": "Allow", "Action": "*",
               "Condition": {"StringSorta": {"k": "v"}}}})",
           R"({"Version": "2012-10-17"})",
           // A misspelt element would widen the statement; a bad prefix would match everyone.
           R"({"Statement": {"Effect": "Allow", "Action": "*", "Resources": "arn:aws:s3:::x"}})",
           R"({"Statement": {"Effect": "Allow", "Action": "*", "Conditions": {}}})",
           R"({"Statement": {"Effect": "Allow", "Action": "*",
               "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/"}}}})",
           R"({"Statement": {"Effect": "Allow", "Action": "*",
               "Condition": {"NotIpAddress": {"aws:SourceIp": "10.0.0.0/33"}}}})",
           R"({"Statement": {"Effect": "Allow", "Action": "*",
               "Condition": {"NullIfExists": {"k": "true"}}}})",
           R"({"Statment": []})",
       }) {
    auto p = parse_policy(doc);
    if (std::string(doc) == R"({"Statement": []})") {
      EXPECT_TRUE(p.ok()) << doc;
      continue;
    }
    ASSERT_FALSE(p.ok()) << doc;
    EXPECT_EQ(p.error().code, "MalformedPolicyDocument");
    EXPECT_EQ(p.error().status, 400);
  }
}

}  // namespace
}  // namespace nubo::auth

#include "net/protocol.h"

#include <gtest/gtest.h>

namespace nubo::net {
namespace {

Request make(http::verb v, std::string target) {
  Request r{v, target, 11};
  r.set(http::field::host, "localhost");
  return r;
}

const char* kLambdaAuth =
    "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/lambda/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=abc";

TEST(ProtocolTest, TargetHeaderPicksJsonService) {
  auto r = make(http::verb::post, "/");
  r.set("X-Amz-Target", "DynamoDB_20120810.PutItem");
  Route route = classify(r, parse_target(r.target()));
  EXPECT_EQ(route.service, "dynamodb");
  EXPECT_EQ(route.protocol, Protocol::kJson);
  EXPECT_EQ(route.target, "DynamoDB_20120810.PutItem");
}

TEST(ProtocolTest, CredentialScopePicksLambdaEvenForBucketLikePaths) {
  auto r = make(http::verb::get, "/2015-03-31/functions/");
  r.set(http::field::authorization, kLambdaAuth);
  Route route = classify(r, parse_target(r.target()));
  EXPECT_EQ(route.service, "lambda");
  EXPECT_EQ(route.protocol, Protocol::kRestJson);
  EXPECT_TRUE(route.signed_request);
  auto s3 = make(http::verb::get, "/2015-03-31/key");
  s3.set(http::field::authorization,
         "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/s3/aws4_request, "
         "SignedHeaders=host, Signature=abc");
  EXPECT_EQ(classify(s3, parse_target(s3.target())).service, "s3");
}

TEST(ProtocolTest, PresignedQueryScope) {
  auto r = make(http::verb::get,
                "/bucket/key?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=test%2F20240101%2F"
                "us-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00");
  Route route = classify(r, parse_target(r.target()));
  EXPECT_EQ(route.service, "s3");
  EXPECT_EQ(route.protocol, Protocol::kRestXml);
  EXPECT_TRUE(route.signed_request);
}

TEST(ProtocolTest, UnsignedLambdaPathAndQueryForm) {
  auto r = make(http::verb::get, "/2015-03-31/functions/");
  EXPECT_EQ(classify(r, parse_target(r.target())).protocol, Protocol::kRestJson);
  auto q = make(http::verb::post, "/");
  q.set(http::field::content_type, "application/x-www-form-urlencoded");
  q.body() = "Action=ListQueues&Version=2012-11-05";
  EXPECT_EQ(classify(q, parse_target(q.target())).protocol, Protocol::kQuery);
}

TEST(ProtocolTest, ErrorShapes) {
  auto req = make(http::verb::get, "/");
  Error e{"ResourceNotFoundException", 404, "Function not found: <x>"};
  Response lambda = error_response(req, Protocol::kRestJson, e, "rid-1");
  EXPECT_EQ(lambda.result_int(), 404);
  EXPECT_EQ(lambda["x-amzn-ErrorType"], "ResourceNotFoundException");
  EXPECT_EQ(lambda["x-amzn-RequestId"], "rid-1");
  EXPECT_EQ(lambda.body(), R"({"Type":"User","message":"Function not found: <x>"})");
  Response json = error_response(req, Protocol::kJson, e, "rid-2");
  EXPECT_EQ(json.body(),
            R"({"__type":"ResourceNotFoundException","message":"Function not found: <x>"})");
  Response xml = error_response(req, Protocol::kRestXml, e, "rid-3");
  EXPECT_NE(xml.body().find("<Code>ResourceNotFoundException</Code>"), std::string::npos);
  EXPECT_NE(xml.body().find("Function not found: &lt;x&gt;"), std::string::npos);
  EXPECT_EQ(xml["x-amz-request-id"], "rid-3");
  Response query = error_response(req, Protocol::kQuery, e, "rid-4");
  EXPECT_NE(query.body().find("<ErrorResponse><Error><Type>Sender</Type>"), std::string::npos);
}

TEST(HttpTest, ParseTarget) {
  Target t = parse_target("/a%20b/c?x=1&y=a+b&flag&x=2");
  EXPECT_EQ(t.raw_path, "/a%20b/c");
  EXPECT_EQ(t.path, "/a b/c");
  EXPECT_EQ(t.param("x"), "1");
  EXPECT_EQ(t.param("y"), "a b");
  EXPECT_EQ(t.param("flag"), "");
  EXPECT_FALSE(t.param("z").has_value());
}

}  // namespace
}  // namespace nubo::net

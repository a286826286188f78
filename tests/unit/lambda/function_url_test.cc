// Function URL configurations: the CRUD API as Lambda answers it, the in-memory table the front
// door serves from (find_function_url), and invoking and authorising a URL's target.
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
constexpr const char* kUrls = "/2021-10-31/functions";
constexpr const char* kFnArn = "arn:aws:lambda:us-east-1:000000000000:function:f";

std::string create_body(const std::string& name) {
  return json::serialize(testing::create_function_body(name));
}

// The URL id of http://<id>.lambda-url.us-east-1.localhost:4566/, or "" if it is not one.
std::string url_id_of(const std::string& url) {
  const std::string head = "http://", tail = ".lambda-url.us-east-1.localhost:4566/";
  if (url.size() != head.size() + 32 + tail.size()) return "";
  if (url.compare(0, head.size(), head) != 0) return "";
  if (url.compare(head.size() + 32, tail.size(), tail) != 0) return "";
  std::string id = url.substr(head.size(), 32);
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return "";
  }
  return id;
}

class FunctionUrlTest : public ::testing::Test {
 protected:
  void SetUp() override { h_ = std::make_unique<Harness>(dir_.path(), &invoker_); }

  HttpResult create(const std::string& name) {
    return h_->call(verb::post, kFns, create_body(name));
  }
  HttpResult url(verb method, const std::string& fn, const std::string& body = "",
                 const std::string& query = "") {
    return h_->call(method, std::string(kUrls) + "/" + fn + "/url" + query, body);
  }
  HttpResult list(const std::string& fn, const std::string& query = "") {
    return h_->call(verb::get, std::string(kUrls) + "/" + fn + "/urls" + query);
  }
  void make_alias(const std::string& fn, const std::string& alias) {
    ASSERT_EQ(h_->call(verb::post, std::string(kFns) + "/" + fn + "/versions", "{}").status, 201);
    ASSERT_EQ(h_->call(verb::post, std::string(kFns) + "/" + fn + "/aliases",
                       R"({"Name":")" + alias + R"(","FunctionVersion":"1"})")
                  .status,
              201);
  }
  void expect_error(const HttpResult& r, int status, const std::string& type,
                    const std::string& message) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(r.error_type(), type) << r.body;
    EXPECT_EQ(r.message(), message) << r.body;
  }
  Result<runtime::InvokeResult> invoke(const FunctionUrlTarget& t, std::string payload) {
    LambdaService* svc = &h_->service();
    return h_->run<Result<runtime::InvokeResult>>(
        [svc, t, payload] { return svc->invoke_url_target(t, payload, "req-1"); });
  }
  Status authorize(const FunctionUrlTarget& t, const auth::Caller* caller) {
    LambdaService* svc = &h_->service();
    return h_->run<Status>([svc, t, caller] { return svc->authorize_url_invoke(t, caller); });
  }

  TempDir dir_;
  FakeInvoker invoker_;
  std::unique_ptr<Harness> h_;
};

TEST_F(FunctionUrlTest, CreateGetUpdateDeleteLikeLambda) {
  ASSERT_EQ(create("f").status, 201);
  HttpResult c = url(verb::post, "f",
                     R"({"AuthType":"NONE","Cors":{"AllowOrigins":["https://example.com"],)"
                     R"("AllowMethods":["GET","POST"],"AllowCredentials":true,"MaxAge":60}})");
  ASSERT_EQ(c.status, 201) << c.body;
  json::object o = c.obj();
  std::string id = url_id_of(get_string(o, "FunctionUrl").value_or(""));
  ASSERT_EQ(id.size(), 32u) << c.body;
  EXPECT_EQ(get_string(o, "FunctionArn"), kFnArn);
  EXPECT_EQ(get_string(o, "AuthType"), "NONE");
  EXPECT_EQ(get_string(o, "InvokeMode"), "BUFFERED");
  EXPECT_EQ(json::serialize(o.at("Cors")),
            R"({"AllowCredentials":true,"AllowMethods":["GET","POST"],)"
            R"("AllowOrigins":["https://example.com"],"MaxAge":60})");
  EXPECT_EQ(get_string(o, "CreationTime").value_or("").size(), 24u);
  EXPECT_FALSE(o.contains("LastModifiedTime"));

  HttpResult g = url(verb::get, "f");
  ASSERT_EQ(g.status, 200) << g.body;
  EXPECT_EQ(get_string(g.obj(), "FunctionUrl"), get_string(o, "FunctionUrl"));
  EXPECT_EQ(get_string(g.obj(), "LastModifiedTime"), get_string(o, "CreationTime"));

  // The front door's table has it at once.
  auto t = h_->service().find_function_url(id);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->function_name, "f");
  EXPECT_EQ(t->qualifier, "");
  EXPECT_EQ(t->function_arn, kFnArn);
  EXPECT_EQ(t->auth_type, "NONE");
  ASSERT_TRUE(t->cors.has_value());
  EXPECT_EQ(t->cors->max_age, 60);
  EXPECT_EQ(t->invoke_mode, "BUFFERED");
  EXPECT_FALSE(h_->service().find_function_url(std::string(32, 'a')).has_value());

  HttpResult u = url(verb::put, "f", R"({"AuthType":"AWS_IAM","InvokeMode":"RESPONSE_STREAM"})");
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(get_string(u.obj(), "FunctionUrl"), get_string(o, "FunctionUrl"));
  EXPECT_EQ(get_string(u.obj(), "AuthType"), "AWS_IAM");
  EXPECT_EQ(get_string(u.obj(), "InvokeMode"), "RESPONSE_STREAM");
  EXPECT_TRUE(u.obj().contains("Cors"));  // left alone
  EXPECT_TRUE(u.obj().contains("LastModifiedTime"));
  t = h_->service().find_function_url(id);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->auth_type, "AWS_IAM");
  EXPECT_EQ(t->invoke_mode, "RESPONSE_STREAM");
  u = url(verb::put, "f", R"({"Cors":{"AllowOrigins":["*"]}})");
  ASSERT_EQ(u.status, 200) << u.body;
  EXPECT_EQ(json::serialize(u.obj().at("Cors")), R"({"AllowOrigins":["*"]})");

  HttpResult d = url(verb::delete_, "f");
  EXPECT_EQ(d.status, 204) << d.body;
  expect_error(url(verb::get, "f"), 404, "ResourceNotFoundException",
               "The resource you requested does not exist.");
  EXPECT_FALSE(h_->service().find_function_url(id).has_value());
  expect_error(url(verb::delete_, "f"), 404, "ResourceNotFoundException",
               "The resource you requested does not exist.");
}

TEST_F(FunctionUrlTest, ErrorsAreLambdas) {
  expect_error(url(verb::post, "nope", R"({"AuthType":"NONE"})"), 404, "ResourceNotFoundException",
               "Function does not exist");
  expect_error(url(verb::get, "nope"), 404, "ResourceNotFoundException",
               "The resource you requested does not exist.");
  expect_error(list("nope"), 404, "ResourceNotFoundException", "Function does not exist");
  ASSERT_EQ(create("f").status, 201);
  expect_error(url(verb::get, "f"), 404, "ResourceNotFoundException",
               "The resource you requested does not exist.");
  expect_error(url(verb::put, "f", R"({"AuthType":"NONE"})"), 404, "ResourceNotFoundException",
               "The resource you requested does not exist.");
  ASSERT_EQ(url(verb::post, "f", R"({"AuthType":"NONE"})").status, 201);
  expect_error(url(verb::post, "f", R"({"AuthType":"AWS_IAM"})"), 409, "ResourceConflictException",
               std::string("Failed to create function url config for [functionArn = ") + kFnArn +
                   "]. Error message:  FunctionUrlConfig exists for this Lambda function");
  expect_error(url(verb::post, "f", R"({"AuthType":"NONE"})", "?Qualifier=nope"), 404,
               "ResourceNotFoundException", "Function does not exist");
  expect_error(url(verb::post, "f", R"({"AuthType":"NONE"})", "?Qualifier=1"), 400,
               "ValidationException",
               "1 validation error detected: Value '1' at 'qualifier' failed to satisfy "
               "constraint: Member must satisfy regular expression pattern: "
               "(^\\$LATEST$)|((?!^[0-9]+$)([a-zA-Z0-9-_]+))");
  expect_error(url(verb::get, "f", "", "?Qualifier=$LATEST"), 400, "ValidationException",
               "1 validation error detected: Value '$LATEST' at 'qualifier' failed to satisfy "
               "constraint: Member must satisfy regular expression pattern: "
               "((?!^\\d+$)^[0-9a-zA-Z-_]+$)");
  ASSERT_EQ(create("g").status, 201);
  expect_error(url(verb::post, "g", "{}"), 400, "ValidationException",
               "1 validation error detected: Value null at 'authType' failed to satisfy "
               "constraint: Member must not be null");
  expect_error(url(verb::post, "g", R"({"AuthType":"BASIC"})"), 400, "ValidationException",
               "1 validation error detected: Value 'BASIC' at 'authType' failed to satisfy "
               "constraint: Member must satisfy enum value set: [NONE, AWS_IAM]");
  expect_error(url(verb::post, "g", R"({"AuthType":"NONE","InvokeMode":"STREAM"})"), 400,
               "ValidationException",
               "1 validation error detected: Value 'STREAM' at 'invokeMode' failed to satisfy "
               "constraint: Member must satisfy enum value set: [BUFFERED, RESPONSE_STREAM]");
  expect_error(url(verb::post, "g", R"({"AuthType":"NONE","Cors":{"MaxAge":86401}})"), 400,
               "ValidationException",
               "1 validation error detected: Value '86401' at 'cors.maxAge' failed to satisfy "
               "constraint: Member must have value less than or equal to 86400");
  expect_error(
      url(verb::post, "g",
          R"({"AuthType":"NONE","Cors":{"AllowMethods":["GET","PUT","POST","HEAD","PATCH","DELETE","*"]}})"),
      400, "ValidationException",
      "1 validation error detected: Value '[GET, PUT, POST, HEAD, PATCH, DELETE, *]' at "
      "'cors.allowMethods' failed to satisfy constraint: Member must have length less than or "
      "equal to 6");
  expect_error(url(verb::post, "g", R"({"AuthType":"NONE","Cors":{"AllowMethods":["OPTIONS"]}})"),
               400, "ValidationException",
               "1 validation error detected: Value '[OPTIONS]' at 'cors.allowMethods' failed to "
               "satisfy constraint: Member must satisfy constraint: [Member must have length "
               "less than or equal to 6, Member must satisfy regular expression pattern: .*, "
               "Member must not be null]");
  expect_error(url(verb::post, "g", R"({"AuthType":"NONE","Cors":{"MaxAge":"soon"}})"), 400,
               "InvalidRequestContentException",
               "Could not parse request body into json: unexpected type for field 'MaxAge'");
  // None of the refused requests made one.
  EXPECT_EQ(url(verb::get, "g").status, 404);
}

TEST_F(FunctionUrlTest, AliasesHaveTheirOwnUrlsAndListPages) {
  ASSERT_EQ(create("f").status, 201);
  make_alias("f", "live");
  HttpResult top = url(verb::post, "f", R"({"AuthType":"NONE"})");
  ASSERT_EQ(top.status, 201);
  HttpResult live = url(verb::post, "f:live", R"({"AuthType":"AWS_IAM"})");
  ASSERT_EQ(live.status, 201) << live.body;
  EXPECT_EQ(get_string(live.obj(), "FunctionArn"), std::string(kFnArn) + ":live");
  EXPECT_NE(get_string(live.obj(), "FunctionUrl"), get_string(top.obj(), "FunctionUrl"));
  EXPECT_EQ(url(verb::get, "f", "", "?Qualifier=live").status, 200);

  HttpResult all = list("f");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.obj().at("FunctionUrlConfigs").as_array().size(), 2u);
  EXPECT_FALSE(all.obj().contains("NextMarker"));
  HttpResult p1 = list("f", "?MaxItems=1");
  ASSERT_EQ(p1.status, 200);
  ASSERT_EQ(p1.obj().at("FunctionUrlConfigs").as_array().size(), 1u);
  EXPECT_EQ(get_string(p1.obj().at("FunctionUrlConfigs").as_array()[0].as_object(), "FunctionArn"),
            kFnArn);
  std::string marker = get_string(p1.obj(), "NextMarker").value_or("");
  ASSERT_FALSE(marker.empty());
  HttpResult p2 = list("f", "?MaxItems=1&Marker=" + marker);
  ASSERT_EQ(p2.status, 200) << p2.body;
  ASSERT_EQ(p2.obj().at("FunctionUrlConfigs").as_array().size(), 1u);
  EXPECT_EQ(get_string(p2.obj().at("FunctionUrlConfigs").as_array()[0].as_object(), "FunctionArn"),
            std::string(kFnArn) + ":live");
  EXPECT_FALSE(p2.obj().contains("NextMarker"));
  expect_error(list("f", "?MaxItems=51"), 400, "ValidationException",
               "1 validation error detected: Value '51' at 'maxItems' failed to satisfy "
               "constraint: Member must have value less than or equal to 50");

  std::string live_id = url_id_of(get_string(live.obj(), "FunctionUrl").value_or(""));
  auto t = h_->service().find_function_url(live_id);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->qualifier, "live");
  // Deleting the alias deletes its URL.
  ASSERT_EQ(h_->call(verb::delete_, std::string(kFns) + "/f/aliases/live").status, 204);
  EXPECT_FALSE(h_->service().find_function_url(live_id).has_value());
  EXPECT_EQ(list("f").obj().at("FunctionUrlConfigs").as_array().size(), 1u);
}

TEST_F(FunctionUrlTest, DeletingTheFunctionDeletesItsUrls) {
  ASSERT_EQ(create("f").status, 201);
  HttpResult c = url(verb::post, "f", R"({"AuthType":"NONE"})");
  ASSERT_EQ(c.status, 201);
  std::string id = url_id_of(get_string(c.obj(), "FunctionUrl").value_or(""));
  ASSERT_TRUE(h_->service().find_function_url(id).has_value());
  ASSERT_EQ(h_->call(verb::delete_, std::string(kFns) + "/f").status, 204);
  EXPECT_FALSE(h_->service().find_function_url(id).has_value());
  ASSERT_EQ(create("f").status, 201);
  EXPECT_EQ(url(verb::get, "f").status, 404);
  EXPECT_EQ(list("f").obj().at("FunctionUrlConfigs").as_array().size(), 0u);
}

TEST_F(FunctionUrlTest, UrlsSurviveARestart) {
  ASSERT_EQ(create("f").status, 201);
  HttpResult c = url(verb::post, "f", R"({"AuthType":"AWS_IAM","Cors":{"ExposeHeaders":["x"]}})");
  ASSERT_EQ(c.status, 201);
  std::string id = url_id_of(get_string(c.obj(), "FunctionUrl").value_or(""));
  HttpResult before = url(verb::get, "f");
  h_.reset();
  h_ = std::make_unique<Harness>(dir_.path(), &invoker_);
  ASSERT_TRUE(h_->start_status().ok());
  // The table is filled at start, before any API call.
  auto t = h_->service().find_function_url(id);
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->auth_type, "AWS_IAM");
  ASSERT_TRUE(t->cors.has_value());
  EXPECT_EQ(t->cors->expose_headers, std::vector<std::string>{"x"});
  HttpResult after = url(verb::get, "f");
  EXPECT_EQ(after.body, before.body);
}

TEST_F(FunctionUrlTest, InvokesThroughTheInvokePath) {
  ASSERT_EQ(create("f").status, 201);
  make_alias("f", "live");
  ASSERT_EQ(url(verb::post, "f:live", R"({"AuthType":"NONE"})").status, 201);
  std::string id = url_id_of(
      get_string(url(verb::get, "f", "", "?Qualifier=live").obj(), "FunctionUrl").value_or(""));
  auto t = h_->service().find_function_url(id);
  ASSERT_TRUE(t.has_value());

  auto r = invoke(*t, R"({"rawPath":"/"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->payload, R"({"rawPath":"/"})");
  ASSERT_EQ(invoker_.call_count(), 1u);
  EXPECT_EQ(invoker_.call(0).first.qualified_arn, std::string(kFnArn) + ":1");
  EXPECT_EQ(invoker_.call(0).second.request_id, "req-1");

  // Throttling keeps the Invoke API's error and reason.
  invoker_.set_behavior([](const runtime::FunctionSpec&, const runtime::InvokeRequest&) {
    Error e{"TooManyRequestsException", 429, "Rate Exceeded."};
    e.reason = "ReservedFunctionConcurrentInvocationLimitExceeded";
    return Result<runtime::InvokeResult>(e);
  });
  r = invoke(*t, "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "TooManyRequestsException");
  EXPECT_EQ(r.error().status, 429);
  EXPECT_EQ(r.error().reason, "ReservedFunctionConcurrentInvocationLimitExceeded");
  invoker_.set_behavior(nullptr);

  r = invoke(*t, std::string(6291457, ' '));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "RequestEntityTooLargeException");

  // A target whose function went away.
  ASSERT_EQ(h_->call(verb::delete_, std::string(kFns) + "/f").status, 204);
  r = invoke(*t, "{}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "ResourceNotFoundException");
}

TEST_F(FunctionUrlTest, AuthorisesAsLambdaDoes) {
  ASSERT_EQ(create("f").status, 201);
  ASSERT_EQ(url(verb::post, "f", R"({"AuthType":"NONE"})").status, 201);
  std::string id = url_id_of(get_string(url(verb::get, "f").obj(), "FunctionUrl").value_or(""));
  auto t = h_->service().find_function_url(id);
  ASSERT_TRUE(t.has_value());

  // NONE: refused until the function's policy allows everyone to invoke the URL.
  Status st = authorize(*t, nullptr);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().status, 403);
  EXPECT_EQ(st.error().message, "Forbidden");
  HttpResult added = h_->call(verb::post, std::string(kFns) + "/f/policy",
                              R"({"StatementId":"public","Action":"lambda:InvokeFunctionUrl",)"
                              R"("Principal":"*","FunctionUrlAuthType":"NONE"})");
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_TRUE(authorize(*t, nullptr).ok());

  // AWS_IAM: a signed caller allowed by its identity or by the function's policy.
  ASSERT_EQ(url(verb::put, "f", R"({"AuthType":"AWS_IAM"})").status, 200);
  t = h_->service().find_function_url(id);
  EXPECT_FALSE(authorize(*t, nullptr).ok());  // the public statement asks for NONE
  auth::Caller root = auth::root_caller("000000000000");
  EXPECT_TRUE(authorize(*t, &root).ok());
  auth::Caller alice;
  alice.arn = "arn:aws:iam::000000000000:user/alice";
  alice.account_id = "000000000000";
  alice.identity = std::make_shared<auth::Identity>();
  EXPECT_FALSE(authorize(*t, &alice).ok());
  added = h_->call(verb::post, std::string(kFns) + "/f/policy",
                   R"({"StatementId":"alice","Action":"lambda:InvokeFunctionUrl",)"
                   R"("Principal":"arn:aws:iam::000000000000:user/alice",)"
                   R"("FunctionUrlAuthType":"AWS_IAM"})");
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_TRUE(authorize(*t, &alice).ok());
}

}  // namespace
}  // namespace nubo::lambda

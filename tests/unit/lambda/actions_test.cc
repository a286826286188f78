#include "services/lambda/actions.h"

#include <gtest/gtest.h>

namespace nubo::lambda {
namespace {

namespace http = boost::beast::http;

std::string of(http::verb m, const std::string& target) {
  auto a = lambda_action(m, net::parse_target(target), "us-east-1", "000000000000");
  return a ? a->action + " " + a->resource : "none";
}

constexpr const char* kFn = "arn:aws:lambda:us-east-1:000000000000:function:f";

TEST(LambdaActionsTest, EachRouteIsItsIamActionOnItsResource) {
  using http::verb;
  EXPECT_EQ(of(verb::post, "/2015-03-31/functions"), "lambda:CreateFunction *");
  EXPECT_EQ(of(verb::get, "/2015-03-31/functions/"), "lambda:ListFunctions *");
  EXPECT_EQ(of(verb::get, "/2015-03-31/functions/f"), std::string("lambda:GetFunction ") + kFn);
  EXPECT_EQ(of(verb::get, "/2015-03-31/functions/f?Qualifier=prod"),
            std::string("lambda:GetFunction ") + kFn + ":prod");
  EXPECT_EQ(of(verb::post, "/2015-03-31/functions/f/invocations"),
            std::string("lambda:InvokeFunction ") + kFn);
  EXPECT_EQ(of(verb::post, "/2015-03-31/functions/f:3/invocations"),
            std::string("lambda:InvokeFunction ") + kFn + ":3");
  EXPECT_EQ(of(verb::post, "/2015-03-31/functions/" + std::string(kFn) + "/invocations"),
            std::string("lambda:InvokeFunction ") + kFn);
  EXPECT_EQ(of(verb::post, "/2015-03-31/functions/000000000000:function:f/invocations"),
            std::string("lambda:InvokeFunction ") + kFn);
  EXPECT_EQ(of(verb::delete_, "/2015-03-31/functions/f"),
            std::string("lambda:DeleteFunction ") + kFn);
  EXPECT_EQ(of(verb::put, "/2015-03-31/functions/f/configuration"),
            std::string("lambda:UpdateFunctionConfiguration ") + kFn);
  EXPECT_EQ(of(verb::put, "/2015-03-31/functions/f/code"),
            std::string("lambda:UpdateFunctionCode ") + kFn);
  EXPECT_EQ(of(verb::post, "/2015-03-31/functions/f/versions"),
            std::string("lambda:PublishVersion ") + kFn);
  EXPECT_EQ(of(verb::put, "/2015-03-31/functions/f/aliases/live"),
            std::string("lambda:UpdateAlias ") + kFn + ":live");
  EXPECT_EQ(of(verb::put, "/2017-10-31/functions/f/concurrency"),
            std::string("lambda:PutFunctionConcurrency ") + kFn);
  EXPECT_EQ(of(verb::get, "/2019-09-30/functions/f/provisioned-concurrency?Qualifier=1"),
            std::string("lambda:GetProvisionedConcurrencyConfig ") + kFn + ":1");
  EXPECT_EQ(of(verb::get, "/2016-08-19/account-settings/"), "lambda:GetAccountSettings *");
  EXPECT_EQ(of(verb::get, std::string("/2017-03-31/tags/") + kFn),
            std::string("lambda:ListTags ") + kFn);
  EXPECT_EQ(of(verb::post, "/2014-11-13/functions/f/invoke-async/"),
            std::string("lambda:InvokeAsync ") + kFn);
  EXPECT_EQ(of(verb::post, "/2018-10-31/layers/lib/versions"),
            "lambda:PublishLayerVersion arn:aws:lambda:us-east-1:000000000000:layer:lib");
  EXPECT_EQ(of(verb::get, "/2018-10-31/layers/lib/versions/2"),
            "lambda:GetLayerVersion arn:aws:lambda:us-east-1:000000000000:layer:lib:2");
  // Function policies: the function as qualified by the Qualifier parameter or the name.
  EXPECT_EQ(of(verb::post, "/2015-03-31/functions/f/policy"),
            std::string("lambda:AddPermission ") + kFn);
  EXPECT_EQ(of(verb::post, "/2015-03-31/functions/f/policy?Qualifier=live"),
            std::string("lambda:AddPermission ") + kFn + ":live");
  EXPECT_EQ(of(verb::get, "/2015-03-31/functions/f:2/policy"),
            std::string("lambda:GetPolicy ") + kFn + ":2");
  EXPECT_EQ(of(verb::delete_, "/2015-03-31/functions/f/policy/sid-1?Qualifier=1"),
            std::string("lambda:RemovePermission ") + kFn + ":1");
  EXPECT_EQ(of(verb::put, "/2015-03-31/functions/f/policy"), "none");
  // Function URLs.
  EXPECT_EQ(of(verb::post, "/2021-10-31/functions/f/url"),
            std::string("lambda:CreateFunctionUrlConfig ") + kFn);
  EXPECT_EQ(of(verb::get, "/2021-10-31/functions/f/url?Qualifier=live"),
            std::string("lambda:GetFunctionUrlConfig ") + kFn + ":live");
  EXPECT_EQ(of(verb::put, "/2021-10-31/functions/f:live/url"),
            std::string("lambda:UpdateFunctionUrlConfig ") + kFn + ":live");
  EXPECT_EQ(of(verb::delete_, "/2021-10-31/functions/f/url"),
            std::string("lambda:DeleteFunctionUrlConfig ") + kFn);
  EXPECT_EQ(of(verb::get, "/2021-10-31/functions/f/urls?MaxItems=5"),
            std::string("lambda:ListFunctionUrlConfigs ") + kFn);
  EXPECT_EQ(of(verb::post, "/2021-10-31/functions/f/urls"), "none");
  EXPECT_EQ(of(verb::get, "/2021-10-31/functions/f/url/x"), "none");
  // Every spelling of one function is that function's ARN: a Deny on it cannot be dodged.
  for (const char* name :
       {"f", "function:f", "000000000000:f", "000000000000:function:f",
        "us-east-1:000000000000:function:f", "arn:aws:lambda:us-east-1:000000000000:function:f"}) {
    EXPECT_EQ(of(verb::delete_, std::string("/2015-03-31/functions/") + name),
              std::string("lambda:DeleteFunction ") + kFn)
        << name;
  }
  // Only the exact invoke-async path is InvokeAsync.
  EXPECT_EQ(of(verb::post, "/2014-11-13/functions/f/invoke-asyncX/"), "none");
  // Not operations: the service answers them itself.
  EXPECT_EQ(of(verb::patch, "/2015-03-31/functions/f"), "none");
  EXPECT_EQ(of(verb::get, "/_nubo/lambda/code/abc.zip"), "none");
}

}  // namespace
}  // namespace nubo::lambda

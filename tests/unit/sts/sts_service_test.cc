#include "services/sts/sts_service.h"

#include <gtest/gtest.h>

namespace nubo::sts {
namespace {

net::Response call(const std::string& body, const Principal& who) {
  net::Request req{net::http::verb::post, "/", 11};
  req.set(net::http::field::content_type, "application/x-www-form-urlencoded");
  req.body() = body;
  req.prepare_payload();
  return StsService{}.handle(req, who);
}

Principal root() {
  Principal p;
  p.arn = "arn:aws:iam::000000000000:root";
  p.account_id = "000000000000";
  p.access_key_id = "test";
  p.is_root = true;
  return p;
}

TEST(StsServiceTest, GetCallerIdentitySaysWhoSigned) {
  net::Response r = call("Action=GetCallerIdentity&Version=2011-06-15", root());
  EXPECT_EQ(r.result(), net::http::status::ok);
  const std::string& b = r.body();
  EXPECT_NE(b.find("<Arn>arn:aws:iam::000000000000:root</Arn>"), std::string::npos) << b;
  EXPECT_NE(b.find("<UserId>000000000000</UserId>"), std::string::npos) << b;
  EXPECT_NE(b.find("<Account>000000000000</Account>"), std::string::npos) << b;
  EXPECT_NE(b.find("xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\""), std::string::npos);
  EXPECT_FALSE(r["x-amzn-RequestId"].empty());

  Principal user = root();
  user.is_root = false;
  user.arn = "arn:aws:iam::000000000000:user/alice";
  user.access_key_id = "AKIAALICE";
  std::string ub = call("Version=2011-06-15&Action=GetCallerIdentity", user).body();
  EXPECT_NE(ub.find("<UserId>AKIAALICE</UserId>"), std::string::npos) << ub;
  EXPECT_NE(ub.find("<Arn>arn:aws:iam::000000000000:user/alice</Arn>"), std::string::npos);
}

TEST(StsServiceTest, UnknownActionsAndVersionsGetStsErrors) {
  net::Response r = call("Action=GetCallerIdentity&Version=2000-01-01", root());
  EXPECT_EQ(r.result(), net::http::status::bad_request);
  EXPECT_NE(r.body().find("<Code>InvalidAction</Code>"), std::string::npos) << r.body();
  EXPECT_NE(r.body().find("for version 2000-01-01"), std::string::npos) << r.body();
  r = call("Action=Frobnicate&Version=2011-06-15", root());
  EXPECT_NE(r.body().find("Could not find operation Frobnicate"), std::string::npos);
  r = call("Version=2011-06-15", root());
  EXPECT_NE(r.body().find("<Code>MissingAction</Code>"), std::string::npos) << r.body();
  r = call("Action=AssumeRole&Version=2011-06-15&RoleArn=x", root());
  EXPECT_NE(r.body().find("not implement it yet"), std::string::npos) << r.body();
}

}  // namespace
}  // namespace nubo::sts

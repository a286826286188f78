// The wire layer through handle(): JSON 1.1 shapes and errors, authorisation, and rotation with
// an injected invoke that plays a rotation function calling back into the API.

// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include "services/secretsmanager/secretsmanager_service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "auth/policy.h"
#include "base/crypto.h"
#include "base/json.h"
#include "test_util.h"

namespace nubo::secretsmanager {
namespace {

namespace asio = boost::asio;
namespace http = net::http;
using testing::kAccount;

constexpr const char* kFn = "arn:aws:lambda:us-east-1:000000000000:function:rotator";
constexpr const char* kPrefix = "arn:aws:secretsmanager:us-east-1:000000000000:secret:";

struct Reply {
  int status = 0;
  json::object body;
  std::string raw;
  std::string content_type, request_id;
  std::string code() const {
    auto it = body.find("__type");
    return it == body.end() ? "" : std::string(it->value().as_string());
  }
  std::string message() const {
    auto it = body.find("message");
    return it == body.end() ? "" : std::string(it->value().as_string());
  }
  std::string str(std::string_view k) const {
    auto it = body.find(k);
    return it == body.end() || !it->value().is_string() ? "" : std::string(it->value().as_string());
  }
};

net::Request request(const std::string& action, const std::string& body) {
  net::Request req{http::verb::post, "/", 11};
  req.set("x-amz-target", "secretsmanager." + action);
  req.set(http::field::content_type, "application/x-amz-json-1.1");
  req.body() = body;
  req.prepare_payload();
  return req;
}

Reply reply_of(const net::Response& res) {
  Reply r;
  r.status = static_cast<int>(res.result_int());
  r.raw = res.body();
  r.content_type = std::string(res[http::field::content_type]);
  r.request_id = std::string(res["x-amzn-RequestId"]);
  boost::system::error_code ec;
  json::value v = json::parse(r.raw, ec);
  if (!ec && v.is_object()) r.body = v.as_object();
  return r;
}

auth::Caller user(const std::string& name, const std::string& policy = "") {
  auth::Caller c;
  c.arn = "arn:aws:iam::000000000000:user/" + name;
  c.account_id = kAccount;
  c.access_key_id = "AKIA" + name;
  auto id = std::make_shared<auth::Identity>();
  id->principal_type = "User";
  id->user_name = name;
  if (!policy.empty()) {
    auto p = auth::parse_policy(policy);
    NUBO_CHECK(p.ok());
    id->policies.push_back(std::make_shared<const auth::Policy>(std::move(p).value()));
  }
  c.identity = id;
  return c;
}

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    thread_ = std::thread([this] { io_.run(); });
    SecretsDeps d;
    d.store = dir_.store();
    d.clock = &clock_;
    d.blocking = &pool_;
    d.io = &io_;
    d.keyring = &keyring_;
    d.account_id = kAccount;
    d.region = testing::kRegion;
    d.timer_period = std::chrono::milliseconds(0);  // the tests call tick()
    d.invoke = [this](std::string fn, std::string payload) -> net::Task<Result<std::string>> {
      return rotator(std::move(fn), std::move(payload));
    };
    svc_ = std::make_unique<SecretsManagerService>(std::move(d));
    ASSERT_TRUE(svc_->start().ok());
  }
  void TearDown() override {
    svc_->stop();
    svc_.reset();
    work_.reset();
    thread_.join();
    pool_.join();
  }

  Reply call(const std::string& action, const json::object& body,
             const auth::Caller& caller = auth::root_caller(kAccount)) {
    return call_raw(action, json::serialize(body), caller);
  }
  Reply call_raw(const std::string& action, const std::string& body,
                 const auth::Caller& caller = auth::root_caller(kAccount)) {
    net::Request req = request(action, body);
    auto fut = asio::co_spawn(io_, svc_->handle(req, caller), asio::use_future);
    return reply_of(fut.get());
  }
  // From a coroutine on the io thread (the fake rotation function calls back this way).
  net::Task<Reply> call_async(std::string action, json::object body) {
    net::Request req = request(action, json::serialize(body));
    auth::Caller root = auth::root_caller(kAccount);
    auto handling = svc_->handle(req, root);
    net::Response res = co_await std::move(handling);
    co_return reply_of(res);
  }

  Reply create(const std::string& name, const std::string& value = "v1") {
    Reply r = call("CreateSecret", {{"Name", name}, {"SecretString", value}});
    EXPECT_EQ(r.status, 200) << r.raw;
    return r;
  }
  std::string value_of(const std::string& id, const std::string& stage = "AWSCURRENT") {
    Reply r = call("GetSecretValue", {{"SecretId", id}, {"VersionStage", stage}});
    return r.status == 200 ? r.str("SecretString") : "<" + r.code() + ">";
  }

  // A rotation function, as AWS's template writes one: each step checks the version's labels,
  // createSecret puts a random AWSPENDING value, finishSecret moves AWSCURRENT.
  net::Task<Result<std::string>> rotator(std::string fn, std::string payload) {
    json::object ev = json::parse(payload).as_object();
    const std::string step(ev["Step"].as_string());
    const std::string arn(ev["SecretId"].as_string());
    const std::string token(ev["ClientRequestToken"].as_string());
    const bool has_rotation_token = ev.find("RotationToken") != ev.end();
    {
      std::lock_guard lock(mu_);
      steps_.push_back(step);
      functions_.push_back(fn);
    }
    if (!has_rotation_token) co_return Error{"Unhandled", 200, "no token"};
    if (step == "createSecret") {
      asio::steady_timer wait(co_await asio::this_coro::executor);
      while (gate_closed_) {
        wait.expires_after(std::chrono::milliseconds(2));
        co_await wait.async_wait(asio::use_awaitable);
      }
    }
    if (step == fail_at_) co_return Error{"Unhandled", 200, "the step failed: SECRET-IN-ERROR"};
    json::object describe{{"SecretId", arn}};
    auto d_call = call_async("DescribeSecret", std::move(describe));
    Reply d = co_await std::move(d_call);
    if (!d.body["RotationEnabled"].as_bool()) co_return Error{"Unhandled", 200, "not enabled"};
    const json::object versions = d.body["VersionIdsToStages"].as_object();
    auto it = versions.find(token);
    if (it == versions.end()) co_return Error{"Unhandled", 200, "no stage for rotation"};
    const json::array stages = it->value().as_array();
    const bool current =
        std::find(stages.begin(), stages.end(), json::value("AWSCURRENT")) != stages.end();
    const bool pending_label =
        std::find(stages.begin(), stages.end(), json::value("AWSPENDING")) != stages.end();
    if (current) co_return std::string("null");
    if (!pending_label) co_return Error{"Unhandled", 200, "not AWSPENDING"};
    if (step == "createSecret") {
      json::object q1{{"SecretId", arn}};
      auto cur_call = call_async("GetSecretValue", std::move(q1));
      Reply cur = co_await std::move(cur_call);
      if (cur.status != 200) co_return Error{"Unhandled", 200, "no current value"};
      json::object q2{{"SecretId", arn}, {"VersionId", token}, {"VersionStage", "AWSPENDING"}};
      auto pending_call = call_async("GetSecretValue", std::move(q2));
      Reply pending = co_await std::move(pending_call);
      if (pending.code() != "ResourceNotFoundException") co_return std::string("null");
      json::object q3{{"ExcludeCharacters", "/@\"'\\"}};
      auto pw_call = call_async("GetRandomPassword", std::move(q3));
      Reply pw = co_await std::move(pw_call);
      json::object q4{{"SecretId", arn},
                      {"ClientRequestToken", token},
                      {"SecretString", pw.str("RandomPassword")},
                      {"VersionStages", json::array{"AWSPENDING"}}};
      auto put_call = call_async("PutSecretValue", std::move(q4));
      Reply put = co_await std::move(put_call);
      if (put.status != 200) co_return Error{"Unhandled", 200, put.raw};
    } else if (step == "setSecret" || step == "testSecret") {
      json::object q{{"SecretId", arn}, {"VersionStage", "AWSPENDING"}};
      auto pending_call = call_async("GetSecretValue", std::move(q));
      Reply pending = co_await std::move(pending_call);
      if (pending.status != 200) co_return Error{"Unhandled", 200, "no pending value"};
      std::lock_guard lock(mu_);
      seen_pending_ = pending.str("SecretString");
    } else if (step == "finishSecret") {
      std::string holder;
      for (const auto& kv : versions) {
        const json::array& st = kv.value().as_array();
        if (std::find(st.begin(), st.end(), json::value("AWSCURRENT")) != st.end()) {
          holder = std::string(kv.key());
        }
      }
      json::object q{{"SecretId", arn},
                     {"VersionStage", "AWSCURRENT"},
                     {"MoveToVersionId", token},
                     {"RemoveFromVersionId", holder}};
      auto moved_call = call_async("UpdateSecretVersionStage", std::move(q));
      Reply moved = co_await std::move(moved_call);
      if (moved.status != 200) co_return Error{"Unhandled", 200, moved.raw};
    }
    co_return std::string("null");
  }

  std::vector<std::string> steps() {
    std::lock_guard lock(mu_);
    return steps_;
  }

  testing::DataDir dir_;
  FakeClock clock_{testing::start_time()};
  auth::Keyring keyring_{std::string(32, '\x11')};
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::thread thread_;
  asio::thread_pool pool_{2};
  std::unique_ptr<SecretsManagerService> svc_;

  std::mutex mu_;
  std::vector<std::string> steps_;        // GUARDED_BY(mu_)
  std::vector<std::string> functions_;    // GUARDED_BY(mu_)
  std::string seen_pending_;              // GUARDED_BY(mu_)
  std::string fail_at_;                   // set before a rotation starts
  std::atomic<bool> gate_closed_{false};  // createSecret waits while set
};

TEST_F(ServiceTest, CreateAndReadInTheJsonShapes) {
  Reply c =
      call("CreateSecret", {{"Name", "app/db"},
                            {"SecretString", "{\"password\":\"p\"}"},
                            {"Description", "the database"},
                            {"Tags", json::array{json::object{{"Key", "env"}, {"Value", "prod"}}}},
                            {"ClientRequestToken", std::string(36, 'a')}});
  ASSERT_EQ(c.status, 200) << c.raw;
  EXPECT_EQ(c.content_type, "application/x-amz-json-1.1");
  EXPECT_FALSE(c.request_id.empty());
  const std::string arn = c.str("ARN");
  EXPECT_EQ(arn.substr(0, std::string(kPrefix).size() + 7), std::string(kPrefix) + "app/db-");
  EXPECT_EQ(c.str("Name"), "app/db");
  EXPECT_EQ(c.str("VersionId"), std::string(36, 'a'));

  Reply g = call("GetSecretValue", {{"SecretId", "app/db"}});
  ASSERT_EQ(g.status, 200) << g.raw;
  EXPECT_EQ(g.str("ARN"), arn);
  EXPECT_EQ(g.str("SecretString"), "{\"password\":\"p\"}");
  EXPECT_EQ(g.body["VersionStages"], json::array{"AWSCURRENT"});
  EXPECT_DOUBLE_EQ(g.body["CreatedDate"].as_double(), 1700000000.0);
  EXPECT_EQ(g.body.find("SecretBinary"), g.body.end());

  Reply d = call("DescribeSecret", {{"SecretId", arn}});
  ASSERT_EQ(d.status, 200);
  EXPECT_EQ(d.str("Description"), "the database");
  EXPECT_EQ(d.body["Tags"], (json::array{json::object{{"Key", "env"}, {"Value", "prod"}}}));
  EXPECT_EQ(d.body["VersionIdsToStages"],
            (json::object{{std::string(36, 'a'), json::array{"AWSCURRENT"}}}));
  EXPECT_EQ(d.body.find("RotationEnabled"), d.body.end());  // never configured
  EXPECT_EQ(d.body.find("KmsKeyId"), d.body.end());         // the default key
  EXPECT_EQ(d.body.find("DeletedDate"), d.body.end());
  EXPECT_DOUBLE_EQ(d.body["LastAccessedDate"].as_double(), 1699920000.0);  // a date

  // Binary values travel base64-encoded.
  const std::string bytes("\x00\x01\xfe\xff", 4);
  Reply b = call("CreateSecret", {{"Name", "bin"}, {"SecretBinary", base64_encode(bytes)}});
  ASSERT_EQ(b.status, 200) << b.raw;
  Reply gb = call("GetSecretValue", {{"SecretId", "bin"}});
  EXPECT_EQ(gb.str("SecretBinary"), base64_encode(bytes));
  EXPECT_EQ(gb.body.find("SecretString"), gb.body.end());

  Reply u = call("UpdateSecret", {{"SecretId", "app/db"}, {"Description", "changed"}});
  ASSERT_EQ(u.status, 200) << u.raw;
  EXPECT_EQ(u.body.find("VersionId"), u.body.end());  // no new version
  Reply u2 = call("UpdateSecret",
                  {{"SecretId", "app/db"}, {"SecretString", "v2"}, {"KmsKeyId", "alias/mine"}});
  ASSERT_EQ(u2.status, 200);
  EXPECT_EQ(u2.str("VersionId").size(), 36u);
  EXPECT_EQ(value_of("app/db"), "v2");
  EXPECT_EQ(call("DescribeSecret", {{"SecretId", "app/db"}}).str("KmsKeyId"), "alias/mine");

  Reply p = call("PutSecretValue",
                 {{"SecretId", "app/db"}, {"SecretString", "v3"}, {"VersionStages", {"STAGED"}}});
  ASSERT_EQ(p.status, 200) << p.raw;
  EXPECT_EQ(p.body["VersionStages"], json::array{"STAGED"});
  EXPECT_EQ(value_of("app/db", "STAGED"), "v3");

  Reply l = call("ListSecrets", {});
  ASSERT_EQ(l.status, 200);
  ASSERT_EQ(l.body["SecretList"].as_array().size(), 2u);
  const json::object& first = l.body["SecretList"].as_array()[0].as_object();
  EXPECT_EQ(first.at("Name"), "app/db");
  EXPECT_TRUE(first.contains("SecretVersionsToStages"));
  EXPECT_EQ(l.body.find("NextToken"), l.body.end());

  Reply v = call("ListSecretVersionIds", {{"SecretId", "app/db"}, {"IncludeDeprecated", true}});
  ASSERT_EQ(v.status, 200) << v.raw;
  EXPECT_EQ(v.str("ARN"), arn);
  EXPECT_EQ(v.body["Versions"].as_array().size(), 3u);
}

TEST_F(ServiceTest, ErrorsInTheJsonShape) {
  create("e");
  Reply nf = call("GetSecretValue", {{"SecretId", "missing"}});
  EXPECT_EQ(nf.status, 400);
  EXPECT_EQ(nf.code(), "ResourceNotFoundException");
  EXPECT_EQ(nf.message(), "Secrets Manager can't find the specified secret.");
  EXPECT_FALSE(nf.request_id.empty());

  Reply unknown = call("Frobnicate", {});
  EXPECT_EQ(unknown.code(), "UnknownOperationException");
  Reply bad_json = call_raw("GetSecretValue", "{not json");
  EXPECT_EQ(bad_json.code(), "SerializationException");
  Reply wrong_type = call_raw("GetSecretValue", "{\"SecretId\": 7}");
  EXPECT_EQ(wrong_type.code(), "SerializationException");
  Reply null_id = call("GetSecretValue", {});
  EXPECT_EQ(null_id.code(), "ValidationException");
  EXPECT_EQ(null_id.message(),
            "1 validation error detected: Value null at 'secretId' failed to satisfy "
            "constraint: Member must not be null");
  Reply bad_name = call("CreateSecret", {{"Name", "has space"}, {"SecretString", "x"}});
  EXPECT_EQ(bad_name.code(), "ValidationException");
  EXPECT_EQ(bad_name.message(),
            "Invalid name. Must be a valid name containing alphanumeric characters, or any of "
            "the following: -/_+=.@!");
  Reply long_name = call("CreateSecret", {{"Name", std::string(513, 'n')}});
  EXPECT_EQ(long_name.code(), "ValidationException");
  Reply short_token =
      call("PutSecretValue",
           {{"SecretId", "e"}, {"SecretString", "x"}, {"ClientRequestToken", "short"}});
  EXPECT_EQ(short_token.code(), "ValidationException");
  // A value over the limit: refused, and never echoed.
  const std::string big = "CANARY" + std::string(65536, 'x');
  Reply too_big = call("PutSecretValue", {{"SecretId", "e"}, {"SecretString", big}});
  EXPECT_EQ(too_big.code(), "ValidationException");
  EXPECT_EQ(too_big.message(),
            "1 validation error detected: Value '*** Sensitive Data Redacted ***' at "
            "'secretString' failed to satisfy constraint: Member must have length less than or "
            "equal to 65536");
  Reply both =
      call("CreateSecret", {{"Name", "both"}, {"SecretString", "x"}, {"SecretBinary", "eA=="}});
  EXPECT_EQ(both.code(), "InvalidParameterException");
  EXPECT_EQ(both.message(),
            "You can't specify both a binary secret value and a string secret value in the same "
            "secret.");
  Reply neither = call("PutSecretValue", {{"SecretId", "e"}});
  EXPECT_EQ(neither.code(), "InvalidParameterException");
  Reply exists = call("CreateSecret", {{"Name", "e"}, {"SecretString", "x"}});
  EXPECT_EQ(exists.code(), "ResourceExistsException");
  Reply max = call("ListSecrets", {{"MaxResults", 0}});
  EXPECT_EQ(max.code(), "ValidationException");
  Reply filter =
      call("ListSecrets",
           {{"Filters", json::array{json::object{{"Key", "colour"}, {"Values", {"x"}}}}}});
  EXPECT_EQ(filter.code(), "ValidationException");
  Reply order = call("ListSecrets", {{"SortOrder", "sideways"}});
  EXPECT_EQ(order.code(), "ValidationException");
  Reply token = call("ListSecrets", {{"NextToken", "bogus"}});
  EXPECT_EQ(token.code(), "InvalidNextTokenException");
  Reply aws_tag = call(
      "TagResource",
      {{"SecretId", "e"}, {"Tags", json::array{json::object{{"Key", "aws:x"}, {"Value", "y"}}}}});
  EXPECT_EQ(aws_tag.code(), "InvalidParameterException");
  Reply replica = call("CreateSecret",
                       {{"Name", "rep"},
                        {"SecretString", "x"},
                        {"AddReplicaRegions", json::array{json::object{{"Region", "eu-west-1"}}}}});
  ASSERT_EQ(replica.status, 200) << replica.raw;
  EXPECT_EQ(replica.body["ReplicationStatus"].as_array()[0].as_object().at("Status"), "Failed");
}

TEST_F(ServiceTest, DeleteAndRestore) {
  create("d");
  Reply both =
      call("DeleteSecret",
           {{"SecretId", "d"}, {"RecoveryWindowInDays", 7}, {"ForceDeleteWithoutRecovery", true}});
  EXPECT_EQ(both.code(), "InvalidParameterException");
  EXPECT_EQ(both.message(),
            "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.");
  Reply six = call("DeleteSecret", {{"SecretId", "d"}, {"RecoveryWindowInDays", 6}});
  EXPECT_EQ(six.message(),
            "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).");
  Reply del = call("DeleteSecret", {{"SecretId", "d"}});
  ASSERT_EQ(del.status, 200) << del.raw;
  EXPECT_DOUBLE_EQ(del.body["DeletionDate"].as_double(), 1700000000.0 + 30 * 86400);
  Reply get = call("GetSecretValue", {{"SecretId", "d"}});
  EXPECT_EQ(get.code(), "InvalidRequestException");
  EXPECT_EQ(get.message(),
            "You can't perform this operation on the secret because it was marked for deletion.");
  Reply desc = call("DescribeSecret", {{"SecretId", "d"}});
  EXPECT_DOUBLE_EQ(desc.body["DeletedDate"].as_double(), 1700000000.0 + 30 * 86400);
  EXPECT_TRUE(call("ListSecrets", {}).body["SecretList"].as_array().empty());
  EXPECT_EQ(
      call("ListSecrets", {{"IncludePlannedDeletion", true}}).body["SecretList"].as_array().size(),
      1u);
  Reply restored = call("RestoreSecret", {{"SecretId", "d"}});
  ASSERT_EQ(restored.status, 200);
  EXPECT_EQ(value_of("d"), "v1");

  // The timer's pass removes a secret once its window ended.
  ASSERT_EQ(call("DeleteSecret", {{"SecretId", "d"}, {"RecoveryWindowInDays", 7}}).status, 200);
  ASSERT_TRUE(svc_->tick().ok());
  EXPECT_EQ(call("DescribeSecret", {{"SecretId", "d"}}).status, 200);
  clock_.advance(std::chrono::hours(24 * 7));
  ASSERT_TRUE(svc_->tick().ok());
  EXPECT_EQ(call("DescribeSecret", {{"SecretId", "d"}}).code(), "ResourceNotFoundException");
  Reply ghost = call("DeleteSecret", {{"SecretId", "ghost"}, {"ForceDeleteWithoutRecovery", true}});
  EXPECT_EQ(ghost.status, 200);
}

TEST_F(ServiceTest, EveryActionIsAuthorised) {
  const std::string arn = create("app/key").str("ARN");
  create("other/key");
  ASSERT_EQ(
      call("TagResource", {{"SecretId", "app/key"},
                           {"Tags", json::array{json::object{{"Key", "team"}, {"Value", "blue"}}}}})
          .status,
      200);

  auth::Caller nobody = user("nobody");
  Reply denied = call("GetSecretValue", {{"SecretId", "app/key"}}, nobody);
  EXPECT_EQ(denied.status, 400);
  EXPECT_EQ(denied.code(), "AccessDeniedException");
  EXPECT_EQ(denied.message(),
            "User: arn:aws:iam::000000000000:user/nobody is not authorized to perform: "
            "secretsmanager:GetSecretValue on resource: " +
                arn +
                " because no identity-based policy allows the secretsmanager:GetSecretValue "
                "action");
  // An unknown secret: denied against the name's partial ARN; the caller learns nothing.
  Reply unknown = call("GetSecretValue", {{"SecretId", "no/such"}}, nobody);
  EXPECT_EQ(unknown.code(), "AccessDeniedException");
  EXPECT_NE(unknown.message().find(std::string(kPrefix) + "no/such "), std::string::npos)
      << unknown.message();
  EXPECT_EQ(call("ListSecrets", {}, nobody).code(), "AccessDeniedException");
  EXPECT_EQ(call("GetRandomPassword", {}, nobody).code(), "AccessDeniedException");
  EXPECT_EQ(call("CreateSecret", {{"Name", "new"}, {"SecretString", "x"}}, nobody).code(),
            "AccessDeniedException");
  EXPECT_EQ(call("DescribeSecret", {{"SecretId", "new"}}).code(), "ResourceNotFoundException");

  // Resource patterns and condition keys.
  auth::Caller reader = user("reader", R"({"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
       "Resource": "arn:aws:secretsmanager:*:*:secret:app/*",
       "Condition": {"StringEquals": {"secretsmanager:VersionStage": "AWSCURRENT",
                                      "secretsmanager:ResourceTag/team": "blue"}}},
      {"Effect": "Allow", "Action": "secretsmanager:DescribeSecret", "Resource": "*",
       "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}}}]})");
  EXPECT_EQ(
      call("GetSecretValue", {{"SecretId", "app/key"}, {"VersionStage", "AWSCURRENT"}}, reader)
          .status,
      200);
  EXPECT_EQ(call("GetSecretValue", {{"SecretId", "app/key"}}, reader).code(),
            "AccessDeniedException");  // no VersionStage in the request: the condition fails
  EXPECT_EQ(
      call("GetSecretValue", {{"SecretId", "other/key"}, {"VersionStage", "AWSCURRENT"}}, reader)
          .code(),
      "AccessDeniedException");
  EXPECT_EQ(call("DescribeSecret", {{"SecretId", arn}}, reader).status, 200);
  EXPECT_EQ(call("DescribeSecret", {{"SecretId", "other/key"}}, reader).code(),
            "AccessDeniedException");

  // A resource policy lets another principal in, and its explicit Deny wins.
  auth::Caller friend_user = user("friend");
  Reply put = call("PutResourcePolicy",
                   {{"SecretId", "other/key"}, {"ResourcePolicy", R"({"Version": "2012-10-17",
      "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:user/friend"},
                     "Action": "secretsmanager:GetSecretValue", "Resource": "*"},
                    {"Effect": "Deny", "Principal": "*", "Action": "secretsmanager:GetSecretValue",
                     "Resource": "*", "Condition": {"StringEquals": {"secretsmanager:VersionStage": "AWSPREVIOUS"}}}]})"}});
  ASSERT_EQ(put.status, 200) << put.raw;
  EXPECT_EQ(call("GetSecretValue", {{"SecretId", "other/key"}}, friend_user).status, 200);
  Reply deny = call("GetSecretValue", {{"SecretId", "other/key"}, {"VersionStage", "AWSPREVIOUS"}},
                    friend_user);
  EXPECT_EQ(deny.code(), "AccessDeniedException");
  EXPECT_NE(deny.message().find("with an explicit deny in a resource-based policy"),
            std::string::npos)
      << deny.message();
  EXPECT_EQ(call("GetSecretValue", {{"SecretId", "app/key"}}, friend_user).code(),
            "AccessDeniedException");
  // Changing the policy changes the decision (the parsed policy is not stale).
  ASSERT_EQ(call("DeleteResourcePolicy", {{"SecretId", "other/key"}}).status, 200);
  EXPECT_EQ(call("GetSecretValue", {{"SecretId", "other/key"}}, friend_user).code(),
            "AccessDeniedException");
}

TEST_F(ServiceTest, ResourcePolicies) {
  create("p");
  Reply malformed = call("PutResourcePolicy", {{"SecretId", "p"}, {"ResourcePolicy", "{nope"}});
  EXPECT_EQ(malformed.code(), "MalformedPolicyDocumentException");
  Reply no_principal = call("PutResourcePolicy", {{"SecretId", "p"}, {"ResourcePolicy", R"({
      "Version": "2012-10-17", "Statement": [{"Effect": "Allow",
      "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})"}});
  EXPECT_EQ(no_principal.code(), "MalformedPolicyDocumentException");
  const std::string open = R"({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
      "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})";
  Reply blocked = call("PutResourcePolicy",
                       {{"SecretId", "p"}, {"ResourcePolicy", open}, {"BlockPublicPolicy", true}});
  EXPECT_EQ(blocked.code(), "PublicPolicyException");
  Reply validate = call("ValidateResourcePolicy", {{"ResourcePolicy", open}});
  ASSERT_EQ(validate.status, 200) << validate.raw;
  EXPECT_FALSE(validate.body["PolicyValidationPassed"].as_bool());
  EXPECT_EQ(validate.body["ValidationErrors"].as_array().size(), 1u);
  Reply none = call("GetResourcePolicy", {{"SecretId", "p"}});
  ASSERT_EQ(none.status, 200);
  EXPECT_FALSE(none.body.contains("ResourcePolicy"));
  ASSERT_EQ(call("PutResourcePolicy", {{"SecretId", "p"}, {"ResourcePolicy", open}}).status, 200);
  EXPECT_EQ(call("GetResourcePolicy", {{"SecretId", "p"}}).str("ResourcePolicy"), open);
  Reply big =
      call("PutResourcePolicy", {{"SecretId", "p"}, {"ResourcePolicy", std::string(20481, ' ')}});
  EXPECT_EQ(big.code(), "ValidationException");
}

TEST_F(ServiceTest, RandomPasswordsAndBatchReads) {
  Reply pw = call("GetRandomPassword", {});
  ASSERT_EQ(pw.status, 200);
  EXPECT_EQ(pw.str("RandomPassword").size(), 32u);
  Reply digits = call("GetRandomPassword", {{"PasswordLength", 50},
                                            {"ExcludeLowercase", true},
                                            {"ExcludeUppercase", true},
                                            {"ExcludePunctuation", true}});
  EXPECT_EQ(digits.str("RandomPassword").find_first_not_of("0123456789"), std::string::npos);
  EXPECT_EQ(call("GetRandomPassword", {{"PasswordLength", 4097}}).code(), "ValidationException");
  EXPECT_EQ(call("GetRandomPassword", {{"PasswordLength", 3}}).code(), "InvalidParameterException");

  create("b/one", "1");
  create("b/two", "2");
  create("c/three", "3");
  Reply batch = call("BatchGetSecretValue", {{"SecretIdList", {"b/one", "b/missing", "c/three"}}});
  ASSERT_EQ(batch.status, 200) << batch.raw;
  ASSERT_EQ(batch.body["SecretValues"].as_array().size(), 2u);
  const json::array& errors = batch.body["Errors"].as_array();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].as_object().at("SecretId"), "b/missing");
  EXPECT_EQ(errors[0].as_object().at("ErrorCode"), "ResourceNotFoundException");

  json::array by_name{json::object{{"Key", "name"}, {"Values", {"b/"}}}};
  Reply page1 = call("BatchGetSecretValue", {{"Filters", by_name}, {"MaxResults", 1}});
  ASSERT_EQ(page1.status, 200) << page1.raw;
  ASSERT_EQ(page1.body["SecretValues"].as_array().size(), 1u);
  EXPECT_EQ(page1.body["SecretValues"].as_array()[0].as_object().at("SecretString"), "1");
  Reply page2 =
      call("BatchGetSecretValue",
           {{"Filters", by_name}, {"MaxResults", 1}, {"NextToken", page1.str("NextToken")}});
  EXPECT_EQ(page2.body["SecretValues"].as_array()[0].as_object().at("SecretString"), "2");
  EXPECT_EQ(page2.body.find("NextToken"), page2.body.end());
  EXPECT_EQ(call("BatchGetSecretValue", {{"SecretIdList", {"b/one"}}, {"Filters", by_name}}).code(),
            "InvalidParameterException");

  // Secrets the caller may not read come back as errors.
  auth::Caller lister = user("lister", R"({"Version": "2012-10-17", "Statement": [
      {"Effect": "Allow", "Action": ["secretsmanager:BatchGetSecretValue"], "Resource": "*"},
      {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
       "Resource": "arn:aws:secretsmanager:*:*:secret:b/one-*"}]})");
  Reply partial = call("BatchGetSecretValue", {{"SecretIdList", {"b/one", "b/two"}}}, lister);
  ASSERT_EQ(partial.status, 200) << partial.raw;
  EXPECT_EQ(partial.body["SecretValues"].as_array().size(), 1u);
  EXPECT_EQ(partial.body["Errors"].as_array()[0].as_object().at("ErrorCode"),
            "AccessDeniedException");
}

TEST_F(ServiceTest, RotationDrivesTheFunctionThroughTheFourSteps) {
  Reply c = create("rot", "original");
  const std::string arn = c.str("ARN");
  const std::string first_version = c.str("VersionId");
  EXPECT_EQ(call("RotateSecret", {{"SecretId", "rot"}}).code(), "InvalidRequestException");

  // RotateSecret answers before the rotation runs: the function waits on a gate.
  gate_closed_ = true;
  Reply r = call("RotateSecret", {{"SecretId", "rot"},
                                  {"RotationLambdaARN", kFn},
                                  {"RotationRules", {{"AutomaticallyAfterDays", 30}}}});
  ASSERT_EQ(r.status, 200) << r.raw;
  EXPECT_EQ(r.str("ARN"), arn);
  const std::string token = r.str("VersionId");
  EXPECT_EQ(token.size(), 36u);
  EXPECT_EQ(value_of("rot"), "original");
  // While it runs, another rotation is refused.
  EXPECT_EQ(call("RotateSecret", {{"SecretId", "rot"}}).message(),
            "A previous rotation isn't complete. That rotation will be reattempted.");
  gate_closed_ = false;
  svc_->wait_idle();

  EXPECT_EQ(steps(),
            (std::vector<std::string>{"createSecret", "setSecret", "testSecret", "finishSecret"}));
  const std::string rotated = value_of("rot");
  EXPECT_EQ(rotated.size(), 32u);
  {
    std::lock_guard lock(mu_);
    EXPECT_EQ(seen_pending_, rotated);
    EXPECT_EQ(functions_[0], kFn);
  }
  EXPECT_EQ(value_of("rot", "AWSPREVIOUS"), "original");
  Reply d = call("DescribeSecret", {{"SecretId", "rot"}});
  EXPECT_TRUE(d.body["RotationEnabled"].as_bool());
  EXPECT_EQ(d.str("RotationLambdaARN"), kFn);
  EXPECT_EQ(d.body["RotationRules"], (json::object{{"AutomaticallyAfterDays", 30}}));
  EXPECT_DOUBLE_EQ(d.body["LastRotatedDate"].as_double(), 1700000000.0);
  // The next window is the day 30 days after the rotation's; "on or before" its end.
  EXPECT_DOUBLE_EQ(d.body["NextRotationDate"].as_double(), 1699920000.0 + 31 * 86400 - 1);
  EXPECT_EQ(d.body["VersionIdsToStages"], (json::object{{first_version, json::array{"AWSPREVIOUS"}},
                                                        {token, json::array{"AWSCURRENT"}}}));

  // The schedule: nothing before the window, then the timer's pass rotates again.
  ASSERT_TRUE(svc_->tick().ok());
  svc_->wait_idle();
  EXPECT_EQ(steps().size(), 4u);
  clock_.set(SystemTime(std::chrono::seconds(1699920000 + 30 * 86400 + 60)));
  ASSERT_TRUE(svc_->tick().ok());
  svc_->wait_idle();
  EXPECT_EQ(steps().size(), 8u);
  EXPECT_NE(value_of("rot"), rotated);
  EXPECT_EQ(value_of("rot", "AWSPREVIOUS"), rotated);

  // CancelRotateSecret turns it off.
  Reply cancel = call("CancelRotateSecret", {{"SecretId", "rot"}});
  ASSERT_EQ(cancel.status, 200) << cancel.raw;
  d = call("DescribeSecret", {{"SecretId", "rot"}});
  EXPECT_FALSE(d.body["RotationEnabled"].as_bool());
  EXPECT_EQ(d.body.find("NextRotationDate"), d.body.end());
}

TEST_F(ServiceTest, AFailedStepLeavesThePendingVersionForARetry) {
  create("fail", "original");
  fail_at_ = "setSecret";
  const std::string token(36, 'f');
  Reply r = call("RotateSecret",
                 {{"SecretId", "fail"}, {"RotationLambdaARN", kFn}, {"ClientRequestToken", token}});
  ASSERT_EQ(r.status, 200) << r.raw;
  svc_->wait_idle();
  EXPECT_EQ(steps(), (std::vector<std::string>{"createSecret", "setSecret"}));
  EXPECT_EQ(value_of("fail"), "original");
  Reply pending = call("GetSecretValue", {{"SecretId", "fail"}, {"VersionStage", "AWSPENDING"}});
  ASSERT_EQ(pending.status, 200);
  EXPECT_EQ(pending.str("VersionId"), token);
  // A new rotation is refused while that one is unfinished; the same token tries it again.
  EXPECT_EQ(call("RotateSecret", {{"SecretId", "fail"}}).code(), "InvalidRequestException");
  fail_at_.clear();
  Reply retry = call("RotateSecret", {{"SecretId", "fail"}, {"ClientRequestToken", token}});
  ASSERT_EQ(retry.status, 200) << retry.raw;
  svc_->wait_idle();
  EXPECT_EQ(call("GetSecretValue", {{"SecretId", "fail"}}).str("VersionId"), token);
  EXPECT_EQ(value_of("fail", "AWSPREVIOUS"), "original");
  Reply d = call("DescribeSecret", {{"SecretId", "fail"}});
  EXPECT_EQ(d.body["VersionIdsToStages"].as_object().at(token), json::array{"AWSCURRENT"});
  // The function's error message (which may quote anything) was not stored.
  EXPECT_FALSE(dir_.any_file_contains("SECRET-IN-ERROR"));
}

TEST_F(ServiceTest, RotateImmediatelyFalseOnlyTestsTheConfiguration) {
  create("later", "kept");
  Reply r =
      call("RotateSecret",
           {{"SecretId", "later"},
            {"RotationLambdaARN", kFn},
            {"RotateImmediately", false},
            {"RotationRules", {{"ScheduleExpression", "rate(4 hours)"}, {"Duration", "2h"}}}});
  ASSERT_EQ(r.status, 200) << r.raw;
  svc_->wait_idle();
  EXPECT_EQ(steps(), std::vector<std::string>{"testSecret"});
  EXPECT_EQ(value_of("later"), "kept");
  Reply d = call("DescribeSecret", {{"SecretId", "later"}});
  EXPECT_EQ(d.body["VersionIdsToStages"].as_object().size(), 1u);  // the test version is gone
  EXPECT_EQ(d.body.find("LastRotatedDate"), d.body.end());
  // Next window 2023-11-15T00:00Z, two hours long.
  EXPECT_DOUBLE_EQ(d.body["NextRotationDate"].as_double(), 1700006400.0 + 2 * 3600 - 1);
  EXPECT_EQ(d.body["RotationRules"],
            (json::object{{"Duration", "2h"}, {"ScheduleExpression", "rate(4 hours)"}}));
  Reply bad = call("RotateSecret", {{"SecretId", "later"},
                                    {"RotationRules", {{"ScheduleExpression", "rate(1 hours)"}}}});
  EXPECT_EQ(bad.code(), "InvalidParameterException");
  Reply both = call(
      "RotateSecret",
      {{"SecretId", "later"},
       {"RotationRules", {{"ScheduleExpression", "rate(5 days)"}, {"AutomaticallyAfterDays", 5}}}});
  EXPECT_EQ(both.code(), "InvalidParameterException");

  clock_.set(SystemTime(std::chrono::seconds(1700006400 + 60)));
  ASSERT_TRUE(svc_->tick().ok());
  svc_->wait_idle();
  EXPECT_EQ(steps().size(), 5u);
  EXPECT_NE(value_of("later"), "kept");
}

TEST_F(ServiceTest, TheTimerRemovesSecretsWhoseWindowEnded) {
  create("timed");
  ASSERT_EQ(call("DeleteSecret", {{"SecretId", "timed"}, {"RecoveryWindowInDays", 7}}).status, 200);
  // A second service on the same store, with its own timer.
  SecretsDeps d;
  d.store = dir_.store();
  d.clock = &clock_;
  d.blocking = &pool_;
  d.io = &io_;
  d.keyring = &keyring_;
  d.account_id = kAccount;
  d.region = testing::kRegion;
  d.timer_period = std::chrono::milliseconds(5);
  SecretsManagerService timed(std::move(d));
  ASSERT_TRUE(timed.start().ok());
  clock_.advance(std::chrono::hours(24 * 7 + 1));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (call("DescribeSecret", {{"SecretId", "timed"}}).status == 200 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(call("DescribeSecret", {{"SecretId", "timed"}}).code(), "ResourceNotFoundException");
  timed.stop();  // stops the timer and waits for it
}

TEST_F(ServiceTest, NoPlaintextInTheDataDirectory) {
  const std::string canary = "CANARY-5d1e0c7b-plaintext";
  create("grep", canary);
  ASSERT_EQ(call("PutSecretValue", {{"SecretId", "grep"}, {"SecretString", canary + "-2"}}).status,
            200);
  ASSERT_EQ(
      call("CreateSecret", {{"Name", "grep-bin"}, {"SecretBinary", base64_encode(canary)}}).status,
      200);
  EXPECT_EQ(value_of("grep"), canary + "-2");
  EXPECT_TRUE(dir_.any_file_contains("grep-bin"));
  EXPECT_FALSE(dir_.any_file_contains(canary));
  EXPECT_FALSE(dir_.any_file_contains(base64_encode(canary)));
}

}  // namespace
}  // namespace nubo::secretsmanager

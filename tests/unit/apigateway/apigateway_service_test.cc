// The service through handle() (the control plane, with a real SQLite Store) and execute() (the
// data plane, with an invoke callback that plays a function: it reads the event it is given and
// answers from it, so the tests see the event field by field).

// GCC 12 reports a false -Wmismatched-new-delete on Asio coroutine frames (GCC bug 109224).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include "services/apigateway/apigateway_service.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_future.hpp>
#include <filesystem>
#include <mutex>
#include <thread>

#include "auth/policy.h"
#include "base/crypto.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/strings.h"
#include "storage/store.h"

namespace nubo::apigateway {
namespace {

namespace asio = boost::asio;
namespace http = net::http;

constexpr const char* kAccount = "000000000000";
constexpr const char* kEcho = "arn:aws:lambda:us-east-1:000000000000:function:echo";
constexpr const char* kOther = "arn:aws:lambda:us-east-1:000000000000:function:other";

struct Reply {
  int status = 0;
  json::object body;
  std::string raw, error_type;
  http::fields headers;
  std::string str(std::string_view k) const {
    auto it = body.find(k);
    return it == body.end() || !it->value().is_string() ? "" : std::string(it->value().as_string());
  }
};

Reply reply_of(const net::Response& res) {
  Reply r;
  r.status = static_cast<int>(res.result_int());
  r.raw = res.body();
  r.error_type = std::string(res["x-amzn-ErrorType"]);
  for (const auto& f : res) r.headers.insert(f.name_string(), f.value());
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
  id->user_id = "AIDA" + name;
  if (!policy.empty()) {
    auto p = auth::parse_policy(policy);
    NUBO_CHECK(p.ok());
    id->policies.push_back(std::make_shared<const auth::Policy>(std::move(p).value()));
  }
  c.identity = id;
  return c;
}

// How the fake function answers.
enum class Mode { kEcho, kThrottle, kRefuse, kFunctionError, kMalformed, kShorthand };

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (std::filesystem::temp_directory_path() / ("nubo-apigw-test-" + random_hex(6))).string();
    std::filesystem::create_directories(dir_);
    open_store();
    config_.port = 4566;
    thread_ = std::thread([this] { io_.run(); });
    start_service();
  }
  void TearDown() override {
    svc_.reset();
    work_.reset();
    thread_.join();
    pool_.join();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }
  void open_store() {
    store_.reset();
    storage::SqliteOptions o;
    o.path = dir_ + "/nubo.db";
    auto st = storage::open_sqlite_store(o);
    NUBO_CHECK(st.ok());
    store_ = std::move(st).value();
  }
  void start_service() {
    ApiGatewayDeps d;
    d.config = &config_;
    d.store = store_.get();
    d.clock = &clock_;
    d.blocking = &pool_;
    d.invoke = [this](std::string fn, std::string payload) {
      return function(std::move(fn), std::move(payload));
    };
    svc_ = std::make_unique<ApiGatewayService>(std::move(d));
    ASSERT_TRUE(svc_->start().ok());
  }

  // The fake function: records what it got, answers by mode. For kEcho it answers in the
  // event's own format, with the event it received as the body.
  net::Task<Result<runtime::InvokeResult>> function(std::string fn, std::string payload) {
    Mode mode;
    {
      std::lock_guard lock(mu_);
      calls_.push_back(fn);
      mode = mode_;
    }
    runtime::InvokeResult r;
    switch (mode) {
      case Mode::kThrottle:
        co_return Error{"TooManyRequestsException", 429, "Rate Exceeded."};
      case Mode::kRefuse:
        co_return Error{"ResourceNotFoundException", 404, "Function not found: " + fn};
      case Mode::kFunctionError:
        r.function_error = "Unhandled";
        r.payload = R"({"errorMessage":"boom","errorType":"Error"})";
        co_return r;
      case Mode::kMalformed:
        r.payload = R"({"statusCode":"teapot"})";
        co_return r;
      case Mode::kShorthand:
        r.payload = R"({"just":"data"})";
        co_return r;
      case Mode::kEcho:
        break;
    }
    json::object ev = json::parse(payload).as_object();
    const bool v1 = ev.at("version") == "1.0";
    json::object out;
    out["statusCode"] = 207;
    out["headers"] = json::object{{"content-type", "application/json"},
                                  {"x-function", fn.substr(fn.rfind(':') + 1)}};
    if (v1) {
      out["multiValueHeaders"] = json::object{{"set-cookie", json::array{"v1=a", "v1=b"}}};
    } else {
      out["cookies"] = json::array{"s1=x; Path=/", "s2=y"};
    }
    out["body"] = base64_encode(payload);
    out["isBase64Encoded"] = true;
    r.payload = json::serialize(out);
    co_return r;
  }

  Reply call(http::verb method, const std::string& target, const json::object& body = {},
             const auth::Caller& caller = auth::root_caller(kAccount)) {
    net::Request req{method, target, 11};
    if (!body.empty()) req.body() = json::serialize(body);
    req.set(http::field::content_type, "application/json");
    req.prepare_payload();
    net::Target t = net::parse_target(target);
    auto fut = asio::co_spawn(io_, svc_->handle(req, t, caller), asio::use_future);
    return reply_of(fut.get());
  }

  // A request to an API's endpoint.
  Reply hit(const std::string& api_id, http::verb method, const std::string& target,
            const std::vector<std::pair<std::string, std::string>>& headers = {},
            const std::string& body = "", const auth::Caller* caller = nullptr) {
    net::Request req{method, target, 11};
    req.set(http::field::host, api_id + ".execute-api.us-east-1.localhost:4566");
    for (const auto& [k, v] : headers) req.insert(k, v);
    req.body() = body;
    req.prepare_payload();
    std::string path = target.substr(0, target.find('?'));
    net::Peer peer{"203.0.113.7", 40000, 4566};
    auto fut =
        asio::co_spawn(io_, svc_->execute(req, api_id, path, peer, caller), asio::use_future);
    return reply_of(fut.get());
  }

  // The event the echo function received, from its answer (the function sends it base64-encoded
  // with isBase64Encoded, so the gateway's decoding is part of what is checked).
  static json::object event_of(const Reply& r) {
    if (r.body.empty()) {
      ADD_FAILURE() << "not an echoed event: " << r.status << " " << r.raw;
      return json::object{{"version", ""}};
    }
    return r.body;
  }

  std::string create_api(const std::string& name) {
    Reply r = call(http::verb::post, "/v2/apis", {{"name", name}, {"protocolType", "HTTP"}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.str("apiId");
  }
  std::string create_integration(const std::string& api, const std::string& fn,
                                 const std::string& version = "2.0") {
    Reply r = call(http::verb::post, "/v2/apis/" + api + "/integrations",
                   {{"integrationType", "AWS_PROXY"},
                    {"integrationUri", fn},
                    {"payloadFormatVersion", version}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.str("integrationId");
  }
  std::string create_route(const std::string& api, const std::string& key,
                           const std::string& integration, const std::string& auth = "NONE") {
    Reply r = call(http::verb::post, "/v2/apis/" + api + "/routes",
                   {{"routeKey", key},
                    {"target", "integrations/" + integration},
                    {"authorizationType", auth}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return r.str("routeId");
  }
  void create_stage(const std::string& api, const std::string& name, bool auto_deploy,
                    json::object vars = {}) {
    Reply r = call(http::verb::post, "/v2/apis/" + api + "/stages",
                   {{"stageName", name}, {"autoDeploy", auto_deploy}, {"stageVariables", vars}});
    EXPECT_EQ(r.status, 201) << r.raw;
  }
  void set_mode(Mode m) {
    std::lock_guard lock(mu_);
    mode_ = m;
  }
  std::vector<std::string> calls() {
    std::lock_guard lock(mu_);
    return calls_;
  }

  std::string dir_;
  std::unique_ptr<storage::Store> store_;
  NodeConfig config_;
  FakeClock clock_{SystemTime(std::chrono::milliseconds(1584039838123))};
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  asio::thread_pool pool_{2};
  std::thread thread_;
  std::unique_ptr<ApiGatewayService> svc_;
  std::mutex mu_;
  Mode mode_ = Mode::kEcho;         // GUARDED_BY(mu_)
  std::vector<std::string> calls_;  // GUARDED_BY(mu_)
};

bool is_id(const std::string& s, size_t n) {
  return s.size() == n && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
         });
}

TEST_F(ServiceTest, QuickCreate) {
  Reply r = call(http::verb::post, "/v2/apis",
                 {{"name", "quick"}, {"protocolType", "HTTP"}, {"target", kEcho}});
  ASSERT_EQ(r.status, 201) << r.raw;
  const std::string id = r.str("apiId");
  EXPECT_TRUE(is_id(id, 10)) << id;
  EXPECT_EQ(r.str("name"), "quick");
  EXPECT_EQ(r.str("protocolType"), "HTTP");
  EXPECT_EQ(r.str("apiEndpoint"), "http://" + id + ".execute-api.us-east-1.localhost:4566");
  EXPECT_EQ(r.str("routeSelectionExpression"), "$request.method $request.path");
  EXPECT_FALSE(r.str("createdDate").empty());

  Reply routes = call(http::verb::get, "/v2/apis/" + id + "/routes");
  ASSERT_EQ(routes.status, 200);
  const json::array& ri = routes.body.at("items").as_array();
  ASSERT_EQ(ri.size(), 1u);
  EXPECT_EQ(ri[0].at("routeKey"), "$default");
  EXPECT_EQ(ri[0].at("apiGatewayManaged"), true);
  const std::string target(ri[0].at("target").as_string());
  ASSERT_TRUE(starts_with(target, "integrations/"));

  Reply integ = call(http::verb::get, "/v2/apis/" + id + "/" + target);
  ASSERT_EQ(integ.status, 200) << integ.raw;
  EXPECT_EQ(integ.str("integrationType"), "AWS_PROXY");
  EXPECT_EQ(integ.str("integrationUri"), kEcho);
  EXPECT_EQ(integ.str("payloadFormatVersion"), "2.0");
  EXPECT_EQ(integ.body.at("timeoutInMillis").as_int64(), 30000);
  EXPECT_TRUE(is_id(integ.str("integrationId"), 7));

  Reply stage = call(http::verb::get, "/v2/apis/" + id + "/stages/$default");
  ASSERT_EQ(stage.status, 200) << stage.raw;
  EXPECT_EQ(stage.body.at("autoDeploy"), true);

  // It serves at once, on every path.
  Reply got = hit(id, http::verb::get, "/any/path?q=1");
  EXPECT_EQ(got.status, 207) << got.raw;
  EXPECT_EQ(event_of(got).at("routeKey"), "$default");

  // A quick create with a route key.
  Reply k = call(
      http::verb::post, "/v2/apis",
      {{"name", "k"}, {"protocolType", "HTTP"}, {"target", kEcho}, {"routeKey", "GET /hello"}});
  ASSERT_EQ(k.status, 201) << k.raw;
  EXPECT_EQ(hit(k.str("apiId"), http::verb::get, "/hello").status, 207);
  EXPECT_EQ(hit(k.str("apiId"), http::verb::get, "/other").status, 404);
}

TEST_F(ServiceTest, Errors) {
  Reply ws = call(http::verb::post, "/v2/apis", {{"name", "ws"}, {"protocolType", "WEBSOCKET"}});
  EXPECT_EQ(ws.status, 400);
  EXPECT_EQ(ws.error_type, "BadRequestException");
  EXPECT_FALSE(ws.str("message").empty());
  EXPECT_EQ(call(http::verb::post, "/v2/apis", {{"protocolType", "HTTP"}}).status, 400);
  EXPECT_EQ(call(http::verb::post, "/v2/apis", {{"name", 5}, {"protocolType", "HTTP"}}).status,
            400);
  Reply bad_target = call(http::verb::post, "/v2/apis",
                          {{"name", "x"}, {"protocolType", "HTTP"}, {"target", "https://x"}});
  EXPECT_EQ(bad_target.status, 400);

  Reply missing = call(http::verb::get, "/v2/apis/nosuchapi1");
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.error_type, "NotFoundException");
  EXPECT_EQ(missing.str("message"), "Invalid API identifier specified 000000000000:nosuchapi1");
  EXPECT_EQ(call(http::verb::delete_, "/v2/apis/nosuchapi1").status, 404);

  const std::string api = create_api("errors");
  Reply r1 = call(http::verb::post, "/v2/apis/" + api + "/routes", {{"routeKey", "FETCH /x"}});
  EXPECT_EQ(r1.status, 400);
  EXPECT_EQ(r1.error_type, "BadRequestException");
  Reply r2 = call(http::verb::post, "/v2/apis/" + api + "/routes",
                  {{"routeKey", "GET /x"}, {"target", "integrations/nope123"}});
  EXPECT_EQ(r2.status, 400);
  Reply i1 = call(http::verb::post, "/v2/apis/" + api + "/integrations",
                  {{"integrationType", "AWS_PROXY"}, {"integrationUri", kEcho}});
  EXPECT_EQ(i1.status, 400) << "payloadFormatVersion is required";
  Reply i2 = call(http::verb::post, "/v2/apis/" + api + "/integrations",
                  {{"integrationType", "HTTP_PROXY"},
                   {"integrationUri", "https://example.com"},
                   {"payloadFormatVersion", "1.0"}});
  EXPECT_EQ(i2.status, 400);
  Reply i3 = call(http::verb::post, "/v2/apis/" + api + "/integrations",
                  {{"integrationType", "AWS_PROXY"},
                   {"integrationUri", kEcho},
                   {"payloadFormatVersion", "2.0"},
                   {"timeoutInMillis", 30001}});
  EXPECT_EQ(i3.status, 400);

  const std::string integ = create_integration(api, kEcho);
  const std::string route = create_route(api, "GET /x", integ);
  Reply dup = call(http::verb::post, "/v2/apis/" + api + "/routes", {{"routeKey", "GET /x"}});
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(dup.error_type, "ConflictException");
  Reply in_use = call(http::verb::delete_, "/v2/apis/" + api + "/integrations/" + integ);
  EXPECT_EQ(in_use.status, 409);
  EXPECT_EQ(call(http::verb::get, "/v2/apis/" + api + "/routes/nope123").error_type,
            "NotFoundException");
  create_stage(api, "dev", true);
  EXPECT_EQ(call(http::verb::post, "/v2/apis/" + api + "/stages", {{"stageName", "dev"}}).status,
            409);
  EXPECT_EQ(call(http::verb::post, "/v2/apis/" + api + "/stages", {{"stageName", "b@d"}}).status,
            400);

  // Route, then integration, go.
  EXPECT_EQ(call(http::verb::delete_, "/v2/apis/" + api + "/routes/" + route).status, 204);
  EXPECT_EQ(call(http::verb::delete_, "/v2/apis/" + api + "/integrations/" + integ).status, 204);
  EXPECT_EQ(call(http::verb::get, "/v2/apis/" + api + "/integrations/" + integ).status, 404);

  net::Request req{http::verb::post, "/v2/apis", 11};
  req.body() = "{not json";
  req.prepare_payload();
  net::Target t = net::parse_target("/v2/apis");
  auth::Caller root = auth::root_caller(kAccount);
  auto fut = asio::co_spawn(io_, svc_->handle(req, t, root), asio::use_future);
  Reply body = reply_of(fut.get());
  EXPECT_EQ(body.status, 400);
  EXPECT_EQ(body.error_type, "BadRequestException");
}

TEST_F(ServiceTest, UpdatesAndPaging) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.push_back(create_api("api" + std::to_string(i)));
  Reply p1 = call(http::verb::get, "/v2/apis?maxResults=2");
  ASSERT_EQ(p1.status, 200);
  EXPECT_EQ(p1.body.at("items").as_array().size(), 2u);
  const std::string token = p1.str("nextToken");
  ASSERT_FALSE(token.empty());
  Reply p2 = call(http::verb::get, "/v2/apis?maxResults=2&nextToken=" + token);
  EXPECT_EQ(p2.body.at("items").as_array().size(), 1u);
  EXPECT_FALSE(p2.body.contains("nextToken"));

  Reply u = call(http::verb::patch, "/v2/apis/" + ids[0],
                 {{"name", "renamed"},
                  {"description", "d"},
                  {"corsConfiguration", json::object{{"allowOrigins", json::array{"*"}}}}});
  ASSERT_EQ(u.status, 200) << u.raw;
  EXPECT_EQ(u.str("name"), "renamed");
  EXPECT_EQ(call(http::verb::get, "/v2/apis/" + ids[0]).str("description"), "d");

  const std::string integ = create_integration(ids[0], kEcho, "1.0");
  Reply ui = call(http::verb::patch, "/v2/apis/" + ids[0] + "/integrations/" + integ,
                  {{"payloadFormatVersion", "2.0"}, {"timeoutInMillis", 5000}});
  ASSERT_EQ(ui.status, 200) << ui.raw;
  EXPECT_EQ(ui.str("payloadFormatVersion"), "2.0");
  EXPECT_EQ(ui.body.at("timeoutInMillis").as_int64(), 5000);
  const std::string route = create_route(ids[0], "GET /a", integ);
  Reply ur =
      call(http::verb::patch, "/v2/apis/" + ids[0] + "/routes/" + route, {{"routeKey", "GET /b"}});
  ASSERT_EQ(ur.status, 200) << ur.raw;
  EXPECT_EQ(ur.str("routeKey"), "GET /b");

  EXPECT_EQ(call(http::verb::delete_, "/v2/apis/" + ids[1]).status, 204);
  EXPECT_EQ(call(http::verb::get, "/v2/apis/" + ids[1]).status, 404);
  EXPECT_EQ(call(http::verb::get, "/v2/apis").body.at("items").as_array().size(), 2u);
}

TEST_F(ServiceTest, PersistsAcrossRestart) {
  const std::string api = create_api("durable");
  const std::string integ = create_integration(api, kEcho);
  create_route(api, "GET /items/{id}", integ);
  create_stage(api, "prod", true, {{"color", "blue"}});

  svc_.reset();
  open_store();
  start_service();

  Reply got = call(http::verb::get, "/v2/apis/" + api);
  ASSERT_EQ(got.status, 200) << got.raw;
  EXPECT_EQ(got.str("name"), "durable");
  EXPECT_EQ(call(http::verb::get, "/v2/apis/" + api + "/routes").body.at("items").as_array().size(),
            1u);
  // Served from the cache start() filled.
  Reply r = hit(api, http::verb::get, "/prod/items/9");
  ASSERT_EQ(r.status, 207) << r.raw;
  json::object ev = event_of(r);
  EXPECT_EQ(ev.at("pathParameters"), (json::object{{"id", "9"}}));
  EXPECT_EQ(ev.at("stageVariables"), (json::object{{"color", "blue"}}));
}

TEST_F(ServiceTest, AuthorisationDenied) {
  const std::string api = create_api("guarded");
  auth::Caller nobody = user("nobody");
  Reply c = call(http::verb::post, "/v2/apis", {{"name", "x"}, {"protocolType", "HTTP"}}, nobody);
  EXPECT_EQ(c.status, 403);
  EXPECT_EQ(c.error_type, "AccessDeniedException");
  EXPECT_NE(c.str("message").find("apigateway:POST"), std::string::npos) << c.raw;
  EXPECT_NE(c.str("message").find("arn:aws:apigateway:us-east-1::/apis"), std::string::npos);
  // A denied caller learns nothing about what exists.
  EXPECT_EQ(call(http::verb::get, "/v2/apis/nosuchapi1", {}, nobody).status, 403);

  auth::Caller reader = user("reader", R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
      "Action":"apigateway:GET","Resource":"arn:aws:apigateway:us-east-1::/apis/*"}]})");
  EXPECT_EQ(call(http::verb::get, "/v2/apis/" + api, {}, reader).status, 200);
  EXPECT_EQ(call(http::verb::get, "/v2/apis/" + api + "/routes", {}, reader).status, 200);
  Reply del = call(http::verb::delete_, "/v2/apis/" + api, {}, reader);
  EXPECT_EQ(del.status, 403);
  EXPECT_NE(del.str("message").find("apigateway:DELETE"), std::string::npos);
  EXPECT_EQ(call(http::verb::get, "/v2/apis", {}, reader).status, 403);  // /apis is not /apis/*
  EXPECT_EQ(call(http::verb::get, "/v2/apis/" + api).status, 200);       // still there
}

TEST_F(ServiceTest, ExecuteV2EventFieldByField) {
  const std::string api = create_api("echo");
  const std::string integ = create_integration(api, kEcho);
  create_route(api, "POST /pets/{id}", integ);
  create_stage(api, "dev", true, {{"env", "test"}});

  Reply r = hit(api, http::verb::post, "/dev/pets/42?x=1&x=2&y=a%20b",
                {{"Content-Type", "application/json"},
                 {"Cookie", "a=1; b=2"},
                 {"X-Custom", "one"},
                 {"X-Custom", "two"},
                 {"User-Agent", "tester/1.0"}},
                R"({"name":"rex"})");
  ASSERT_EQ(r.status, 207) << r.raw;
  // The function's structured answer, mapped.
  EXPECT_EQ(r.headers["x-function"], "echo");
  EXPECT_EQ(r.headers["content-type"], "application/json");
  std::vector<std::string> cookies;
  for (const auto& f : r.headers) {
    if (iequals(f.name_string(), "set-cookie")) cookies.emplace_back(f.value());
  }
  EXPECT_EQ(cookies, (std::vector<std::string>{"s1=x; Path=/", "s2=y"}));
  EXPECT_FALSE(std::string(r.headers["apigw-requestid"]).empty());

  json::object ev = event_of(r);
  EXPECT_EQ(ev.at("version"), "2.0");
  EXPECT_EQ(ev.at("routeKey"), "POST /pets/{id}");
  EXPECT_EQ(ev.at("rawPath"), "/dev/pets/42");
  EXPECT_EQ(ev.at("rawQueryString"), "x=1&x=2&y=a%20b");
  EXPECT_EQ(ev.at("cookies"), (json::array{"a=1", "b=2"}));
  const json::object& h = ev.at("headers").as_object();
  EXPECT_EQ(h.at("x-custom"), "one,two");
  EXPECT_EQ(h.at("content-type"), "application/json");
  EXPECT_EQ(h.at("x-forwarded-for"), "203.0.113.7");
  EXPECT_EQ(h.at("x-forwarded-proto"), "http");
  EXPECT_TRUE(starts_with(std::string(h.at("x-amzn-trace-id").as_string()), "Root=1-"));
  EXPECT_FALSE(h.contains("cookie"));
  EXPECT_EQ(ev.at("queryStringParameters"), (json::object{{"x", "1,2"}, {"y", "a b"}}));
  EXPECT_EQ(ev.at("pathParameters"), (json::object{{"id", "42"}}));
  EXPECT_EQ(ev.at("stageVariables"), (json::object{{"env", "test"}}));
  EXPECT_EQ(ev.at("body"), R"({"name":"rex"})");
  EXPECT_EQ(ev.at("isBase64Encoded"), false);
  const json::object& ctx = ev.at("requestContext").as_object();
  EXPECT_EQ(ctx.at("accountId"), kAccount);
  EXPECT_EQ(ctx.at("apiId").as_string(), api);
  EXPECT_EQ(ctx.at("domainName").as_string(), api + ".execute-api.us-east-1.localhost");
  EXPECT_EQ(ctx.at("domainPrefix").as_string(), api);
  EXPECT_EQ(ctx.at("routeKey"), "POST /pets/{id}");
  EXPECT_EQ(ctx.at("stage"), "dev");
  EXPECT_EQ(ctx.at("time"), "12/Mar/2020:19:03:58 +0000");
  EXPECT_EQ(ctx.at("timeEpoch").as_int64(), 1584039838123);
  EXPECT_EQ(ctx.at("requestId").as_string(), std::string(r.headers["apigw-requestid"]));
  const json::object& hp = ctx.at("http").as_object();
  EXPECT_EQ(hp.at("method"), "POST");
  EXPECT_EQ(hp.at("path"), "/dev/pets/42");
  EXPECT_EQ(hp.at("protocol"), "HTTP/1.1");
  EXPECT_EQ(hp.at("sourceIp"), "203.0.113.7");
  EXPECT_EQ(hp.at("userAgent"), "tester/1.0");
  EXPECT_EQ(calls(), std::vector<std::string>{kEcho});

  // A binary body reaches the function base64-encoded.
  const std::string bytes("\x89PNG\x00\x01", 6);
  Reply b = hit(api, http::verb::post, "/dev/pets/1", {{"content-type", "image/png"}}, bytes);
  ASSERT_EQ(b.status, 207);
  json::object eb = event_of(b);
  EXPECT_EQ(eb.at("isBase64Encoded"), true);
  EXPECT_EQ(base64_decode(std::string(eb.at("body").as_string())), bytes);
}

TEST_F(ServiceTest, ExecuteV1) {
  const std::string api = create_api("v1");
  const std::string integ = create_integration(api, kEcho, "1.0");
  create_route(api, "GET /things/{proxy+}", integ);
  create_stage(api, "$default", true);
  Reply r = hit(api, http::verb::get, "/things/a/b?k=1&k=2", {{"X-M", "1"}, {"X-M", "2"}});
  ASSERT_EQ(r.status, 207) << r.raw;
  std::vector<std::string> cookies;
  for (const auto& f : r.headers) {
    if (iequals(f.name_string(), "set-cookie")) cookies.emplace_back(f.value());
  }
  EXPECT_EQ(cookies, (std::vector<std::string>{"v1=a", "v1=b"}));
  json::object ev = event_of(r);
  EXPECT_EQ(ev.at("version"), "1.0");
  EXPECT_EQ(ev.at("resource"), "/things/{proxy+}");
  EXPECT_EQ(ev.at("path"), "/things/a/b");
  EXPECT_EQ(ev.at("httpMethod"), "GET");
  EXPECT_EQ(ev.at("headers").as_object().at("x-m"), "2");
  EXPECT_EQ(ev.at("multiValueHeaders").as_object().at("x-m"), (json::array{"1", "2"}));
  EXPECT_EQ(ev.at("queryStringParameters"), (json::object{{"k", "2"}}));
  EXPECT_EQ(ev.at("multiValueQueryStringParameters"), (json::object{{"k", json::array{"1", "2"}}}));
  EXPECT_EQ(ev.at("pathParameters"), (json::object{{"proxy", "a/b"}}));
  EXPECT_TRUE(ev.at("stageVariables").is_null());
  EXPECT_TRUE(ev.at("body").is_null());
  const json::object& ctx = ev.at("requestContext").as_object();
  EXPECT_EQ(ctx.at("stage"), "$default");
  EXPECT_EQ(ctx.at("resourcePath"), "/things/{proxy+}");
  EXPECT_EQ(ctx.at("identity").as_object().at("sourceIp"), "203.0.113.7");
}

TEST_F(ServiceTest, ExecutePicksRoutesByPrecedence) {
  const std::string api = create_api("prec");
  const std::string echo = create_integration(api, kEcho);
  const std::string other = create_integration(api, kOther);
  create_route(api, "GET /pets/dog/1", echo);
  create_route(api, "GET /pets/dog/{id}", other);
  create_route(api, "ANY /{proxy+}", echo);
  create_stage(api, "$default", true);
  auto fn_of = [&](http::verb m, const std::string& path) {
    Reply r = hit(api, m, path);
    if (r.status != 207) return "status " + std::to_string(r.status);
    return std::string(r.headers["x-function"]) + " " +
           std::string(event_of(r).at("routeKey").as_string());
  };
  EXPECT_EQ(fn_of(http::verb::get, "/pets/dog/1"), "echo GET /pets/dog/1");
  EXPECT_EQ(fn_of(http::verb::get, "/pets/dog/2"), "other GET /pets/dog/{id}");
  EXPECT_EQ(fn_of(http::verb::delete_, "/pets/dog/2"), "echo ANY /{proxy+}");
  EXPECT_EQ(fn_of(http::verb::get, "/"), "status 404");
  Reply nf = hit(api, http::verb::get, "/");
  EXPECT_EQ(nf.raw, R"({"message":"Not Found"})");
  // A named stage that does not exist is a path of $default.
  EXPECT_EQ(fn_of(http::verb::get, "/nostage/x"), "echo ANY /{proxy+}");
}

TEST_F(ServiceTest, ExecuteErrors) {
  Reply none = hit("nosuchapi1", http::verb::get, "/");
  EXPECT_EQ(none.status, 404);
  EXPECT_EQ(none.raw, R"({"message":"Not Found"})");

  Reply q = call(http::verb::post, "/v2/apis",
                 {{"name", "e"}, {"protocolType", "HTTP"}, {"target", kEcho}});
  const std::string api = q.str("apiId");
  set_mode(Mode::kThrottle);
  Reply t = hit(api, http::verb::get, "/");
  EXPECT_EQ(t.status, 429);
  EXPECT_EQ(t.raw, R"({"message":"Too Many Requests"})");
  set_mode(Mode::kFunctionError);
  Reply f = hit(api, http::verb::get, "/");
  EXPECT_EQ(f.status, 502);
  EXPECT_EQ(f.raw, R"({"message":"Internal Server Error"})");
  set_mode(Mode::kMalformed);
  EXPECT_EQ(hit(api, http::verb::get, "/").status, 502);
  set_mode(Mode::kRefuse);
  Reply refused = hit(api, http::verb::get, "/");
  EXPECT_EQ(refused.status, 500);
  EXPECT_EQ(refused.raw, R"({"message":"Internal Server Error"})");
  set_mode(Mode::kShorthand);
  Reply s = hit(api, http::verb::get, "/");
  EXPECT_EQ(s.status, 200);
  EXPECT_EQ(s.raw, R"({"just":"data"})");
  EXPECT_EQ(s.headers["content-type"], "application/json");

  // A deleted API stops serving at once.
  ASSERT_EQ(call(http::verb::delete_, "/v2/apis/" + api).status, 204);
  EXPECT_EQ(hit(api, http::verb::get, "/").status, 404);
}

TEST_F(ServiceTest, StagesServeTheirDeployment) {
  const std::string api = create_api("deploy");
  const std::string integ = create_integration(api, kEcho);
  create_route(api, "GET /one", integ);
  create_stage(api, "v1", false);
  EXPECT_EQ(hit(api, http::verb::get, "/v1/one").status, 404);  // nothing deployed yet
  Reply d = call(http::verb::post, "/v2/apis/" + api + "/deployments", {{"stageName", "v1"}});
  ASSERT_EQ(d.status, 201) << d.raw;
  EXPECT_EQ(d.str("deploymentStatus"), "DEPLOYED");
  EXPECT_FALSE(d.body.contains("_routes"));
  EXPECT_EQ(call(http::verb::get, "/v2/apis/" + api + "/stages/v1").str("deploymentId"),
            d.str("deploymentId"));
  EXPECT_EQ(hit(api, http::verb::get, "/v1/one").status, 207);
  // A later route is not in v1's deployment until the next one.
  create_route(api, "GET /two", integ);
  EXPECT_EQ(hit(api, http::verb::get, "/v1/two").status, 404);
  ASSERT_EQ(
      call(http::verb::post, "/v2/apis/" + api + "/deployments", {{"stageName", "v1"}}).status,
      201);
  EXPECT_EQ(hit(api, http::verb::get, "/v1/two").status, 207);
  EXPECT_EQ(
      call(http::verb::get, "/v2/apis/" + api + "/deployments").body.at("items").as_array().size(),
      2u);
  Reply in_use =
      call(http::verb::delete_,
           "/v2/apis/" + api + "/deployments/" +
               call(http::verb::get, "/v2/apis/" + api + "/stages/v1").str("deploymentId"));
  EXPECT_EQ(in_use.status, 400);
}

TEST_F(ServiceTest, IamRoutes) {
  const std::string api = create_api("iam");
  const std::string integ = create_integration(api, kEcho);
  create_route(api, "GET /secure", integ, "AWS_IAM");
  create_stage(api, "$default", true);
  Reply unsigned_call = hit(api, http::verb::get, "/secure");
  EXPECT_EQ(unsigned_call.status, 403);
  EXPECT_EQ(unsigned_call.raw, R"({"message":"Forbidden"})");
  auth::Caller nobody = user("nobody");
  EXPECT_EQ(hit(api, http::verb::get, "/secure", {}, "", &nobody).status, 403);
  auth::Caller invoker = user("invoker", R"({"Version":"2012-10-17","Statement":[{"Effect":
      "Allow","Action":"execute-api:Invoke","Resource":"arn:aws:execute-api:us-east-1:*:*/*/GET/secure"}]})");
  Reply ok = hit(api, http::verb::get, "/secure", {}, "", &invoker);
  ASSERT_EQ(ok.status, 207) << ok.raw;
  const json::object ev = event_of(ok);
  const json::object& iam =
      ev.at("requestContext").as_object().at("authorizer").as_object().at("iam").as_object();
  EXPECT_EQ(iam.at("userArn"), "arn:aws:iam::000000000000:user/invoker");
  EXPECT_EQ(iam.at("accessKey"), "AKIAinvoker");
  EXPECT_EQ(iam.at("userId"), "AIDAinvoker");
}

TEST_F(ServiceTest, Cors) {
  const std::string api = create_api("cors");
  ASSERT_EQ(
      call(http::verb::patch, "/v2/apis/" + api,
           {{"corsConfiguration", json::object{{"allowOrigins", json::array{"https://app.example"}},
                                               {"allowMethods", json::array{"GET", "POST"}},
                                               {"allowHeaders", json::array{"content-type"}},
                                               {"exposeHeaders", json::array{"x-function"}},
                                               {"maxAge", 300}}}})
          .status,
      200);
  const std::string integ = create_integration(api, kEcho);
  create_route(api, "GET /data", integ);
  create_stage(api, "$default", true);
  Reply pre = hit(api, http::verb::options, "/data",
                  {{"Origin", "https://app.example"}, {"Access-Control-Request-Method", "GET"}});
  EXPECT_EQ(pre.status, 204);
  EXPECT_EQ(pre.headers["access-control-allow-origin"], "https://app.example");
  EXPECT_EQ(pre.headers["access-control-allow-methods"], "GET,POST");
  EXPECT_EQ(pre.headers["access-control-allow-headers"], "content-type");
  EXPECT_EQ(pre.headers["access-control-max-age"], "300");
  EXPECT_TRUE(calls().empty());  // answered by the gateway
  Reply other = hit(api, http::verb::options, "/data",
                    {{"Origin", "https://evil.example"}, {"Access-Control-Request-Method", "GET"}});
  EXPECT_EQ(other.status, 204);
  EXPECT_EQ(other.headers.count("access-control-allow-origin"), 0u);
  Reply get = hit(api, http::verb::get, "/data", {{"Origin", "https://app.example"}});
  EXPECT_EQ(get.status, 207);
  EXPECT_EQ(get.headers["access-control-allow-origin"], "https://app.example");
  EXPECT_EQ(get.headers["access-control-expose-headers"], "x-function");
}

TEST_F(ServiceTest, EndpointWithoutAPort) {
  config_.port = 0;
  Reply r = call(http::verb::post, "/v2/apis", {{"name", "p"}, {"protocolType", "HTTP"}});
  EXPECT_EQ(r.str("apiEndpoint"), "http://" + r.str("apiId") + ".execute-api.us-east-1.localhost");
  config_.endpoint_url = "http://127.0.0.1:39001";
  EXPECT_EQ(call(http::verb::get, "/v2/apis/" + r.str("apiId")).str("apiEndpoint"),
            "http://" + r.str("apiId") + ".execute-api.us-east-1.localhost:39001");
}

}  // namespace
}  // namespace nubo::apigateway

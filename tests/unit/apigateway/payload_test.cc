// The proxy payload formats: the 1.0 and 2.0 events built from a request, and the mapping of a
// function's answer (structured, shorthand, cookies, base64, multi-value, malformed).
#include "services/apigateway/payload.h"

#include <gtest/gtest.h>

#include "base/crypto.h"

namespace nubo::apigateway {
namespace {

// 2020-03-12T19:03:58.123Z
SystemTime t0() {
  return SystemTime(std::chrono::milliseconds(1584039838123));
}

HttpRequestView sample() {
  HttpRequestView r;
  r.method = "POST";
  r.raw_path = "/dev/pets/a%20b";
  r.raw_query = "parameter1=value1&parameter1=value2&parameter2=v%20x&flag";
  r.headers = {{"Content-Type", "application/json"},
               {"X-Multi", "one"},
               {"Cookie", "c1=a; c2=b"},
               {"x-multi", "two"},
               {"cookie", "c3=c"},
               {"User-Agent", "curl/8"}};
  r.body = R"({"hello":"world"})";
  r.source_ip = "192.0.2.1";
  r.user_agent = "curl/8";
  r.time = t0();
  return r;
}

EventContext context() {
  EventContext c;
  c.account_id = "000000000000";
  c.api_id = "abcde12345";
  c.domain_name = "abcde12345.execute-api.us-east-1.localhost";
  c.domain_prefix = "abcde12345";
  c.route_key = "POST /pets/{name}";
  c.stage = "dev";
  c.request_id = "req-1";
  c.resource_path = "/pets/{name}";
  c.path = "/pets/a b";
  c.path_parameters = {{"name", "a b"}};
  c.stage_variables = {{"env", "test"}};
  return c;
}

std::string str(const json::object& o, std::string_view k) {
  return std::string(o.at(k).as_string());
}

TEST(Payload, RequestTimeFormat) {
  EXPECT_EQ(format_request_time(t0()), "12/Mar/2020:19:03:58 +0000");
  EXPECT_EQ(format_request_time(SystemTime(std::chrono::seconds(0))), "01/Jan/1970:00:00:00 +0000");
}

TEST(Payload, EventV2Fields) {
  json::object ev = event_v2(sample(), context());
  EXPECT_EQ(str(ev, "version"), "2.0");
  EXPECT_EQ(str(ev, "routeKey"), "POST /pets/{name}");
  EXPECT_EQ(str(ev, "rawPath"), "/dev/pets/a%20b");
  EXPECT_EQ(str(ev, "rawQueryString"), "parameter1=value1&parameter1=value2&parameter2=v%20x&flag");
  EXPECT_EQ(ev.at("cookies"), (json::array{"c1=a", "c2=b", "c3=c"}));
  const json::object& h = ev.at("headers").as_object();
  EXPECT_EQ(str(h, "content-type"), "application/json");
  EXPECT_EQ(str(h, "x-multi"), "one,two");
  EXPECT_FALSE(h.contains("cookie"));
  EXPECT_FALSE(h.contains("Content-Type"));
  const json::object& q = ev.at("queryStringParameters").as_object();
  EXPECT_EQ(str(q, "parameter1"), "value1,value2");
  EXPECT_EQ(str(q, "parameter2"), "v x");
  EXPECT_EQ(str(q, "flag"), "");
  const json::object& ctx = ev.at("requestContext").as_object();
  EXPECT_EQ(str(ctx, "accountId"), "000000000000");
  EXPECT_EQ(str(ctx, "apiId"), "abcde12345");
  EXPECT_EQ(str(ctx, "domainName"), "abcde12345.execute-api.us-east-1.localhost");
  EXPECT_EQ(str(ctx, "domainPrefix"), "abcde12345");
  EXPECT_EQ(str(ctx, "requestId"), "req-1");
  EXPECT_EQ(str(ctx, "routeKey"), "POST /pets/{name}");
  EXPECT_EQ(str(ctx, "stage"), "dev");
  EXPECT_EQ(str(ctx, "time"), "12/Mar/2020:19:03:58 +0000");
  EXPECT_EQ(ctx.at("timeEpoch").as_int64(), 1584039838123);
  EXPECT_FALSE(ctx.contains("authorizer"));
  const json::object& hp = ctx.at("http").as_object();
  EXPECT_EQ(str(hp, "method"), "POST");
  EXPECT_EQ(str(hp, "path"), "/dev/pets/a b");
  EXPECT_EQ(str(hp, "protocol"), "HTTP/1.1");
  EXPECT_EQ(str(hp, "sourceIp"), "192.0.2.1");
  EXPECT_EQ(str(hp, "userAgent"), "curl/8");
  EXPECT_EQ(ev.at("pathParameters"), (json::object{{"name", "a b"}}));
  EXPECT_EQ(ev.at("stageVariables"), (json::object{{"env", "test"}}));
  EXPECT_EQ(str(ev, "body"), R"({"hello":"world"})");
  EXPECT_EQ(ev.at("isBase64Encoded"), false);
}

TEST(Payload, EventV2LeavesOutWhatIsEmpty) {
  HttpRequestView r;
  r.method = "GET";
  r.raw_path = "/";
  r.time = t0();
  EventContext c;
  c.iam =
      IamAuthorizer{"AKIA1", "000000000000", "AIDA1", "arn:aws:iam::000000000000:user/u", "AIDA1"};
  json::object ev = event_v2(r, c);
  for (const char* k :
       {"cookies", "queryStringParameters", "pathParameters", "stageVariables", "body"}) {
    EXPECT_FALSE(ev.contains(k)) << k;
  }
  EXPECT_EQ(ev.at("isBase64Encoded"), false);
  EXPECT_EQ(str(ev, "rawQueryString"), "");
  EXPECT_EQ(str(ev, "routeKey"), "$default");
  const json::object& iam =
      ev.at("requestContext").as_object().at("authorizer").as_object().at("iam").as_object();
  EXPECT_EQ(str(iam, "accessKey"), "AKIA1");
  EXPECT_EQ(str(iam, "userArn"), "arn:aws:iam::000000000000:user/u");
  EXPECT_TRUE(iam.at("cognitoIdentity").is_null());
}

TEST(Payload, BinaryBodiesAreBase64) {
  HttpRequestView r = sample();
  r.headers = {{"content-type", "application/octet-stream"}};
  r.body = std::string("\x00\x01\xff", 3);
  json::object ev = event_v2(r, context());
  EXPECT_EQ(ev.at("isBase64Encoded"), true);
  EXPECT_EQ(str(ev, "body"), base64_encode(r.body));
  // A text type that is not UTF-8, and no content type at all, are base64 too.
  r.headers = {{"content-type", "text/plain"}};
  r.body = "\xc3\x28";
  EXPECT_EQ(event_v2(r, context()).at("isBase64Encoded"), true);
  r.headers.clear();
  r.body = "plain";
  EXPECT_EQ(event_v2(r, context()).at("isBase64Encoded"), true);
  r.headers = {{"content-type", "text/html; charset=utf-8"}};
  EXPECT_EQ(event_v2(r, context()).at("isBase64Encoded"), false);
  EXPECT_EQ(str(event_v2(r, context()), "body"), "plain");
}

TEST(Payload, TextContentTypes) {
  EXPECT_TRUE(is_text_content_type("text/plain"));
  EXPECT_TRUE(is_text_content_type("Application/JSON; charset=utf-8"));
  EXPECT_TRUE(is_text_content_type("application/vnd.api+json"));
  EXPECT_TRUE(is_text_content_type("application/xml"));
  EXPECT_FALSE(is_text_content_type("application/x-www-form-urlencoded"));
  EXPECT_FALSE(is_text_content_type("image/png"));
  EXPECT_FALSE(is_text_content_type(""));
  EXPECT_TRUE(is_valid_utf8("h\xc3\xa9llo \xf0\x9f\x98\x80"));
  EXPECT_FALSE(is_valid_utf8("\xc0\xaf"));      // overlong
  EXPECT_FALSE(is_valid_utf8("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(is_valid_utf8("\xe2\x82"));      // truncated
}

TEST(Payload, EventV1Fields) {
  json::object ev = event_v1(sample(), context());
  EXPECT_EQ(str(ev, "version"), "1.0");
  EXPECT_EQ(str(ev, "resource"), "/pets/{name}");
  EXPECT_EQ(str(ev, "path"), "/pets/a b");
  EXPECT_EQ(str(ev, "httpMethod"), "POST");
  const json::object& h = ev.at("headers").as_object();
  EXPECT_EQ(str(h, "x-multi"), "two");
  EXPECT_EQ(str(h, "cookie"), "c3=c");
  EXPECT_EQ(ev.at("multiValueHeaders").as_object().at("x-multi"), (json::array{"one", "two"}));
  EXPECT_EQ(ev.at("multiValueHeaders").as_object().at("cookie"),
            (json::array{"c1=a; c2=b", "c3=c"}));
  EXPECT_EQ(str(ev.at("queryStringParameters").as_object(), "parameter1"), "value2");
  EXPECT_EQ(ev.at("multiValueQueryStringParameters").as_object().at("parameter1"),
            (json::array{"value1", "value2"}));
  const json::object& ctx = ev.at("requestContext").as_object();
  EXPECT_EQ(str(ctx, "httpMethod"), "POST");
  EXPECT_EQ(str(ctx, "path"), "/dev/pets/a b");
  EXPECT_EQ(str(ctx, "resourcePath"), "/pets/{name}");
  EXPECT_EQ(str(ctx, "requestTime"), "12/Mar/2020:19:03:58 +0000");
  EXPECT_EQ(ctx.at("requestTimeEpoch").as_int64(), 1584039838123);
  EXPECT_EQ(str(ctx, "stage"), "dev");
  EXPECT_EQ(str(ctx.at("identity").as_object(), "sourceIp"), "192.0.2.1");
  EXPECT_TRUE(ctx.at("identity").as_object().at("userArn").is_null());
  EXPECT_EQ(ev.at("pathParameters"), (json::object{{"name", "a b"}}));
  EXPECT_EQ(str(ev, "body"), R"({"hello":"world"})");
  EXPECT_EQ(ev.at("isBase64Encoded"), false);

  HttpRequestView bare;
  bare.method = "GET";
  bare.raw_path = "/x";
  json::object e2 = event_v1(bare, EventContext{});
  for (const char* k : {"queryStringParameters", "multiValueQueryStringParameters",
                        "pathParameters", "stageVariables", "body"}) {
    EXPECT_TRUE(e2.at(k).is_null()) << k;
  }
}

std::string header(const ProxyResponse& r, std::string_view name) {
  std::string out;
  for (const auto& [k, v] : r.headers) {
    if (k == name) out += (out.empty() ? "" : "|") + v;
  }
  return out;
}

TEST(Payload, ResponseV2Structured) {
  auto r = response_v2(R"({"statusCode":201,"headers":{"x-a":"1","x-n":5,"x-b":true},
      "cookies":["a=1; Secure","b=2"],"body":"made","isBase64Encoded":false})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(header(*r, "x-a"), "1");
  EXPECT_EQ(header(*r, "x-n"), "5");
  EXPECT_EQ(header(*r, "x-b"), "true");
  EXPECT_EQ(header(*r, "set-cookie"), "a=1; Secure|b=2");
  EXPECT_EQ(r->body, "made");

  auto b = response_v2(R"({"statusCode":200,"body":")" + base64_encode(std::string("\0\xff", 2)) +
                       R"(","isBase64Encoded":true})");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->body, std::string("\0\xff", 2));
  EXPECT_EQ(header(*b, "content-type"), "");
}

TEST(Payload, ResponseV2Shorthand) {
  auto s = response_v2(R"("Hello from Lambda!")");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->status, 200);
  EXPECT_EQ(s->body, "Hello from Lambda!");
  EXPECT_EQ(header(*s, "content-type"), "application/json");
  auto o = response_v2(R"({"message":"Hello from Lambda!"})");
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->status, 200);
  EXPECT_EQ(o->body, R"({"message":"Hello from Lambda!"})");
  auto n = response_v2("42");
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->body, "42");
  auto a = response_v2(R"([1,2])");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->body, "[1,2]");
}

TEST(Payload, ResponseV2Malformed) {
  for (const char* bad :
       {"not json", R"({"statusCode":"200"})", R"({"statusCode":99})",
        R"({"statusCode":200,"body":{"a":1}})", R"({"statusCode":200,"headers":{"x":"a\r\nb: c"}})",
        R"({"statusCode":200,"headers":{"x":["a"]}})", R"({"statusCode":200,"cookies":"a=1"})",
        R"({"statusCode":200,"body":"%%%","isBase64Encoded":true})", R"({"statusCode":200.5})"}) {
    auto r = response_v2(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().status, 502) << bad;
    }
  }
}

TEST(Payload, ResponseV1) {
  auto r = response_v1(R"({"statusCode":404,"headers":{"x-a":"1","x-m":"single"},
      "multiValueHeaders":{"x-m":["m1","m2"],"set-cookie":["a=1","b=2"]},"body":"gone"})");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(header(*r, "x-a"), "1");
  EXPECT_EQ(header(*r, "x-m"), "m1|m2");
  EXPECT_EQ(header(*r, "set-cookie"), "a=1|b=2");
  EXPECT_EQ(r->body, "gone");
  auto empty = response_v1(R"({"statusCode":204})");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->body, "");
  // 1.0 assumes nothing: no shorthand.
  EXPECT_FALSE(response_v1(R"("hello")").ok());
  EXPECT_FALSE(response_v1(R"({"body":"x"})").ok());
  EXPECT_FALSE(response_v1(R"({"statusCode":200,"multiValueHeaders":{"a":"b"}})").ok());
  EXPECT_FALSE(response_v1("{").ok());
}

TEST(Payload, GatewayResponseAndHttp) {
  ProxyResponse g = gateway_response(404, "Not Found");
  EXPECT_EQ(g.body, R"({"message":"Not Found"})");
  net::Request req{net::http::verb::get, "/", 11};
  ProxyResponse r;
  r.status = 201;
  r.headers = {{"set-cookie", "a=1"}, {"set-cookie", "b=2"}, {"content-length", "999"}};
  r.body = "abc";
  net::Response res = to_http(req, r);
  EXPECT_EQ(res.result_int(), 201u);
  EXPECT_EQ(res.count("set-cookie"), 2u);
  EXPECT_EQ(res[net::http::field::content_length], "3");
  EXPECT_EQ(res.body(), "abc");
}

TEST(Payload, RequestViewOfBeast) {
  net::Request req{net::http::verb::put, "/p/x?a=1&b=2", 11};
  req.set("user-agent", "ua/1");
  req.insert("x-r", "1");
  req.insert("x-r", "2");
  req.body() = "data";
  net::Peer peer{"10.0.0.9", 5555, 4566};
  HttpRequestView v = request_view(req, "/p/x", peer, t0());
  EXPECT_EQ(v.method, "PUT");
  EXPECT_EQ(v.raw_path, "/p/x");
  EXPECT_EQ(v.raw_query, "a=1&b=2");
  EXPECT_EQ(v.source_ip, "10.0.0.9");
  EXPECT_EQ(v.user_agent, "ua/1");
  EXPECT_EQ(v.body, "data");
  EXPECT_EQ(std::count_if(v.headers.begin(), v.headers.end(),
                          [](const auto& h) { return h.first == "x-r"; }),
            2);
}

}  // namespace
}  // namespace nubo::apigateway

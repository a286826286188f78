// Route keys and AWS's route precedence ("Routing API requests").
#include "services/apigateway/routes.h"

#include <gtest/gtest.h>

namespace nubo::apigateway {
namespace {

std::vector<RouteKey> keys(std::initializer_list<const char*> ks) {
  std::vector<RouteKey> out;
  for (const char* k : ks) {
    auto r = parse_route_key(k);
    EXPECT_TRUE(r.ok()) << k;
    if (r.ok()) out.push_back(*r);
  }
  return out;
}

// The path of the route that serves method + path, or "-" when none.
std::string pick(const std::vector<RouteKey>& routes, const char* method, const char* path) {
  auto m = match_route(routes, method, path);
  if (!m) return "-";
  const RouteKey& k = routes[m->index];
  return k.is_default ? "$default" : k.method + " " + k.path;
}

TEST(Routes, ParsesKeys) {
  auto r = parse_route_key("GET /pets/{petId}/toys/{proxy+}");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->method, "GET");
  ASSERT_EQ(r->segments.size(), 4u);
  EXPECT_EQ(r->segments[1].kind, PathSegment::Kind::kParam);
  EXPECT_EQ(r->segments[1].text, "petId");
  EXPECT_EQ(r->segments[3].kind, PathSegment::Kind::kGreedy);
  EXPECT_EQ(r->segments[3].text, "proxy");
  EXPECT_TRUE(parse_route_key("$default")->is_default);
  EXPECT_TRUE(parse_route_key("ANY /")->segments.empty());
  for (const char* bad : {"GET", "FETCH /x", "GET x", "GET /{a+}/b", "GET /{}", "GET /a{b}",
                          "GET /{a}/{a}", "get /x", "$other", "GET /a b"}) {
    auto e = parse_route_key(bad);
    EXPECT_FALSE(e.ok()) << bad;
    if (!e.ok()) {
      EXPECT_EQ(e.error().code, "BadRequestException");
    }
  }
}

// The table of "Routing API requests".
TEST(Routes, AwsPrecedence) {
  auto routes = keys(
      {"$default", "ANY /{proxy+}", "GET /pets/{proxy+}", "GET /pets/dog/{id}", "GET /pets/dog/1"});
  EXPECT_EQ(pick(routes, "GET", "/pets/dog/1"), "GET /pets/dog/1");
  EXPECT_EQ(pick(routes, "GET", "/pets/dog/2"), "GET /pets/dog/{id}");
  EXPECT_EQ(pick(routes, "GET", "/pets/cat/1"), "GET /pets/{proxy+}");
  EXPECT_EQ(pick(routes, "GET", "/test/1"), "ANY /{proxy+}");
  EXPECT_EQ(pick(routes, "POST", "/pets/dog/1"), "ANY /{proxy+}");
  EXPECT_EQ(pick(routes, "GET", "/"), "$default");  // a greedy variable needs a segment
}

TEST(Routes, MethodBeatsAnyOnTheSamePath) {
  auto routes = keys({"ANY /items/{id}", "GET /items/{id}", "ANY /items"});
  EXPECT_EQ(pick(routes, "GET", "/items/7"), "GET /items/{id}");
  EXPECT_EQ(pick(routes, "DELETE", "/items/7"), "ANY /items/{id}");
  EXPECT_EQ(pick(routes, "PUT", "/items"), "ANY /items");
  EXPECT_EQ(pick(routes, "GET", "/items/7/x"), "-");
  EXPECT_EQ(pick(routes, "GET", "/other"), "-");  // no $default
}

TEST(Routes, LongerGreedyPrefixWins) {
  auto routes = keys({"GET /{proxy+}", "GET /a/{proxy+}", "GET /a/b/{rest+}"});
  EXPECT_EQ(pick(routes, "GET", "/a/b/c/d"), "GET /a/b/{rest+}");
  EXPECT_EQ(pick(routes, "GET", "/a/x"), "GET /a/{proxy+}");
  EXPECT_EQ(pick(routes, "GET", "/z"), "GET /{proxy+}");
}

TEST(Routes, PathParametersAreDecoded) {
  auto routes = keys({"GET /users/{id}/files/{path+}"});
  auto m = match_route(routes, "GET", "/users/a%20b/files/x/y%2Fz.txt");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->path_parameters.at("id"), "a b");
  EXPECT_EQ(m->path_parameters.at("path"), "x/y/z.txt");
  // An empty segment does not fill a variable.
  EXPECT_FALSE(match_route(routes, "GET", "/users//files/x"));
}

}  // namespace
}  // namespace nubo::apigateway

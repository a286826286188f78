// Function URL CORS: which requests are preflights, Lambda's own answer to one, and the headers
// it adds to the function's response to any other request from an Origin.
#include "services/lambda/url_cors.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace nubo::lambda {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr const char* kShop = "https://shop.example.com";

CorsRequest preflight(std::string origin, std::string method = "POST") {
  return CorsRequest{"OPTIONS", std::move(origin), std::move(method), ""};
}

CorsRequest actual(std::string origin, std::string method = "GET") {
  return CorsRequest{std::move(method), std::move(origin), "", ""};
}

FunctionUrlCors origins(std::vector<std::string> list) {
  FunctionUrlCors c;
  c.allow_origins = std::move(list);
  return c;
}

// The value of the only header called name, "" when there is none; fails on two.
std::string header(const HeaderList& h, const std::string& name) {
  std::string value;
  int n = 0;
  for (const auto& [k, v] : h) {
    if (k == name) {
      value = v;
      ++n;
    }
  }
  EXPECT_LE(n, 1) << name;
  return value;
}

bool has(const HeaderList& h, const std::string& name) {
  for (const auto& kv : h) {
    if (kv.first == name) return true;
  }
  return false;
}

TEST(UrlCorsTest, PreflightIsOptionsWithOriginAndRequestMethod) {
  EXPECT_TRUE(is_preflight(preflight(kShop)));
  EXPECT_TRUE(is_preflight(CorsRequest{"options", kShop, "PUT", ""}));
  EXPECT_FALSE(is_preflight(CorsRequest{"OPTIONS", kShop, "", ""}));  // a plain OPTIONS
  EXPECT_FALSE(is_preflight(CorsRequest{"OPTIONS", "", "POST", ""}));
  EXPECT_FALSE(is_preflight(CorsRequest{"POST", kShop, "POST", ""}));
  EXPECT_FALSE(is_preflight(CorsRequest{}));
}

TEST(UrlCorsTest, PreflightAnswerCarriesTheWholeConfiguration) {
  FunctionUrlCors c = origins({kShop});
  c.allow_methods = std::vector<std::string>{"GET", "POST"};
  c.allow_headers = std::vector<std::string>{"authorization", "content-type", "x-api-key"};
  c.max_age = 600;
  c.expose_headers = std::vector<std::string>{"x-request-id"};  // not a preflight header

  EXPECT_THAT(
      preflight_headers(c, preflight(kShop, "POST")),
      ElementsAre(Pair("Vary", "Origin"), Pair("Access-Control-Allow-Origin", kShop),
                  Pair("Access-Control-Allow-Headers", "authorization,content-type,x-api-key"),
                  Pair("Access-Control-Allow-Methods", "GET,POST"),
                  Pair("Access-Control-Max-Age", "600")));
  EXPECT_EQ(kPreflightStatus, 200);
}

TEST(UrlCorsTest, PreflightFromAnOriginOutsideTheListGetsNoCorsHeaders) {
  FunctionUrlCors c = origins({kShop, "http://localhost:60905"});
  c.allow_methods = std::vector<std::string>{"*"};
  EXPECT_THAT(preflight_headers(c, preflight("https://attacker.example.org")), IsEmpty());
  EXPECT_THAT(preflight_headers(c, preflight("https://shop.example.com:8443")), IsEmpty());
  EXPECT_THAT(preflight_headers(c, preflight("http://shop.example.com")), IsEmpty());
  // A suffix or a subdomain is a different origin.
  EXPECT_THAT(preflight_headers(c, preflight("https://evil.shop.example.com")), IsEmpty());
  EXPECT_EQ(header(preflight_headers(c, preflight("http://localhost:60905")),
                   "Access-Control-Allow-Origin"),
            "http://localhost:60905");
}

TEST(UrlCorsTest, OriginsCompareWithoutCase) {
  FunctionUrlCors c = origins({"https://Shop.Example.com"});
  EXPECT_TRUE(origin_allowed(c, kShop));
  EXPECT_TRUE(origin_allowed(c, "HTTPS://SHOP.EXAMPLE.COM"));
  // The answer echoes the origin the request sent, not the configured spelling.
  EXPECT_EQ(header(response_headers(c, actual(kShop)), "Access-Control-Allow-Origin"), kShop);
}

TEST(UrlCorsTest, NoPatternsBeyondTheWildcard) {
  EXPECT_FALSE(origin_allowed(origins({"https://*.example.com"}), kShop));
  EXPECT_FALSE(origin_allowed(origins({"https://*"}), kShop));
  EXPECT_FALSE(origin_allowed(origins({}), kShop));
  EXPECT_FALSE(origin_allowed(FunctionUrlCors{}, kShop));
  EXPECT_FALSE(origin_allowed(origins({"*"}), ""));
}

TEST(UrlCorsTest, WildcardOriginWithoutCredentialsEchoesTheOrigin) {
  FunctionUrlCors c = origins({"*"});
  HeaderList h = preflight_headers(c, preflight("https://anywhere.example.org"));
  EXPECT_EQ(header(h, "Access-Control-Allow-Origin"), "https://anywhere.example.org");
  EXPECT_EQ(header(h, "Vary"), "Origin");
  EXPECT_FALSE(has(h, "Access-Control-Allow-Credentials"));

  h = response_headers(c, actual("https://anywhere.example.org"));
  EXPECT_EQ(header(h, "Access-Control-Allow-Origin"), "https://anywhere.example.org");
  EXPECT_FALSE(has(h, "Access-Control-Allow-Credentials"));
}

TEST(UrlCorsTest, WildcardOriginWithCredentialsEchoesTheOriginAndAllowsCredentials) {
  FunctionUrlCors c = origins({"*"});
  c.allow_credentials = true;
  HeaderList h = preflight_headers(c, preflight(kShop));
  EXPECT_EQ(header(h, "Access-Control-Allow-Origin"), kShop);
  EXPECT_EQ(header(h, "Access-Control-Allow-Credentials"), "true");

  h = response_headers(c, actual(kShop));
  EXPECT_EQ(header(h, "Access-Control-Allow-Origin"), kShop);
  EXPECT_EQ(header(h, "Access-Control-Allow-Credentials"), "true");
}

TEST(UrlCorsTest, CredentialsFalseSendsNoCredentialsHeader) {
  FunctionUrlCors c = origins({kShop});
  c.allow_credentials = false;
  EXPECT_FALSE(has(preflight_headers(c, preflight(kShop)), "Access-Control-Allow-Credentials"));
  EXPECT_FALSE(has(response_headers(c, actual(kShop)), "Access-Control-Allow-Credentials"));
}

TEST(UrlCorsTest, PreflightMethodMustBeAllowed) {
  FunctionUrlCors c = origins({kShop});
  c.allow_methods = std::vector<std::string>{"GET", "put"};
  EXPECT_THAT(preflight_headers(c, preflight(kShop, "DELETE")), IsEmpty());
  EXPECT_THAT(preflight_headers(c, preflight(kShop, "POST")), IsEmpty());
  // Methods compare without case; the configured spelling is what is sent.
  EXPECT_EQ(header(preflight_headers(c, preflight(kShop, "PUT")), "Access-Control-Allow-Methods"),
            "GET,put");
  EXPECT_EQ(header(preflight_headers(c, preflight(kShop, "get")), "Access-Control-Allow-Origin"),
            kShop);
}

TEST(UrlCorsTest, WildcardMethodAllowsAnyAndIsSentAsConfigured) {
  FunctionUrlCors c = origins({kShop});
  c.allow_methods = std::vector<std::string>{"*"};
  HeaderList h = preflight_headers(c, preflight(kShop, "PATCH"));
  EXPECT_EQ(header(h, "Access-Control-Allow-Methods"), "*");
  EXPECT_EQ(header(h, "Access-Control-Allow-Origin"), kShop);
}

TEST(UrlCorsTest, AbsentOrEmptyListsLeaveTheirHeadersOff) {
  FunctionUrlCors c = origins({kShop});  // no methods, headers, max-age or credentials
  EXPECT_THAT(preflight_headers(c, preflight(kShop, "POST")),
              ElementsAre(Pair("Vary", "Origin"), Pair("Access-Control-Allow-Origin", kShop)));

  c.allow_headers = std::vector<std::string>{};
  c.expose_headers = std::vector<std::string>{};
  EXPECT_FALSE(has(preflight_headers(c, preflight(kShop)), "Access-Control-Allow-Headers"));
  EXPECT_FALSE(has(response_headers(c, actual(kShop)), "Access-Control-Expose-Headers"));

  // An empty AllowMethods names no method, so no preflight is allowed.
  c.allow_methods = std::vector<std::string>{};
  EXPECT_THAT(preflight_headers(c, preflight(kShop, "GET")), IsEmpty());
}

TEST(UrlCorsTest, RequestedHeadersAreAnsweredWithTheConfiguredList) {
  FunctionUrlCors c = origins({kShop});
  c.allow_headers = std::vector<std::string>{"*"};
  CorsRequest req = preflight(kShop);
  req.request_headers = "authorization,x-custom";
  EXPECT_EQ(header(preflight_headers(c, req), "Access-Control-Allow-Headers"), "*");

  c.allow_headers = std::vector<std::string>{"content-type"};
  // Not checked by Lambda: the browser refuses x-custom on seeing the list.
  EXPECT_EQ(header(preflight_headers(c, req), "Access-Control-Allow-Headers"), "content-type");
}

TEST(UrlCorsTest, MaxAgeOnlyWhenSet) {
  FunctionUrlCors c = origins({kShop});
  EXPECT_FALSE(has(preflight_headers(c, preflight(kShop)), "Access-Control-Max-Age"));
  c.max_age = 0;
  EXPECT_EQ(header(preflight_headers(c, preflight(kShop)), "Access-Control-Max-Age"), "0");
  c.max_age = 86400;
  EXPECT_EQ(header(preflight_headers(c, preflight(kShop)), "Access-Control-Max-Age"), "86400");
  // Never on an actual response.
  EXPECT_FALSE(has(response_headers(c, actual(kShop)), "Access-Control-Max-Age"));
}

TEST(UrlCorsTest, ActualResponseGetsOriginCredentialsExposeAndVary) {
  FunctionUrlCors c = origins({kShop});
  c.allow_credentials = true;
  c.expose_headers = std::vector<std::string>{"x-request-id", "x-page-count"};
  c.allow_methods = std::vector<std::string>{"GET"};
  c.allow_headers = std::vector<std::string>{"authorization"};
  c.max_age = 300;
  EXPECT_THAT(response_headers(c, actual(kShop, "POST")),
              ElementsAre(Pair("Vary", "Origin"), Pair("Access-Control-Allow-Origin", kShop),
                          Pair("Access-Control-Allow-Credentials", "true"),
                          Pair("Access-Control-Expose-Headers", "x-request-id,x-page-count")));
}

TEST(UrlCorsTest, ActualRequestWithoutOrRefusedOriginGetsNothing) {
  FunctionUrlCors c = origins({"*"});
  c.expose_headers = std::vector<std::string>{"x-request-id"};
  c.allow_credentials = true;
  EXPECT_THAT(response_headers(c, actual("")), IsEmpty());

  c.allow_origins = std::vector<std::string>{kShop};
  EXPECT_THAT(response_headers(c, actual("https://attacker.example.org")), IsEmpty());

  // A Cors block naming no origins allows none, whatever else it says.
  FunctionUrlCors only_expose;
  only_expose.expose_headers = std::vector<std::string>{"x-request-id"};
  EXPECT_THAT(response_headers(only_expose, actual(kShop)), IsEmpty());
}

TEST(UrlCorsTest, OptionsThatIsNotAPreflightIsAnActualRequest) {
  FunctionUrlCors c = origins({kShop});
  c.expose_headers = std::vector<std::string>{"allow"};
  CorsRequest req = actual(kShop, "OPTIONS");
  ASSERT_FALSE(is_preflight(req));
  EXPECT_THAT(response_headers(c, req),
              ElementsAre(Pair("Vary", "Origin"), Pair("Access-Control-Allow-Origin", kShop),
                          Pair("Access-Control-Expose-Headers", "allow")));
}

}  // namespace
}  // namespace nubo::lambda

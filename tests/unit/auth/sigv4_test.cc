#include "auth/sigv4.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "auth/auth_errors.h"
#include "auth/credentials.h"
#include "base/clock.h"
#include "base/crypto.h"

namespace nubo::auth {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// "20150830T123600Z" -> a time point (test-side parser, independent of the library's).
SystemTime at(const std::string& iso) {
  std::tm tm{};
  tm.tm_year = std::stoi(iso.substr(0, 4)) - 1900;
  tm.tm_mon = std::stoi(iso.substr(4, 2)) - 1;
  tm.tm_mday = std::stoi(iso.substr(6, 2));
  tm.tm_hour = std::stoi(iso.substr(9, 2));
  tm.tm_min = std::stoi(iso.substr(11, 2));
  tm.tm_sec = std::stoi(iso.substr(13, 2));
  return std::chrono::system_clock::from_time_t(timegm(&tm));
}

// A provider with any number of key pairs (the library's own one holds only the root pair).
class MapCredentialProvider final : public CredentialProvider {
 public:
  void add(Credentials c) { keys_[c.access_key_id] = std::move(c); }
  std::optional<Credentials> lookup(std::string_view id) const override {
    auto it = keys_.find(std::string(id));
    if (it == keys_.end()) return std::nullopt;
    return it->second;
  }

 private:
  std::map<std::string, Credentials> keys_;
};

std::string flip_char(std::string s, size_t pos) {
  s[pos] = s[pos] == 'a' ? 'b' : 'a';
  return s;
}

// ================================================================================================
// The AWS SigV4 test suite (signature-v4-test-suite, 2015 edition: AKIDEXAMPLE, us-east-1,
// service "service", 20150830T123600Z), as published by AWS and carried by the SDKs (e.g. the
// .req/.creq/.sts/.authz files of aws-sdk-js-v3's signature-v4 fixture and vkill's
// swift-aws-sigv4-official-test-suite).
// ================================================================================================

constexpr char kSuiteAkid[] = "AKIDEXAMPLE";
constexpr char kSuiteSecret[] = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
constexpr char kSuiteDate[] = "20150830T123600Z";
constexpr char kSuiteToken[] =
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPf"
    "IeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ"
    "0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDr"
    "ypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
constexpr char kEmptyHash[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct SuiteCase {
  std::string name;
  std::string method;
  std::string path;   // raw path as the .req has it
  std::string query;  // raw query, without '?'
  Headers headers;    // the .req's headers (no Authorization)
  std::string body;
  std::string creq;            // .creq
  std::string sts_hash;        // last line of .sts
  std::string signed_headers;  // from .authz
  std::string signature;       // from .authz
};

std::ostream& operator<<(std::ostream& os, const SuiteCase& c) {
  return os << c.name;
}

Headers host_date() {
  return {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", kSuiteDate}};
}

Headers with(std::vector<std::pair<std::string, std::string>> middle) {
  Headers h = {{"Host", "example.amazonaws.com"}};
  for (auto& kv : middle) h.push_back(kv);
  h.emplace_back("X-Amz-Date", kSuiteDate);
  return h;
}

// The canonical request of the many cases that differ only in method, URI and query.
std::string plain_creq(const std::string& method, const std::string& uri,
                       const std::string& query) {
  return method + "\n" + uri + "\n" + query +
         "\n"
         "host:example.amazonaws.com\n"
         "x-amz-date:20150830T123600Z\n"
         "\n"
         "host;x-amz-date\n" +
         kEmptyHash;
}

std::vector<SuiteCase> suite_cases() {
  const std::string unreserved =
      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  return {
      {"get-vanilla", "GET", "/", "", host_date(), "", plain_creq("GET", "/", ""),
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-vanilla-query", "GET", "/", "", host_date(), "", plain_creq("GET", "/", ""),
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-vanilla-empty-query-key", "GET", "/", "Param1=value1", host_date(), "",
       plain_creq("GET", "/", "Param1=value1"),
       "1e24db194ed7d0eec2de28d7369675a243488e08526e8c1c73571282f7c517ab", "host;x-amz-date",
       "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
      {"get-vanilla-query-order-key", "GET", "/", "Param1=value2&Param1=Value1", host_date(), "",
       plain_creq("GET", "/", "Param1=Value1&Param1=value2"),
       "704b4cef673542d84cdff252633f065e8daeba5f168b77116f8b1bcaf3d38f89", "host;x-amz-date",
       "eedbc4e291e521cf13422ffca22be7d2eb8146eecf653089df300a15b2382bd1"},
      {"get-vanilla-query-order-key-case", "GET", "/", "Param2=value2&Param1=value1", host_date(),
       "", plain_creq("GET", "/", "Param1=value1&Param2=value2"),
       "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0", "host;x-amz-date",
       "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
      {"get-vanilla-query-order-value", "GET", "/", "Param1=value2&Param1=value1", host_date(), "",
       plain_creq("GET", "/", "Param1=value1&Param1=value2"),
       "c968629d70850097a2d8781c9bf7edcb988b04cac14cca9be4acc3595f884606", "host;x-amz-date",
       "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"},
      {"get-vanilla-query-unreserved", "GET", "/", unreserved + "=" + unreserved, host_date(), "",
       plain_creq("GET", "/", unreserved + "=" + unreserved),
       "c30d4703d9f799439be92736156d47ccfb2d879ddf56f5befa6d1d6aab979177", "host;x-amz-date",
       "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
      {"get-vanilla-utf8-query", "GET", "/", "\xE1\x88\xB4=bar", host_date(), "",
       plain_creq("GET", "/", "%E1%88%B4=bar"),
       "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073", "host;x-amz-date",
       "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
      {"get-unreserved", "GET", "/" + unreserved, "", host_date(), "",
       plain_creq("GET", "/" + unreserved, ""),
       "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9", "host;x-amz-date",
       "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
      {"get-utf8", "GET", "/\xE1\x88\xB4", "", host_date(), "", plain_creq("GET", "/%E1%88%B4", ""),
       "2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102", "host;x-amz-date",
       "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
      {"get-header-key-duplicate", "GET", "/", "",
       with({{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}}), "",
       "GET\n/\n\n"
       "host:example.amazonaws.com\n"
       "my-header1:value2,value2,value1\n"
       "x-amz-date:20150830T123600Z\n\n"
       "host;my-header1;x-amz-date\n" +
           std::string(kEmptyHash),
       "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c",
       "host;my-header1;x-amz-date",
       "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
      // The .req folds My-Header1 over three lines (obsolete line folding); a parser that keeps
      // continuation lines hands them over as three values, which is what this case feeds in.
      {"get-header-value-multiline", "GET", "/", "",
       with({{"My-Header1", "value1"}, {"My-Header1", "value2"}, {"My-Header1", "value3"}}), "",
       "GET\n/\n\n"
       "host:example.amazonaws.com\n"
       "my-header1:value1,value2,value3\n"
       "x-amz-date:20150830T123600Z\n\n"
       "host;my-header1;x-amz-date\n" +
           std::string(kEmptyHash),
       "b7b6cbfd8a0430b78891e986784da2630c8a135a8595cec25b26ea94f926ee55",
       "host;my-header1;x-amz-date",
       "ba17b383a53190154eb5fa66a1b836cc297cc0a3d70a5d00705980573d8ff790"},
      {"get-header-value-order", "GET", "/", "",
       with({{"My-Header1", "value4"},
             {"My-Header1", "value1"},
             {"My-Header1", "value3"},
             {"My-Header1", "value2"}}),
       "",
       "GET\n/\n\n"
       "host:example.amazonaws.com\n"
       "my-header1:value4,value1,value3,value2\n"
       "x-amz-date:20150830T123600Z\n\n"
       "host;my-header1;x-amz-date\n" +
           std::string(kEmptyHash),
       "31ce73cd3f3d9f66977ad3dd957dc47af14df92fcd8509f59b349e9137c58b86",
       "host;my-header1;x-amz-date",
       "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
      {"get-header-value-trim", "GET", "/", "",
       with({{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}), "",
       "GET\n/\n\n"
       "host:example.amazonaws.com\n"
       "my-header1:value1\n"
       "my-header2:\"a b c\"\n"
       "x-amz-date:20150830T123600Z\n\n"
       "host;my-header1;my-header2;x-amz-date\n" +
           std::string(kEmptyHash),
       "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
       "host;my-header1;my-header2;x-amz-date",
       "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
      // normalize-path/*
      {"get-relative", "GET", "/example/..", "", host_date(), "", plain_creq("GET", "/", ""),
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-relative-relative", "GET", "/example1/example2/../..", "", host_date(), "",
       plain_creq("GET", "/", ""),
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-slash", "GET", "//", "", host_date(), "", plain_creq("GET", "/", ""),
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-slash-dot-slash", "GET", "/./", "", host_date(), "", plain_creq("GET", "/", ""),
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63", "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-slash-pointless-dot", "GET", "/./example", "", host_date(), "",
       plain_creq("GET", "/example", ""),
       "214d50c111a8edc4819da6a636336472c916b5240f51e9a51b5c3305180cf702", "host;x-amz-date",
       "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
      {"get-slashes", "GET", "//example//", "", host_date(), "", plain_creq("GET", "/example/", ""),
       "cb96b4ac96d501f7c5c15bc6d67b3035061cfced4af6585ad927f7e6c985c015", "host;x-amz-date",
       "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
      {"get-space", "GET", "/example space/", "", host_date(), "",
       plain_creq("GET", "/example%20space/", ""),
       "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86", "host;x-amz-date",
       "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
      {"post-vanilla", "POST", "/", "", host_date(), "", plain_creq("POST", "/", ""),
       "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87", "host;x-amz-date",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-header-key-case", "POST", "/", "", host_date(), "", plain_creq("POST", "/", ""),
       "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87", "host;x-amz-date",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-header-key-sort", "POST", "/", "", with({{"My-Header1", "value1"}}), "",
       "POST\n/\n\n"
       "host:example.amazonaws.com\n"
       "my-header1:value1\n"
       "x-amz-date:20150830T123600Z\n\n"
       "host;my-header1;x-amz-date\n" +
           std::string(kEmptyHash),
       "9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65",
       "host;my-header1;x-amz-date",
       "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
      {"post-header-value-case", "POST", "/", "", with({{"My-Header1", "VALUE1"}}), "",
       "POST\n/\n\n"
       "host:example.amazonaws.com\n"
       "my-header1:VALUE1\n"
       "x-amz-date:20150830T123600Z\n\n"
       "host;my-header1;x-amz-date\n" +
           std::string(kEmptyHash),
       "d51ced243e649e3de6ef63afbbdcbca03131a21a7103a1583706a64618606a93",
       "host;my-header1;x-amz-date",
       "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
      {"post-vanilla-empty-query-value", "POST", "/", "Param1=value1", host_date(), "",
       plain_creq("POST", "/", "Param1=value1"),
       "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd", "host;x-amz-date",
       "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
      {"post-vanilla-query", "POST", "/", "Param1=value1", host_date(), "",
       plain_creq("POST", "/", "Param1=value1"),
       "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd", "host;x-amz-date",
       "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
      {"post-x-www-form-urlencoded",
       "POST",
       "/",
       "",
       {{"Content-Type", "application/x-www-form-urlencoded"},
        {"Host", "example.amazonaws.com"},
        {"X-Amz-Date", kSuiteDate}},
       "Param1=value1",
       "POST\n/\n\n"
       "content-type:application/x-www-form-urlencoded\n"
       "host:example.amazonaws.com\n"
       "x-amz-date:20150830T123600Z\n\n"
       "content-type;host;x-amz-date\n"
       "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
       "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
       "content-type;host;x-amz-date",
       "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
      {"post-x-www-form-urlencoded-parameters",
       "POST",
       "/",
       "",
       {{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"},
        {"Host", "example.amazonaws.com"},
        {"X-Amz-Date", kSuiteDate}},
       "Param1=value1",
       "POST\n/\n\n"
       "content-type:application/x-www-form-urlencoded; charset=utf8\n"
       "host:example.amazonaws.com\n"
       "x-amz-date:20150830T123600Z\n\n"
       "content-type;host;x-amz-date\n"
       "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e",
       "2e1cf7ed91881a30569e46552437e4156c823447bf1781b921b5d486c568dd1c",
       "content-type;host;x-amz-date",
       "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
      // post-sts-token/*: the session token sent but not signed, and signed.
      {"post-sts-header-after",
       "POST",
       "/",
       "",
       {{"Host", "example.amazonaws.com"},
        {"X-Amz-Date", kSuiteDate},
        {"X-Amz-Security-Token", kSuiteToken}},
       "",
       plain_creq("POST", "/", ""),
       "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
       "host;x-amz-date",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-sts-header-before",
       "POST",
       "/",
       "",
       {{"Host", "example.amazonaws.com"},
        {"X-Amz-Date", kSuiteDate},
        {"X-Amz-Security-Token", kSuiteToken}},
       "",
       "POST\n/\n\n"
       "host:example.amazonaws.com\n"
       "x-amz-date:20150830T123600Z\n"
       "x-amz-security-token:" +
           std::string(kSuiteToken) +
           "\n\n"
           "host;x-amz-date;x-amz-security-token\n" +
           kEmptyHash,
       "c237e1b440d4c63c32ca95b5b99481081cb7b13c7e40434868e71567c1a882f6",
       "host;x-amz-date;x-amz-security-token",
       "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"},
  };
}

std::string suite_authorization(const SuiteCase& c, const std::string& signature) {
  return "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
         "SignedHeaders=" +
         c.signed_headers + ", Signature=" + signature;
}

SignedRequest suite_request(const SuiteCase& c) {
  SignedRequest r;
  r.method = c.method;
  r.raw_path = c.path;
  r.raw_query = c.query;
  r.headers = c.headers;
  r.headers.emplace_back("Authorization", suite_authorization(c, c.signature));
  r.payload = c.body;
  return r;
}

class SuiteTest : public ::testing::TestWithParam<SuiteCase> {
 protected:
  SuiteTest()
      : root_(kSuiteAkid, kSuiteSecret, "000000000000"),
        clock_(at(kSuiteDate)),
        verifier_(root_, clock_) {}

  StaticCredentialProvider root_;
  FakeClock clock_;
  SigV4Verifier verifier_;
};

TEST_P(SuiteTest, CanonicalRequestAndStringToSign) {
  const SuiteCase& c = GetParam();
  SignedRequest req = suite_request(c);
  Result<SigV4Fields> fields = parse_sigv4(req, ErrorStyle::kJson);
  ASSERT_TRUE(fields.ok()) << fields.error().code << ": " << fields.error().message;
  EXPECT_EQ(fields->access_key_id, kSuiteAkid);
  EXPECT_EQ(fields->credential_scope(), "20150830/us-east-1/service/aws4_request");
  EXPECT_EQ(fields->signed_headers, c.signed_headers);
  EXPECT_EQ(fields->signature, c.signature);

  std::string creq = canonical_request(req, *fields, payload_hash(req, *fields));
  EXPECT_EQ(creq, c.creq);
  EXPECT_EQ(
      string_to_sign(fields->amz_date, fields->credential_scope(), creq),
      "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n" + c.sts_hash);
}

TEST_P(SuiteTest, VerifyAcceptsTheSuiteSignature) {
  const SuiteCase& c = GetParam();
  SignedRequest req = suite_request(c);
  Result<AuthContext> ctx = verifier_.verify(req, ErrorStyle::kJson);
  ASSERT_TRUE(ctx.ok()) << ctx.error().code << ": " << ctx.error().message;
  EXPECT_EQ(ctx->access_key_id, kSuiteAkid);
  EXPECT_EQ(ctx->region, "us-east-1");
  EXPECT_EQ(ctx->service, "service");
  EXPECT_EQ(ctx->credentials.principal_arn, "arn:aws:iam::000000000000:root");
  EXPECT_TRUE(ctx->credentials.is_root);
  EXPECT_FALSE(ctx->presigned);
  EXPECT_EQ(ctx->signature, c.signature);
  EXPECT_EQ(ctx->amz_date, kSuiteDate);
  // sign_authorization (what nubo's own clients use) reproduces the suite's header.
  EXPECT_EQ(sign_authorization(req, kSuiteAkid, kSuiteSecret, "us-east-1", "service", kSuiteDate,
                               c.signed_headers),
            suite_authorization(c, c.signature));
}

void expect_signature_mismatch(const Result<AuthContext>& r) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "InvalidSignatureException");
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().message, kMsgSignatureMismatch);
}

TEST_P(SuiteTest, TamperedSignatureIsRejected) {
  const SuiteCase& c = GetParam();
  for (size_t pos : {size_t{0}, size_t{31}, c.signature.size() - 1}) {
    SignedRequest req = suite_request(c);
    req.headers.back().second = suite_authorization(c, flip_char(c.signature, pos));
    expect_signature_mismatch(verifier_.verify(req, ErrorStyle::kJson));
  }
  // A truncated signature is not a prefix match.
  SignedRequest req = suite_request(c);
  req.headers.back().second = suite_authorization(c, c.signature.substr(0, 63));
  expect_signature_mismatch(verifier_.verify(req, ErrorStyle::kJson));
}

TEST_P(SuiteTest, TamperedBodyIsRejected) {
  const SuiteCase& c = GetParam();
  std::string body = c.body.empty() ? std::string("x") : flip_char(c.body, c.body.size() / 2);
  SignedRequest req = suite_request(c);
  req.payload = body;
  expect_signature_mismatch(verifier_.verify(req, ErrorStyle::kJson));
}

TEST_P(SuiteTest, TamperedSignedHeaderIsRejected) {
  const SuiteCase& c = GetParam();
  SignedRequest req = suite_request(c);
  for (auto& [name, value] : req.headers) {
    if (name == "Host") value = "example.amazonaws.org";
  }
  expect_signature_mismatch(verifier_.verify(req, ErrorStyle::kJson));
}

TEST_P(SuiteTest, TamperedDateIsRejected) {
  const SuiteCase& c = GetParam();
  SignedRequest req = suite_request(c);
  for (auto& [name, value] : req.headers) {
    if (name == "X-Amz-Date") value = "20150830T123601Z";
  }
  expect_signature_mismatch(verifier_.verify(req, ErrorStyle::kJson));
}

TEST_P(SuiteTest, TamperedPathOrMethodIsRejected) {
  const SuiteCase& c = GetParam();
  SignedRequest req = suite_request(c);
  std::string path = c.path + "x";
  req.raw_path = path;
  expect_signature_mismatch(verifier_.verify(req, ErrorStyle::kJson));
  req = suite_request(c);
  req.method = c.method == "GET" ? "PUT" : "GET";
  expect_signature_mismatch(verifier_.verify(req, ErrorStyle::kJson));
}

INSTANTIATE_TEST_SUITE_P(Aws4TestSuite, SuiteTest, ::testing::ValuesIn(suite_cases()),
                         [](const ::testing::TestParamInfo<SuiteCase>& info) {
                           std::string n = info.param.name;
                           for (char& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

// ================================================================================================
// The same suite in presigned form, from awslabs/aws-c-auth tests/aws-signing-test-suite/v4/*/
// query-signed-request.txt (service "service", X-Amz-Expires=3600, normalised paths).
// ================================================================================================

struct PresignedCase {
  std::string name;
  std::string path;
  std::string query_before;  // parameters ahead of the X-Amz-* ones
  std::string signed_headers;
  std::string signature;
  Headers extra_headers;
};

std::ostream& operator<<(std::ostream& os, const PresignedCase& c) {
  return os << c.name;
}

std::vector<PresignedCase> presigned_cases() {
  return {
      {"get-vanilla-query-order-key-case",
       "/",
       "Param2=value2&Param1=value1&",
       "host",
       "86012e2c9ad4d77369f5d81c11f75158aae4f895a085212cc6d3f923d300bed5",
       {}},
      {"get-vanilla-query-order-encoded",
       "/",
       "Param-3=Value3&Param=Value2&%E1%88%B4=Value1&",
       "host",
       "c5f1848ceec943ac2ca68ee720460c23aaae30a2300586597ada94c4a65e4787",
       {}},
      {"get-vanilla-utf8-query",
       "/",
       "\xE1\x88\xB4=bar&",
       "host",
       "0bdd809b1519ac4f0c1dc3540e2cc46bd0c7f778eda408b2ebf3b913d21ff600",
       {}},
      {"get-header-value-trim",
       "/",
       "",
       "host%3Bmy-header1%3Bmy-header2",
       "e7bb0fd515e125e1aec2ecc4c0c17484fb06f6846b927c35e46005dd3df3acd4",
       {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}},
      {"get-space-normalized",
       "/example space/",
       "",
       "host",
       "7a1f416954786484c9824d93c1f26ef64acb9b1b6c9154d08c9f07d0e394abf6",
       {}},
      {"get-slashes-normalized",
       "//example//",
       "",
       "host",
       "c1834e8fb0307243711f0f907f6ab7311ed300d87f13792d7ee4da89ab93e082",
       {}},
  };
}

class PresignedSuiteTest : public ::testing::TestWithParam<PresignedCase> {
 protected:
  PresignedSuiteTest() : root_(kSuiteAkid, kSuiteSecret, "000000000000"), clock_(at(kSuiteDate)) {}

  std::string query(const std::string& signature) const {
    const PresignedCase& c = GetParam();
    return c.query_before +
           "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%"
           "2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-SignedHeaders=" +
           c.signed_headers + "&X-Amz-Expires=3600&X-Amz-Signature=" + signature;
  }

  // REQUIRES: `q` outlives the returned request.
  SignedRequest request(const std::string& q) const {
    const PresignedCase& c = GetParam();
    SignedRequest r;
    r.method = "GET";
    r.raw_path = c.path;
    r.raw_query = q;
    r.headers = {{"Host", "example.amazonaws.com"}};
    for (const auto& h : c.extra_headers) r.headers.push_back(h);
    r.headers.emplace_back("X-Amz-Date", kSuiteDate);  // sent, not signed
    return r;
  }

  Result<AuthContext> verify(const SignedRequest& r) {
    SigV4Verifier v(root_, clock_);
    return v.verify(r, ErrorStyle::kJson);
  }

  StaticCredentialProvider root_;
  FakeClock clock_;
};

TEST_P(PresignedSuiteTest, VerifiesUntilExpiry) {
  std::string q = query(GetParam().signature);
  Result<AuthContext> ctx = verify(request(q));
  ASSERT_TRUE(ctx.ok()) << ctx.error().code << ": " << ctx.error().message;
  EXPECT_TRUE(ctx->presigned);
  EXPECT_EQ(ctx->payload_hash, kEmptyHash);

  clock_.set(at(kSuiteDate) + std::chrono::seconds(3600));
  EXPECT_TRUE(verify(request(q)).ok());
  clock_.set(at(kSuiteDate) + std::chrono::seconds(3601));
  Result<AuthContext> expired = verify(request(q));
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, "InvalidSignatureException");
  EXPECT_EQ(expired.error().message, "Request has expired");
}

TEST_P(PresignedSuiteTest, TamperingIsRejected) {
  std::string bad = query(flip_char(GetParam().signature, 10));
  Result<AuthContext> r = verify(request(bad));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "InvalidSignatureException");

  std::string q = query(GetParam().signature);
  SignedRequest other_host = request(q);
  other_host.headers.front().second = "example.amazonaws.org";
  EXPECT_EQ(verify(other_host).error().code, "InvalidSignatureException");

  std::string extra = "Extra=1&" + q;
  EXPECT_EQ(verify(request(extra)).error().code, "InvalidSignatureException");

  // The X-Amz-Date header is not what counts in the presigned form.
  SignedRequest other_date = request(q);
  other_date.headers.back().second = "20150830T123700Z";
  EXPECT_TRUE(verify(other_date).ok());
}

INSTANTIATE_TEST_SUITE_P(AwsCrtQuerySuite, PresignedSuiteTest,
                         ::testing::ValuesIn(presigned_cases()),
                         [](const ::testing::TestParamInfo<PresignedCase>& info) {
                           std::string n = info.param.name;
                           for (char& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

// ================================================================================================
// Building blocks.
// ================================================================================================

TEST(SigV4Steps, DerivedSigningKeyMatchesAwsExample) {
  // AWS General Reference, "Examples of how to derive a signing key for Signature Version 4".
  EXPECT_EQ(hex_encode(derive_signing_key(kSuiteSecret, "20150830", "us-east-1", "iam")),
            "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9");
}

TEST(SigV4Steps, CanonicalUriDoubleEncodesOutsideS3) {
  EXPECT_EQ(canonical_uri("", "lambda"), "/");
  EXPECT_EQ(canonical_uri("/", "lambda"), "/");
  // What Lambda clients send for a function ARN in the path, encoded once more.
  EXPECT_EQ(canonical_uri("/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A0%3Afunction%3Af",
                          "lambda"),
            "/2015-03-31/functions/arn%253Aaws%253Alambda%253Aus-east-1%253A0%253Afunction%253Af");
  EXPECT_EQ(canonical_uri("/a/./b/../c//d/", "dynamodb"), "/a/c/d/");
  EXPECT_EQ(canonical_uri("/a b", "sqs"), "/a%20b");
}

TEST(SigV4Steps, CanonicalUriIsAsSentForS3) {
  EXPECT_EQ(canonical_uri("", "s3"), "/");
  EXPECT_EQ(canonical_uri("/test%24file.text", "s3"), "/test%24file.text");
  EXPECT_EQ(canonical_uri("/bucket/a//b/../c", "s3"), "/bucket/a//b/../c");
  EXPECT_EQ(canonical_uri("/bucket/key%20x", "s3express"), "/bucket/key%20x");
}

TEST(SigV4Steps, CanonicalQuery) {
  EXPECT_EQ(canonical_query("", false), "");
  EXPECT_EQ(canonical_query("b=2&a=x%20y&a=%2B&c=&d", false), "a=%2B&a=x%20y&b=2&c=&d=");
  // '+' is a literal plus (RFC 3986), not a space.
  EXPECT_EQ(canonical_query("a=x+y", false), "a=x%2By");
  // Characters outside the unreserved set are re-encoded, upper-case hex.
  EXPECT_EQ(canonical_query("k=a/b:c*d%7e", false), "k=a%2Fb%3Ac%2Ad~");
  // Sorted by encoded key: upper case before lower case.
  EXPECT_EQ(canonical_query("list-type=2&Prefix=x&prefix=y", false),
            "Prefix=x&list-type=2&prefix=y");
  EXPECT_EQ(canonical_query("X-Amz-Signature=abc&X-Amz-Date=1", true), "X-Amz-Date=1");
  EXPECT_EQ(canonical_query("X-Amz-Signature=abc&X-Amz-Date=1", false),
            "X-Amz-Date=1&X-Amz-Signature=abc");
  EXPECT_EQ(canonical_query("&&a=1&", false), "a=1");
}

TEST(SigV4Steps, TrimAll) {
  EXPECT_EQ(trim_all("  a   b \t c  "), "a b c");
  EXPECT_EQ(trim_all("value1\n  value2"), "value1 value2");
  EXPECT_EQ(trim_all(""), "");
  EXPECT_EQ(trim_all("   "), "");
}

TEST(SigV4Steps, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "ab"));
  EXPECT_FALSE(constant_time_equal("xbc", "abc"));
}

TEST(SigV4Steps, AuthForm) {
  SignedRequest r;
  EXPECT_EQ(auth_form(r), AuthForm::kNone);
  r.raw_query = "prefix=a&X-Amz-Credential=x";
  EXPECT_EQ(auth_form(r), AuthForm::kPresigned);
  r.raw_query = "";
  r.headers = {{"authorization", "AWS4-HMAC-SHA256 ..."}};
  EXPECT_EQ(auth_form(r), AuthForm::kHeader);
}

// ================================================================================================
// Amazon S3's documented examples (S3 API reference, "Signature Calculations for the
// Authorization Header" and "Authenticating Requests: Using Query Parameters"):
// AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY, examplebucket, 20130524.
// ================================================================================================

constexpr char kS3Akid[] = "AKIAIOSFODNN7EXAMPLE";
constexpr char kS3Secret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr char kS3Date[] = "20130524T000000Z";
constexpr char kS3Host[] = "examplebucket.s3.amazonaws.com";

class S3ExamplesTest : public ::testing::Test {
 protected:
  S3ExamplesTest() : root_(kS3Akid, kS3Secret, "111122223333"), clock_(at(kS3Date)) {}

  Result<AuthContext> verify(const SignedRequest& r, ErrorStyle style = ErrorStyle::kRestXml) {
    SigV4Verifier v(root_, clock_);
    return v.verify(r, style);
  }

  StaticCredentialProvider root_;
  FakeClock clock_;
};

std::string s3_authorization(const std::string& signed_headers, const std::string& signature) {
  return "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
         "SignedHeaders=" +
         signed_headers + ",Signature=" + signature;
}

// The presigned GET of test.txt, valid for 86400 seconds.
constexpr char kPresignedQuery[] =
    "X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
    "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
    "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

SignedRequest presigned_get(std::string_view query = kPresignedQuery) {
  SignedRequest r;
  r.method = "GET";
  r.raw_path = "/test.txt";
  r.raw_query = query;
  r.headers = {{"Host", kS3Host}};
  return r;
}

TEST_F(S3ExamplesTest, PresignedGetCanonicalRequest) {
  SignedRequest r = presigned_get();
  Result<SigV4Fields> f = parse_sigv4(r, ErrorStyle::kRestXml);
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_TRUE(f->presigned);
  EXPECT_EQ(f->expires_seconds, 86400);
  std::string creq = canonical_request(r, *f, payload_hash(r, *f));
  EXPECT_EQ(
      creq,
      "GET\n"
      "/test.txt\n"
      "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-"
      "east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-"
      "SignedHeaders=host\n"
      "host:examplebucket.s3.amazonaws.com\n"
      "\n"
      "host\n"
      "UNSIGNED-PAYLOAD");
  EXPECT_EQ(string_to_sign(f->amz_date, f->credential_scope(), creq),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");
}

TEST_F(S3ExamplesTest, PresignedGetIsValidUntilItExpires) {
  Result<AuthContext> ctx = verify(presigned_get());
  ASSERT_TRUE(ctx.ok()) << ctx.error().code << ": " << ctx.error().message;
  EXPECT_TRUE(ctx->presigned);
  EXPECT_EQ(ctx->service, "s3");
  EXPECT_EQ(ctx->payload_hash, "UNSIGNED-PAYLOAD");
  EXPECT_EQ(ctx->credentials.principal_arn, "arn:aws:iam::111122223333:root");

  // Still valid on its last second, long after the 15 minutes of clock skew.
  clock_.set(at(kS3Date) + std::chrono::seconds(86400));
  EXPECT_TRUE(verify(presigned_get()).ok());

  clock_.set(at(kS3Date) + std::chrono::seconds(86401));
  Result<AuthContext> expired = verify(presigned_get());
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, "AccessDenied");
  EXPECT_EQ(expired.error().status, 403);
  EXPECT_EQ(expired.error().message, "Request has expired");
}

TEST_F(S3ExamplesTest, PresignedGetFromTheFuture) {
  clock_.set(at(kS3Date) - std::chrono::minutes(14));
  EXPECT_TRUE(verify(presigned_get()).ok());
  clock_.set(at(kS3Date) - std::chrono::minutes(16));
  Result<AuthContext> r = verify(presigned_get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "AccessDenied");
  EXPECT_EQ(r.error().message, "Request is not valid yet");
}

TEST_F(S3ExamplesTest, PresignedGetTampered) {
  std::string q = kPresignedQuery;
  // Another signature.
  std::string bad_sig = flip_char(q, q.size() - 1);
  Result<AuthContext> r = verify(presigned_get(bad_sig));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "SignatureDoesNotMatch");
  EXPECT_EQ(r.error().status, 403);
  EXPECT_EQ(r.error().message, kMsgS3SignatureMismatch);
  // A longer lifetime than was signed.
  std::string longer = q;
  longer.replace(longer.find("86400"), 5, "86500");
  r = verify(presigned_get(longer));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "SignatureDoesNotMatch");
  // An extra parameter.
  std::string extra = q + "&response-content-type=text%2Fhtml";
  r = verify(presigned_get(extra));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "SignatureDoesNotMatch");
  // Another object.
  SignedRequest other = presigned_get();
  other.raw_path = "/test.txu";
  r = verify(other);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "SignatureDoesNotMatch");
  // The body is not signed (UNSIGNED-PAYLOAD), so a body does not change anything.
  SignedRequest with_body = presigned_get();
  with_body.payload = "anything";
  EXPECT_TRUE(verify(with_body).ok());
}

TEST_F(S3ExamplesTest, PresignedParameterErrors) {
  std::string q = kPresignedQuery;
  std::string no_expires = q;
  no_expires.erase(no_expires.find("&X-Amz-Expires=86400"), 20);
  Result<AuthContext> r = verify(presigned_get(no_expires));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "AuthorizationQueryParametersError");
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().message, kMsgS3QueryParamsMissing);

  std::string week = q;
  week.replace(week.find("86400"), 5, "604801");
  r = verify(presigned_get(week));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "AuthorizationQueryParametersError");
  EXPECT_EQ(r.error().message,
            "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires "
            "must be less than 604800 seconds");

  std::string nan = q;
  nan.replace(nan.find("86400"), 5, "soon");
  r = verify(presigned_get(nan));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "X-Amz-Expires should be a number");

  std::string algo = q;
  algo.replace(algo.find("AWS4-HMAC-SHA256"), 16, "AWS4-HMAC-SHA512");
  r = verify(presigned_get(algo));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "AuthorizationQueryParametersError");

  std::string scope = q;
  scope.replace(scope.find("%2F20130524%2F"), 14, "%2F20130525%2F");
  r = verify(presigned_get(scope));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "AuthorizationQueryParametersError");
  EXPECT_EQ(r.error().message, "Invalid credential date. Date is not the same as X-Amz-Date.");

  std::string unknown = q;
  unknown.replace(unknown.find("AKIAIOSFODNN7EXAMPLE"), 20, "AKIAIOSFODNN7EXAMPLX");
  r = verify(presigned_get(unknown));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "InvalidAccessKeyId");
  EXPECT_EQ(r.error().status, 403);

  SignedRequest both = presigned_get();
  both.headers.emplace_back("Authorization", s3_authorization("host", std::string(64, '0')));
  r = verify(both);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "InvalidArgument");
}

TEST_F(S3ExamplesTest, HeaderSignedGetObject) {
  SignedRequest r;
  r.method = "GET";
  r.raw_path = "/test.txt";
  r.headers = {
      {"Host", kS3Host},
      {"Range", "bytes=0-9"},
      {"x-amz-content-sha256", kEmptyHash},
      {"x-amz-date", kS3Date},
      {"Authorization",
       s3_authorization("host;range;x-amz-content-sha256;x-amz-date",
                        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")}};
  Result<SigV4Fields> f = parse_sigv4(r, ErrorStyle::kRestXml);
  ASSERT_TRUE(f.ok()) << f.error().message;
  std::string creq = canonical_request(r, *f, payload_hash(r, *f));
  EXPECT_EQ(
      creq,
      "GET\n/test.txt\n\n"
      "host:examplebucket.s3.amazonaws.com\n"
      "range:bytes=0-9\n"
      "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n\n"
      "host;range;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(string_to_sign(f->amz_date, f->credential_scope(), creq),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  Result<AuthContext> ctx = verify(r);
  ASSERT_TRUE(ctx.ok()) << ctx.error().code << ": " << ctx.error().message;
  EXPECT_EQ(ctx->payload_hash, kEmptyHash);

  r.headers[1].second = "bytes=0-10";
  Result<AuthContext> bad = verify(r);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "SignatureDoesNotMatch");
}

SignedRequest s3_put_example(std::string_view body) {
  SignedRequest r;
  r.method = "PUT";
  r.raw_path = "/test%24file.text";
  r.payload = body;
  r.headers = {
      {"Host", kS3Host},
      {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
      {"x-amz-date", kS3Date},
      {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
      {"x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"},
      {"Authorization",
       s3_authorization("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")}};
  return r;
}

TEST_F(S3ExamplesTest, HeaderSignedPutObject) {
  SignedRequest r = s3_put_example("Welcome to Amazon S3.");
  Result<SigV4Fields> f = parse_sigv4(r, ErrorStyle::kRestXml);
  ASSERT_TRUE(f.ok()) << f.error().message;
  std::string creq = canonical_request(r, *f, payload_hash(r, *f));
  EXPECT_EQ(
      creq,
      "PUT\n/test%24file.text\n\n"
      "date:Fri, 24 May 2013 00:00:00 GMT\n"
      "host:examplebucket.s3.amazonaws.com\n"
      "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
      "x-amz-date:20130524T000000Z\n"
      "x-amz-storage-class:REDUCED_REDUNDANCY\n\n"
      "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
      "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  EXPECT_EQ(string_to_sign(f->amz_date, f->credential_scope(), creq),
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
  Result<AuthContext> ctx = verify(r);
  ASSERT_TRUE(ctx.ok()) << ctx.error().code << ": " << ctx.error().message;
}

TEST_F(S3ExamplesTest, PutObjectWithAnotherBodyIsAContentMismatch) {
  // The signature covers the declared hash, which still matches; the body does not.
  Result<AuthContext> r = verify(s3_put_example("Welcome to Amazon S4."));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "XAmzContentSHA256Mismatch");
  EXPECT_EQ(r.error().status, 400);
  // For the other styles it is a signature mismatch.
  r = verify(s3_put_example("Welcome to Amazon S4."), ErrorStyle::kJson);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "InvalidSignatureException");
}

TEST_F(S3ExamplesTest, HeaderSignedGetBucketLifecycle) {
  SignedRequest r;
  r.method = "GET";
  r.raw_path = "/";
  r.raw_query = "lifecycle";
  r.headers = {
      {"Host", kS3Host},
      {"x-amz-date", kS3Date},
      {"x-amz-content-sha256", kEmptyHash},
      {"Authorization",
       s3_authorization("host;x-amz-content-sha256;x-amz-date",
                        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")}};
  Result<AuthContext> ctx = verify(r);
  ASSERT_TRUE(ctx.ok()) << ctx.error().code << ": " << ctx.error().message;
}

TEST_F(S3ExamplesTest, HeaderSignedListObjects) {
  SignedRequest r;
  r.method = "GET";
  r.raw_path = "/";
  r.raw_query = "max-keys=2&prefix=J";
  r.headers = {
      {"Host", kS3Host},
      {"x-amz-date", kS3Date},
      {"x-amz-content-sha256", kEmptyHash},
      {"Authorization",
       s3_authorization("host;x-amz-content-sha256;x-amz-date",
                        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")}};
  Result<AuthContext> ctx = verify(r);
  ASSERT_TRUE(ctx.ok()) << ctx.error().code << ": " << ctx.error().message;
  r.raw_query = "max-keys=3&prefix=J";
  EXPECT_FALSE(verify(r).ok());
}

TEST_F(S3ExamplesTest, StreamingPayloadMarkersAreSignedAsSent) {
  for (const char* marker : {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                             "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "UNSIGNED-PAYLOAD"}) {
    SignedRequest r;
    r.method = "PUT";
    r.raw_path = "/examplebucket/chunkObject.txt";
    r.payload = "400;chunk-signature=...\r\n";  // not decoded here
    r.headers = {{"Host", "s3.amazonaws.com"},
                 {"x-amz-date", kS3Date},
                 {"x-amz-content-sha256", marker},
                 {"x-amz-decoded-content-length", "66560"}};
    std::string authz =
        sign_authorization(r, kS3Akid, kS3Secret, "us-east-1", "s3", kS3Date,
                           "host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length");
    r.headers.emplace_back("Authorization", authz);
    Result<AuthContext> ctx = verify(r);
    ASSERT_TRUE(ctx.ok()) << marker << ": " << ctx.error().message;
    EXPECT_EQ(ctx->payload_hash, marker);
  }
}

// ================================================================================================
// Clock skew, unknown keys, missing and malformed authentication, for every error style.
// ================================================================================================

class ErrorsTest : public ::testing::Test {
 protected:
  ErrorsTest() : root_(kSuiteAkid, kSuiteSecret, "000000000000"), clock_(at(kSuiteDate)) {}

  Result<AuthContext> verify(const SignedRequest& r, ErrorStyle style) {
    SigV4Verifier v(root_, clock_);
    return v.verify(r, style);
  }

  static SuiteCase vanilla() { return suite_cases().front(); }

  StaticCredentialProvider root_;
  FakeClock clock_;
};

struct Expected {
  ErrorStyle style;
  const char* code;
  int status;
};

TEST_F(ErrorsTest, SkewOfFourteenMinutesIsAccepted) {
  SuiteCase c = vanilla();
  for (auto d : {std::chrono::minutes(14), std::chrono::minutes(-14), std::chrono::minutes(15),
                 std::chrono::minutes(-15)}) {
    clock_.set(at(kSuiteDate) + d);
    for (ErrorStyle s :
         {ErrorStyle::kJson, ErrorStyle::kRestXml, ErrorStyle::kQuery, ErrorStyle::kLambda}) {
      EXPECT_TRUE(verify(suite_request(c), s).ok()) << d.count();
    }
  }
}

TEST_F(ErrorsTest, SkewOfSixteenMinutesIsRejected) {
  SuiteCase c = vanilla();
  const Expected expected[] = {{ErrorStyle::kJson, "InvalidSignatureException", 400},
                               {ErrorStyle::kLambda, "InvalidSignatureException", 403},
                               {ErrorStyle::kQuery, "SignatureDoesNotMatch", 403},
                               {ErrorStyle::kRestXml, "RequestTimeTooSkewed", 403}};
  for (auto d : {std::chrono::minutes(16), std::chrono::minutes(-16)}) {
    clock_.set(at(kSuiteDate) + d);
    for (const Expected& e : expected) {
      Result<AuthContext> r = verify(suite_request(c), e.style);
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.error().code, e.code);
      EXPECT_EQ(r.error().status, e.status);
    }
  }
  clock_.set(at(kSuiteDate) + std::chrono::seconds(15 * 60 + 1));
  EXPECT_FALSE(verify(suite_request(c), ErrorStyle::kJson).ok());
}

TEST_F(ErrorsTest, SkewMessagesAreWordedAsAws) {
  SuiteCase c = vanilla();
  clock_.set(at("20150830T130600Z"));
  Result<AuthContext> r = verify(suite_request(c), ErrorStyle::kJson);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "Signature expired: 20150830T123600Z is now earlier than 20150830T125100Z "
            "(20150830T130600Z - 15 min.)");

  clock_.set(at("20150830T122000Z"));
  r = verify(suite_request(c), ErrorStyle::kQuery);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "Signature not yet current: 20150830T123600Z is still later than 20150830T123500Z "
            "(20150830T122000Z + 15 min.)");

  r = verify(suite_request(c), ErrorStyle::kRestXml);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "The difference between the request time and the current time is too large.");
}

TEST_F(ErrorsTest, UnknownAccessKey) {
  SuiteCase c = vanilla();
  SignedRequest req = suite_request(c);
  std::string authz = req.headers.back().second;
  authz.replace(authz.find("AKIDEXAMPLE"), 11, "AKIDUNKNOWN");
  req.headers.back().second = authz;
  const Expected expected[] = {{ErrorStyle::kJson, "UnrecognizedClientException", 400},
                               {ErrorStyle::kLambda, "UnrecognizedClientException", 403},
                               {ErrorStyle::kQuery, "InvalidClientTokenId", 403},
                               {ErrorStyle::kRestXml, "InvalidAccessKeyId", 403}};
  for (const Expected& e : expected) {
    Result<AuthContext> r = verify(req, e.style);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, e.code);
    EXPECT_EQ(r.error().status, e.status);
    EXPECT_EQ(r.error().message, e.style == ErrorStyle::kRestXml
                                     ? "The AWS Access Key Id you provided does not exist in our "
                                       "records."
                                     : "The security token included in the request is invalid.");
  }
}

TEST_F(ErrorsTest, WrongSignaturePerStyle) {
  SuiteCase c = vanilla();
  SignedRequest req = suite_request(c);
  req.headers.back().second = suite_authorization(c, flip_char(c.signature, 5));
  const Expected expected[] = {{ErrorStyle::kJson, "InvalidSignatureException", 400},
                               {ErrorStyle::kLambda, "InvalidSignatureException", 403},
                               {ErrorStyle::kQuery, "SignatureDoesNotMatch", 403},
                               {ErrorStyle::kRestXml, "SignatureDoesNotMatch", 403}};
  for (const Expected& e : expected) {
    Result<AuthContext> r = verify(req, e.style);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, e.code);
    EXPECT_EQ(r.error().status, e.status);
  }
}

TEST_F(ErrorsTest, MissingAuthentication) {
  SignedRequest req;
  req.method = "GET";
  req.raw_path = "/";
  req.headers = host_date();
  const Expected expected[] = {{ErrorStyle::kJson, "MissingAuthenticationTokenException", 400},
                               {ErrorStyle::kLambda, "MissingAuthenticationTokenException", 403},
                               {ErrorStyle::kQuery, "MissingAuthenticationToken", 403},
                               {ErrorStyle::kRestXml, "AccessDenied", 403}};
  for (const Expected& e : expected) {
    Result<AuthContext> r = verify(req, e.style);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, e.code);
    EXPECT_EQ(r.error().status, e.status);
  }
  EXPECT_EQ(verify(req, ErrorStyle::kJson).error().message,
            "Request is missing Authentication Token");
  EXPECT_EQ(verify(req, ErrorStyle::kLambda).error().message, "Missing Authentication Token");
  // An empty Authorization header, or a non-AWS scheme, is no authentication either.
  req.headers.emplace_back("Authorization", " ");
  EXPECT_EQ(verify(req, ErrorStyle::kJson).error().code, "MissingAuthenticationTokenException");
  req.headers.back().second = "Bearer abc";
  EXPECT_EQ(verify(req, ErrorStyle::kJson).error().code, "MissingAuthenticationTokenException");
  EXPECT_EQ(verify(req, ErrorStyle::kRestXml).error().code, "InvalidArgument");
  req.headers.back().second = "AWS AKIDEXAMPLE:c2lnbmF0dXJl";  // SigV2
  EXPECT_EQ(verify(req, ErrorStyle::kRestXml).error().code, "InvalidRequest");
}

TEST_F(ErrorsTest, MalformedAuthorizationHeader) {
  SignedRequest req;
  req.method = "GET";
  req.raw_path = "/";
  req.headers = host_date();
  req.headers.emplace_back("Authorization",
                           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                           "aws4_request, SignedHeaders=host;x-amz-date");
  Result<AuthContext> r = verify(req, ErrorStyle::kJson);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "IncompleteSignatureException");
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().message,
            "Authorization header requires 'Signature' parameter. Authorization=" +
                req.headers.back().second);
  r = verify(req, ErrorStyle::kQuery);
  EXPECT_EQ(r.error().code, "IncompleteSignature");
  EXPECT_EQ(r.error().status, 400);
  r = verify(req, ErrorStyle::kLambda);
  EXPECT_EQ(r.error().code, "IncompleteSignatureException");
  EXPECT_EQ(r.error().status, 403);
  r = verify(req, ErrorStyle::kRestXml);
  EXPECT_EQ(r.error().code, "AuthorizationHeaderMalformed");
  EXPECT_EQ(r.error().status, 400);
  EXPECT_EQ(r.error().message,
            "The authorization header is malformed; the authorization header requires three "
            "components: Credential, SignedHeaders, and Signature.");

  // A component without '='.
  req.headers.back().second =
      "AWS4-HMAC-SHA256 Credential= AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=abc, garbage";
  r = verify(req, ErrorStyle::kJson);
  EXPECT_EQ(r.error().code, "IncompleteSignatureException");
  EXPECT_EQ(r.error().message.find("'garbage' not a valid key=value pair (missing equal-sign)"),
            0u);

  // A credential with four parts.
  req.headers.back().second =
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/aws4_request, "
      "SignedHeaders=host;x-amz-date, Signature=abc";
  r = verify(req, ErrorStyle::kJson);
  EXPECT_EQ(r.error().code, "IncompleteSignatureException");
  r = verify(req, ErrorStyle::kRestXml);
  EXPECT_EQ(r.error().code, "AuthorizationHeaderMalformed");

  // A wrong terminator.
  req.headers.back().second =
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws5_request, "
      "SignedHeaders=host;x-amz-date, Signature=abc";
  r = verify(req, ErrorStyle::kQuery);
  EXPECT_EQ(r.error().code, "IncompleteSignature");
}

TEST_F(ErrorsTest, MissingOrBadDate) {
  SuiteCase c = vanilla();
  SignedRequest req = suite_request(c);
  req.headers.erase(req.headers.begin() + 1);  // X-Amz-Date
  Result<AuthContext> r = verify(req, ErrorStyle::kJson);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "IncompleteSignatureException");
  EXPECT_NE(r.error().message.find("requires existence of either a 'X-Amz-Date' or a 'Date'"),
            std::string::npos);
  r = verify(req, ErrorStyle::kRestXml);
  EXPECT_EQ(r.error().code, "AccessDenied");
  EXPECT_EQ(r.error().message, "AWS authentication requires a valid Date or x-amz-date header");

  req = suite_request(c);
  req.headers[1].second = "2015-08-30T12:36:00Z";
  r = verify(req, ErrorStyle::kJson);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "IncompleteSignatureException");
  EXPECT_EQ(r.error().message,
            "Date must be in ISO-8601 'basic format'. Got '2015-08-30T12:36:00Z'. See "
            "http://en.wikipedia.org/wiki/ISO_8601");
}

TEST_F(ErrorsTest, ScopeDateMustBeTheRequestDate) {
  SuiteCase c = vanilla();
  SignedRequest req = suite_request(c);
  std::string authz = req.headers.back().second;
  authz.replace(authz.find("/20150830/"), 10, "/20150831/");
  req.headers.back().second = authz;
  Result<AuthContext> r = verify(req, ErrorStyle::kJson);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "InvalidSignatureException");
  EXPECT_EQ(r.error().message,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
            "HTTP: '20150831' != '20150830', from '20150830T123600Z'.");
  r = verify(req, ErrorStyle::kRestXml);
  EXPECT_EQ(r.error().code, "AuthorizationHeaderMalformed");
}

TEST_F(ErrorsTest, DateHeaderInsteadOfXAmzDate) {
  SignedRequest req;
  req.method = "GET";
  req.raw_path = "/";
  req.headers = {{"Host", "example.amazonaws.com"}, {"Date", "Sun, 30 Aug 2015 12:36:00 GMT"}};
  std::string authz = sign_authorization(req, kSuiteAkid, kSuiteSecret, "us-east-1", "service",
                                         kSuiteDate, "date;host");
  req.headers.emplace_back("Authorization", authz);
  Result<AuthContext> r = verify(req, ErrorStyle::kJson);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->amz_date, kSuiteDate);
  req.headers[1].second = "Sun, 30 Aug 2015 12:36:01 GMT";
  EXPECT_FALSE(verify(req, ErrorStyle::kJson).ok());
}

TEST_F(ErrorsTest, SessionTokens) {
  MapCredentialProvider keys;
  Credentials temp;
  temp.access_key_id = kSuiteAkid;
  temp.secret_access_key = kSuiteSecret;
  temp.session_token = kSuiteToken;
  temp.principal_arn = "arn:aws:sts::000000000000:assumed-role/r/s";
  temp.account_id = "000000000000";
  keys.add(temp);
  SigV4Verifier v(keys, clock_);

  SuiteCase signed_token;
  for (const SuiteCase& c : suite_cases()) {
    if (c.name == "post-sts-header-before") signed_token = c;
  }
  Result<AuthContext> ok = v.verify(suite_request(signed_token), ErrorStyle::kJson);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_FALSE(ok->credentials.is_root);
  EXPECT_EQ(ok->credentials.principal().arn, "arn:aws:sts::000000000000:assumed-role/r/s");

  // Another token for the same key.
  temp.session_token = std::string(kSuiteToken) + "x";
  MapCredentialProvider other;
  other.add(temp);
  SigV4Verifier v2(other, clock_);
  Result<AuthContext> r = v2.verify(suite_request(signed_token), ErrorStyle::kJson);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "UnrecognizedClientException");
  r = v2.verify(suite_request(signed_token), ErrorStyle::kRestXml);
  EXPECT_EQ(r.error().code, "InvalidToken");

  // No token at all for a temporary key.
  SuiteCase plain = vanilla();
  r = v.verify(suite_request(plain), ErrorStyle::kQuery);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "InvalidClientTokenId");
}

TEST_F(ErrorsTest, BothHeaderAndQueryAuthentication) {
  SuiteCase c = vanilla();
  SignedRequest req = suite_request(c);
  req.raw_query = "X-Amz-Algorithm=AWS4-HMAC-SHA256";
  Result<AuthContext> r = verify(req, ErrorStyle::kJson);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "InvalidSignatureException");
  EXPECT_EQ(r.error().message,
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP "
            "header.");
}

TEST_F(ErrorsTest, IncompletePresignedParameters) {
  SignedRequest req;
  req.method = "GET";
  req.raw_path = "/";
  req.raw_query = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20150830T123600Z";
  req.headers = {{"Host", "example.amazonaws.com"}};
  Result<AuthContext> r = verify(req, ErrorStyle::kJson);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "IncompleteSignatureException");
  EXPECT_EQ(r.error().message,
            "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string "
            "parameters must include 'X-Amz-Signature'. AWS query-string parameters must include "
            "'X-Amz-SignedHeaders'. Re-examine the query-string parameters.");
}

// A presigned request to a non-S3 service: the path is normalised and the payload is hashed.
TEST_F(ErrorsTest, PresignedRequestToAnotherService) {
  SignedRequest req;
  req.method = "GET";
  req.raw_path = "/";
  req.headers = {{"Host", "example.amazonaws.com"}};
  std::string unsigned_query =
      "Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Algorithm=AWS4-HMAC-SHA256"
      "&X-Amz-Credential=AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fsts%2Faws4_request"
      "&X-Amz-Date=20150830T123600Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host";
  req.raw_query = unsigned_query;
  SigV4Fields f;
  f.presigned = true;
  f.service = "sts";
  f.signed_headers = "host";
  EXPECT_EQ(payload_hash(req, f), kEmptyHash);
  std::string creq = canonical_request(req, f, kEmptyHash);
  std::string sts = string_to_sign(kSuiteDate, "20150830/us-east-1/sts/aws4_request", creq);
  std::string sig =
      signature_hex(derive_signing_key(kSuiteSecret, "20150830", "us-east-1", "sts"), sts);
  std::string query = unsigned_query + "&X-Amz-Signature=" + sig;
  req.raw_query = query;
  Result<AuthContext> r = verify(req, ErrorStyle::kQuery);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(r->presigned);
  EXPECT_EQ(r->service, "sts");

  clock_.set(at(kSuiteDate) + std::chrono::seconds(61));
  r = verify(req, ErrorStyle::kQuery);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, "SignatureDoesNotMatch");
  EXPECT_EQ(r.error().message, "Request has expired");
}

// ================================================================================================
// Round trips, concurrency and speed.
// ================================================================================================

TEST(SigV4Verifier, SignAndVerifyManyShapes) {
  StaticCredentialProvider root("test", "test", "000000000000");
  FakeClock clock(at(kSuiteDate));
  SigV4Verifier v(root, clock);
  struct Shape {
    const char* service;
    const char* path;
    const char* query;
  };
  const Shape shapes[] = {
      {"s3", "/bucket/k%C3%A9y%20with%20spaces/%2Fslash", "prefix=a%2Fb&delimiter=%2F"},
      {"s3", "/bucket/a+b", "uploads"},
      {"lambda", "/2015-03-31/functions/my-fn%3Aprod/invocations", "Qualifier=prod"},
      {"dynamodb", "/", ""},
      {"sqs", "/000000000000/q", "Action=SendMessage&MessageBody=hello%20world%21"},
  };
  for (const Shape& s : shapes) {
    SignedRequest r;
    r.method = "POST";
    r.raw_path = s.path;
    r.raw_query = s.query;
    r.payload = "{\"k\":1}";
    r.headers = {{"Host", "localhost:4566"},
                 {"Content-Type", "application/x-amz-json-1.0"},
                 {"X-Amz-Date", kSuiteDate}};
    r.headers.emplace_back("Authorization",
                           sign_authorization(r, "test", "test", "eu-west-1", s.service, kSuiteDate,
                                              "content-type;host;x-amz-date"));
    Result<AuthContext> ctx = v.verify(r, ErrorStyle::kJson);
    ASSERT_TRUE(ctx.ok()) << s.service << " " << s.path << ": " << ctx.error().message;
    EXPECT_EQ(ctx->region, "eu-west-1");
    EXPECT_EQ(ctx->service, s.service);
    // An unsigned header may change; a signed one may not.
    r.headers.emplace_back("User-Agent", "whatever");
    EXPECT_TRUE(v.verify(r, ErrorStyle::kJson).ok());
    r.headers[1].second = "text/plain";
    EXPECT_FALSE(v.verify(r, ErrorStyle::kJson).ok());
  }
}

TEST(SigV4Verifier, ConcurrentVerifyWithManyScopes) {
  StaticCredentialProvider root("test", "test", "000000000000");
  FakeClock clock(at(kSuiteDate));
  SigV4Verifier v(root, clock);
  // More scopes than the key cache holds, so that it is also cleared while others read it.
  constexpr int kScopes = 1100;
  std::vector<std::string> regions, authz;
  std::vector<SignedRequest> reqs(kScopes);
  regions.reserve(kScopes);
  authz.reserve(kScopes);
  for (int i = 0; i < kScopes; ++i) {
    regions.push_back("region-" + std::to_string(i));
    SignedRequest& r = reqs[i];
    r.method = "GET";
    r.raw_path = "/";
    r.headers = {{"Host", "localhost"}, {"X-Amz-Date", kSuiteDate}};
    r.headers.emplace_back("Authorization",
                           sign_authorization(r, "test", "test", regions.back(), "sqs", kSuiteDate,
                                              "host;x-amz-date"));
  }
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0; n < 2 * kScopes; ++n) {
        const SignedRequest& r = reqs[(n * 7 + t * 131) % kScopes];
        if (!v.verify(r, ErrorStyle::kQuery).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(SigV4Verifier, VerifyIsFast) {
  StaticCredentialProvider root(kSuiteAkid, kSuiteSecret, "000000000000");
  FakeClock clock(at(kSuiteDate));
  SigV4Verifier v(root, clock);
  SuiteCase c = suite_cases().front();
  SignedRequest req = suite_request(c);
  ASSERT_TRUE(v.verify(req, ErrorStyle::kJson).ok());
  constexpr int kRounds = 2000;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) {
    if (!v.verify(req, ErrorStyle::kJson).ok()) FAIL();
  }
  double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count() /
      kRounds;
  std::printf("verify(get-vanilla): %.2f us per request\n", us);
  // The target is well under 10 us in a release build (measured ~2 us). Debug and sanitizer
  // builds are ~10-25x slower, so they only guard against a pathological regression.
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(us, 10.0);
#else
  EXPECT_LT(us, 200.0);
#endif
}

TEST(Credentials, StaticProviderHoldsTheRootPair) {
  StaticCredentialProvider p("AKROOT", "secret", "123456789012");
  EXPECT_FALSE(p.lookup("AKOTHER").has_value());
  EXPECT_FALSE(p.lookup("").has_value());
  std::optional<Credentials> c = p.lookup("AKROOT");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->secret_access_key, "secret");
  EXPECT_EQ(c->principal_arn, "arn:aws:iam::123456789012:root");
  EXPECT_EQ(c->account_id, "123456789012");
  EXPECT_TRUE(c->is_root);
  EXPECT_TRUE(c->session_token.empty());
  Principal pr = c->principal();
  EXPECT_EQ(pr.arn, "arn:aws:iam::123456789012:root");
  EXPECT_EQ(pr.access_key_id, "AKROOT");
  EXPECT_TRUE(pr.is_root);
  EXPECT_EQ(kDefaultRootAccessKeyId, "test");
  EXPECT_EQ(kDefaultRootSecretAccessKey, "test");
}

}  // namespace
}  // namespace nubo::auth

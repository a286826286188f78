#include "auth/sigv2.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "auth/auth_errors.h"
#include "auth/credentials.h"
#include "base/clock.h"

namespace nubo::auth {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

SystemTime from_epoch(int64_t s) {
  return SystemTime(std::chrono::seconds(s));
}

// A provider with any number of key pairs; a token marked expired resolves to kExpiredToken.
class MapCredentialProvider final : public CredentialProvider {
 public:
  void add(Credentials c) { keys_[c.access_key_id] = std::move(c); }
  void expire_token(std::string token) { expired_token_ = std::move(token); }
  std::optional<Credentials> lookup(std::string_view id) const override {
    auto it = keys_.find(std::string(id));
    if (it == keys_.end()) return std::nullopt;
    return it->second;
  }
  KeyLookup lookup(std::string_view id, std::string_view token) const override {
    if (!expired_token_.empty() && token == expired_token_) {
      KeyLookup out;
      out.problem = KeyProblem::kExpiredToken;
      return out;
    }
    return CredentialProvider::lookup(id, token);
  }

 private:
  std::map<std::string, Credentials> keys_;
  std::string expired_token_;
};

Credentials long_term(std::string akid, std::string secret) {
  Credentials c;
  c.access_key_id = std::move(akid);
  c.secret_access_key = std::move(secret);
  c.account_id = "000000000000";
  c.principal_arn = root_principal_arn(c.account_id);
  c.is_root = true;
  return c;
}

Credentials temporary(std::string akid, std::string secret, std::string token) {
  Credentials c = long_term(std::move(akid), std::move(secret));
  c.session_token = std::move(token);
  c.is_root = false;
  c.kind = Credentials::Kind::kAssumedRole;
  c.principal_arn = "arn:aws:sts::000000000000:assumed-role/r/s";
  return c;
}

// An owned request that lends a SignedRequest view.
struct Req {
  std::string method;
  std::string path;
  std::string query;
  Headers headers;

  SignedRequest view() const {
    SignedRequest r;
    r.method = method;
    r.raw_path = path;
    r.raw_query = query;
    r.headers = headers;
    return r;
  }
  // The value of the first header `name` (exact case), replaced or added.
  Req& set(const std::string& name, const std::string& value) {
    for (auto& [n, v] : headers) {
      if (n == name) {
        v = value;
        return *this;
      }
    }
    headers.emplace_back(name, value);
    return *this;
  }
  Req& remove(const std::string& name) {
    std::erase_if(headers, [&](const auto& h) { return h.first == name; });
    return *this;
  }
};

// "http://host[:port]/path?query" as a request line would carry it.
Req from_url(std::string method, const std::string& url) {
  size_t scheme = url.find("://");
  size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  std::string target = url.substr(slash);
  size_t q = target.find('?');
  Req r;
  r.method = std::move(method);
  r.path = target.substr(0, q);
  if (q != std::string::npos) r.query = target.substr(q + 1);
  return r;
}

void expect_error(const Result<AuthContext>& r, const std::string& code, int status,
                  const std::string& message) {
  ASSERT_FALSE(r.ok()) << "expected " << code;
  EXPECT_EQ(r.error().code, code);
  EXPECT_EQ(r.error().status, status);
  EXPECT_EQ(r.error().message, message);
}

void expect_mismatch(const Result<AuthContext>& r) {
  expect_error(r, "SignatureDoesNotMatch", 403, std::string(kMsgS3SignatureMismatch));
}

// ================================================================================================
// The worked examples of the S3 Developer Guide, "Signing and authenticating REST requests"
// (RESTAuthentication), with AKIAIOSFODNN7EXAMPLE / wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY.
// The page now shows them under the bucket "awsexamplebucket1" but kept the signatures it had
// computed for the bucket "johnsmith" (awsdocs/amazon-s3-developer-guide,
// doc_source/RESTAuthentication.md); the johnsmith edition below is the one whose request,
// StringToSign and signature agree, and the one SDK test suites carry.
// ================================================================================================

constexpr char kDocAkid[] = "AKIAIOSFODNN7EXAMPLE";
constexpr char kDocSecret[] = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

struct DocCase {
  std::string name;
  Req req;             // without the Authorization header
  std::string bucket;  // the bucket the Host names ("" for path style)
  int64_t date;        // the Date header as seconds since the epoch
  std::string sts;
  std::string signature;
};

std::vector<DocCase> doc_cases() {
  return {
      {"ObjectGet",
       {"GET",
        "/photos/puppy.jpg",
        "",
        {{"Host", "johnsmith.s3.amazonaws.com"}, {"Date", "Tue, 27 Mar 2007 19:36:42 +0000"}}},
       "johnsmith",
       1175024202,
       "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/johnsmith/photos/puppy.jpg",
       "bWq2s1WEIj+Ydj0vQ697zp+IXMU="},
      {"ObjectPut",
       {"PUT",
        "/photos/puppy.jpg",
        "",
        {{"Content-Type", "image/jpeg"},
         {"Content-Length", "94328"},
         {"Host", "johnsmith.s3.amazonaws.com"},
         {"Date", "Tue, 27 Mar 2007 21:15:45 +0000"}}},
       "johnsmith",
       1175030145,
       "PUT\n\nimage/jpeg\nTue, 27 Mar 2007 21:15:45 +0000\n/johnsmith/photos/puppy.jpg",
       "MyyxeRY7whkBe+bq8fHCL/2kKUg="},
      {"List",
       {"GET",
        "/",
        "prefix=photos&max-keys=50&marker=puppy",
        {{"User-Agent", "Mozilla/5.0"},
         {"Host", "johnsmith.s3.amazonaws.com"},
         {"Date", "Tue, 27 Mar 2007 19:42:41 +0000"}}},
       "johnsmith",
       1175024561,
       "GET\n\n\nTue, 27 Mar 2007 19:42:41 +0000\n/johnsmith/",
       "htDYFYduRNen8P9ZfE/s9SuKy0U="},
      {"Fetch",
       {"GET",
        "/",
        "acl",
        {{"Host", "johnsmith.s3.amazonaws.com"}, {"Date", "Tue, 27 Mar 2007 19:44:46 +0000"}}},
       "johnsmith",
       1175024686,
       "GET\n\n\nTue, 27 Mar 2007 19:44:46 +0000\n/johnsmith/?acl",
       "c2WLPFtWHVgbEmeEG93a4cG37dM="},
      {"Upload",
       {"PUT",
        "/db-backup.dat.gz",
        "",
        {{"User-Agent", "curl/7.15.5"},
         {"Host", "static.johnsmith.net:8080"},
         {"Date", "Tue, 27 Mar 2007 21:06:08 +0000"},
         {"x-amz-acl", "public-read"},
         {"content-type", "application/x-download"},
         {"Content-MD5", "4gJE4saaMU4BqNR0kLY+lw=="},
         {"X-Amz-Meta-ReviewedBy", "joe@johnsmith.net"},
         {"X-Amz-Meta-ReviewedBy", "jane@johnsmith.net"},
         {"X-Amz-Meta-FileChecksum", "0x02661779"},
         {"X-Amz-Meta-ChecksumAlgorithm", "crc32"},
         {"Content-Disposition", "attachment; filename=database.dat"},
         {"Content-Encoding", "gzip"},
         {"Content-Length", "5913339"}}},
       "static.johnsmith.net",
       1175029568,
       "PUT\n4gJE4saaMU4BqNR0kLY+lw==\napplication/x-download\nTue, 27 Mar 2007 21:06:08 +0000\n"
       "x-amz-acl:public-read\nx-amz-meta-checksumalgorithm:crc32\n"
       "x-amz-meta-filechecksum:0x02661779\n"
       "x-amz-meta-reviewedby:joe@johnsmith.net,jane@johnsmith.net\n"
       "/static.johnsmith.net/db-backup.dat.gz",
       "ilyl83RwaSoYIEdixDQcA4OnAnc="},
      {"ListAllMyBuckets",
       {"GET",
        "/",
        "",
        {{"Host", "s3.amazonaws.com"}, {"Date", "Wed, 28 Mar 2007 01:29:59 +0000"}}},
       "",
       1175045399,
       "GET\n\n\nWed, 28 Mar 2007 01:29:59 +0000\n/",
       "qGdzdERIC03wnaRNKh6OqZehG9s="},
      {"UnicodeKeys",
       {"GET",
        "/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
        "",
        {{"Host", "s3.amazonaws.com"}, {"Date", "Wed, 28 Mar 2007 01:49:49 +0000"}}},
       "",
       1175046589,
       "GET\n\n\nWed, 28 Mar 2007 01:49:49 +0000\n/dictionary/fran%C3%A7ais/pr%c3%a9f%c3%a8re",
       "DNEZGsoieTZ92F3bUfSPQcbGmlM="},
      // The page's opening example as its current localized editions show it
      // (docs.aws.amazon.com/ko_kr/AmazonS3/latest/dev/RESTAuthentication.html): the renamed
      // bucket, re-signed.
      {"IntroAwsExampleBucket",
       {"GET",
        "/photos/puppy.jpg",
        "",
        {{"Host", "awsexamplebucket1.us-west-1.s3.amazonaws.com"},
         {"Date", "Tue, 27 Mar 2007 19:36:42 +0000"}}},
       "awsexamplebucket1",
       1175024202,
       "GET\n\n\nTue, 27 Mar 2007 19:36:42 +0000\n/awsexamplebucket1/photos/puppy.jpg",
       "qgk2+6Sv9/oM7G3qLEjTH1a1l1g="},
  };
}

TEST(SigV2DocExamplesTest, StringToSignAndSignatureMatchTheGuide) {
  for (const DocCase& c : doc_cases()) {
    SCOPED_TRACE(c.name);
    Req req = c.req;
    req.set("Authorization", std::string("AWS ") + kDocAkid + ":" + c.signature);
    EXPECT_EQ(sigv2_string_to_sign(req.view(), c.bucket), c.sts);
    EXPECT_EQ(sigv2_signature(kDocSecret, c.sts), c.signature);
  }
}

TEST(SigV2DocExamplesTest, VerifierAcceptsEachSignedRequestAndRejectsItsVariants) {
  MapCredentialProvider keys;
  keys.add(long_term(kDocAkid, kDocSecret));
  for (const DocCase& c : doc_cases()) {
    SCOPED_TRACE(c.name);
    FakeClock clock(from_epoch(c.date));
    SigV2Verifier verifier(keys, clock);
    Req req = c.req;
    req.set("Authorization", std::string("AWS ") + kDocAkid + ":" + c.signature);
    EXPECT_TRUE(is_sigv2(req.view()));

    Result<AuthContext> ok = verifier.verify(req.view(), c.bucket);
    ASSERT_TRUE(ok.ok()) << ok.error().code << ": " << ok.error().message;
    EXPECT_EQ(ok->access_key_id, kDocAkid);
    EXPECT_EQ(ok->credentials.secret_access_key, kDocSecret);
    EXPECT_FALSE(ok->presigned);
    EXPECT_EQ(ok->service, "s3");
    EXPECT_EQ(ok->region, "");
    EXPECT_EQ(ok->payload_hash, kUnsignedPayload);
    EXPECT_EQ(ok->signature, c.signature);
    EXPECT_EQ(ok->amz_date, format_iso8601_basic(from_epoch(c.date)));

    // The bucket is part of what was signed: path style (or another bucket) does not verify.
    expect_mismatch(verifier.verify(req.view(), c.bucket.empty() ? "other" : ""));
    // Nor does another method, another date or an unknown key.
    Req other_method = req;
    other_method.method = "HEAD";
    expect_mismatch(verifier.verify(other_method.view(), c.bucket));
    Req other_date = req;
    other_date.set("Date", format_http_date(from_epoch(c.date + 1)));
    expect_mismatch(verifier.verify(other_date.view(), c.bucket));
    Req unknown = req;
    unknown.set("Authorization", "AWS AKIDUNKNOWN:" + c.signature);
    expect_error(verifier.verify(unknown.view(), c.bucket), "InvalidAccessKeyId", 403,
                 std::string(kMsgS3InvalidAccessKeyId));
  }
}

// The guide's Delete example signs x-amz-date's value in Date's place and leaves x-amz-date out
// of the CanonicalizedAmzHeaders, contradicting its own rule two sections up ("if you include
// the x-amz-date header, use the empty string for the Date"). The example's pair is a valid
// HMAC; the verifier follows the rule (as boto2 and MinIO do), under which the same request
// signs as the second StringToSign (signature computed with Python's hmac module).
TEST(SigV2DocExamplesTest, DeleteWithXAmzDateFollowsTheRuleNotTheExample) {
  EXPECT_EQ(sigv2_signature(kDocSecret,
                            "DELETE\n\n\nTue, 27 Mar 2007 21:20:26 +0000\n/johnsmith/photos/"
                            "puppy.jpg"),
            "lx3byBScXR6KzyMaifNkardMwNk=");

  Req req{"DELETE",
          "/johnsmith/photos/puppy.jpg",
          "",
          {{"User-Agent", "dotnet"},
           {"Host", "s3.amazonaws.com"},
           {"Date", "Tue, 27 Mar 2007 21:20:27 +0000"},
           {"x-amz-date", "Tue, 27 Mar 2007 21:20:26 +0000"},
           {"Authorization", "AWS AKIAIOSFODNN7EXAMPLE:R4dJ53KECjStyBO5iTBJZ4XVOaI="}}};
  const std::string sts =
      "DELETE\n\n\n\nx-amz-date:Tue, 27 Mar 2007 21:20:26 +0000\n/johnsmith/photos/puppy.jpg";
  EXPECT_EQ(sigv2_string_to_sign(req.view(), ""), sts);
  EXPECT_EQ(sigv2_signature(kDocSecret, sts), "R4dJ53KECjStyBO5iTBJZ4XVOaI=");

  MapCredentialProvider keys;
  keys.add(long_term(kDocAkid, kDocSecret));
  FakeClock clock(from_epoch(1175030426));  // 21:20:26
  SigV2Verifier verifier(keys, clock);
  Result<AuthContext> ok = verifier.verify(req.view(), "");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_EQ(ok->amz_date, "20070327T212026Z");
  req.set("Authorization", "AWS AKIAIOSFODNN7EXAMPLE:lx3byBScXR6KzyMaifNkardMwNk=");
  expect_mismatch(verifier.verify(req.view(), ""));
}

// The guide's "Query string request authentication" example.
TEST(SigV2DocExamplesTest, QueryStringExampleVerifiesUntilItExpires) {
  Req req = from_url("GET",
                     "http://johnsmith.s3.amazonaws.com/photos/puppy.jpg?AWSAccessKeyId="
                     "AKIAIOSFODNN7EXAMPLE&Signature=NpgCjnDzrM%2BWFzoENXmpNDUsSn8%3D&Expires="
                     "1175139620");
  req.set("Host", "johnsmith.s3.amazonaws.com");
  EXPECT_TRUE(is_sigv2(req.view()));
  EXPECT_EQ(sigv2_string_to_sign(req.view(), "johnsmith"),
            "GET\n\n\n1175139620\n/johnsmith/photos/puppy.jpg");

  MapCredentialProvider keys;
  keys.add(long_term(kDocAkid, kDocSecret));
  FakeClock clock(from_epoch(1175139620 - 86400));
  SigV2Verifier verifier(keys, clock);
  Result<AuthContext> ok = verifier.verify(req.view(), "johnsmith");
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_TRUE(ok->presigned);
  EXPECT_EQ(ok->signature, "NpgCjnDzrM+WFzoENXmpNDUsSn8=");
  EXPECT_EQ(ok->amz_date, "");
  // A Date header plays no part in the query form, however old.
  req.set("Date", "Mon, 26 Mar 2007 19:37:58 +0000");
  EXPECT_TRUE(verifier.verify(req.view(), "johnsmith").ok());

  clock.set(from_epoch(1175139620));  // the last valid second
  EXPECT_TRUE(verifier.verify(req.view(), "johnsmith").ok());
  clock.set(from_epoch(1175139621));
  expect_error(verifier.verify(req.view(), "johnsmith"), "AccessDenied", 403,
               "Request has expired");
}

// ================================================================================================
// URLs and headers made by real botocore: /usr/bin/python3's botocore 1.29.27 (boto3 1.26's
// line) and pyenv's botocore 1.43.11, client('s3', endpoint_url='http://127.0.0.1:4566',
// region_name='us-east-1', aws_access_key_id='test', aws_secret_access_key='test'),
// generate_presigned_url(..., ExpiresIn=3600).
// ================================================================================================

struct BotoUrl {
  std::string name;
  std::string method;
  std::string url;
  int64_t expires;
  std::string sts;  // as botocore logged it (botocore.auth DEBUG "StringToSign")
};

std::vector<BotoUrl> boto_urls() {
  return {
      {"1.29 get_object 'dir/a b+c.txt'", "GET",
       "http://127.0.0.1:4566/b/dir/a%20b%2Bc.txt?AWSAccessKeyId=test&Signature="
       "uufHKVQc9q0tbuKXtveQA4R6FCw%3D&Expires=1796159413",
       1796159413, "GET\n\n\n1796159413\n/b/dir/a%20b%2Bc.txt"},
      {"1.29 put_object 'dir/a b+c.txt'", "PUT",
       "http://127.0.0.1:4566/b/dir/a%20b%2Bc.txt?AWSAccessKeyId=test&Signature="
       "pcjzsAEOoriW3XtwZv6ziM%2F9wO4%3D&Expires=1796159413",
       1796159413, "PUT\n\n\n1796159413\n/b/dir/a%20b%2Bc.txt"},
      {"1.29 get_object ResponseContentType/Disposition", "GET",
       "http://127.0.0.1:4566/b/k.txt?response-content-type=text%2Fplain%3B%20charset%3Dutf-8&"
       "response-content-disposition=attachment%3B%20filename%3D%22x%20y.txt%22&AWSAccessKeyId="
       "test&Signature=Sc%2FdKIPlht65F0xHhzHKoB4AEoY%3D&Expires=1796159413",
       1796159413,
       "GET\n\n\n1796159413\n/b/k.txt?response-content-disposition=attachment; filename=\"x "
       "y.txt\"&response-content-type=text/plain; charset=utf-8"},
      {"1.29 upload_part", "PUT",
       "http://127.0.0.1:4566/b/big?uploadId=u%2F1%2B2&partNumber=3&AWSAccessKeyId=test&"
       "Signature=SrNrf7y40Tc0JVwjSNRN9enn1zc%3D&Expires=1796159413",
       1796159413, "PUT\n\n\n1796159413\n/b/big?partNumber=3&uploadId=u/1+2"},
      {"1.29 put_object ContentType + Metadata", "PUT",
       "http://127.0.0.1:4566/b/t.txt?AWSAccessKeyId=test&Signature=JlN%2B3P2ZWJFJur0Eh1RhBStkRTk%"
       "3D&content-type=text%2Fplain&x-amz-meta-owner=Ann&Expires=1796159413",
       1796159413, "PUT\n\ntext/plain\n1796159413\nx-amz-meta-owner:Ann\n/b/t.txt"},
      {"1.43 get_object 'dir/a b+c.txt'", "GET",
       "http://127.0.0.1:4566/b/dir/a%20b%2Bc.txt?AWSAccessKeyId=test&Signature="
       "M9eQE%2B2Hyz2h%2BBMD6UgXqRv45ls%3D&Expires=1796159414",
       1796159414, "GET\n\n\n1796159414\n/b/dir/a%20b%2Bc.txt"},
      {"1.43 put_object 'dir/a b+c.txt'", "PUT",
       "http://127.0.0.1:4566/b/dir/a%20b%2Bc.txt?AWSAccessKeyId=test&Signature="
       "ydteA4PQfibtFfUUt3tbMcWZVis%3D&Expires=1796159414",
       1796159414, "PUT\n\n\n1796159414\n/b/dir/a%20b%2Bc.txt"},
      {"1.43 get_object ResponseContentType/Disposition", "GET",
       "http://127.0.0.1:4566/b/k.txt?response-content-type=text%2Fplain%3B%20charset%3Dutf-8&"
       "response-content-disposition=attachment%3B%20filename%3D%22x%20y.txt%22&AWSAccessKeyId="
       "test&Signature=bliUs6k0dgX5RMSo91%2BAoDSuaKM%3D&Expires=1796159414",
       1796159414,
       "GET\n\n\n1796159414\n/b/k.txt?response-content-disposition=attachment; filename=\"x "
       "y.txt\"&response-content-type=text/plain; charset=utf-8"},
      {"1.43 upload_part", "PUT",
       "http://127.0.0.1:4566/b/big?uploadId=u%2F1%2B2&partNumber=3&AWSAccessKeyId=test&"
       "Signature=JpPHlrU5%2BsPyAn0iAQRRPqYOTt4%3D&Expires=1796159414",
       1796159414, "PUT\n\n\n1796159414\n/b/big?partNumber=3&uploadId=u/1+2"},
      {"1.43 put_object ContentType + Metadata", "PUT",
       "http://127.0.0.1:4566/b/t.txt?AWSAccessKeyId=test&Signature=kSg6NCBUU8i9P1V%2BkMcIDQtyoZk%"
       "3D&content-type=text%2Fplain&x-amz-meta-owner=Ann&Expires=1796159414",
       1796159414, "PUT\n\ntext/plain\n1796159414\nx-amz-meta-owner:Ann\n/b/t.txt"},
      {"1.43 get_object_acl VersionId='v 1'", "GET",
       "http://127.0.0.1:4566/b/p?acl&versionId=v%201&AWSAccessKeyId=test&Signature="
       "4NQAKtZyaFKemHl2mRtMY2RJJOg%3D&Expires=1796159502",
       1796159502, "GET\n\n\n1796159502\n/b/p?acl&versionId=v 1"},
      {"1.43 get_object VersionId=3", "GET",
       "http://127.0.0.1:4566/b/p?versionId=3&AWSAccessKeyId=test&Signature="
       "GodCe29jitwT9Lt2fQJjABz88qA%3D&Expires=1796159502",
       1796159502, "GET\n\n\n1796159502\n/b/p?versionId=3"},
  };
}

TEST(SigV2BotocoreTest, PresignedUrlsVerifyBeforeExpiresAndNotAfter) {
  MapCredentialProvider keys;
  keys.add(long_term("test", "test"));
  FakeClock clock(from_epoch(0));
  SigV2Verifier verifier(keys, clock);
  for (const BotoUrl& u : boto_urls()) {
    SCOPED_TRACE(u.name);
    Req req = from_url(u.method, u.url);
    req.set("Host", "127.0.0.1:4566");
    EXPECT_TRUE(is_sigv2(req.view()));
    EXPECT_EQ(sigv2_string_to_sign(req.view(), ""), u.sts);

    clock.set(from_epoch(u.expires - 3600));  // when botocore made it
    Result<AuthContext> ok = verifier.verify(req.view(), "");
    ASSERT_TRUE(ok.ok()) << ok.error().code << ": " << ok.error().message;
    EXPECT_EQ(ok->access_key_id, "test");
    EXPECT_TRUE(ok->presigned);
    EXPECT_EQ(ok->service, "s3");
    EXPECT_EQ(ok->region, "");
    EXPECT_EQ(ok->payload_hash, kUnsignedPayload);
    EXPECT_TRUE(ok->credentials.is_root);

    clock.set(from_epoch(u.expires));
    EXPECT_TRUE(verifier.verify(req.view(), "").ok());
    clock.set(from_epoch(u.expires + 1));
    expect_error(verifier.verify(req.view(), ""), "AccessDenied", 403, "Request has expired");
    clock.set(from_epoch(u.expires + 86400));
    expect_error(verifier.verify(req.view(), ""), "AccessDenied", 403, "Request has expired");
  }
}

TEST(SigV2BotocoreTest, TamperedUrlsFail) {
  MapCredentialProvider keys;
  keys.add(long_term("test", "test"));
  FakeClock clock(from_epoch(1796159413 - 3600));
  SigV2Verifier verifier(keys, clock);
  const std::string base = "http://127.0.0.1:4566/b/dir/a%20b%2Bc.txt";
  auto url = [&](const std::string& path, const std::string& sig, const std::string& expires) {
    return from_url("GET", "http://127.0.0.1:4566" + path +
                               "?AWSAccessKeyId=test&Signature=" + sig + "&Expires=" + expires);
  };
  const std::string path = "/b/dir/a%20b%2Bc.txt";
  const std::string sig = "uufHKVQc9q0tbuKXtveQA4R6FCw%3D";
  ASSERT_TRUE(verifier.verify(url(path, sig, "1796159413").view(), "").ok());

  // One character of the signature, the path (even only its encoding), the expiry, the method.
  expect_mismatch(
      verifier.verify(url(path, "uufHKVQc9q0tbuKXtveQA4R6FCx%3D", "1796159413").view(), ""));
  expect_mismatch(verifier.verify(url("/b/dir/a%20b%2Bc.txu", sig, "1796159413").view(), ""));
  expect_mismatch(verifier.verify(url("/b/dir/a%20b+c.txt", sig, "1796159413").view(), ""));
  expect_mismatch(verifier.verify(url(path, sig, "1796159999").view(), ""));
  Req put = url(path, sig, "1796159413");
  put.method = "PUT";
  expect_mismatch(verifier.verify(put.view(), ""));
  // The signature without its padding, or not decoded: no match either.
  expect_mismatch(
      verifier.verify(url(path, "uufHKVQc9q0tbuKXtveQA4R6FCw", "1796159413").view(), ""));
  // An added sub-resource is signed; an added ordinary parameter is not (SigV2 signs only the
  // sub-resources of the query string).
  Req with_acl = url(path, sig, "1796159413");
  with_acl.query += "&acl";
  expect_mismatch(verifier.verify(with_acl.view(), ""));
  Req with_other = url(path, sig, "1796159413");
  with_other.query += "&x-id=GetObject";
  EXPECT_TRUE(verifier.verify(with_other.view(), "").ok());
  // Signing x-amz-* headers the URL did not carry changes the StringToSign.
  Req with_amz = url(path, sig, "1796159413");
  with_amz.set("x-amz-meta-extra", "1");
  expect_mismatch(verifier.verify(with_amz.view(), ""));

  // A wrong key, or the right key with another secret.
  Req other_key =
      from_url("GET", base + "?AWSAccessKeyId=nobody&Signature=" + sig + "&Expires=1796159413");
  expect_error(verifier.verify(other_key.view(), ""), "InvalidAccessKeyId", 403,
               std::string(kMsgS3InvalidAccessKeyId));
  MapCredentialProvider other_secret;
  other_secret.add(long_term("test", "not-test"));
  SigV2Verifier other(other_secret, clock);
  expect_mismatch(other.verify(url(path, sig, "1796159413").view(), ""));
}

// botocore moves Content-Type (and Content-MD5, x-amz-*) into the query string; a header, when
// sent, is what counts.
TEST(SigV2BotocoreTest, ContentTypeFromQueryUnlessTheHeaderIsSent) {
  MapCredentialProvider keys;
  keys.add(long_term("test", "test"));
  FakeClock clock(from_epoch(1796159413 - 60));
  SigV2Verifier verifier(keys, clock);
  Req req = from_url("PUT",
                     "http://127.0.0.1:4566/b/t.txt?AWSAccessKeyId=test&Signature="
                     "JlN%2B3P2ZWJFJur0Eh1RhBStkRTk%3D&content-type=text%2Fplain&"
                     "x-amz-meta-owner=Ann&Expires=1796159413");
  ASSERT_TRUE(verifier.verify(req.view(), "").ok());
  req.set("Content-Type", "text/plain");
  EXPECT_TRUE(verifier.verify(req.view(), "").ok());
  req.set("Content-Type", "image/png");
  expect_mismatch(verifier.verify(req.view(), ""));
  // The metadata parameter is signed.
  Req meta = from_url("PUT",
                      "http://127.0.0.1:4566/b/t.txt?AWSAccessKeyId=test&Signature="
                      "JlN%2B3P2ZWJFJur0Eh1RhBStkRTk%3D&content-type=text%2Fplain&"
                      "x-amz-meta-owner=Bob&Expires=1796159413");
  expect_mismatch(verifier.verify(meta.view(), ""));
}

// Temporary credentials: botocore puts the session token in the query string and signs it as an
// x-amz-security-token header.
TEST(SigV2BotocoreTest, PresignedUrlWithSessionToken) {
  MapCredentialProvider keys;
  keys.add(temporary("ASIATEMP", "tempsecret", "tok/en+1=="));
  FakeClock clock(from_epoch(1796159413 - 3600));
  SigV2Verifier verifier(keys, clock);
  const std::string v129 =
      "http://127.0.0.1:4566/b/k?AWSAccessKeyId=ASIATEMP&Signature=aKlkUlE5buBoEpYCvUg6%2BEcLxSg%"
      "3D&x-amz-security-token=tok%2Fen%2B1%3D%3D&Expires=1796159413";
  const std::string v143 =
      "http://127.0.0.1:4566/b/k?AWSAccessKeyId=ASIATEMP&Signature=nQXY76Go%2FkuJk8CM4iP63Rlz0so%"
      "3D&x-amz-security-token=tok%2Fen%2B1%3D%3D&Expires=1796159414";
  for (const std::string& u : {v129, v143}) {
    SCOPED_TRACE(u);
    Req req = from_url("GET", u);
    Result<AuthContext> ok = verifier.verify(req.view(), "");
    ASSERT_TRUE(ok.ok()) << ok.error().code << ": " << ok.error().message;
    EXPECT_EQ(ok->credentials.session_token, "tok/en+1==");
    EXPECT_EQ(ok->credentials.kind, Credentials::Kind::kAssumedRole);
  }
  EXPECT_EQ(sigv2_string_to_sign(from_url("GET", v129).view(), ""),
            "GET\n\n\n1796159413\nx-amz-security-token:tok/en+1==\n/b/k");

  // Another token: InvalidToken before any signature is computed. No token: the temporary key
  // does not exist on its own.
  Req wrong = from_url("GET", v129);
  wrong.query =
      "AWSAccessKeyId=ASIATEMP&Signature=aKlkUlE5buBoEpYCvUg6%2BEcLxSg%3D&"
      "x-amz-security-token=other&Expires=1796159413";
  expect_error(verifier.verify(wrong.view(), ""), "InvalidToken", 400,
               "The provided token is malformed or otherwise invalid.");
  Req none = from_url("GET", v129);
  none.query =
      "AWSAccessKeyId=ASIATEMP&Signature=aKlkUlE5buBoEpYCvUg6%2BEcLxSg%3D&Expires="
      "1796159413";
  expect_error(verifier.verify(none.view(), ""), "InvalidAccessKeyId", 403,
               std::string(kMsgS3InvalidAccessKeyId));
  // The token in a header instead of the query: resolved the same way, signed the same way.
  Req header = none;
  header.set("X-Amz-Security-Token", "tok/en+1==");
  EXPECT_TRUE(verifier.verify(header.view(), "").ok());
  // An expired session.
  keys.expire_token("tok/en+1==");
  expect_error(verifier.verify(from_url("GET", v129).view(), ""), "ExpiredToken", 400,
               "The provided token has expired.");
}

// The header form, signed by botocore 1.29.27's botocore.auth.HmacV1Auth (AWSRequest, add_auth)
// on Tue, 01 Dec 2026 20:10:32 GMT.
Req boto_header_request() {
  return Req{"PUT",
             "/b/dir/a%20b%2Bc.txt",
             "tagging",
             {{"Content-Type", "text/plain"},
              {"Content-MD5", "XUFAKrxLKna5cZ2REBfFkg=="},
              {"X-Amz-Meta-Color", "  blue "},
              {"x-amz-acl", "private"},
              {"Date", "Tue, 01 Dec 2026 20:10:32 GMT"},
              {"Authorization", "AWS test:h1KWuOyYPgUoD7sCiWK9HeIHvOU="}}};
}
constexpr int64_t kBotoHeaderDate = 1796155832;

TEST(SigV2HeaderTest, BotocoreSignedRequestVerifies) {
  MapCredentialProvider keys;
  keys.add(long_term("test", "test"));
  FakeClock clock(from_epoch(kBotoHeaderDate));
  SigV2Verifier verifier(keys, clock);
  Req req = boto_header_request();
  EXPECT_TRUE(is_sigv2(req.view()));
  EXPECT_EQ(sigv2_string_to_sign(req.view(), ""),
            "PUT\nXUFAKrxLKna5cZ2REBfFkg==\ntext/plain\nTue, 01 Dec 2026 20:10:32 GMT\n"
            "x-amz-acl:private\nx-amz-meta-color:blue\n/b/dir/a%20b%2Bc.txt?tagging");
  Result<AuthContext> ok = verifier.verify(req.view(), "");
  ASSERT_TRUE(ok.ok()) << ok.error().code << ": " << ok.error().message;
  EXPECT_FALSE(ok->presigned);
  EXPECT_EQ(ok->access_key_id, "test");
  EXPECT_EQ(ok->amz_date, "20261201T201032Z");
  // The body is not signed.
  req.headers.emplace_back("Content-Length", "5");
  EXPECT_TRUE(verifier.verify(req.view(), "").ok());

  // Each signed element matters.
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"Content-Type", "text/html"},
           {"Content-MD5", "AAAAAAAAAAAAAAAAAAAAAA=="},
           {"X-Amz-Meta-Color", "red"},
           {"x-amz-acl", "public-read"},
           {"x-amz-meta-new", "1"},
           {"Date", "Tue, 01 Dec 2026 20:10:33 GMT"},
           {"Authorization", "AWS test:h1KWuOyYPgUoD7sCiWK9HeIHvOV="}}) {
    SCOPED_TRACE(name + ": " + value);
    Req changed = boto_header_request();
    changed.set(name, value);
    expect_mismatch(verifier.verify(changed.view(), ""));
  }
  Req no_tagging = boto_header_request();
  no_tagging.query = "";
  expect_mismatch(verifier.verify(no_tagging.view(), ""));
}

TEST(SigV2HeaderTest, RequestTimeWithinFifteenMinutes) {
  MapCredentialProvider keys;
  keys.add(long_term("test", "test"));
  FakeClock clock(from_epoch(kBotoHeaderDate));
  SigV2Verifier verifier(keys, clock);
  const Req req = boto_header_request();
  const std::string skewed =
      "The difference between the request time and the current time is too large.";
  for (int64_t delta : {-900, -1, 1, 900}) {
    clock.set(from_epoch(kBotoHeaderDate + delta));
    EXPECT_TRUE(verifier.verify(req.view(), "").ok()) << delta;
  }
  for (int64_t delta : {-86400, -901, 901, 86400}) {
    clock.set(from_epoch(kBotoHeaderDate + delta));
    expect_error(verifier.verify(req.view(), ""), "RequestTimeTooSkewed", 403, skewed);
  }

  // No date, or one that is not a date.
  clock.set(from_epoch(kBotoHeaderDate));
  Req no_date = req;
  no_date.remove("Date");
  expect_error(verifier.verify(no_date.view(), ""), "AccessDenied", 403,
               std::string(kMsgS3MissingDate));
  for (const char* bad : {"yesterday", "Tue, 31 Feb 2026 20:10:32 GMT",
                          "Tue, 01 Dec 2026 25:10:32 GMT", "Tue, 01 Dec 2026 20:10:32 CEST", ""}) {
    Req bad_date = req;
    bad_date.set("Date", bad);
    expect_error(verifier.verify(bad_date.view(), ""), "AccessDenied", 403,
                 std::string(kMsgS3MissingDate));
  }
}

TEST(SigV2HeaderTest, DateForms) {
  // Every form names the same second; the date is checked for skew in each (the signature then
  // fails, the Date header's text being signed).
  MapCredentialProvider keys;
  keys.add(long_term("test", "test"));
  FakeClock clock(from_epoch(kBotoHeaderDate));
  SigV2Verifier verifier(keys, clock);
  for (const char* date : {"Tue, 01 Dec 2026 20:10:32 +0000", "Tue, 01 Dec 2026 21:10:32 +0100",
                           "Tue, 01 Dec 2026 15:10:32 -0500", "01 Dec 2026 20:10:32 UTC",
                           "Tue, 1 Dec 2026 20:10:32 GMT", "Tuesday, 01-Dec-26 20:10:32 GMT",
                           "Tue Dec  1 20:10:32 2026", "20261201T201032Z"}) {
    SCOPED_TRACE(date);
    Req req = boto_header_request();
    req.set("Date", date);
    expect_mismatch(verifier.verify(req.view(), ""));
    clock.set(from_epoch(kBotoHeaderDate + 3600));
    expect_error(verifier.verify(req.view(), ""), "RequestTimeTooSkewed", 403,
                 "The difference between the request time and the current time is too large.");
    clock.set(from_epoch(kBotoHeaderDate));
  }
}

TEST(SigV2HeaderTest, XAmzDateTakesThePlaceOfDate) {
  MapCredentialProvider keys;
  keys.add(long_term("test", "test"));
  FakeClock clock(from_epoch(kBotoHeaderDate));
  SigV2Verifier verifier(keys, clock);
  Req req{"GET",
          "/b/k",
          "",
          {{"Date", "Thu, 01 Jan 1970 00:00:00 GMT"},  // ignored: x-amz-date is there
           {"X-Amz-Date", "Tue, 01 Dec 2026 20:10:32 GMT"}}};
  const std::string sts = "GET\n\n\n\nx-amz-date:Tue, 01 Dec 2026 20:10:32 GMT\n/b/k";
  EXPECT_EQ(sigv2_string_to_sign(req.view(), ""), sts);
  req.set("Authorization", "AWS test:" + sigv2_signature("test", sts));
  Result<AuthContext> ok = verifier.verify(req.view(), "");
  ASSERT_TRUE(ok.ok()) << ok.error().code << ": " << ok.error().message;
  EXPECT_EQ(ok->amz_date, "20261201T201032Z");
  // The skew is measured on x-amz-date.
  req.set("X-Amz-Date", "Tue, 01 Dec 2026 19:10:32 GMT");
  expect_error(verifier.verify(req.view(), ""), "RequestTimeTooSkewed", 403,
               "The difference between the request time and the current time is too large.");
}

TEST(SigV2HeaderTest, BotocoreSignedRequestWithSessionToken) {
  MapCredentialProvider keys;
  keys.add(temporary("ASIATEMP", "tempsecret", "tok/en+1=="));
  FakeClock clock(from_epoch(kBotoHeaderDate));
  SigV2Verifier verifier(keys, clock);
  // botocore 1.29.27 HmacV1Auth with Credentials('ASIATEMP', 'tempsecret', 'tok/en+1==').
  Req req{"GET",
          "/b/k",
          "",
          {{"x-amz-security-token", "tok/en+1=="},
           {"Date", "Tue, 01 Dec 2026 20:10:32 GMT"},
           {"Authorization", "AWS ASIATEMP:5FO45rCEtSDxIGM4Mql4H4h5GUI="}}};
  Result<AuthContext> ok = verifier.verify(req.view(), "");
  ASSERT_TRUE(ok.ok()) << ok.error().code << ": " << ok.error().message;
  EXPECT_EQ(ok->credentials.session_token, "tok/en+1==");

  Req wrong = req;
  wrong.set("x-amz-security-token", "tok/en+2==");
  expect_error(verifier.verify(wrong.view(), ""), "InvalidToken", 400,
               "The provided token is malformed or otherwise invalid.");
  Req none = req;
  none.remove("x-amz-security-token");
  expect_error(verifier.verify(none.view(), ""), "InvalidAccessKeyId", 403,
               std::string(kMsgS3InvalidAccessKeyId));
  // The header form takes its token from the header only.
  Req in_query = none;
  in_query.query = "x-amz-security-token=tok%2Fen%2B1%3D%3D";
  expect_error(verifier.verify(in_query.view(), ""), "InvalidAccessKeyId", 403,
               std::string(kMsgS3InvalidAccessKeyId));
}

// ================================================================================================
// Form errors.
// ================================================================================================

TEST(SigV2FormTest, MalformedAuthorizationHeader) {
  MapCredentialProvider keys;
  keys.add(long_term("test", "test"));
  FakeClock clock(from_epoch(kBotoHeaderDate));
  SigV2Verifier verifier(keys, clock);
  auto with_auth = [](const std::string& auth) {
    Req req = boto_header_request();
    req.set("Authorization", auth);
    return req;
  };
  const std::string invalid(kMsgS3SigV2HeaderInvalid);
  const std::string spacing(kMsgS3SigV2HeaderSpacing);
  expect_error(verifier.verify(with_auth("AWS test").view(), ""), "InvalidArgument", 400, invalid);
  expect_error(verifier.verify(with_auth("AWS test:").view(), ""), "InvalidArgument", 400, invalid);
  expect_error(verifier.verify(with_auth("AWS test:a:b").view(), ""), "InvalidArgument", 400,
               invalid);
  expect_error(verifier.verify(with_auth("AWS  test:h1KWuOyYPgUoD7sCiWK9HeIHvOU=").view(), ""),
               "InvalidArgument", 400, spacing);
  expect_error(verifier.verify(with_auth("AWS test: h1KWuOyYPgUoD7sCiWK9HeIHvOU=").view(), ""),
               "InvalidArgument", 400, spacing);
  // An empty access key id is simply unknown.
  expect_error(verifier.verify(with_auth("AWS :h1KWuOyYPgUoD7sCiWK9HeIHvOU=").view(), ""),
               "InvalidAccessKeyId", 403, std::string(kMsgS3InvalidAccessKeyId));
  // Surrounding whitespace is not part of the value.
  EXPECT_TRUE(
      verifier.verify(with_auth("  AWS test:h1KWuOyYPgUoD7sCiWK9HeIHvOU= ").view(), "").ok());
  // Not SigV2 at all.
  expect_error(verifier.verify(with_auth("Bearer abc").view(), ""), "AccessDenied", 403,
               "Access Denied");
  Req anonymous = boto_header_request();
  anonymous.remove("Authorization");
  expect_error(verifier.verify(anonymous.view(), ""), "AccessDenied", 403, "Access Denied");
}

TEST(SigV2FormTest, MissingOrMalformedQueryParameters) {
  MapCredentialProvider keys;
  keys.add(long_term("test", "test"));
  FakeClock clock(from_epoch(1796159413 - 3600));
  SigV2Verifier verifier(keys, clock);
  auto q = [](const std::string& query) { return Req{"GET", "/b/k", query, {}}; };
  const std::string missing(kMsgS3SigV2QueryParamsMissing);
  for (const char* query :
       {"AWSAccessKeyId=test&Signature=abc%3D", "AWSAccessKeyId=test&Expires=1796159413",
        "Signature=abc%3D&Expires=1796159413",
        "AWSAccessKeyId=&Signature=abc%3D&Expires=1796159413",
        "AWSAccessKeyId=test&Signature=&Expires=1796159413",
        "AWSAccessKeyId=test&Signature=abc%3D&Expires=",
        "awsaccesskeyid=test&Signature=abc%3D&Expires=1796159413"}) {
    SCOPED_TRACE(query);
    EXPECT_TRUE(is_sigv2(q(query).view()));
    expect_error(verifier.verify(q(query).view(), ""), "AccessDenied", 403, missing);
  }
  for (const char* expires : {"soon", "-1", "1796159413.5", "2147483648", "99999999999999999999"}) {
    SCOPED_TRACE(expires);
    expect_error(
        verifier.verify(
            q(std::string("AWSAccessKeyId=test&Signature=abc%3D&Expires=") + expires).view(), ""),
        "AccessDenied", 403, std::string(kMsgS3SigV2InvalidExpires) + expires);
  }
}

TEST(SigV2FormTest, OnlyOneMechanism) {
  MapCredentialProvider keys;
  keys.add(long_term("test", "test"));
  FakeClock clock(from_epoch(kBotoHeaderDate));
  SigV2Verifier verifier(keys, clock);
  const std::string both(kMsgS3BothMechanisms);
  Req header_and_query = boto_header_request();
  header_and_query.query = "tagging&AWSAccessKeyId=test&Signature=abc&Expires=1796159413";
  expect_error(verifier.verify(header_and_query.view(), ""), "InvalidArgument", 400, both);
  Req header_and_v4 = boto_header_request();
  header_and_v4.query = "tagging&X-Amz-Algorithm=AWS4-HMAC-SHA256";
  expect_error(verifier.verify(header_and_v4.view(), ""), "InvalidArgument", 400, both);
  Req query_and_v4{
      "GET", "/b/k", "AWSAccessKeyId=test&Signature=abc&Expires=1796159413&X-Amz-Signature=00", {}};
  expect_error(verifier.verify(query_and_v4.view(), ""), "InvalidArgument", 400, both);
  Req v4_header_and_query{"GET",
                          "/b/k",
                          "AWSAccessKeyId=test&Signature=abc&Expires=1796159413",
                          {{"Authorization",
                            "AWS4-HMAC-SHA256 Credential=test/20261201/us-east-1/"
                            "s3/aws4_request, SignedHeaders=host, Signature=00"}}};
  expect_error(verifier.verify(v4_header_and_query.view(), ""), "InvalidArgument", 400, both);
}

TEST(SigV2FormTest, IsSigV2) {
  auto req = [](std::string query, Headers headers) {
    return Req{"GET", "/b/k", std::move(query), std::move(headers)};
  };
  EXPECT_TRUE(is_sigv2(req("", {{"Authorization", "AWS test:abc="}}).view()));
  EXPECT_TRUE(is_sigv2(req("", {{"authorization", " AWS test:abc="}}).view()));
  EXPECT_TRUE(is_sigv2(req("AWSAccessKeyId=test&Signature=a&Expires=1", {}).view()));
  EXPECT_TRUE(is_sigv2(req("Signature=a", {}).view()));
  EXPECT_TRUE(is_sigv2(req("AWSAccessKeyId=test", {}).view()));
  EXPECT_FALSE(is_sigv2(req("", {}).view()));
  EXPECT_FALSE(is_sigv2(req("acl&Expires=1", {}).view()));
  EXPECT_FALSE(is_sigv2(req("", {{"Authorization", "AWS4-HMAC-SHA256 Credential=x"}}).view()));
  EXPECT_FALSE(is_sigv2(req("", {{"Authorization", "AWS"}}).view()));
  EXPECT_FALSE(is_sigv2(req("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=0", {}).view()));
  // An Authorization header decides: SigV4 with a stray Signature parameter is SigV4's to judge.
  EXPECT_FALSE(
      is_sigv2(req("Signature=a", {{"Authorization", "AWS4-HMAC-SHA256 Credential=x"}}).view()));
  // A blank Authorization header is no header.
  EXPECT_TRUE(is_sigv2(req("Signature=a", {{"Authorization", "  "}}).view()));
}

// ================================================================================================
// The StringToSign's parts.
// ================================================================================================

TEST(SigV2StringToSignTest, SubResourcesSortedDecodedAndFiltered) {
  Req req{"GET",
          "/b/k",
          "versionId=3&acl&prefix=x&uploads=&response-content-type=text%2Fhtml&partNumber=2&"
          "ACL&max-keys=5&uploadId=a%2Bb+c%20d&AWSAccessKeyId=test&Signature=s&Expires=9",
          {}};
  EXPECT_EQ(sigv2_string_to_sign(req.view(), ""),
            "GET\n\n\n9\n/b/k?acl&partNumber=2&response-content-type=text/html&uploadId=a+b+c "
            "d&uploads&versionId=3");
  // Every name of botocore's list counts; sorting is by name, stable for repeated names.
  Req all{"GET", "/", "", {{"Date", "d"}, {"Authorization", "AWS a:b"}}};
  for (auto it = kSigV2SubResources.rbegin(); it != kSigV2SubResources.rend(); ++it) {
    all.query += std::string(all.query.empty() ? "" : "&") + std::string(*it) + "=v";
  }
  all.query += "&acl=w";
  std::string sts = sigv2_string_to_sign(all.view(), "bk");
  std::vector<std::string> names(kSigV2SubResources.begin(), kSigV2SubResources.end());
  std::sort(names.begin(), names.end());
  std::string resource = "/bk/";
  for (size_t i = 0; i < names.size(); ++i) {
    resource += (i == 0 ? "?" : "&") + names[i] + "=v";
    if (names[i] == "acl") resource += "&acl=w";
  }
  EXPECT_EQ(sts, "GET\n\n\nd\n" + resource);
}

TEST(SigV2StringToSignTest, AmzHeadersLowerCasedSortedTrimmedAndJoined) {
  Req header_form{"PUT",
                  "/k",
                  "x-amz-meta-q=ignored",
                  {{"X-Amz-Meta-B", " 1 "},
                   {"x-amz-meta-a", "z"},
                   {"X-AMZ-META-B", "2"},
                   {"Content-Md5", " m "},
                   {"CONTENT-TYPE", "t"},
                   {"X-Amzn-Trace-Id", "not-amz"},
                   {"Date", " Tue, 01 Dec 2026 20:10:32 GMT "},
                   {"Authorization", "AWS a:b"}}};
  EXPECT_EQ(sigv2_string_to_sign(header_form.view(), "bk"),
            "PUT\nm\nt\nTue, 01 Dec 2026 20:10:32 GMT\nx-amz-meta-a:z\nx-amz-meta-b:1,2\n/bk/k");
  // The query form adds its x-amz-* parameters after the headers of the same name, and reads
  // Content-Type / Content-MD5 from the query only when no header carries them.
  Req query_form{"PUT",
                 "/k",
                 "x-amz-meta-b=3&X-Amz-Acl=private&Content-Type=q%2Ft&content-md5=qm&"
                 "AWSAccessKeyId=a&Signature=s&Expires=77",
                 {{"X-Amz-Meta-B", "1"}, {"Content-Type", "h/t"}}};
  EXPECT_EQ(sigv2_string_to_sign(query_form.view(), ""),
            "PUT\nqm\nh/t\n77\nx-amz-acl:private\nx-amz-meta-b:1,3\n/k");
}

TEST(SigV2StringToSignTest, ResourcePathIsRawAndBucketFromHost) {
  Req req{"GET", "/a%2Fb/%7Ec d", "", {{"Date", "x"}, {"Authorization", "AWS a:b"}}};
  EXPECT_EQ(sigv2_string_to_sign(req.view(), ""), "GET\n\n\nx\n/a%2Fb/%7Ec d");
  EXPECT_EQ(sigv2_string_to_sign(req.view(), "my.bucket"), "GET\n\n\nx\n/my.bucket/a%2Fb/%7Ec d");
  req.path = "";
  EXPECT_EQ(sigv2_string_to_sign(req.view(), ""), "GET\n\n\nx\n/");
  EXPECT_EQ(sigv2_string_to_sign(req.view(), "bk"), "GET\n\n\nx\n/bk/");
}

TEST(SigV2SignatureTest, IsBase64OfHmacSha1) {
  // HMAC-SHA1("key", "The quick brown fox jumps over the lazy dog") is
  // de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9 (Wikipedia's HMAC example).
  EXPECT_EQ(sigv2_signature("key", "The quick brown fox jumps over the lazy dog"),
            "3nybhbi3iqa8ino29wqQcBydtNk=");
  EXPECT_EQ(sigv2_signature("", "").size(), 28u);
}

}  // namespace
}  // namespace nubo::auth

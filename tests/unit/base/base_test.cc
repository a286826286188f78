#include <gtest/gtest.h>

#include "base/clock.h"
#include "base/crypto.h"
#include "base/ids.h"
#include "base/json.h"
#include "base/result.h"
#include "base/strings.h"

namespace nubo {
namespace {

TEST(CryptoTest, KnownDigests) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  // RFC 4231 test case 2.
  EXPECT_EQ(hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  Sha256Stream s;
  s.update("a");
  s.update("bc");
  EXPECT_EQ(hex_encode(s.finish()), sha256_hex("abc"));
}

TEST(CryptoTest, Base64RoundTripAndRejects) {
  for (std::string in : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto out = base64_decode(base64_encode(in));
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(*out, in);
  }
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_FALSE(base64_decode("Zm9").has_value());
  EXPECT_FALSE(base64_decode("Zm9v!mFy").has_value());
  EXPECT_FALSE(base64_decode("Z===").has_value());
  EXPECT_FALSE(base64_decode("Zg==Zg==").has_value());
}

TEST(IdsTest, UuidShape) {
  std::string a = new_uuid(), b = new_uuid();
  EXPECT_NE(a, b);
  ASSERT_EQ(a.size(), 36u);
  EXPECT_EQ(a[8], '-');
  EXPECT_EQ(a[14], '4');
  EXPECT_TRUE(a[19] == '8' || a[19] == '9' || a[19] == 'a' || a[19] == 'b');
}

TEST(StringsTest, UrlCoding) {
  EXPECT_EQ(url_decode("a%20b+c"), "a b+c");
  EXPECT_EQ(url_decode("a%20b+c", true), "a b c");
  EXPECT_EQ(url_decode("bad%zz%"), "bad%zz%");
  EXPECT_EQ(url_encode("a b/c~"), "a%20b%2Fc~");
  EXPECT_EQ(url_encode("a b/c", true), "a%20b/c");
  EXPECT_EQ(split("a,,b", ','), (std::vector<std::string>{"a", "", "b"}));
  EXPECT_EQ(trim("  x \r\n"), "x");
}

TEST(ClockTest, Formats) {
  SystemTime t = std::chrono::system_clock::from_time_t(1440938160) + std::chrono::milliseconds(7);
  EXPECT_EQ(format_iso8601_basic(t), "20150830T123600Z");
  EXPECT_EQ(format_iso8601(t), "2015-08-30T12:36:00.007Z");
  EXPECT_EQ(format_lambda_time(t), "2015-08-30T12:36:00.007+0000");
  FakeClock c(t);
  c.advance(std::chrono::seconds(61));
  EXPECT_EQ(format_iso8601_basic(c.now()), "20150830T123701Z");
}

TEST(JsonTest, ParseErrorsAreValues) {
  auto bad = parse_json("{nope");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "InvalidRequestContentException");
  auto good = parse_json(R"({"a":"x","n":3,"b":true})");
  ASSERT_TRUE(good.ok());
  const auto& o = good->as_object();
  EXPECT_EQ(get_string(o, "a"), "x");
  EXPECT_EQ(get_int(o, "n"), 3);
  EXPECT_EQ(get_bool(o, "b"), true);
  EXPECT_FALSE(get_string(o, "n").has_value());
}

Result<int> half(int x) {
  if (x % 2) return Error{"Odd", 400, "odd"};
  return x / 2;
}
Result<int> quarter(int x) {
  NUBO_ASSIGN_OR_RETURN(int h, half(x));
  return half(h);
}

TEST(ResultTest, PropagatesErrors) {
  EXPECT_EQ(*quarter(8), 2);
  EXPECT_EQ(quarter(6).error().code, "Odd");
}

}  // namespace
}  // namespace nubo

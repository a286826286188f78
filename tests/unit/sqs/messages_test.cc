#include "services/sqs/messages.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "services/sqs/limits.h"

namespace nubo::sqs {
namespace {

MessageAttribute str(std::string v) {
  return MessageAttribute{"String", std::move(v)};
}
MessageAttribute num(std::string v) {
  return MessageAttribute{"Number", std::move(v)};
}
MessageAttribute bin(std::string v) {
  return MessageAttribute{"Binary", std::move(v)};
}

// The code and message of validate_attributes' answer, or "ok".
std::string check(const MessageAttributes& attrs) {
  Status s = validate_attributes(attrs);
  return s.ok() ? "ok" : s.error().code;
}
std::string check_one(const std::string& name, MessageAttribute a) {
  return check(MessageAttributes{{name, std::move(a)}});
}

// ---- md5_of_attributes ----

TEST(Md5OfAttributesTest, MatchesAwsForASingleNumberAttribute) {
  EXPECT_EQ(md5_of_attributes({{"timestamp", num("1493147359900")}}),
            "235c5c510d26fb653d073faed50ae77c");
  EXPECT_EQ(md5_of_attributes({{"timestamp", num("1493147359901")}}),
            "994258b45346a2cc3f9cbb611aa7af30");
}

TEST(Md5OfAttributesTest, MatchesAwsForMixedTypesInByteOrderOfNames) {
  MessageAttributes attrs = {
      {"ccc", str("testjunk")},
      {"aaa", bin(std::string("\x02\x03\x04", 3))},
      {"zzz", num("0230.01")},
      {"\xC3\xB6ther_encodings", str("T\xC3\xBCst")},  // "öther_encodings": "Tüst"
  };
  EXPECT_EQ(md5_of_attributes(attrs), "8ae21a7957029ef04146b42aeaa18a22");
}

TEST(Md5OfAttributesTest, BinaryValuesKeepTheirNulBytesAndTransportType) {
  MessageAttributes attrs = {{"s", str("v")}, {"b", bin(std::string("\x00\x01", 2))}};
  EXPECT_EQ(md5_of_attributes(attrs), "d9c9bbb2badd153651a7647433fb4581");
  // The same bytes as a String (transport type 1) digest differently.
  MessageAttributes as_string = {{"s", str("v")},
                                 {"b", MessageAttribute{"String", std::string("\x00\x01", 2)}}};
  EXPECT_NE(md5_of_attributes(as_string), "d9c9bbb2badd153651a7647433fb4581");
}

TEST(Md5OfAttributesTest, IsEmptyForNoAttributes) {
  EXPECT_EQ(md5_of_attributes({}), "");
}

TEST(MessageAttributeTest, BinaryIsBinaryAndItsCustomTypes) {
  EXPECT_TRUE(bin("x").binary());
  EXPECT_TRUE((MessageAttribute{"Binary.jpeg", "x"}).binary());
  EXPECT_FALSE(str("x").binary());
  EXPECT_FALSE((MessageAttribute{"BinaryX", "x"}).binary());
}

// ---- invalid_character / valid_message_text ----

TEST(MessageTextTest, AcceptsTabsLineBreaksAndCharactersBeyondTheBmp) {
  const std::string ok = "a\tb\rc\nd \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \xEE\x80\x80";
  EXPECT_TRUE(valid_message_text(ok));
  EXPECT_EQ(invalid_character(ok), std::nullopt);
  EXPECT_TRUE(valid_message_text(""));
  EXPECT_TRUE(valid_message_text("\xEF\xBF\xBD"));      // U+FFFD, the last allowed in the BMP
  EXPECT_TRUE(valid_message_text("\xF4\x8F\xBF\xBF"));  // U+10FFFF
}

TEST(MessageTextTest, RefusesControlCharactersWithTheirCodePoint) {
  EXPECT_EQ(invalid_character("ab\x01"), 0x1u);
  EXPECT_FALSE(valid_message_text("\x01"));
  EXPECT_EQ(invalid_character(std::string("a\0b", 3)), 0x0u);
  EXPECT_EQ(invalid_character("\x1F"), 0x1Fu);
}

TEST(MessageTextTest, RefusesNonCharactersAndSurrogatesWithTheirCodePoint) {
  EXPECT_EQ(invalid_character("x\xEF\xBF\xBE"), 0xFFFEu);  // U+FFFE
  EXPECT_EQ(invalid_character("\xEF\xBF\xBF"), 0xFFFFu);   // U+FFFF
  EXPECT_EQ(invalid_character("\xED\xA0\x80"), 0xD800u);   // a lone high surrogate
  EXPECT_FALSE(valid_message_text("\xF4\x90\x80\x80"));    // beyond U+10FFFF
  EXPECT_FALSE(valid_message_text("\xED\xA0\x80"));
}

TEST(MessageTextTest, RefusesBytesThatAreNotUtf8AsReplacementCharacter) {
  EXPECT_EQ(invalid_character("a\x80z"), 0xFFFDu);        // a lone continuation byte
  EXPECT_EQ(invalid_character("a\xE2\x82"), 0xFFFDu);     // truncated at the end
  EXPECT_EQ(invalid_character("\xE2\x82z"), 0xFFFDu);     // cut short by an ASCII byte
  EXPECT_EQ(invalid_character("\xC0\xAF"), 0xFFFDu);      // overlong '/'
  EXPECT_EQ(invalid_character("\xE0\x80\xAF"), 0xFFFDu);  // overlong, three bytes
  EXPECT_EQ(invalid_character("\xFF"), 0xFFFDu);
  EXPECT_FALSE(valid_message_text("\xC0\xAF"));
}

TEST(MessageTextTest, ReportsTheFirstRefusedCharacter) {
  EXPECT_EQ(invalid_character("ok\x02\x01"), 0x2u);
  EXPECT_EQ(invalid_character("ok\xEF\xBF\xBE\x01"), 0xFFFEu);
}

// ---- validate_attributes: names ----

TEST(ValidateAttributesTest, AcceptsOrdinaryAttributes) {
  EXPECT_EQ(check({{"a", str("x")},
                   {"my-attr_1.sub", num("42")},
                   {"AWSish", str("y")},
                   {"img", bin(std::string("\x00\xFF", 2))}}),
            "ok");
}

TEST(ValidateAttributesTest, RefusesReservedPrefixesInAnyCase) {
  for (const char* name : {"AWS.x", "aws.x", "Aws.x", "Amazon.x", "amazon.x", "AMAZON.x"}) {
    Status s = validate_attributes({{name, str("v")}});
    ASSERT_FALSE(s.ok()) << name;
    EXPECT_EQ(s.error().code, "InvalidParameterValue") << name;
    EXPECT_EQ(s.error().status, 400);
    EXPECT_NE(s.error().message.find("AWS. or Amazon."), std::string::npos) << s.error().message;
  }
}

TEST(ValidateAttributesTest, RefusesNamesWithBadDotsOrCharacters) {
  for (const char* name : {".a", "a.", "a..b", "a b", "a/b", "a*b", "a:b", "\xC3\xA9"}) {
    EXPECT_EQ(check_one(name, str("v")), "InvalidParameterValue") << name;
  }
  EXPECT_EQ(check_one("", str("v")), "InvalidParameterValue");
}

TEST(ValidateAttributesTest, NamesMayHave256CharactersNotMore) {
  EXPECT_EQ(check_one(std::string(kAttributeNameMax, 'n'), str("v")), "ok");
  EXPECT_EQ(check_one(std::string(kAttributeNameMax + 1, 'n'), str("v")), "InvalidParameterValue");
}

// ---- validate_attributes: data types and values ----

TEST(ValidateAttributesTest, DataTypesAreStringNumberOrBinaryWithAnOptionalSuffix) {
  EXPECT_EQ(check_one("a", MessageAttribute{"String.custom", "v"}), "ok");
  EXPECT_EQ(check_one("a", MessageAttribute{"Number.int", "1"}), "ok");
  EXPECT_EQ(check_one("a", MessageAttribute{"Binary.png", "\x01"}), "ok");
  EXPECT_EQ(check_one("a", MessageAttribute{"Stringy", "v"}), "InvalidParameterValue");
  EXPECT_EQ(check_one("a", MessageAttribute{"string", "v"}), "InvalidParameterValue");
  EXPECT_EQ(check_one("a", MessageAttribute{"Text", "v"}), "InvalidParameterValue");
  EXPECT_EQ(check_one("a", MessageAttribute{"", "v"}), "InvalidParameterValue");
  EXPECT_EQ(check_one("a", MessageAttribute{"String." + std::string(kDataTypeMax, 'x'), "v"}),
            "InvalidParameterValue");
}

TEST(ValidateAttributesTest, RefusesAnEmptyValue) {
  Status s = validate_attributes({{"a", str("")}});
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "InvalidParameterValue");
  EXPECT_NE(s.error().message.find("non-empty message attribute value"), std::string::npos)
      << s.error().message;
  EXPECT_EQ(check_one("b", bin("")), "InvalidParameterValue");
}

TEST(ValidateAttributesTest, NumbersMayHaveSignsDecimalsAndExponents) {
  for (const char* v : {"0", "42", "-7", "+7", "1.5", ".5", "5.", "1.5e3", "1E-3", "2e+10"}) {
    EXPECT_EQ(check_one("n", num(v)), "ok") << v;
  }
}

TEST(ValidateAttributesTest, RefusesValuesThatAreNotNumbers) {
  for (const char* v : {"abc", "1e", "e5", "-", ".", "1.2.3", "1e5.5", "12a", " 1", "1 "}) {
    Status s = validate_attributes({{"n", num(v)}});
    ASSERT_FALSE(s.ok()) << v;
    EXPECT_EQ(s.error().code, "InvalidParameterValue") << v;
    EXPECT_NE(s.error().message.find("to a number"), std::string::npos) << s.error().message;
  }
}

TEST(ValidateAttributesTest, RefusesAnExponentSignWithoutDigits) {
  EXPECT_EQ(check_one("n", num("1e+")), "InvalidParameterValue");
  EXPECT_EQ(check_one("n", num("1e-")), "InvalidParameterValue");
}

TEST(ValidateAttributesTest, StringValuesMustBeValidMessageTextBinaryNeedNot) {
  EXPECT_EQ(check_one("s", str("bad\x01")), "InvalidParameterValue");
  EXPECT_EQ(check_one("s", str("\xC0\xAF")), "InvalidParameterValue");
  EXPECT_EQ(check_one("b", bin("bad\x01\xC0\xAF")), "ok");
}

TEST(ValidateAttributesTest, AllowsTenAttributesNotEleven) {
  MessageAttributes attrs;
  for (int i = 0; i < 10; ++i) attrs["a" + std::to_string(i)] = str("v");
  EXPECT_EQ(check(attrs), "ok");
  attrs["a10"] = str("v");
  Status s = validate_attributes(attrs);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, "InvalidParameterValue");
  EXPECT_NE(s.error().message.find("[11]"), std::string::npos) << s.error().message;
}

// ---- message_size ----

TEST(MessageSizeTest, CountsTheBodyAndEveryAttributesNameTypeAndValue) {
  EXPECT_EQ(message_size("hello", {}), 5u);
  // 5 + ("ab" + "String" + "xyz") + ("n" + "Number" + "10")
  EXPECT_EQ(message_size("hello", {{"ab", str("xyz")}, {"n", num("10")}}), 5u + 11u + 9u);
}

}  // namespace
}  // namespace nubo::sqs

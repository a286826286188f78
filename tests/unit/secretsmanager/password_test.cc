#include "services/secretsmanager/password.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <string_view>

namespace nubo::secretsmanager {
namespace {

bool has(const std::string& s, int (*pred)(int)) {
  return std::any_of(s.begin(), s.end(),
                     [&](char c) { return pred(static_cast<unsigned char>(c)) != 0; });
}
bool has_punct(const std::string& s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return kPasswordPunctuation.find(c) != std::string_view::npos; });
}

TEST(PasswordTest, DefaultsToThirtyTwoCharactersOfEveryType) {
  for (int i = 0; i < 50; ++i) {
    auto pw = random_password(PasswordOptions{});
    ASSERT_TRUE(pw.ok());
    ASSERT_EQ(pw->size(), 32u);
    EXPECT_TRUE(has(*pw, std::islower) && has(*pw, std::isupper) && has(*pw, std::isdigit) &&
                has_punct(*pw))
        << *pw;
    EXPECT_EQ(pw->find(' '), std::string::npos);
  }
  EXPECT_NE(*random_password(PasswordOptions{}), *random_password(PasswordOptions{}));
}

TEST(PasswordTest, ExclusionsAndTheSpace) {
  PasswordOptions o;
  o.length = 200;
  o.exclude_punctuation = true;
  o.exclude_uppercase = true;
  o.exclude_characters = "abcdef0123";
  auto pw = random_password(o);
  ASSERT_TRUE(pw.ok());
  for (char c : *pw) {
    EXPECT_TRUE((c >= 'g' && c <= 'z') || (c >= '4' && c <= '9')) << c;
  }
  o = PasswordOptions{};
  o.length = 4096;
  o.include_space = true;
  o.exclude_numbers = true;
  o.exclude_lowercase = true;
  pw = random_password(o);
  ASSERT_EQ(pw->size(), 4096u);
  EXPECT_NE(pw->find(' '), std::string::npos);
  EXPECT_FALSE(has(*pw, std::isdigit) || has(*pw, std::islower));
  // Every character the sets allow shows up in a long password (uniform draws).
  std::set<char> seen(pw->begin(), pw->end());
  EXPECT_EQ(seen.size(), 26u + kPasswordPunctuation.size() + 1);
}

TEST(PasswordTest, TooShortForTheRequiredTypesOrNothingLeft) {
  PasswordOptions o;
  o.length = 3;
  auto pw = random_password(o);
  ASSERT_FALSE(pw.ok());
  EXPECT_EQ(pw.error().code, "InvalidParameterException");
  EXPECT_EQ(pw.error().message, "Password length is too short based on the required types.");
  o.require_each_included_type = false;
  EXPECT_EQ(random_password(o)->size(), 3u);
  o.length = 1;
  o.require_each_included_type = true;
  o.exclude_lowercase = o.exclude_uppercase = o.exclude_punctuation = true;
  EXPECT_TRUE(random_password(o).ok());  // digits only: one type
  o.exclude_numbers = true;
  EXPECT_EQ(random_password(o).error().code, "InvalidParameterException");
  // A type whose every character is excluded is not required.
  o = PasswordOptions{};
  o.length = 10;
  o.exclude_characters = "0123456789";
  pw = random_password(o);
  ASSERT_TRUE(pw.ok());
  EXPECT_FALSE(has(*pw, std::isdigit));
}

}  // namespace
}  // namespace nubo::secretsmanager

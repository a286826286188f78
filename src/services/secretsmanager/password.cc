#include "services/secretsmanager/password.h"

#include <cstring>
#include <string_view>
#include <vector>

#include "base/crypto.h"

namespace nubo::secretsmanager {

namespace {

constexpr std::string_view kLower = "abcdefghijklmnopqrstuvwxyz";
constexpr std::string_view kUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr std::string_view kDigits = "0123456789";

// Uniform random integers below a bound, from the OS's cryptographic source (rejection
// sampling: no modulo bias).
class Dice {
 public:
  uint32_t below(uint32_t n) {
    const uint32_t limit = UINT32_MAX - (UINT32_MAX % n);
    for (;;) {
      uint32_t v = next();
      if (v < limit) return v % n;
    }
  }

 private:
  uint32_t next() {
    if (pos_ + 4 > pool_.size()) {
      pool_ = random_bytes(256);
      pos_ = 0;
    }
    uint32_t v;
    std::memcpy(&v, pool_.data() + pos_, 4);
    pos_ += 4;
    return v;
  }
  std::string pool_;
  size_t pos_ = 0;
};

std::string without(std::string_view set, std::string_view excluded) {
  std::string out;
  for (char c : set) {
    if (excluded.find(c) == std::string_view::npos) out.push_back(c);
  }
  return out;
}

}  // namespace

Result<std::string> random_password(const PasswordOptions& o) {
  std::vector<std::string> types;
  if (!o.exclude_lowercase) types.push_back(without(kLower, o.exclude_characters));
  if (!o.exclude_uppercase) types.push_back(without(kUpper, o.exclude_characters));
  if (!o.exclude_numbers) types.push_back(without(kDigits, o.exclude_characters));
  if (!o.exclude_punctuation) {
    types.push_back(without(kPasswordPunctuation, o.exclude_characters));
  }
  std::string all;
  std::vector<const std::string*> required;
  for (const std::string& t : types) {
    if (t.empty()) continue;  // every character of the type excluded: the type is not included
    all += t;
    required.push_back(&t);
  }
  if (o.include_space && o.exclude_characters.find(' ') == std::string::npos) all.push_back(' ');
  if (all.empty()) {
    return Error{"InvalidParameterException", 400,
                 "The password can't be generated: the options exclude every character."};
  }
  if (!o.require_each_included_type) required.clear();
  if (o.length < static_cast<int64_t>(required.size())) {
    return Error{"InvalidParameterException", 400,
                 "Password length is too short based on the required types."};
  }
  Dice dice;
  std::string pw(static_cast<size_t>(o.length), ' ');
  // The required characters first, then the rest, then a Fisher-Yates shuffle so that the
  // required ones sit anywhere.
  size_t i = 0;
  for (const std::string* t : required) {
    pw[i++] = (*t)[dice.below(static_cast<uint32_t>(t->size()))];
  }
  for (; i < pw.size(); ++i) pw[i] = all[dice.below(static_cast<uint32_t>(all.size()))];
  for (size_t j = pw.size(); j > 1; --j) {
    std::swap(pw[j - 1], pw[dice.below(static_cast<uint32_t>(j))]);
  }
  return pw;
}

}  // namespace nubo::secretsmanager

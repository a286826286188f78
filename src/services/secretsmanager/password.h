// GetRandomPassword's generator (the logic; no HTTP types): characters drawn uniformly from the
// included sets with a cryptographic random source, at least one of each included type when
// asked (Secrets Manager API reference, "GetRandomPassword").
//
// Plain functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "base/result.h"
#include "services/secretsmanager/limits.h"

namespace nubo::secretsmanager {

struct PasswordOptions {
  int64_t length = kPasswordLengthDefault;
  std::string exclude_characters;
  bool exclude_numbers = false;
  bool exclude_punctuation = false;
  bool exclude_uppercase = false;
  bool exclude_lowercase = false;
  bool include_space = false;
  // At least one upper-case letter, lower-case letter, digit and punctuation character, of
  // those types the other options leave in (the space is never required).
  bool require_each_included_type = true;
};

// A password; InvalidParameterException when the options leave no character to draw from, or
// when `length` is shorter than the number of required types. REQUIRES: 1 <= length <= 4096
// (the wire layer checks the range).
Result<std::string> random_password(const PasswordOptions& options);

}  // namespace nubo::secretsmanager

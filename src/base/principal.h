// Principal: who made an authenticated request (filled by the front door from SigV4).
#pragma once

#include <string>

namespace nubo {

struct Principal {
  std::string arn;  // arn:aws:iam::000000000000:root, a user or an assumed role
  std::string account_id;
  std::string access_key_id;
  bool is_root = false;
};

}  // namespace nubo

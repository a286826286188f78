#include "auth/credentials.h"

#include <utility>

#include "auth/sigv4.h"
#include "base/check.h"

namespace nubo::auth {

Principal Credentials::principal() const {
  return Principal{principal_arn, account_id, access_key_id, is_root};
}

std::string root_principal_arn(std::string_view account_id) {
  std::string arn = "arn:aws:iam::";
  arn += account_id;
  arn += ":root";
  return arn;
}

KeyLookup CredentialProvider::lookup(std::string_view access_key_id,
                                     std::string_view session_token) const {
  KeyLookup out;
  std::optional<Credentials> creds = lookup(access_key_id);
  if (!creds) {
    out.problem = KeyProblem::kUnknownKey;
    return out;
  }
  if (!creds->session_token.empty()) {
    // Temporary credentials are only valid with their token. A long-term key ignores a token.
    if (session_token.empty()) {
      out.problem = KeyProblem::kUnknownKey;
      return out;
    }
    if (!constant_time_equal(session_token, creds->session_token)) {
      out.problem = KeyProblem::kInvalidToken;
      return out;
    }
  }
  out.credentials = std::move(creds);
  return out;
}

StaticCredentialProvider::StaticCredentialProvider(std::string access_key_id,
                                                   std::string secret_access_key,
                                                   std::string account_id) {
  NUBO_CHECK(!access_key_id.empty());
  NUBO_CHECK(!secret_access_key.empty());
  root_.principal_arn = root_principal_arn(account_id);
  root_.access_key_id = std::move(access_key_id);
  root_.secret_access_key = std::move(secret_access_key);
  root_.account_id = std::move(account_id);
  root_.is_root = true;
}

std::optional<Credentials> StaticCredentialProvider::lookup(std::string_view access_key_id) const {
  // Access key ids are not secret; a plain comparison is fine here. The secret is only ever
  // compared through the signature, in constant time.
  if (access_key_id != root_.access_key_id) return std::nullopt;
  return root_;
}

}  // namespace nubo::auth

#include "services/sts/session_tokens.h"

#include <utility>

#include "base/crypto.h"
#include "base/json.h"

namespace nubo::sts {

namespace {

constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

std::string new_temporary_key_id() {
  std::string raw = random_bytes(16);
  std::string id(kTemporaryKeyPrefix);
  for (char c : raw) id.push_back(kBase32[static_cast<unsigned char>(c) % 32]);
  return id;
}

int kind_code(auth::Credentials::Kind k) {
  return static_cast<int>(k);
}

}  // namespace

SessionTokens::SessionTokens(const auth::Keyring& keyring)
    : token_key_(keyring.subkey("session-token")), secret_key_(keyring.subkey("session-secret")) {}

auth::Credentials SessionTokens::issue(auth::Credentials claims) const {
  claims.access_key_id = new_temporary_key_id();
  json::object o;
  o["k"] = claims.access_key_id;
  o["p"] = claims.principal_arn;
  o["a"] = claims.account_id;
  o["t"] = kind_code(claims.kind);
  o["r"] = claims.is_root;
  if (!claims.user_name.empty()) o["u"] = claims.user_name;
  if (!claims.role_name.empty()) o["R"] = claims.role_name;
  if (!claims.principal_id.empty()) o["I"] = claims.principal_id;
  if (!claims.session_name.empty()) o["s"] = claims.session_name;
  if (!claims.session_policy.empty()) o["P"] = claims.session_policy;
  if (!claims.session_policy_arns.empty()) {
    json::array arns;
    for (const auto& a : claims.session_policy_arns) arns.emplace_back(a);
    o["A"] = std::move(arns);
  }
  o["e"] = claims.expires_epoch;
  // The access key id is the AAD as well as a claim: a token names the one key it goes with.
  std::string sealed = aes256gcm_seal(token_key_, json::serialize(o), claims.access_key_id);
  claims.session_token = std::string(kTokenPrefix) + base64_encode(sealed);
  std::string mac = hmac_sha256(secret_key_, claims.access_key_id + "\n" + sealed);
  claims.secret_access_key = base64_encode(mac).substr(0, 40);
  return claims;
}

auth::KeyLookup SessionTokens::open(std::string_view access_key_id, std::string_view token,
                                    int64_t now_epoch) const {
  auth::KeyLookup out;
  out.problem = auth::KeyProblem::kInvalidToken;
  if (token.substr(0, kTokenPrefix.size()) != kTokenPrefix) return out;
  auto sealed = base64_decode(token.substr(kTokenPrefix.size()));
  if (!sealed) return out;
  auto plain = aes256gcm_open(token_key_, *sealed, access_key_id);
  if (!plain) return out;
  auto parsed = parse_json(*plain);
  if (!parsed.ok() || !parsed->is_object()) return out;
  const json::object& o = parsed->as_object();
  auth::Credentials c;
  c.access_key_id = get_string(o, "k").value_or("");
  if (c.access_key_id != access_key_id) return out;
  c.principal_arn = get_string(o, "p").value_or("");
  c.account_id = get_string(o, "a").value_or("");
  int64_t kind = get_int(o, "t").value_or(-1);
  if (kind < 0 || kind > static_cast<int>(auth::Credentials::Kind::kSession)) return out;
  c.kind = static_cast<auth::Credentials::Kind>(kind);
  c.is_root = get_bool(o, "r").value_or(false);
  c.user_name = get_string(o, "u").value_or("");
  c.role_name = get_string(o, "R").value_or("");
  c.principal_id = get_string(o, "I").value_or("");
  c.session_name = get_string(o, "s").value_or("");
  c.session_policy = get_string(o, "P").value_or("");
  if (const json::array* arns = get_array(o, "A")) {
    for (const auto& a : *arns) {
      if (a.is_string()) c.session_policy_arns.emplace_back(a.as_string());
    }
  }
  c.expires_epoch = get_int(o, "e").value_or(0);
  if (now_epoch >= c.expires_epoch) {
    out.problem = auth::KeyProblem::kExpiredToken;
    return out;
  }
  c.session_token = std::string(token);
  std::string mac = hmac_sha256(secret_key_, c.access_key_id + "\n" + *sealed);
  c.secret_access_key = base64_encode(mac).substr(0, 40);
  out.problem = auth::KeyProblem::kNone;
  out.credentials = std::move(c);
  return out;
}

}  // namespace nubo::sts

#include "services/sts/directory.h"

#include <chrono>
#include <utility>

#include "auth/sigv4.h"
#include "base/check.h"
#include "base/log.h"
#include "services/iam/principals.h"

namespace nubo::sts {

namespace {

int64_t epoch_seconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

// A policy that denies everything: what stands in for one that cannot be read, so that a
// broken document (it parsed when IAM stored it) can never allow more than it did.
std::shared_ptr<const auth::Policy> deny_all() {
  static const std::shared_ptr<const auth::Policy> p = [] {
    auto parsed = auth::parse_policy(
        R"({"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*"}]})");
    NUBO_CHECK(parsed.ok());
    return std::make_shared<const auth::Policy>(std::move(parsed).value());
  }();
  return p;
}

void add_policies(const std::vector<std::string>& docs,
                  std::vector<std::shared_ptr<const auth::Policy>>& out) {
  for (const auto& doc : docs) {
    auto p = auth::parse_policy(doc);
    if (!p.ok()) {
      log_warn("iam: a stored policy does not parse (it denies everything): " + p.error().message);
      out.push_back(deny_all());
      continue;
    }
    out.push_back(std::make_shared<const auth::Policy>(std::move(p).value()));
  }
}

}  // namespace

Directory::Directory(DirectoryDeps deps) : deps_(std::move(deps)), tokens_(*deps_.keyring) {
  root_.access_key_id = deps_.root_access_key_id;
  root_.secret_access_key = deps_.root_secret_access_key;
  root_.account_id = deps_.account_id;
  root_.principal_arn = auth::root_principal_arn(deps_.account_id);
  root_.is_root = true;
  root_.kind = auth::Credentials::Kind::kRoot;
}

void Directory::invalidate() {
  std::lock_guard lock(mu_);
  keys_.clear();
  identities_.clear();
  ++generation_;
}

std::optional<auth::Credentials> Directory::lookup(std::string_view access_key_id) const {
  if (access_key_id == root_.access_key_id) return root_;
  uint64_t gen;
  {
    std::lock_guard lock(mu_);
    auto it = keys_.find(access_key_id);
    if (it != keys_.end()) return it->second;
    gen = generation_;
  }
  std::string id(access_key_id);
  std::optional<auth::Credentials> found;
  auto rec = iam::find_access_key(*deps_.store, *deps_.keyring, id);
  if (!rec.ok()) {
    log_warn("iam: cannot look up an access key: " + rec.error().message);
    return std::nullopt;  // not cached: a storage error is not an answer
  }
  if (rec->has_value() && (*rec)->active) {
    const iam::AccessKeyRecord& k = **rec;
    auth::Credentials c;
    c.access_key_id = k.access_key_id;
    c.secret_access_key = k.secret_access_key;
    c.principal_arn = k.user_arn;
    c.account_id = deps_.account_id;
    c.kind = auth::Credentials::Kind::kUser;
    c.user_name = k.user_name;
    c.principal_id = k.user_id;
    found = std::move(c);
  }
  std::lock_guard lock(mu_);
  if (gen == generation_) {
    if (keys_.size() >= kMaxCached) keys_.clear();
    keys_.emplace(id, found);
  }
  return found;
}

auth::KeyLookup Directory::lookup(std::string_view access_key_id,
                                  std::string_view session_token) const {
  if (access_key_id.substr(0, kTemporaryKeyPrefix.size()) == kTemporaryKeyPrefix) {
    auth::KeyLookup out;
    if (session_token.empty()) {
      out.problem = auth::KeyProblem::kUnknownKey;
      return out;
    }
    int64_t now = epoch_seconds(deps_.clock->now());
    {
      std::lock_guard lock(mu_);
      auto it = sessions_.find(access_key_id);
      if (it != sessions_.end() && it->second.token == session_token) {
        if (now >= it->second.credentials.expires_epoch) {
          out.problem = auth::KeyProblem::kExpiredToken;
          sessions_.erase(it);
          return out;
        }
        out.credentials = it->second.credentials;
        return out;
      }
    }
    out = tokens_.open(access_key_id, session_token, now);
    if (out.problem == auth::KeyProblem::kNone) {
      std::lock_guard lock(mu_);
      if (sessions_.size() >= kMaxCached) sessions_.clear();
      sessions_.insert_or_assign(std::string(access_key_id),
                                 Opened{std::string(session_token), *out.credentials, nullptr, 0});
    }
    return out;
  }
  return CredentialProvider::lookup(access_key_id, session_token);
}

Result<std::shared_ptr<const auth::Identity>> Directory::identity(
    const auth::Credentials& who) const {
  if (who.is_root) return std::shared_ptr<const auth::Identity>();
  // Session credentials: the identity remembered beside the opened token, when it is for these
  // very claims and IAM has not changed since.
  auto same_session = [&who](const auth::Credentials& c) {
    return c.kind == who.kind && c.principal_arn == who.principal_arn &&
           c.principal_id == who.principal_id && c.user_name == who.user_name &&
           c.role_name == who.role_name && c.session_name == who.session_name &&
           c.session_policy == who.session_policy &&
           c.session_policy_arns == who.session_policy_arns;
  };
  bool temporary = !who.session_token.empty();
  if (temporary) {
    std::lock_guard lock(mu_);
    auto it = sessions_.find(who.access_key_id);
    if (it != sessions_.end() && it->second.identity && it->second.generation == generation_ &&
        same_session(it->second.credentials)) {
      return it->second.identity;
    }
  }
  std::string key;
  switch (who.kind) {
    case auth::Credentials::Kind::kRoot:
      return std::shared_ptr<const auth::Identity>();
    case auth::Credentials::Kind::kUser:
    case auth::Credentials::Kind::kSession:
      key = "user/" + who.user_name + "\n" + who.principal_id;
      break;
    case auth::Credentials::Kind::kAssumedRole:
      key = "role/" + who.role_name + "\n" + who.principal_id + "\n" + who.session_name + "\n" +
            who.session_policy;
      for (const auto& a : who.session_policy_arns) key += "\n" + a;
      break;
  }
  uint64_t gen;
  std::shared_ptr<const auth::Identity> id;
  {
    std::lock_guard lock(mu_);
    auto it = identities_.find(key);
    if (it != identities_.end()) {
      if (!temporary) return it->second;
      id = it->second;  // and remembered beside the session below
    }
    gen = generation_;
  }
  if (!id) {
    NUBO_ASSIGN_OR_RETURN(id, load(who));
  }
  std::lock_guard lock(mu_);
  if (gen == generation_) {
    if (identities_.size() >= kMaxCached) identities_.clear();
    identities_.emplace(std::move(key), id);
    if (temporary) {
      auto it = sessions_.find(who.access_key_id);
      if (it != sessions_.end() && same_session(it->second.credentials)) {
        it->second.identity = id;
        it->second.generation = gen;
      }
    }
  }
  return id;
}

Result<std::shared_ptr<const auth::Identity>> Directory::load(const auth::Credentials& who) const {
  auto id = std::make_shared<auth::Identity>();
  if (who.kind == auth::Credentials::Kind::kAssumedRole) {
    id->principal_type = "AssumedRole";
    NUBO_ASSIGN_OR_RETURN(auto role, iam::load_role(*deps_.store, who.role_name));
    // A role deleted since, or deleted and made again (another id): the session has nothing.
    if (role && (who.principal_id.empty() || role->id == who.principal_id)) {
      add_policies(role->policy_documents, id->policies);
      id->user_id = role->id + ":" + who.session_name;
      id->tags = role->tags;
    }
    if (!who.session_policy.empty()) add_policies({who.session_policy}, id->session);
    if (!who.session_policy_arns.empty()) {
      auto docs =
          iam::managed_policy_documents(*deps_.store, deps_.account_id, who.session_policy_arns);
      if (docs.ok()) {
        add_policies(*docs, id->session);
      } else if (docs.error().status >= 500) {
        return docs.error();  // not cached: a storage error is no answer
      } else {
        // A session policy deleted since grants nothing: the session stays bounded by it.
        id->session.push_back(deny_all());
      }
    }
    return std::shared_ptr<const auth::Identity>(std::move(id));
  }
  id->principal_type = "User";
  id->user_name = who.user_name;
  NUBO_ASSIGN_OR_RETURN(auto user, iam::load_user(*deps_.store, who.user_name));
  if (user && (who.principal_id.empty() || user->id == who.principal_id)) {
    add_policies(user->policy_documents, id->policies);
    id->user_id = user->id;
    id->tags = user->tags;
  }
  return std::shared_ptr<const auth::Identity>(std::move(id));
}

}  // namespace nubo::sts

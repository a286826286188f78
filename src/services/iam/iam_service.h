// IamService: AWS IAM on the Query protocol (Version=2010-05-08, XML answers): users, groups,
// roles, their inline policies and tags, access keys, customer and AWS managed policies with
// their versions and attachments, and GetAccountAuthorizationDetails (issue 4). Every action is
// authorised with auth::authorize before it acts.
//
// Threads: handle() runs on io threads and moves the work (authorisation included) to the
// blocking pool; on_change runs there too.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <memory>
#include <string>

#include "auth/authorize.h"
#include "auth/keyring.h"
#include "base/clock.h"
#include "base/result.h"
#include "net/http.h"
#include "storage/store.h"

namespace nubo::iam {

inline constexpr const char* kVersion = "2010-05-08";

struct IamDeps {
  storage::Store* store = nullptr;
  const Clock* clock = nullptr;
  boost::asio::thread_pool* blocking = nullptr;
  std::string account_id;
  // Seals access-key secrets (borrowed). Without one, CreateAccessKey answers ServiceFailure.
  const auth::Keyring* keyring = nullptr;
  // Called (on the blocking pool) after every successful write that changes users, groups,
  // roles, policies, attachments, tags or access keys. May be empty.
  std::function<void()> on_change;
};

class IamService {
 public:
  explicit IamService(IamDeps deps);
  ~IamService();
  // Applies the schema (migrate_iam_schema) and fills what older schemas lacked; call once
  // before handle().
  Status start();

  // Answers one IAM request. Never throws for bad input: errors leave in the Query protocol's
  // <ErrorResponse> shape.
  net::Task<net::Response> handle(net::Request& req, const auth::Caller& caller);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nubo::iam

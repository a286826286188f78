// IamService: AWS IAM on the Query protocol (Version=2010-05-08, XML answers). So far roles and
// their inline policies: CreateRole, GetRole, DeleteRole, ListRoles, PutRolePolicy,
// GetRolePolicy, DeleteRolePolicy, ListRolePolicies (issue 4; users, groups, managed policies,
// access keys and the authorisation of every call come next).
//
// Threads: handle() runs on io threads and moves the Store work to the blocking pool.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <string>

#include "base/clock.h"
#include "base/principal.h"
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
};

class IamService {
 public:
  explicit IamService(IamDeps deps);
  ~IamService();
  Status start();  // applies the schema; call once before handle()

  // Answers one IAM request. Never throws for bad input: errors leave in the Query protocol's
  // <ErrorResponse> shape.
  net::Task<net::Response> handle(net::Request& req, const Principal& caller);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nubo::iam

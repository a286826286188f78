// StsService: AWS STS on the Query protocol (form-encoded Action=...&Version=2011-06-15, XML
// answers): GetCallerIdentity, AssumeRole (the role's trust policy and the caller's identity
// policies checked as AWS does, DurationSeconds within the role's MaxSessionDuration, session
// policies inline and by ARN) and GetSessionToken (issue 4). Credentials come from the
// Directory's SessionTokens; nothing is stored per session.
//
// Threads: handle() runs on io threads and moves Store reads to the blocking pool;
// assume_role_as_service() blocks (call it from the blocking pool). Both are thread-safe.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <mutex>
#include <string>
#include <unordered_map>

#include "auth/authorize.h"
#include "base/clock.h"
#include "base/result.h"
#include "net/http.h"
#include "services/sts/directory.h"
#include "storage/store.h"

namespace nubo::sts {

// STS's API version, the one value of Version it accepts.
inline constexpr const char* kVersion = "2011-06-15";
// A role assumed with credentials that are themselves an assumed role's (role chaining) lasts
// at most an hour (IAM User Guide, "Role chaining").
inline constexpr int kRoleChainingMaxSeconds = 3600;

struct StsDeps {
  const Directory* directory = nullptr;
  storage::Store* store = nullptr;
  const Clock* clock = nullptr;
  boost::asio::thread_pool* blocking = nullptr;
  std::string account_id;
};

class StsService {
 public:
  explicit StsService(StsDeps deps);

  // Answers one STS request from caller (authenticated by the front door). Never throws for bad
  // input: errors leave in the Query protocol's <ErrorResponse> shape.
  net::Task<net::Response> handle(net::Request& req, const auth::Caller& caller) const;

  // Session credentials of `role_arn` for an AWS service principal ("lambda.amazonaws.com"
  // running a function): the role must exist and its trust policy must allow the service
  // sts:AssumeRole. Errors: InvalidParameterValueException-free plain codes the caller maps:
  // "NoSuchEntity" (404) when the role does not exist, "AccessDenied" (403) when it does not
  // trust the service. Blocks on the Store.
  // reuse: hand out the credentials issued for the same role, session name and service while
  // more than half of their lifetime is left (an instance's cold start then reads nothing from
  // the Store); a role deleted since still gets nothing with them (its id is in the claims).
  Result<auth::Credentials> assume_role_as_service(const std::string& role_arn,
                                                   const std::string& session_name,
                                                   const std::string& service, int duration_seconds,
                                                   bool reuse = false) const;

 private:
  static constexpr size_t kMaxReused = 4096;

  StsDeps deps_;
  mutable std::mutex reuse_mu_;
  // role ARN '\n' session '\n' service -> credentials. GUARDED_BY(reuse_mu_)
  mutable std::unordered_map<std::string, auth::Credentials> reused_;
};

// The name of the role an IAM role ARN names (arn:aws:iam::ACCT:role/path/NAME), or "" when
// `arn` is not a role ARN of `account_id`.
std::string role_name_of(const std::string& arn, const std::string& account_id);

}  // namespace nubo::sts

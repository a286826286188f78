// CloudTrailService: the audit trail's read side, CloudTrail's LookupEvents on JSON 1.1
// (X-Amz-Target com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents), the
// subset `aws cloudtrail lookup-events` uses: LookupAttributes (one of EventId, EventName,
// ReadOnly, Username, ResourceName, EventSource, AccessKeyId), StartTime, EndTime, MaxResults
// (1-50), NextToken; newest first. Each event carries its CloudTrail record as JSON
// (CloudTrailEvent) with userIdentity, sourceIPAddress, userAgent and, for a denied call,
// errorCode "AccessDenied".
//
// Threads: handle() runs on io threads and reads the Store on the blocking pool.
#pragma once

#include <boost/asio/thread_pool.hpp>
#include <string>

#include "auth/authorize.h"
#include "net/http.h"
#include "services/cloudtrail/audit_log.h"
#include "storage/store.h"

namespace nubo::cloudtrail {

inline constexpr int kLookupMaxResults = 50;  // LookupEvents MaxResults, and its default

struct CloudTrailDeps {
  storage::Store* store = nullptr;
  AuditLog* log = nullptr;  // flushed before a lookup, so a caller sees its own calls
  boost::asio::thread_pool* blocking = nullptr;
  std::string account_id;
};

class CloudTrailService {
 public:
  explicit CloudTrailService(CloudTrailDeps deps);
  net::Task<net::Response> handle(net::Request& req, const auth::Caller& caller);

 private:
  CloudTrailDeps deps_;
};

}  // namespace nubo::cloudtrail

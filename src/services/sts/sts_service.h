// StsService: AWS STS on the Query protocol (form-encoded Action=...&Version=2011-06-15, XML
// answers). GetCallerIdentity answers who signed the request; the other actions answer
// InvalidAction until IAM gives nubo principals to assume (issue 4).
//
// Threads: handle() runs on io threads; no state, no I/O.
#pragma once

#include <string>

#include "base/principal.h"
#include "net/http.h"

namespace nubo::sts {

// STS's API version, the one value of Version it accepts.
inline constexpr const char* kVersion = "2011-06-15";

class StsService {
 public:
  // Answers one STS request from caller (authenticated by the front door). Never throws for bad
  // input: errors leave in the Query protocol's <ErrorResponse> shape.
  net::Response handle(const net::Request& req, const Principal& caller) const;
};

}  // namespace nubo::sts

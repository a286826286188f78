// FrontDoor: the request handler of the node's port. Classifies each request by protocol,
// verifies SigV4, and hands it to its service; errors leave in the service's own shape.
//
// Threads: handle() runs on io threads and is re-entrant; the services it borrows outlive it.
#pragma once

#include <memory>

#include "auth/authorize.h"
#include "auth/sigv4.h"
#include "base/clock.h"
#include "base/config.h"
#include "net/http.h"
#include "services/cloudtrail/cloudtrail_service.h"
#include "services/iam/iam_service.h"
#include "services/lambda/lambda_service.h"
#include "services/secretsmanager/secretsmanager_service.h"
#include "services/sts/directory.h"
#include "services/sts/sts_service.h"

namespace nubo::app {

struct Services {
  lambda::LambdaService* lambda = nullptr;
  const sts::StsService* sts = nullptr;
  iam::IamService* iam = nullptr;
  secretsmanager::SecretsManagerService* secrets = nullptr;
  cloudtrail::CloudTrailService* cloudtrail = nullptr;
};

class FrontDoor {
 public:
  // directory: who signs and what applies to them; audit: where decisions go (may be null).
  FrontDoor(const NodeConfig& config, const sts::Directory& directory, const Clock& clock,
            Services services, auth::AuditSink* audit);

  net::Task<net::Response> handle(net::Request& req, const net::Peer& peer);

  // The 413 answer for a body over the server's limit, in the request's protocol.
  net::Response too_large(const net::Request& req) const;

 private:
  const NodeConfig& config_;
  const sts::Directory& directory_;
  const Clock& clock_;
  auth::AuditSink* audit_;
  auth::SigV4Verifier verifier_;
  Services services_;
};

}  // namespace nubo::app

// FrontDoor: the request handler of the node's port. Classifies each request by protocol,
// verifies SigV4, and hands it to its service; errors leave in the service's own shape.
//
// Threads: handle() runs on io threads and is re-entrant; the services it borrows outlive it.
#pragma once

#include <memory>

#include "auth/authorize.h"
#include "auth/sigv2.h"
#include "auth/sigv4.h"
#include "base/clock.h"
#include "base/config.h"
#include "net/http.h"
#include "services/apigateway/apigateway_service.h"
#include "services/cloudtrail/cloudtrail_service.h"
#include "services/iam/iam_service.h"
#include "services/lambda/lambda_service.h"
#include "services/s3/s3_service.h"
#include "services/secretsmanager/secretsmanager_service.h"
#include "services/sqs/sqs_service.h"
#include "services/sts/directory.h"
#include "services/sts/sts_service.h"

namespace nubo::app {

struct Services {
  lambda::LambdaService* lambda = nullptr;
  const sts::StsService* sts = nullptr;
  iam::IamService* iam = nullptr;
  secretsmanager::SecretsManagerService* secrets = nullptr;
  sqs::SqsService* sqs = nullptr;
  cloudtrail::CloudTrailService* cloudtrail = nullptr;
  s3::S3Service* s3 = nullptr;
  apigateway::ApiGatewayService* apigateway = nullptr;
};

class FrontDoor {
 public:
  // directory: who signs and what applies to them; audit: where decisions go (may be null).
  FrontDoor(const NodeConfig& config, const sts::Directory& directory, const Clock& clock,
            Services services, auth::AuditSink* audit);

  net::Task<net::Response> handle(net::Request& req, const net::Peer& peer);

  // Whether a request's body is streamed to its service (S3 requests signed for s3): the
  // server's decider, from the header alone.
  static bool streams_body(const net::http::request_header<>& head);
  // Whether an unsigned request is an anonymous S3 one (see streams_body).
  static bool anonymous_s3(const net::http::request_header<>& head);
  // Answers one streamed request (net::HttpServer::stream_bodies).
  net::Task<void> handle_exchange(net::Exchange& ex, const net::Peer& peer);

  // The 413 answer for a body over the server's limit, in the request's protocol.
  net::Response too_large(const net::Request& req) const;

 private:
  // Function URLs and HTTP APIs: requests to <url-id>.lambda-url.<region>.localhost (or
  // /_nubo/url/<url-id>/...) and <api-id>.execute-api.<region>.localhost (or
  // /_nubo/apis/<api-id>/...), which need no signature; null when the request is neither.
  std::optional<net::Task<net::Response>> http_trigger(net::Request& req, const net::Target& target,
                                                       const net::Peer& peer);
  net::Task<net::Response> serve_function_url(net::Request& req, std::string url_id,
                                              std::string raw_path, net::Peer peer);
  net::Task<net::Response> serve_http_api(net::Request& req, std::string api_id,
                                          std::string raw_path, net::Peer peer);
  // The Caller of a request that carries a SigV4 signature, for triggers that accept one;
  // nullopt when it is unsigned, an error when the signature does not verify.
  Result<std::optional<auth::Caller>> optional_caller(const net::Request& req,
                                                      const net::Target& target,
                                                      const net::Peer& peer) const;

  // The Caller of a verified request.
  Result<auth::Caller> caller_of(const net::Request& req, const auth::AuthContext& who,
                                 const net::Peer& peer) const;

  const NodeConfig& config_;
  const sts::Directory& directory_;
  const Clock& clock_;
  auth::AuditSink* audit_;
  auth::SigV4Verifier verifier_;
  auth::SigV2Verifier sigv2_verifier_;  // S3's older signatures (boto3's presigned URLs)
  Services services_;
};

}  // namespace nubo::app

// AWS Signature Version 4 request verification, as a pure library (no HTTP types).
//
// The front door turns each request into a SignedRequest (a view of what came on the wire) and
// asks SigV4Verifier::verify() who signed it. Both forms AWS clients use are supported:
//  - the Authorization header:
//      AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/service/aws4_request,
//      SignedHeaders=host;x-amz-date, Signature=<64 hex>
//  - the presigned query string: X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires,
//    X-Amz-SignedHeaders, X-Amz-Signature and optionally X-Amz-Security-Token.
//
// The canonical request is built exactly as AWS documents it ("Create a canonical request for
// Signature Version 4", and the S3 "Signature Calculations" pages); the helpers that build it are
// public so that tests can check each step against AWS's published vectors.
//
// Not done here (yet): the chunk signatures of STREAMING-AWS4-HMAC-SHA256-PAYLOAD uploads (the
// seed signature is accepted; AuthContext carries what a chunk decoder needs), SigV4A, SigV2, the
// expiry of session tokens, and any check of the region or service against the endpoint (the
// caller sees both in AuthContext).
#pragma once

#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "auth/auth_errors.h"
#include "auth/credentials.h"
#include "base/clock.h"
#include "base/result.h"

namespace nubo::auth {

// AWS limits and fixed strings of SigV4 [AWS SigV4 reference; S3 "Authenticating Requests: Using
// Query Parameters"].
inline constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view kScopeTerminator = "aws4_request";
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";
// A request whose time is further than this from the node's clock is rejected.
inline constexpr int64_t kMaxClockSkewSeconds = 15 * 60;
// X-Amz-Expires may be at most seven days.
inline constexpr int64_t kMaxPresignExpiresSeconds = 604800;

// A transport-neutral view of a request. Borrows everything; the viewed strings must outlive
// every call that is given the view.
struct SignedRequest {
  std::string_view method;
  std::string_view raw_path;   // as on the wire, still percent-encoded, no query
  std::string_view raw_query;  // as on the wire, without '?', may be empty
  std::vector<std::pair<std::string, std::string>> headers;  // names any case, values as received
  std::string_view payload;                                  // full body (may be empty)
  // The body is not here: its reader checks it against the signed hash as it arrives (S3's
  // streamed uploads), so verify() does not.
  bool payload_streamed = false;
};

// Who signed a verified request, and under which scope.
struct AuthContext {
  Credentials credentials;
  std::string region;   // from the credential scope
  std::string service;  // from the credential scope
  std::string access_key_id;
  // What a later stage may need: whether the signature came in the query string, the payload hash
  // that was signed (e.g. STREAMING-AWS4-HMAC-SHA256-PAYLOAD tells S3 to decode aws-chunked), and
  // the request's signature and time (the seed of an aws-chunked upload's chunk signatures).
  bool presigned = false;
  std::string payload_hash;
  std::string signature;
  std::string amz_date;  // YYYYMMDDTHHMMSSZ
};

// Which kind of authentication a request carries.
enum class AuthForm {
  kNone,       // neither an Authorization header nor X-Amz-* signature parameters
  kHeader,     // an Authorization header
  kPresigned,  // X-Amz-Algorithm / X-Amz-Credential / X-Amz-Signature in the query string
};
// Cheap; lets S3 treat a request without any credentials as anonymous.
AuthForm auth_form(const SignedRequest& req);

// The SigV4 fields a request carries, parsed and checked for form (not yet for truth).
struct SigV4Fields {
  bool presigned = false;
  std::string access_key_id;
  std::string scope_date;      // YYYYMMDD
  std::string region;          // e.g. us-east-1
  std::string service;         // e.g. s3, lambda, dynamodb
  std::string signed_headers;  // as sent: lower-case names joined by ';'
  std::string signature;       // as sent (hex)
  std::string amz_date;        // YYYYMMDDTHHMMSSZ (X-Amz-Date, or the Date header converted)
  SystemTime request_time;
  int64_t expires_seconds = -1;  // presigned only: X-Amz-Expires; -1 when absent (non-S3)
  std::string security_token;    // X-Amz-Security-Token, empty when absent

  // "YYYYMMDD/region/service/aws4_request".
  std::string credential_scope() const;
};

// Parses the Authorization header or the presigned parameters of `req`. Errors (missing or
// malformed authentication, a scope date that is not the request's date) are worded for `style`.
Result<SigV4Fields> parse_sigv4(const SignedRequest& req, ErrorStyle style);

// --- The steps of the signature, exposed for tests --------------------------------------------

// The canonical URI. For S3 (service "s3" or "s3express") the raw path is used as it came on the
// wire; for every other service it is normalised (empty segments, "." and ".." removed, as
// botocore and the AWS test suite do) and percent-encoded once more, so "%" becomes "%25" — AWS's
// "double encoding". An empty path is "/".
std::string canonical_uri(std::string_view raw_path, std::string_view service);

// The canonical query string: every parameter percent-decoded and re-encoded with the RFC 3986
// unreserved set, sorted by encoded name, then value. In the presigned form X-Amz-Signature is
// left out. '+' is taken literally (it becomes %2B), as RFC 3986 reads it.
std::string canonical_query(std::string_view raw_query, bool presigned);

// One canonical header value: surrounding whitespace removed, inner runs of whitespace made one
// space.
std::string trim_all(std::string_view value);

// The payload hash that goes into the canonical request: the x-amz-content-sha256 header when
// present (a hex hash, UNSIGNED-PAYLOAD or a STREAMING-* marker are all taken as sent), else
// UNSIGNED-PAYLOAD for a presigned S3 request, else the SHA-256 of the payload.
std::string payload_hash(const SignedRequest& req, const SigV4Fields& fields);

// The full canonical request (six lines joined by '\n', no trailing newline).
std::string canonical_request(const SignedRequest& req, const SigV4Fields& fields,
                              std::string_view payload_hash);

// "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256 of canonical request>".
std::string string_to_sign(std::string_view amz_date, std::string_view credential_scope,
                           std::string_view canonical_request);

// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request"),
// 32 raw bytes.
std::string derive_signing_key(std::string_view secret, std::string_view date,
                               std::string_view region, std::string_view service);

// Lower-case hex of HMAC-SHA256(signing_key, string_to_sign).
std::string signature_hex(std::string_view signing_key, std::string_view string_to_sign);

// Compares without an early exit, so the time taken says nothing about where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// The Authorization header value a client would send for `req`, signing the headers named in
// `signed_headers` (lower-case, ';'-separated, sorted). For tests and for requests nubo itself
// makes. REQUIRES: `amz_date` is YYYYMMDDTHHMMSSZ and is what the request's x-amz-date header (or
// Date header) says.
std::string sign_authorization(const SignedRequest& req, std::string_view access_key_id,
                               std::string_view secret, std::string_view region,
                               std::string_view service, std::string_view amz_date,
                               std::string_view signed_headers);

// --- The verifier ------------------------------------------------------------------------------

// Checks SigV4 signatures against a CredentialProvider and a Clock (both borrowed; they must
// outlive the verifier). Thread-safe: verify() may run on every io thread at once.
class SigV4Verifier {
 public:
  SigV4Verifier(const CredentialProvider& credentials, const Clock& clock);
  SigV4Verifier(const SigV4Verifier&) = delete;
  SigV4Verifier& operator=(const SigV4Verifier&) = delete;

  // Who signed `req`, or the error to answer with, worded for `style`. Checks, in order: the form
  // of the authentication, the request time (15 minutes of skew; a presigned URL's expiry), the
  // access key and session token, the signature (in constant time), and finally that a hex
  // x-amz-content-sha256 matches the payload.
  Result<AuthContext> verify(const SignedRequest& req, ErrorStyle style) const;

 private:
  // The derived signing key for (secret, date, region, service), computed once a day per scope.
  std::string signing_key(std::string_view secret, std::string_view date, std::string_view region,
                          std::string_view service) const;

  static constexpr size_t kMaxCachedKeys = 1024;

  const CredentialProvider& credentials_;
  const Clock& clock_;
  mutable std::shared_mutex cache_mu_;
  // secret '\0' date '\0' region '\0' service -> 32-byte key. GUARDED_BY(cache_mu_)
  mutable std::unordered_map<std::string, std::string> key_cache_;
};

}  // namespace nubo::auth

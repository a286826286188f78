// AWS Signature Version 2 verification for S3, as a pure library (no HTTP types), beside the
// SigV4 one (sigv4.h) and sharing its request view (SignedRequest) and result (AuthContext).
//
// Both forms S3 clients use are supported [S3 Developer Guide, "Signing and authenticating REST
// requests" (RESTAuthentication)]:
//  - the Authorization header:  Authorization: AWS AKIAIOSFODNN7EXAMPLE:<base64 HMAC-SHA1>
//    with a Date (or x-amz-date) header;
//  - the query string: ?AWSAccessKeyId=...&Signature=<url-encoded base64>&Expires=<unix seconds>,
//    which is what boto3 and the AWS CLI's `presign` produce for S3 by default.
//
// Signature = Base64(HMAC-SHA1(secret, StringToSign)), StringToSign being
//   VERB \n Content-MD5 \n Content-Type \n (Expires | Date) \n CanonicalizedAmzHeaders
//   CanonicalizedResource
// built as sigv2_string_to_sign() says. SigV2 signs no payload.
//
// The front door asks is_sigv2() first: auth_form() (sigv4.h) reports a SigV2 query string as
// AuthForm::kNone and a SigV2 header as AuthForm::kHeader, which SigV4Verifier answers with
// "mechanism not supported". SigV2 is S3's only; the caller decides that the request is for S3.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "auth/credentials.h"
#include "auth/sigv4.h"
#include "base/clock.h"
#include "base/result.h"

namespace nubo::auth {

// The query parameters of the query form [S3 RESTAuthentication, "Query string request
// authentication alternative"]. Their names are case-sensitive.
inline constexpr std::string_view kSigV2ParamAccessKeyId = "AWSAccessKeyId";
inline constexpr std::string_view kSigV2ParamSignature = "Signature";
inline constexpr std::string_view kSigV2ParamExpires = "Expires";
// The Authorization header's scheme: "AWS" and one space. ("AWS4-HMAC-SHA256 ..." is SigV4.)
inline constexpr std::string_view kSigV2HeaderPrefix = "AWS ";

// The query parameters that are part of the CanonicalizedResource, exactly botocore's
// HmacV1Auth.QSAOfInterest (botocore/auth.py, 1.29 and 1.43 alike; its duplicate
// "requestPayment" dropped). AWS's page lists a subset of it (acl, lifecycle, location, logging,
// notification, partNumber, policy, requestPayment, torrent, uploadId, uploads, versionId,
// versioning, versions, website, delete and the six response-* overrides).
inline constexpr std::array<std::string_view, 35> kSigV2SubResources = {
    "accelerate",
    "acl",
    "cors",
    "defaultObjectAcl",
    "location",
    "logging",
    "partNumber",
    "policy",
    "requestPayment",
    "torrent",
    "versioning",
    "versionId",
    "versions",
    "website",
    "uploads",
    "uploadId",
    "response-content-type",
    "response-content-language",
    "response-expires",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "delete",
    "lifecycle",
    "tagging",
    "restore",
    "storageClass",
    "notification",
    "replication",
    "analytics",
    "metrics",
    "inventory",
    "select",
    "select-type",
    "object-lock",
};

// An Expires at or past 2^31 is refused as "Invalid date" (OpenStack Swift's s3api, which
// mirrors S3 here: swift/common/middleware/s3api/s3request.py and its functional test
// _test_expiration_limits_v2, which asserts AccessDenied for Expires = now + 2^32).
inline constexpr int64_t kMaxSigV2Expires = int64_t{1} << 31;

// S3's SigV2 wording [S3]; the sources are S3's answers as S3 emulators copy them (s3rver
// lib/signature/v2.js, OpenStack Swift s3api, MinIO) and as seen on the wire in client issues
// (benrady/learnjs#23 for the spacing message).
// AccessDenied 403: a query form without one of its three parameters.
inline constexpr std::string_view kMsgS3SigV2QueryParamsMissing =
    "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters";
// AccessDenied 403: Expires is not a number of seconds (the value is appended).
inline constexpr std::string_view kMsgS3SigV2InvalidExpires =
    "Invalid date (should be seconds since epoch): ";
// InvalidArgument 400: "AWS" not followed by exactly one space.
inline constexpr std::string_view kMsgS3SigV2HeaderSpacing =
    "Authorization header is invalid -- one and only one ' ' (space) required";
// InvalidArgument 400: the header is not "AWS AKID:signature" (two spaces after the '.' are S3's).
inline constexpr std::string_view kMsgS3SigV2HeaderInvalid =
    "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature";

// Whether `req` carries SigV2: an Authorization header starting "AWS " (SigV4's "AWS4-..." does
// not), or, without an Authorization header, an AWSAccessKeyId or Signature query parameter
// (either one: verify() then reports what is missing). Cheap.
bool is_sigv2(const SignedRequest& req);

// S3's SigV2 StringToSign for `req` [S3 RESTAuthentication]. The form is the one is_sigv2() sees:
// the header form when the Authorization header starts "AWS ", else the query form.
//   VERB '\n' Content-MD5 '\n' Content-Type '\n' D '\n' CanonicalizedAmzHeaders
//   CanonicalizedResource
// - Content-MD5, Content-Type: the header's value trimmed, "" when absent. In the query form a
//   missing header is taken from the query parameter of that name (any case): botocore's
//   HmacV1QueryAuth moves both headers into the query string, and S3 reads them there.
// - D: the query form's Expires parameter (decoded); in the header form the Date header, or ""
//   when an x-amz-date header is present (x-amz-date is then signed among the x-amz-* headers).
// - CanonicalizedAmzHeaders: every x-amz-* header, name lower-cased, value trimmed, sorted by
//   name (stable), values of one name joined with ',', each "name:value\n". In the query form
//   the x-amz-* query parameters (decoded) count too, after the headers of the same name:
//   presigners move x-amz-* headers (x-amz-security-token, x-amz-meta-*, x-amz-acl) there.
// - CanonicalizedResource: "/" + virtual_host_bucket when the bucket came in the Host header
//   ("" for path style and for requests without a bucket), then the raw path as on the wire
//   (still percent-encoded; "/" when empty), then "?" + the sub-resources present
//   (kSigV2SubResources), stably sorted by name and joined with '&': "name=value" with the
//   value percent-decoded ('+' stays '+'), or "name" when the value is empty.
std::string sigv2_string_to_sign(const SignedRequest& req, std::string_view virtual_host_bucket);

// Base64(HMAC-SHA1(secret, string_to_sign)), 28 characters.
std::string sigv2_signature(std::string_view secret, std::string_view string_to_sign);

// Checks SigV2 signatures against a CredentialProvider and a Clock (both borrowed; they must
// outlive the verifier). Stateless after construction, hence thread-safe: verify() may run on
// every io thread at once.
class SigV2Verifier {
 public:
  SigV2Verifier(const CredentialProvider& credentials, const Clock& clock);
  SigV2Verifier(const SigV2Verifier&) = delete;
  SigV2Verifier& operator=(const SigV2Verifier&) = delete;

  // Who signed `req`, or the S3 (REST-XML) error to answer with. `virtual_host_bucket` is the
  // bucket named by the Host header, "" for path-style requests. Checks, in order:
  //  1. the form: a SigV2 header together with query-string authentication (SigV2 or SigV4), or
  //     a SigV2 query string together with an Authorization header or X-Amz-* signature
  //     parameters: InvalidArgument 400 kMsgS3BothMechanisms. Header form: kMsgS3SigV2HeaderSpacing
  //     or kMsgS3SigV2HeaderInvalid (InvalidArgument 400). Query form: a missing or empty
  //     Signature, Expires or AWSAccessKeyId: AccessDenied 403 kMsgS3SigV2QueryParamsMissing;
  //     an Expires that is not decimal seconds below kMaxSigV2Expires: AccessDenied 403
  //     kMsgS3SigV2InvalidExpires + value. Neither form: AccessDenied 403 "Access Denied".
  //  2. the time. Query form: now > Expires is AccessDenied 403 kMsgS3RequestExpired (no skew
  //     rule: Expires replaces the date). Header form: x-amz-date, else Date (RFC 1123 with GMT,
  //     UTC or a numeric zone such as AWS's examples' "+0000", RFC 850, asctime, or ISO 8601
  //     basic); none or unreadable is AccessDenied 403 kMsgS3MissingDate; further than
  //     kMaxClockSkewSeconds from now is RequestTimeTooSkewed 403.
  //  3. the access key and session token (the x-amz-security-token header, else, in the query
  //     form, the x-amz-security-token query parameter), through CredentialProvider::lookup(id,
  //     token) exactly as SigV4Verifier does: InvalidAccessKeyId 403, InvalidToken 400 or
  //     ExpiredToken 400.
  //  4. the signature, compared in constant time: SignatureDoesNotMatch 403.
  // On success the AuthContext has the credentials, access_key_id, presigned (the query form),
  // service "s3", region "" (the caller fills in the node's), payload_hash kUnsignedPayload, the
  // signature as sent, and amz_date: the request time as YYYYMMDDTHHMMSSZ (header form) or ""
  // (query form).
  Result<AuthContext> verify(const SignedRequest& req, std::string_view virtual_host_bucket) const;

 private:
  const CredentialProvider& credentials_;
  const Clock& clock_;
};

}  // namespace nubo::auth

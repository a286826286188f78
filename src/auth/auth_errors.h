// The errors SigV4 verification answers with, worded per protocol family (STYLE.md #12: the
// constants live here, each with the source it was checked against).
//
// The same failure has a different code, HTTP status and message depending on the service's
// protocol: a wrong signature is InvalidSignatureException/400 for DynamoDB (JSON),
// InvalidSignatureException/403 for Lambda, SignatureDoesNotMatch/403 for SQS or SNS (Query) and
// SignatureDoesNotMatch/403 with a shorter message for S3. The caller says which family it speaks.
//
// Sources, referred to below by letter:
//  [C]  AWS "Common Errors" page shared by the Query services' API references (e.g.
//       docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html): IncompleteSignature
//       400, InvalidClientTokenId 403, MissingAuthenticationToken 403.
//  [S3] Amazon S3 API reference, "Error responses" / "List of error codes"
//       (docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html), and S3's wording as seen
//       on the wire in client issues (e.g. aws/aws-cli#5464 for X-Amz-Expires,
//       minio/minio#5162); MinIO's cmd/api-errors.go copies S3's wording.
//  [Q]  SQS/SNS Query responses quoted in client issues: aws/aws-sdk-php#642 and
//       aws/aws-sdk-go#487 (SignatureDoesNotMatch 403 "Signature expired: ..."),
//       aws/aws-sdk-php-symfony#41 and ex-aws/ex_aws#220 (InvalidClientTokenId 403),
//       aristidb/aws#126 (SignatureDoesNotMatch 403, long message), brendanhay/amazonka#316
//       (SES IncompleteSignature 400, "Authorization header requires ... parameter.").
//  [J]  JSON services (DynamoDB, Kinesis, ...) as quoted in client issues: aws/aws-sdk-js#254
//       (InvalidSignatureException 400 "Signature expired: ... (... - 15 min.)"),
//       serverless/enterprise#11 ("Signature not yet current: ... (... + 5 min.)"),
//       iann0036/cloud9-sync#10 (IncompleteSignatureException 400, "not a valid key=value pair
//       (missing equal-sign) in Authorization header"); the DynamoDB "Error handling" page for
//       MissingAuthenticationTokenException / UnrecognizedClientException 400.
//  [L]  Lambda "Common errors" and observed responses: the same exception names as JSON, status
//       403 (x-amzn-ErrorType MissingAuthenticationTokenException with "Missing Authentication
//       Token", UnrecognizedClientException, InvalidSignatureException).
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace nubo::auth {

// How the caller's service words its errors.
enum class ErrorStyle {
  kJson,     // AWS JSON 1.0/1.1 (DynamoDB, SQS-JSON, Step Functions, Logs, Events, Secrets Manager)
  kRestXml,  // S3
  kQuery,    // the Query protocol (SQS, SNS, IAM, STS)
  kLambda,   // Lambda's REST-JSON API: JSON exception names with 403 statuses
};

// --- Wording shared by several styles --------------------------------------------------------

// [J][Q][L] The long signature-mismatch message of every non-S3 service.
inline constexpr std::string_view kMsgSignatureMismatch =
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.";
// [S3] S3's shorter form.
inline constexpr std::string_view kMsgS3SignatureMismatch =
    "The request signature we calculated does not match the signature you provided. Check your "
    "key and signing method.";
// [J][Q][L] Unknown access key id (and a bad session token) outside S3.
inline constexpr std::string_view kMsgInvalidToken =
    "The security token included in the request is invalid.";
// [S3] Unknown access key id.
inline constexpr std::string_view kMsgS3InvalidAccessKeyId =
    "The AWS Access Key Id you provided does not exist in our records.";

// --- One function per failure; each returns the Error for `style` ------------------------------

// No Authorization header and no presigned parameters (or a non-AWS4 Authorization header).
//   kJson:    MissingAuthenticationTokenException 400 "Request is missing Authentication Token" [J]
//   kLambda:  MissingAuthenticationTokenException 403 "Missing Authentication Token" [L]
//   kQuery:   MissingAuthenticationToken 403 "Request is missing Authentication Token" [C]
//   kRestXml: AccessDenied 403 "Access Denied" (S3 treats it as an anonymous request) [S3]
Error err_missing_authentication(ErrorStyle style);

// The access key id is not known.
//   kJson: UnrecognizedClientException 400; kLambda: UnrecognizedClientException 403;
//   kQuery: InvalidClientTokenId 403 (SQS and SNS alike) — all kMsgInvalidToken [J][L][C][Q];
//   kRestXml: InvalidAccessKeyId 403 kMsgS3InvalidAccessKeyId [S3].
Error err_unknown_access_key(ErrorStyle style);

// X-Amz-Security-Token does not belong to the (temporary) access key.
//   As err_unknown_access_key, except kRestXml: InvalidToken 400 "The provided token is
//   malformed or otherwise invalid." [S3]
Error err_invalid_security_token(ErrorStyle style);

// X-Amz-Security-Token is genuine but past its expiry.
//   kJson: ExpiredTokenException 400; kLambda: ExpiredTokenException 403; kQuery: ExpiredToken
//   403 — all "The security token included in the request is expired" [J][L][Q];
//   kRestXml: ExpiredToken 400 "The provided token has expired." [S3]
Error err_expired_token(ErrorStyle style);

// The signature does not match.
//   kJson: InvalidSignatureException 400; kLambda: InvalidSignatureException 403;
//   kQuery: SignatureDoesNotMatch 403 — all kMsgSignatureMismatch [J][L][Q];
//   kRestXml: SignatureDoesNotMatch 403 kMsgS3SignatureMismatch [S3].
Error err_signature_mismatch(ErrorStyle style);

// A failure reported with the signature-mismatch code of the style but its own message, e.g.
// "Signature expired: ..." or "Date in Credential scope does not match ...". For kRestXml the
// caller passes S3's wording and code instead (see the S3 functions below).
Error err_signature_message(ErrorStyle style, std::string message);

// The request time is more than 15 minutes away from the node's clock (header form).
//   kJson/kLambda/kQuery: err_signature_message(style, message) where message is
//     "Signature expired: <t> is now earlier than <now-15m> (<now> - 15 min.)" or
//     "Signature not yet current: <t> is still later than <now+15m> (<now> + 15 min.)" [J][Q]
//   kRestXml: RequestTimeTooSkewed 403 "The difference between the request time and the current
//     time is too large." [S3]
Error err_time_skew(ErrorStyle style, std::string message);

// The Authorization header or the presigned parameters are incomplete or malformed.
//   kJson: IncompleteSignatureException 400; kLambda: IncompleteSignatureException 403;
//   kQuery: IncompleteSignature 400 [C][J][Q];
//   kRestXml: AuthorizationHeaderMalformed 400, "The authorization header is malformed; " + the
//     S3 detail [S3]. The caller passes the message that fits the style.
Error err_incomplete_signature(ErrorStyle style, std::string message);

// --- S3-only errors [S3] -------------------------------------------------------------------------

// AuthorizationQueryParametersError 400: malformed presigned URL parameters.
Error err_s3_query_parameters(std::string message);
// AccessDenied 403 with a message ("Request has expired", "Request is not valid yet",
// "AWS authentication requires a valid Date or x-amz-date header").
Error err_s3_access_denied(std::string message);
// InvalidRequest 400 "The authorization mechanism you have provided is not supported. Please use
// AWS4-HMAC-SHA256." (SigV2 and other AWS algorithms).
Error err_s3_unsupported_mechanism();
// InvalidArgument 400 with a message ("Unsupported Authorization Type", "Only one auth mechanism
// allowed; ...").
Error err_s3_invalid_argument(std::string message);
// XAmzContentSHA256Mismatch 400 "The provided 'x-amz-content-sha256' header does not match what
// was computed."
Error err_s3_content_sha256_mismatch();

// S3's messages, named.
inline constexpr std::string_view kMsgS3RequestExpired = "Request has expired";
inline constexpr std::string_view kMsgS3NotYetValid = "Request is not valid yet";
inline constexpr std::string_view kMsgS3MissingDate =
    "AWS authentication requires a valid Date or x-amz-date header";
inline constexpr std::string_view kMsgS3QueryParamsMissing =
    "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
    "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.";
inline constexpr std::string_view kMsgS3HeaderComponents =
    "the authorization header requires three components: Credential, SignedHeaders, and "
    "Signature.";
inline constexpr std::string_view kMsgS3CredentialMalformed =
    "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\".";
inline constexpr std::string_view kMsgS3CredentialDate =
    "Invalid credential date. Date is not the same as X-Amz-Date.";
inline constexpr std::string_view kMsgS3BothMechanisms =
    "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query "
    "string parameter or the Authorization header should be specified";

}  // namespace nubo::auth

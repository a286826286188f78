#include "auth/auth_errors.h"

#include <utility>

namespace nubo::auth {

namespace {

Error make(std::string_view code, int status, std::string message) {
  return Error{std::string(code), status, std::move(message)};
}

// Lambda answers every authentication failure with 403; the JSON services with 400 [J][L].
int json_status(ErrorStyle style) {
  return style == ErrorStyle::kLambda ? 403 : 400;
}

}  // namespace

Error err_missing_authentication(ErrorStyle style) {
  switch (style) {
    case ErrorStyle::kJson:
      return make("MissingAuthenticationTokenException", 400,
                  "Request is missing Authentication Token");
    case ErrorStyle::kLambda:
      return make("MissingAuthenticationTokenException", 403, "Missing Authentication Token");
    case ErrorStyle::kQuery:
      return make("MissingAuthenticationToken", 403, "Request is missing Authentication Token");
    case ErrorStyle::kRestXml:
      return make("AccessDenied", 403, "Access Denied");
  }
  return internal_error("unknown error style");
}

Error err_unknown_access_key(ErrorStyle style) {
  switch (style) {
    case ErrorStyle::kJson:
    case ErrorStyle::kLambda:
      return make("UnrecognizedClientException", json_status(style), std::string(kMsgInvalidToken));
    case ErrorStyle::kQuery:
      return make("InvalidClientTokenId", 403, std::string(kMsgInvalidToken));
    case ErrorStyle::kRestXml:
      return make("InvalidAccessKeyId", 403, std::string(kMsgS3InvalidAccessKeyId));
  }
  return internal_error("unknown error style");
}

Error err_invalid_security_token(ErrorStyle style) {
  if (style == ErrorStyle::kRestXml) {
    return make("InvalidToken", 400, "The provided token is malformed or otherwise invalid.");
  }
  return err_unknown_access_key(style);
}

Error err_expired_token(ErrorStyle style) {
  constexpr const char* kMsg = "The security token included in the request is expired";
  switch (style) {
    case ErrorStyle::kJson:
      return make("ExpiredTokenException", 400, kMsg);
    case ErrorStyle::kLambda:
      return make("ExpiredTokenException", 403, kMsg);
    case ErrorStyle::kQuery:
      return make("ExpiredToken", 403, kMsg);
    case ErrorStyle::kRestXml:
      return make("ExpiredToken", 400, "The provided token has expired.");
  }
  return internal_error("unknown error style");
}

Error err_signature_mismatch(ErrorStyle style) {
  if (style == ErrorStyle::kRestXml) {
    return make("SignatureDoesNotMatch", 403, std::string(kMsgS3SignatureMismatch));
  }
  return err_signature_message(style, std::string(kMsgSignatureMismatch));
}

Error err_signature_message(ErrorStyle style, std::string message) {
  switch (style) {
    case ErrorStyle::kJson:
    case ErrorStyle::kLambda:
      return make("InvalidSignatureException", json_status(style), std::move(message));
    case ErrorStyle::kQuery:
    case ErrorStyle::kRestXml:
      return make("SignatureDoesNotMatch", 403, std::move(message));
  }
  return internal_error("unknown error style");
}

Error err_time_skew(ErrorStyle style, std::string message) {
  if (style == ErrorStyle::kRestXml) {
    return make("RequestTimeTooSkewed", 403,
                "The difference between the request time and the current time is too large.");
  }
  return err_signature_message(style, std::move(message));
}

Error err_incomplete_signature(ErrorStyle style, std::string message) {
  switch (style) {
    case ErrorStyle::kJson:
    case ErrorStyle::kLambda:
      return make("IncompleteSignatureException", json_status(style), std::move(message));
    case ErrorStyle::kQuery:
      return make("IncompleteSignature", 400, std::move(message));
    case ErrorStyle::kRestXml:
      return make("AuthorizationHeaderMalformed", 400,
                  "The authorization header is malformed; " + message);
  }
  return internal_error("unknown error style");
}

Error err_s3_query_parameters(std::string message) {
  return make("AuthorizationQueryParametersError", 400, std::move(message));
}

Error err_s3_access_denied(std::string message) {
  return make("AccessDenied", 403, std::move(message));
}

Error err_s3_unsupported_mechanism() {
  return make("InvalidRequest", 400,
              "The authorization mechanism you have provided is not supported. Please use "
              "AWS4-HMAC-SHA256.");
}

Error err_s3_invalid_argument(std::string message) {
  return make("InvalidArgument", 400, std::move(message));
}

Error err_s3_content_sha256_mismatch() {
  return make("XAmzContentSHA256Mismatch", 400,
              "The provided 'x-amz-content-sha256' header does not match what was computed.");
}

}  // namespace nubo::auth

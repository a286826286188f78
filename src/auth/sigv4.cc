#include "auth/sigv4.h"

#include <algorithm>
#include <chrono>
#include <mutex>

#include "auth/digest.h"
#include "base/crypto.h"
#include "base/strings.h"

namespace nubo::auth {

namespace {

using std::chrono::seconds;

constexpr std::string_view kParamAlgorithm = "X-Amz-Algorithm";
constexpr std::string_view kParamCredential = "X-Amz-Credential";
constexpr std::string_view kParamDate = "X-Amz-Date";
constexpr std::string_view kParamExpires = "X-Amz-Expires";
constexpr std::string_view kParamSignedHeaders = "X-Amz-SignedHeaders";
constexpr std::string_view kParamSignature = "X-Amz-Signature";
constexpr std::string_view kParamSecurityToken = "X-Amz-Security-Token";

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool is_s3(std::string_view service) {
  return service == "s3" || service == "s3express";
}

// The first value of a header, looked up case-insensitively. REQUIRES: name is lower case.
std::optional<std::string_view> find_header(const SignedRequest& req, std::string_view name) {
  for (const auto& [n, v] : req.headers) {
    if (iequals(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

// Calls fn(raw_key, raw_value) for each non-empty '&'-separated parameter of a raw query.
template <typename Fn>
void for_each_param(std::string_view raw_query, Fn&& fn) {
  size_t start = 0;
  while (start <= raw_query.size()) {
    size_t end = raw_query.find('&', start);
    if (end == std::string_view::npos) end = raw_query.size();
    std::string_view piece = raw_query.substr(start, end - start);
    if (!piece.empty()) {
      size_t eq = piece.find('=');
      if (eq == std::string_view::npos) {
        fn(piece, std::string_view());
      } else {
        fn(piece.substr(0, eq), piece.substr(eq + 1));
      }
    }
    start = end + 1;
  }
}

// The decoded parameters of a raw query, in order.
using Params = std::vector<std::pair<std::string, std::string>>;
Params decode_query(std::string_view raw_query) {
  Params out;
  for_each_param(raw_query, [&](std::string_view k, std::string_view v) {
    out.emplace_back(url_decode(k), url_decode(v));
  });
  return out;
}

// Does the raw query carry presigned-URL parameters?
bool has_query_auth(std::string_view raw_query) {
  bool found = false;
  for_each_param(raw_query, [&](std::string_view k, std::string_view) {
    if (k == kParamAlgorithm || k == kParamCredential || k == kParamSignature) found = true;
  });
  return found;
}

const std::string* find_param(const Params& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return &v;
  }
  return nullptr;
}

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return (m == 2 && leap) ? 29 : kDays[m - 1];
}

int digits(std::string_view s, size_t pos, size_t n) {
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

std::optional<SystemTime> make_time(int y, int mo, int d, int h, int mi, int s) {
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || s > 59) {
    return std::nullopt;
  }
  int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s;
  return SystemTime(seconds(secs));
}

// "20150830T123600Z".
std::optional<SystemTime> parse_iso8601_basic(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z') return std::nullopt;
  for (size_t i = 0; i < 15; ++i) {
    if (i != 8 && !is_digit(s[i])) return std::nullopt;
  }
  return make_time(digits(s, 0, 4), digits(s, 4, 2), digits(s, 6, 2), digits(s, 9, 2),
                   digits(s, 11, 2), digits(s, 13, 2));
}

// RFC 7231 IMF-fixdate, "Fri, 24 May 2013 00:00:00 GMT" (the form every AWS client sends).
std::optional<SystemTime> parse_http_date(std::string_view s) {
  s = trim(s);
  size_t comma = s.find(", ");
  if (comma == std::string_view::npos) return std::nullopt;
  s = s.substr(comma + 2);  // "24 May 2013 00:00:00 GMT"
  if (s.size() != 24 || s[2] != ' ' || s[6] != ' ' || s[11] != ' ' || s[14] != ':' ||
      s[17] != ':' || s.substr(20) != " GMT") {
    return std::nullopt;
  }
  for (size_t i : {0, 1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19}) {
    if (!is_digit(s[i])) return std::nullopt;
  }
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  size_t m = kMonths.find(s.substr(3, 3));
  if (m == std::string_view::npos || m % 3 != 0) return std::nullopt;
  return make_time(digits(s, 7, 4), static_cast<int>(m / 3) + 1, digits(s, 0, 2), digits(s, 12, 2),
                   digits(s, 15, 2), digits(s, 18, 2));
}

// Appends trim_all(value) to out.
void append_trimmed(std::string& out, std::string_view value) {
  size_t i = 0;
  while (i < value.size() && is_space(value[i])) ++i;
  bool pending_space = false;
  for (; i < value.size(); ++i) {
    char c = value[i];
    if (is_space(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space) {
      out += ' ';
      pending_space = false;
    }
    out += c;
  }
}

// RFC 3986 remove_dot_segments, plus AWS's removal of empty segments ("//"), as botocore's
// normalize_url_path does it. A trailing slash is kept.
std::string normalize_path(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view seg = path.substr(start, end - start);
    if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!seg.empty() && seg != ".") {
      segments.push_back(seg);
    }
    start = end + 1;
  }
  std::string out;
  out.reserve(path.size());
  if (path.front() == '/') out += '/';
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out += '/';
    out.append(segments[i]);
  }
  if (path.back() == '/' && !segments.empty()) out += '/';
  if (out.empty()) out = "/";
  return out;
}

std::string format_time(SystemTime t) {
  return format_iso8601_basic(t);
}

// "Date must be in ISO-8601 'basic format'. ..." is what the Query and JSON services answer for a
// malformed X-Amz-Date [Q][J].
std::string bad_date_message(std::string_view date) {
  std::string m = "Date must be in ISO-8601 'basic format'. Got '";
  m.append(date);
  m += "'. See http://en.wikipedia.org/wiki/ISO_8601";
  return m;
}

// The credential "AKID/YYYYMMDD/region/service/aws4_request", split and checked for form.
// Returns a non-S3 error message on failure.
std::optional<std::string> parse_credential(std::string_view credential, SigV4Fields& f) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t slash = credential.find('/', start);
    if (slash == std::string_view::npos) {
      parts.push_back(credential.substr(start));
      break;
    }
    parts.push_back(credential.substr(start, slash - start));
    start = slash + 1;
  }
  if (parts.size() != 5) {
    std::string m =
        "Credential must have exactly 5 slash-delimited elements, e.g. "
        "keyid/date/region/service/term, got '";
    m.append(credential);
    m += "'";
    return m;
  }
  if (parts[4] != kScopeTerminator) {
    std::string m = "Credential should be scoped with a valid terminator: 'aws4_request', not '";
    m.append(parts[4]);
    m += "'.";
    return m;
  }
  bool date_ok = parts[1].size() == 8 && std::all_of(parts[1].begin(), parts[1].end(), is_digit);
  auto printable = [](std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
      return static_cast<unsigned char>(c) > 0x20 && c != 0x7f;
    });
  };
  if (!date_ok || !printable(parts[2]) || !printable(parts[3])) {
    std::string m = "Credential should be scoped to a valid date, region and service, not '";
    m.append(credential);
    m += "'.";
    return m;
  }
  f.access_key_id = std::string(parts[0]);
  f.scope_date = std::string(parts[1]);
  f.region = std::string(parts[2]);
  f.service = std::string(parts[3]);
  return std::nullopt;
}

// The scope's date must be the request's date [J][Q][S3].
Status check_scope_date(const SigV4Fields& f, ErrorStyle style) {
  if (f.amz_date.compare(0, 8, f.scope_date) == 0) return Ok{};
  if (style == ErrorStyle::kRestXml) {
    if (f.presigned) return err_s3_query_parameters(std::string(kMsgS3CredentialDate));
    return err_incomplete_signature(style, std::string(kMsgS3CredentialDate));
  }
  std::string m =
      "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
      "HTTP: '";
  m += f.scope_date;
  m += "' != '";
  m.append(f.amz_date, 0, 8);
  m += "', from '";
  m += f.amz_date;
  m += "'.";
  return err_signature_message(style, std::move(m));
}

Result<SigV4Fields> parse_header_form(const SignedRequest& req, std::string_view authorization,
                                      ErrorStyle style) {
  const bool s3 = style == ErrorStyle::kRestXml;
  std::string_view auth = trim(authorization);
  size_t space = auth.find(' ');
  std::string_view algorithm = auth.substr(0, space);
  if (algorithm != kAlgorithm) {
    bool aws = algorithm == "AWS" || starts_with(algorithm, "AWS4-");
    if (s3) {
      return aws ? err_s3_unsupported_mechanism()
                 : err_s3_invalid_argument("Unsupported Authorization Type");
    }
    if (starts_with(algorithm, "AWS4-")) {
      return err_incomplete_signature(
          style, "Unsupported AWS 'algorithm': '" + std::string(algorithm) + "'.");
    }
    return err_missing_authentication(style);
  }

  std::optional<std::string_view> credential, signed_headers, signature;
  std::string_view rest = space == std::string_view::npos ? std::string_view() : auth.substr(space);
  size_t start = 0;
  while (start <= rest.size()) {
    size_t comma = rest.find(',', start);
    if (comma == std::string_view::npos) comma = rest.size();
    std::string_view item = trim(rest.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      if (s3) return err_incomplete_signature(style, std::string(kMsgS3HeaderComponents));
      return err_incomplete_signature(
          style,
          "'" + std::string(item) +
              "' not a valid key=value pair (missing equal-sign) in Authorization header: '" +
              std::string(auth) + "'.");
    }
    std::string_view key = item.substr(0, eq);
    std::string_view value = item.substr(eq + 1);
    if (key == "Credential") {
      credential = value;
    } else if (key == "SignedHeaders") {
      signed_headers = value;
    } else if (key == "Signature") {
      signature = value;
    }
  }

  std::optional<std::string_view> amz_date = find_header(req, "x-amz-date");
  std::optional<std::string_view> http_date;
  if (!amz_date) http_date = find_header(req, "date");

  if (!credential || !signed_headers || !signature || (!amz_date && !http_date)) {
    if (s3) {
      if (!credential || !signed_headers || !signature) {
        return err_incomplete_signature(style, std::string(kMsgS3HeaderComponents));
      }
      return err_s3_access_denied(std::string(kMsgS3MissingDate));
    }
    // [J][Q]: one sentence per missing part, then the header as received.
    std::string m;
    auto add = [&m](std::string_view sentence) {
      if (!m.empty()) m += ' ';
      m.append(sentence);
    };
    if (!credential) add("Authorization header requires 'Credential' parameter.");
    if (!signature) add("Authorization header requires 'Signature' parameter.");
    if (!signed_headers) add("Authorization header requires 'SignedHeaders' parameter.");
    if (!amz_date && !http_date) {
      add("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
    }
    add("Authorization=" + std::string(auth));
    return err_incomplete_signature(style, std::move(m));
  }

  SigV4Fields f;
  f.presigned = false;
  if (auto bad = parse_credential(*credential, f)) {
    if (s3) return err_incomplete_signature(style, std::string(kMsgS3CredentialMalformed));
    return err_incomplete_signature(style, std::move(*bad));
  }
  f.signed_headers = std::string(*signed_headers);
  f.signature = std::string(*signature);

  if (amz_date) {
    std::string_view d = trim(*amz_date);
    auto t = parse_iso8601_basic(d);
    if (!t) {
      if (s3) return err_s3_access_denied(std::string(kMsgS3MissingDate));
      return err_incomplete_signature(style, bad_date_message(d));
    }
    f.request_time = *t;
    f.amz_date = std::string(d);
  } else {
    auto t = parse_http_date(*http_date);
    if (!t) {
      if (s3) return err_s3_access_denied(std::string(kMsgS3MissingDate));
      return err_incomplete_signature(style, bad_date_message(*http_date));
    }
    f.request_time = *t;
    f.amz_date = format_time(*t);
  }
  if (auto token = find_header(req, "x-amz-security-token")) f.security_token = trim(*token);
  NUBO_TRY(check_scope_date(f, style));
  return f;
}

Result<SigV4Fields> parse_query_form(const SignedRequest& req, ErrorStyle style) {
  const bool s3 = style == ErrorStyle::kRestXml;
  Params params = decode_query(req.raw_query);
  const std::string* algorithm = find_param(params, kParamAlgorithm);
  const std::string* credential = find_param(params, kParamCredential);
  const std::string* signature = find_param(params, kParamSignature);
  const std::string* date = find_param(params, kParamDate);
  const std::string* signed_headers = find_param(params, kParamSignedHeaders);
  const std::string* expires = find_param(params, kParamExpires);

  if (!algorithm || !credential || !signature || !date || !signed_headers || (s3 && !expires)) {
    if (s3) return err_s3_query_parameters(std::string(kMsgS3QueryParamsMissing));
    // [J]: one sentence per missing parameter.
    const std::pair<const std::string*, std::string_view> required[] = {
        {algorithm, kParamAlgorithm},
        {credential, kParamCredential},
        {signature, kParamSignature},
        {signed_headers, kParamSignedHeaders},
        {date, kParamDate}};
    std::string m;
    for (const auto& [p, name] : required) {
      if (p) continue;
      m += "AWS query-string parameters must include '";
      m.append(name);
      m += "'. ";
    }
    m += "Re-examine the query-string parameters.";
    return err_incomplete_signature(style, std::move(m));
  }
  if (*algorithm != kAlgorithm) {
    if (s3) return err_s3_query_parameters("X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"");
    return err_incomplete_signature(style, "Unsupported AWS 'algorithm': '" + *algorithm + "'.");
  }

  SigV4Fields f;
  f.presigned = true;
  if (auto bad = parse_credential(*credential, f)) {
    if (s3) {
      return err_s3_query_parameters("Error parsing the X-Amz-Credential parameter; " +
                                     std::string(kMsgS3CredentialMalformed));
    }
    return err_incomplete_signature(style, std::move(*bad));
  }
  auto t = parse_iso8601_basic(*date);
  if (!t) {
    if (s3) {
      return err_s3_query_parameters(
          "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"");
    }
    return err_incomplete_signature(style, bad_date_message(*date));
  }
  f.request_time = *t;
  f.amz_date = *date;
  f.signed_headers = *signed_headers;
  f.signature = *signature;
  if (const std::string* token = find_param(params, kParamSecurityToken)) {
    f.security_token = *token;
  }

  if (expires) {
    // [S3] wording; the other styles report the same text as an incomplete signature.
    auto fail = [&](std::string m) {
      return s3 ? err_s3_query_parameters(std::move(m))
                : err_incomplete_signature(style, std::move(m));
    };
    std::string_view e = *expires;
    bool negative = !e.empty() && e.front() == '-';
    std::string_view num = negative ? e.substr(1) : e;
    if (num.empty() || num.size() > 18 || !std::all_of(num.begin(), num.end(), is_digit)) {
      return fail("X-Amz-Expires should be a number");
    }
    if (negative) return fail("X-Amz-Expires must be non-negative");
    int64_t v = 0;
    for (char c : num) v = v * 10 + (c - '0');
    if (v > kMaxPresignExpiresSeconds) {
      return fail(
          "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires "
          "must be less than 604800 seconds");
    }
    f.expires_seconds = v;
  } else {
    f.expires_seconds = -1;  // no expiry given: the 15-minute skew rule applies instead
  }
  NUBO_TRY(check_scope_date(f, style));
  return f;
}

int64_t to_seconds(SystemTime::duration d) {
  return std::chrono::duration_cast<seconds>(d).count();
}

std::string skew_message(SystemTime request_time, SystemTime now) {
  const auto window = seconds(kMaxClockSkewSeconds);
  const std::string minutes = std::to_string(kMaxClockSkewSeconds / 60);
  if (request_time < now) {
    return "Signature expired: " + format_time(request_time) + " is now earlier than " +
           format_time(now - window) + " (" + format_time(now) + " - " + minutes + " min.)";
  }
  return "Signature not yet current: " + format_time(request_time) + " is still later than " +
         format_time(now + window) + " (" + format_time(now) + " + " + minutes + " min.)";
}

// Is the request's time acceptable at `now`?
Status check_time(const SigV4Fields& f, SystemTime now, ErrorStyle style) {
  const int64_t ahead = to_seconds(f.request_time - now);  // > 0: the request is in the future
  if (f.presigned && f.expires_seconds >= 0) {
    if (ahead > kMaxClockSkewSeconds) {
      if (style == ErrorStyle::kRestXml) {
        return err_s3_access_denied(std::string(kMsgS3NotYetValid));
      }
      return err_time_skew(style, skew_message(f.request_time, now));
    }
    if (-ahead > f.expires_seconds) {
      if (style == ErrorStyle::kRestXml) {
        return err_s3_access_denied(std::string(kMsgS3RequestExpired));
      }
      return err_signature_message(style, std::string(kMsgS3RequestExpired));
    }
    return Ok{};
  }
  if (ahead > kMaxClockSkewSeconds || -ahead > kMaxClockSkewSeconds) {
    return err_time_skew(style, skew_message(f.request_time, now));
  }
  return Ok{};
}

bool is_hex_sha256(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), is_hex);
}

std::string sha256_hex_fast(std::string_view data) {
  std::string out;
  out.reserve(64);
  append_sha256_hex(out, data);
  return out;
}

std::string digest_bytes(const Sha256Digest& d) {
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

}  // namespace

// --- Public helpers -----------------------------------------------------------------------------

AuthForm auth_form(const SignedRequest& req) {
  if (auto a = find_header(req, "authorization"); a && !trim(*a).empty()) return AuthForm::kHeader;
  return has_query_auth(req.raw_query) ? AuthForm::kPresigned : AuthForm::kNone;
}

std::string SigV4Fields::credential_scope() const {
  std::string s;
  s.reserve(scope_date.size() + region.size() + service.size() + 16);
  s += scope_date;
  s += '/';
  s += region;
  s += '/';
  s += service;
  s += '/';
  s += kScopeTerminator;
  return s;
}

Result<SigV4Fields> parse_sigv4(const SignedRequest& req, ErrorStyle style) {
  std::optional<std::string_view> authorization = find_header(req, "authorization");
  if (authorization && trim(*authorization).empty()) authorization.reset();
  const bool query_auth = has_query_auth(req.raw_query);
  if (authorization && query_auth) {
    // [S3] InvalidArgument; [J] "Found both ..." with the signature error of the style.
    if (style == ErrorStyle::kRestXml) {
      return err_s3_invalid_argument(std::string(kMsgS3BothMechanisms));
    }
    return err_signature_message(
        style,
        "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.");
  }
  if (authorization) return parse_header_form(req, *authorization, style);
  if (query_auth) return parse_query_form(req, style);
  return err_missing_authentication(style);
}

std::string canonical_uri(std::string_view raw_path, std::string_view service) {
  if (is_s3(service)) return raw_path.empty() ? std::string("/") : std::string(raw_path);
  return url_encode(normalize_path(raw_path), /*keep_slash=*/true);
}

std::string canonical_query(std::string_view raw_query, bool presigned) {
  if (raw_query.empty()) return {};
  std::vector<std::pair<std::string, std::string>> encoded;
  for_each_param(raw_query, [&](std::string_view k, std::string_view v) {
    std::string key = url_decode(k);
    if (presigned && key == kParamSignature) return;
    encoded.emplace_back(url_encode(key), url_encode(url_decode(v)));
  });
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [k, v] : encoded) {
    if (!out.empty()) out += '&';
    out += k;
    out += '=';
    out += v;
  }
  return out;
}

std::string trim_all(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  append_trimmed(out, value);
  return out;
}

std::string payload_hash(const SignedRequest& req, const SigV4Fields& fields) {
  if (auto h = find_header(req, "x-amz-content-sha256")) return std::string(trim(*h));
  if (fields.presigned && is_s3(fields.service)) return std::string(kUnsignedPayload);
  return sha256_hex_fast(req.payload);
}

std::string canonical_request(const SignedRequest& req, const SigV4Fields& fields,
                              std::string_view payload_hash) {
  std::string out;
  out.reserve(256 + req.raw_path.size() + req.raw_query.size() + fields.signed_headers.size());
  out.append(req.method);
  out += '\n';
  out += canonical_uri(req.raw_path, fields.service);
  out += '\n';
  out += canonical_query(req.raw_query, fields.presigned);
  out += '\n';
  std::string_view names = fields.signed_headers;
  size_t start = 0;
  while (start < names.size()) {
    size_t end = names.find(';', start);
    if (end == std::string_view::npos) end = names.size();
    std::string_view name = names.substr(start, end - start);
    start = end + 1;
    if (name.empty()) continue;
    out.append(name);
    out += ':';
    bool first = true;
    for (const auto& [n, v] : req.headers) {
      if (!iequals(n, name)) continue;
      if (!first) out += ',';
      first = false;
      append_trimmed(out, v);
    }
    out += '\n';
  }
  out += '\n';
  out += fields.signed_headers;
  out += '\n';
  out.append(payload_hash);
  return out;
}

std::string string_to_sign(std::string_view amz_date, std::string_view credential_scope,
                           std::string_view canonical_request) {
  std::string out;
  out.reserve(kAlgorithm.size() + amz_date.size() + credential_scope.size() + 67);
  out.append(kAlgorithm);
  out += '\n';
  out.append(amz_date);
  out += '\n';
  out.append(credential_scope);
  out += '\n';
  append_sha256_hex(out, canonical_request);
  return out;
}

std::string derive_signing_key(std::string_view secret, std::string_view date,
                               std::string_view region, std::string_view service) {
  std::string k = "AWS4";
  k.append(secret);
  std::string k_date = digest_bytes(fast_hmac_sha256(k, date));
  std::string k_region = digest_bytes(fast_hmac_sha256(k_date, region));
  std::string k_service = digest_bytes(fast_hmac_sha256(k_region, service));
  return digest_bytes(fast_hmac_sha256(k_service, kScopeTerminator));
}

std::string signature_hex(std::string_view signing_key, std::string_view string_to_sign) {
  return hex_encode(fast_hmac_sha256(signing_key, string_to_sign));
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

std::string sign_authorization(const SignedRequest& req, std::string_view access_key_id,
                               std::string_view secret, std::string_view region,
                               std::string_view service, std::string_view amz_date,
                               std::string_view signed_headers) {
  SigV4Fields f;
  f.access_key_id = std::string(access_key_id);
  f.scope_date = std::string(amz_date.substr(0, 8));
  f.region = std::string(region);
  f.service = std::string(service);
  f.signed_headers = std::string(signed_headers);
  f.amz_date = std::string(amz_date);
  std::string creq = canonical_request(req, f, payload_hash(req, f));
  std::string sts = string_to_sign(f.amz_date, f.credential_scope(), creq);
  std::string sig = signature_hex(derive_signing_key(secret, f.scope_date, region, service), sts);
  std::string out(kAlgorithm);
  out += " Credential=";
  out.append(access_key_id);
  out += '/';
  out += f.credential_scope();
  out += ", SignedHeaders=";
  out.append(signed_headers);
  out += ", Signature=";
  out += sig;
  return out;
}

// --- SigV4Verifier ------------------------------------------------------------------------------

SigV4Verifier::SigV4Verifier(const CredentialProvider& credentials, const Clock& clock)
    : credentials_(credentials), clock_(clock) {}

std::string SigV4Verifier::signing_key(std::string_view secret, std::string_view date,
                                       std::string_view region, std::string_view service) const {
  std::string cache_key;
  cache_key.reserve(secret.size() + date.size() + region.size() + service.size() + 3);
  cache_key.append(secret);
  cache_key += '\0';
  cache_key.append(date);
  cache_key += '\0';
  cache_key.append(region);
  cache_key += '\0';
  cache_key.append(service);
  {
    std::shared_lock lock(cache_mu_);
    auto it = key_cache_.find(cache_key);
    if (it != key_cache_.end()) return it->second;
  }
  std::string key = derive_signing_key(secret, date, region, service);
  std::unique_lock lock(cache_mu_);
  // Keys change once a day per scope; when the cache is full, start over rather than track age.
  if (key_cache_.size() >= kMaxCachedKeys) key_cache_.clear();
  key_cache_.emplace(std::move(cache_key), key);
  return key;
}

Result<AuthContext> SigV4Verifier::verify(const SignedRequest& req, ErrorStyle style) const {
  NUBO_ASSIGN_OR_RETURN(SigV4Fields fields, parse_sigv4(req, style));
  NUBO_TRY(check_time(fields, clock_.now(), style));

  KeyLookup found = credentials_.lookup(fields.access_key_id, fields.security_token);
  switch (found.problem) {
    case KeyProblem::kNone:
      break;
    case KeyProblem::kUnknownKey:
      return err_unknown_access_key(style);
    case KeyProblem::kInvalidToken:
      return err_invalid_security_token(style);
    case KeyProblem::kExpiredToken:
      return err_expired_token(style);
  }
  std::optional<Credentials>& creds = found.credentials;

  std::string hash = payload_hash(req, fields);
  std::string creq = canonical_request(req, fields, hash);
  std::string sts = string_to_sign(fields.amz_date, fields.credential_scope(), creq);
  std::string key =
      signing_key(creds->secret_access_key, fields.scope_date, fields.region, fields.service);
  std::string expected = signature_hex(key, sts);
  if (!constant_time_equal(expected, fields.signature)) return err_signature_mismatch(style);

  // The signature covers the header's hash, not the body: check that the body is what was hashed.
  if (!req.payload_streamed && is_hex_sha256(hash) && find_header(req, "x-amz-content-sha256")) {
    if (!iequals(sha256_hex_fast(req.payload), hash)) {
      if (style == ErrorStyle::kRestXml) return err_s3_content_sha256_mismatch();
      return err_signature_mismatch(style);
    }
  }

  AuthContext ctx;
  ctx.access_key_id = fields.access_key_id;
  ctx.region = std::move(fields.region);
  ctx.service = std::move(fields.service);
  ctx.presigned = fields.presigned;
  ctx.payload_hash = std::move(hash);
  ctx.signature = std::move(fields.signature);
  ctx.amz_date = std::move(fields.amz_date);
  ctx.credentials = std::move(*creds);
  return ctx;
}

}  // namespace nubo::auth

#include "auth/sigv2.h"

#include <algorithm>
#include <chrono>
#include <ctime>
#include <optional>
#include <utility>
#include <vector>

#include "auth/auth_errors.h"
#include "base/crypto.h"
#include "base/strings.h"

namespace nubo::auth {

namespace {

using std::chrono::seconds;

constexpr std::string_view kSecurityToken = "x-amz-security-token";
constexpr std::string_view kAmzPrefix = "x-amz-";
// SigV4's query parameters; with a SigV2 signature they make two mechanisms [S3].
constexpr std::string_view kV4ParamAlgorithm = "X-Amz-Algorithm";
constexpr std::string_view kV4ParamCredential = "X-Amz-Credential";
constexpr std::string_view kV4ParamSignature = "X-Amz-Signature";

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// One query parameter, name and value percent-decoded ('+' kept); "acl" has an empty value.
struct Param {
  std::string name;
  std::string value;
};

std::vector<Param> parse_query(std::string_view raw_query) {
  std::vector<Param> out;
  size_t start = 0;
  while (start <= raw_query.size()) {
    size_t end = raw_query.find('&', start);
    if (end == std::string_view::npos) end = raw_query.size();
    std::string_view piece = raw_query.substr(start, end - start);
    start = end + 1;
    if (piece.empty()) continue;
    size_t eq = piece.find('=');
    Param p;
    if (eq == std::string_view::npos) {
      p.name = url_decode(piece);
    } else {
      p.name = url_decode(piece.substr(0, eq));
      p.value = url_decode(piece.substr(eq + 1));
    }
    out.push_back(std::move(p));
  }
  return out;
}

const Param* find_param(const std::vector<Param>& params, std::string_view name) {
  for (const Param& p : params) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const Param* find_param_icase(const std::vector<Param>& params, std::string_view name) {
  for (const Param& p : params) {
    if (iequals(p.name, name)) return &p;
  }
  return nullptr;
}

// The first value of a header, looked up case-insensitively.
std::optional<std::string_view> find_header(const SignedRequest& req, std::string_view name) {
  for (const auto& [n, v] : req.headers) {
    if (iequals(n, name)) return std::string_view(v);
  }
  return std::nullopt;
}

// The Authorization header, trimmed; nullopt when absent or blank.
std::optional<std::string_view> authorization(const SignedRequest& req) {
  auto a = find_header(req, "authorization");
  if (!a) return std::nullopt;
  std::string_view t = trim(*a);
  if (t.empty()) return std::nullopt;
  return t;
}

bool is_header_form(const SignedRequest& req) {
  auto a = authorization(req);
  return a && starts_with(*a, kSigV2HeaderPrefix);
}

bool has_v2_query_params(const std::vector<Param>& params) {
  return find_param(params, kSigV2ParamAccessKeyId) || find_param(params, kSigV2ParamSignature);
}

bool has_v4_query_params(const std::vector<Param>& params) {
  return find_param(params, kV4ParamAlgorithm) || find_param(params, kV4ParamCredential) ||
         find_param(params, kV4ParamSignature);
}

bool is_sub_resource(std::string_view name) {
  return std::find(kSigV2SubResources.begin(), kSigV2SubResources.end(), name) !=
         kSigV2SubResources.end();
}

// A positional header (Content-MD5, Content-Type): the header trimmed, else in the query form
// the query parameter of that name, else "".
std::string positional(const SignedRequest& req, const std::vector<Param>& params, bool query_form,
                       std::string_view name) {
  if (auto h = find_header(req, name)) return std::string(trim(*h));
  if (query_form) {
    if (const Param* p = find_param_icase(params, name)) return std::string(trim(p->value));
  }
  return {};
}

void append_amz_headers(std::string& out, const SignedRequest& req,
                        const std::vector<Param>& params, bool query_form) {
  std::vector<std::pair<std::string, std::string_view>> amz;
  for (const auto& [n, v] : req.headers) {
    std::string name = to_lower(n);
    if (starts_with(name, kAmzPrefix)) amz.emplace_back(std::move(name), trim(v));
  }
  if (query_form) {
    for (const Param& p : params) {
      std::string name = to_lower(p.name);
      if (starts_with(name, kAmzPrefix)) amz.emplace_back(std::move(name), trim(p.value));
    }
  }
  std::stable_sort(amz.begin(), amz.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < amz.size(); ++i) {
    if (i > 0 && amz[i].first == amz[i - 1].first) {
      out += ',';
    } else {
      if (i > 0) out += '\n';
      out += amz[i].first;
      out += ':';
    }
    out.append(amz[i].second);
  }
  if (!amz.empty()) out += '\n';
}

void append_resource(std::string& out, const SignedRequest& req, const std::vector<Param>& params,
                     std::string_view virtual_host_bucket) {
  if (!virtual_host_bucket.empty()) {
    out += '/';
    out.append(virtual_host_bucket);
  }
  if (req.raw_path.empty()) {
    out += '/';
  } else {
    out.append(req.raw_path);
  }
  std::vector<const Param*> subs;
  for (const Param& p : params) {
    if (is_sub_resource(p.name)) subs.push_back(&p);
  }
  std::stable_sort(subs.begin(), subs.end(),
                   [](const Param* a, const Param* b) { return a->name < b->name; });
  for (size_t i = 0; i < subs.size(); ++i) {
    out += i == 0 ? '?' : '&';
    out += subs[i]->name;
    if (!subs[i]->value.empty()) {
      out += '=';
      out += subs[i]->value;
    }
  }
}

int parse_int(std::string_view s) {
  int v = 0;
  for (char c : s) v = v * 10 + (c - '0');
  return v;
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_digit);
}

// Seconds since the epoch of a UTC calendar time, or nullopt when a field is out of range.
std::optional<int64_t> utc_seconds(int year, int month, int day, int hour, int minute, int second) {
  if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 ||
      second > 60) {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const time_t t = timegm(&tm);
  std::tm back{};
  if (gmtime_r(&t, &back) == nullptr || back.tm_mday != day) return std::nullopt;  // 31 Feb
  return static_cast<int64_t>(t);
}

// "20150830T123600Z".
std::optional<int64_t> parse_iso8601_basic(std::string_view s) {
  if (s.size() != 16 || s[8] != 'T' || s[15] != 'Z' || !all_digits(s.substr(0, 8)) ||
      !all_digits(s.substr(9, 6))) {
    return std::nullopt;
  }
  return utc_seconds(parse_int(s.substr(0, 4)), parse_int(s.substr(4, 2)),
                     parse_int(s.substr(6, 2)), parse_int(s.substr(9, 2)),
                     parse_int(s.substr(11, 2)), parse_int(s.substr(13, 2)));
}

// RFC 1123 / RFC 822 with a four-digit year: "[Tue, ]27 Mar 2007 19:36:42 <zone>", the zone
// being GMT, UT, UTC, Z or +hhmm / -hhmm. AWS's SigV2 examples use "+0000"; botocore sends GMT.
std::optional<int64_t> parse_rfc1123(std::string_view s) {
  if (size_t comma = s.find(','); comma != std::string_view::npos) {
    s = trim(s.substr(comma + 1));
  }
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start < s.size()) {
    size_t end = s.find(' ', start);
    if (end == std::string_view::npos) end = s.size();
    if (end > start) parts.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  if (parts.size() != 5) return std::nullopt;
  std::string_view day = parts[0], mon = parts[1], year = parts[2], hms = parts[3], zone = parts[4];
  static constexpr std::string_view kMonths = "JanFebMarAprMayJunJulAugSepOctNovDec";
  size_t m = mon.size() == 3 ? kMonths.find(mon) : std::string_view::npos;
  if (day.size() > 2 || !all_digits(day) || m == std::string_view::npos || m % 3 != 0 ||
      year.size() != 4 || !all_digits(year) || hms.size() != 8 || hms[2] != ':' || hms[5] != ':' ||
      !all_digits(hms.substr(0, 2)) || !all_digits(hms.substr(3, 2)) ||
      !all_digits(hms.substr(6, 2))) {
    return std::nullopt;
  }
  int64_t offset = 0;
  if (zone == "GMT" || zone == "UT" || zone == "UTC" || zone == "Z") {
    offset = 0;
  } else if (zone.size() == 5 && (zone[0] == '+' || zone[0] == '-') && all_digits(zone.substr(1))) {
    int hh = parse_int(zone.substr(1, 2)), mm = parse_int(zone.substr(3, 2));
    if (hh > 23 || mm > 59) return std::nullopt;
    offset = (zone[0] == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
  } else {
    return std::nullopt;
  }
  auto t = utc_seconds(parse_int(year), static_cast<int>(m / 3) + 1, parse_int(day),
                       parse_int(hms.substr(0, 2)), parse_int(hms.substr(3, 2)),
                       parse_int(hms.substr(6, 2)));
  if (!t) return std::nullopt;
  return *t - offset;
}

// A Date or x-amz-date value in any form S3 clients send.
std::optional<SystemTime> parse_request_date(std::string_view value) {
  std::string_view s = trim(value);
  std::optional<int64_t> t = parse_rfc1123(s);
  if (!t) t = parse_iso8601_basic(s);
  // RFC 850 ("Tuesday, 27-Mar-07 ...") and asctime ("Tue Mar 27 ..."). strptime lets a day
  // past the month's end through, so the RFC 1123 shape never falls back to it.
  if (!t && (s.find(',') == std::string_view::npos || s.find('-') != std::string_view::npos)) {
    t = nubo::parse_http_date(s);
  }
  if (!t) return std::nullopt;
  return SystemTime(seconds(*t));
}

int64_t epoch_seconds(SystemTime t) {
  return std::chrono::duration_cast<seconds>(t.time_since_epoch()).count();
}

// What the form check found.
struct SigV2Fields {
  bool presigned = false;
  std::string access_key_id;
  std::string signature;
  std::string security_token;
  std::optional<SystemTime> request_time;  // header form
};

Result<SigV2Fields> parse_header_form(const SignedRequest& req, std::string_view auth,
                                      SystemTime now) {
  std::string_view rest = auth.substr(kSigV2HeaderPrefix.size());
  if (rest.empty() || rest.find(' ') != std::string_view::npos) {
    return err_s3_invalid_argument(std::string(kMsgS3SigV2HeaderSpacing));
  }
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos || colon + 1 == rest.size() ||
      rest.find(':', colon + 1) != std::string_view::npos) {
    return err_s3_invalid_argument(std::string(kMsgS3SigV2HeaderInvalid));
  }
  SigV2Fields f;
  f.presigned = false;
  f.access_key_id = std::string(rest.substr(0, colon));
  f.signature = std::string(rest.substr(colon + 1));

  // x-amz-date takes precedence over Date [S3 RESTAuthentication, "Time stamp requirement"].
  std::optional<std::string_view> date = find_header(req, "x-amz-date");
  if (!date) date = find_header(req, "date");
  std::optional<SystemTime> t = date ? parse_request_date(*date) : std::nullopt;
  if (!t) return err_s3_access_denied(std::string(kMsgS3MissingDate));
  const int64_t ahead = epoch_seconds(*t) - epoch_seconds(now);
  if (ahead > kMaxClockSkewSeconds || -ahead > kMaxClockSkewSeconds) {
    return err_time_skew(ErrorStyle::kRestXml, std::string());
  }
  f.request_time = t;
  if (auto token = find_header(req, kSecurityToken)) f.security_token = std::string(trim(*token));
  return f;
}

Result<SigV2Fields> parse_query_form(const SignedRequest& req, const std::vector<Param>& params,
                                     SystemTime now) {
  const Param* akid = find_param(params, kSigV2ParamAccessKeyId);
  const Param* signature = find_param(params, kSigV2ParamSignature);
  const Param* expires = find_param(params, kSigV2ParamExpires);
  if (!akid || akid->value.empty() || !signature || signature->value.empty() || !expires ||
      expires->value.empty()) {
    return err_s3_access_denied(std::string(kMsgS3SigV2QueryParamsMissing));
  }
  const std::string& e = expires->value;
  int64_t expires_at = 0;
  bool ok = all_digits(e) && e.size() <= 18;
  if (ok) {
    for (char c : e) expires_at = expires_at * 10 + (c - '0');
    ok = expires_at < kMaxSigV2Expires;
  }
  if (!ok) return err_s3_access_denied(std::string(kMsgS3SigV2InvalidExpires) + e);
  if (epoch_seconds(now) > expires_at) {
    return err_s3_access_denied(std::string(kMsgS3RequestExpired));
  }
  SigV2Fields f;
  f.presigned = true;
  f.access_key_id = akid->value;
  f.signature = signature->value;
  if (auto token = find_header(req, kSecurityToken)) {
    f.security_token = std::string(trim(*token));
  } else if (const Param* p = find_param(params, kSecurityToken)) {
    f.security_token = p->value;
  }
  return f;
}

// The form check and the time check of verify(), in its order.
Result<SigV2Fields> parse_sigv2(const SignedRequest& req, SystemTime now) {
  const std::vector<Param> params = parse_query(req.raw_query);
  const std::optional<std::string_view> auth = authorization(req);
  const bool v2_query = has_v2_query_params(params);
  if (auth) {
    const bool v2_header = starts_with(*auth, kSigV2HeaderPrefix);
    if (v2_query || (v2_header && has_v4_query_params(params))) {
      return err_s3_invalid_argument(std::string(kMsgS3BothMechanisms));
    }
    if (!v2_header) return err_missing_authentication(ErrorStyle::kRestXml);
    return parse_header_form(req, *auth, now);
  }
  if (!v2_query) return err_missing_authentication(ErrorStyle::kRestXml);
  if (has_v4_query_params(params)) {
    return err_s3_invalid_argument(std::string(kMsgS3BothMechanisms));
  }
  return parse_query_form(req, params, now);
}

}  // namespace

bool is_sigv2(const SignedRequest& req) {
  if (authorization(req)) return is_header_form(req);
  return has_v2_query_params(parse_query(req.raw_query));
}

std::string sigv2_string_to_sign(const SignedRequest& req, std::string_view virtual_host_bucket) {
  const bool query_form = !is_header_form(req);
  const std::vector<Param> params = parse_query(req.raw_query);
  std::string out;
  out.reserve(128 + req.raw_path.size() + req.raw_query.size());
  out.append(req.method);
  out += '\n';
  out += positional(req, params, query_form, "content-md5");
  out += '\n';
  out += positional(req, params, query_form, "content-type");
  out += '\n';
  if (query_form) {
    if (const Param* e = find_param(params, kSigV2ParamExpires)) out += e->value;
  } else if (!find_header(req, "x-amz-date")) {
    if (auto d = find_header(req, "date")) out.append(trim(*d));
  }
  out += '\n';
  append_amz_headers(out, req, params, query_form);
  append_resource(out, req, params, virtual_host_bucket);
  return out;
}

std::string sigv2_signature(std::string_view secret, std::string_view string_to_sign) {
  return base64_encode(hmac_sha1(secret, string_to_sign));
}

SigV2Verifier::SigV2Verifier(const CredentialProvider& credentials, const Clock& clock)
    : credentials_(credentials), clock_(clock) {}

Result<AuthContext> SigV2Verifier::verify(const SignedRequest& req,
                                          std::string_view virtual_host_bucket) const {
  NUBO_ASSIGN_OR_RETURN(SigV2Fields fields, parse_sigv2(req, clock_.now()));

  // The same resolution of key and token as SigV4Verifier::verify.
  KeyLookup found = credentials_.lookup(fields.access_key_id, fields.security_token);
  switch (found.problem) {
    case KeyProblem::kNone:
      break;
    case KeyProblem::kUnknownKey:
      return err_unknown_access_key(ErrorStyle::kRestXml);
    case KeyProblem::kInvalidToken:
      return err_invalid_security_token(ErrorStyle::kRestXml);
    case KeyProblem::kExpiredToken:
      return err_expired_token(ErrorStyle::kRestXml);
  }
  NUBO_CHECK(found.credentials.has_value());
  Credentials& creds = *found.credentials;

  const std::string expected =
      sigv2_signature(creds.secret_access_key, sigv2_string_to_sign(req, virtual_host_bucket));
  if (!constant_time_equal(expected, fields.signature)) {
    return err_signature_mismatch(ErrorStyle::kRestXml);
  }

  AuthContext ctx;
  ctx.access_key_id = std::move(fields.access_key_id);
  ctx.service = "s3";
  ctx.presigned = fields.presigned;
  ctx.payload_hash = std::string(kUnsignedPayload);
  ctx.signature = std::move(fields.signature);
  if (fields.request_time) ctx.amz_date = format_iso8601_basic(*fields.request_time);
  ctx.credentials = std::move(creds);
  return ctx;
}

}  // namespace nubo::auth

#include "auth/policy.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "base/json.h"
#include "base/strings.h"

namespace nubo::auth {

namespace {

Error malformed(const std::string& message) {
  return Error{"MalformedPolicyDocument", 400, message};
}

// A string or an array of strings (Action, Resource, condition values, principals).
Result<std::vector<std::string>> strings_of(const json::value& v, std::string_view field) {
  std::vector<std::string> out;
  auto one = [&](const json::value& e) -> Status {
    if (e.is_string()) {
      out.emplace_back(e.get_string());
    } else if (e.is_bool()) {
      out.emplace_back(e.get_bool() ? "true" : "false");  // {"Bool": {"k": true}}
    } else if (e.is_int64() || e.is_uint64() || e.is_double()) {
      out.push_back(json::serialize(e));  // {"NumericLessThan": {"k": 10}}
    } else {
      return malformed("Syntax errors in policy: " + std::string(field) +
                       " must be a string or a list of strings.");
    }
    return Ok{};
  };
  if (v.is_array()) {
    for (const auto& e : v.get_array()) NUBO_TRY(one(e));
  } else {
    NUBO_TRY(one(v));
  }
  return out;
}

Result<PrincipalSet> principal_of(const json::value& v) {
  PrincipalSet p;
  if (v.is_string()) {
    if (v.get_string() != "*")
      return malformed("Invalid principal in policy: " + json::serialize(v));
    p.any = true;
    return p;
  }
  if (!v.is_object()) return malformed("Invalid principal in policy.");
  for (const auto& kv : v.get_object()) {
    NUBO_ASSIGN_OR_RETURN(auto list, strings_of(kv.value(), "Principal"));
    std::string kind(kv.key());
    if (kind == "AWS") {
      for (auto& a : list) {
        if (a == "*") p.any = true;
        p.aws.push_back(std::move(a));
      }
    } else if (kind == "Service") {
      p.service = std::move(list);
    } else if (kind == "Federated") {
      p.federated = std::move(list);
    } else if (kind == "CanonicalUser") {
      // S3's canonical ids: no principal of nubo has one.
    } else {
      return malformed("Invalid principal in policy: \"" + kind + "\"");
    }
  }
  return p;
}

constexpr std::string_view kOperators[] = {
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnNotEquals",
    "ArnLike",
    "ArnNotLike",
    "Null",
};

bool negated(std::string_view op) {
  return op == "StringNotEquals" || op == "StringNotEqualsIgnoreCase" || op == "StringNotLike" ||
         op == "NumericNotEquals" || op == "DateNotEquals" || op == "NotIpAddress" ||
         op == "ArnNotEquals" || op == "ArnNotLike";
}

bool parse_cidr(std::string_view text, unsigned char (&addr)[16], size_t& len, int& bits);

Result<std::vector<ConditionClause>> conditions_of(const json::value& v) {
  if (!v.is_object()) return malformed("Syntax errors in policy: Condition must be an object.");
  std::vector<ConditionClause> out;
  for (const auto& op_kv : v.get_object()) {
    std::string name(op_kv.key());
    ConditionClause base;
    for (auto [prefix, set] :
         {std::pair{std::string_view("ForAllValues:"), ConditionClause::Set::kForAllValues},
          std::pair{std::string_view("ForAnyValue:"), ConditionClause::Set::kForAnyValue}}) {
      if (starts_with(name, prefix)) {
        base.set = set;
        name = name.substr(prefix.size());
      }
    }
    if (name == "NullIfExists") {
      return malformed("Syntax errors in policy: Null cannot be combined with IfExists.");
    }
    if (name.size() > 8 && ends_with(name, "IfExists")) {
      base.if_exists = true;
      name.resize(name.size() - 8);
    }
    if (std::find(std::begin(kOperators), std::end(kOperators), name) == std::end(kOperators)) {
      return malformed("Syntax errors in policy: unknown condition operator " +
                       std::string(op_kv.key()) + ".");
    }
    base.op = name;
    if (!op_kv.value().is_object()) {
      return malformed("Syntax errors in policy: the " + name + " condition must be an object.");
    }
    for (const auto& key_kv : op_kv.value().get_object()) {
      ConditionClause c = base;
      c.key = to_lower(key_kv.key());
      NUBO_ASSIGN_OR_RETURN(c.values, strings_of(key_kv.value(), "Condition"));
      if (name == "IpAddress" || name == "NotIpAddress") {
        for (const auto& v : c.values) {
          unsigned char addr[16];
          size_t len = 0;
          int bits = 0;
          // A typo'd prefix must not become /0 (everyone) or fail open: refused here.
          if (v.find("${") == std::string::npos && !parse_cidr(v, addr, len, bits)) {
            return malformed("Syntax errors in policy: " + v + " is not an IP address or CIDR.");
          }
        }
      }
      out.push_back(std::move(c));
    }
  }
  return out;
}

Result<Statement> statement_of(const json::value& v) {
  if (!v.is_object()) return malformed("Syntax errors in policy: a Statement must be an object.");
  const json::object& o = v.get_object();
  // A misspelt element ("Resources", "Conditions") would otherwise widen the statement.
  static constexpr std::string_view kElements[] = {"Sid",       "Effect",       "Action",
                                                   "NotAction", "Resource",     "NotResource",
                                                   "Principal", "NotPrincipal", "Condition"};
  for (const auto& kv : o) {
    if (std::find(std::begin(kElements), std::end(kElements), kv.key()) == std::end(kElements)) {
      return malformed("Syntax errors in policy: unknown element " + std::string(kv.key()) +
                       " in a statement.");
    }
  }
  Statement s;
  if (auto it = o.find("Sid"); it != o.end() && it->value().is_string()) {
    s.sid = std::string(it->value().get_string());
  }
  auto effect = o.find("Effect");
  if (effect == o.end() || !effect->value().is_string()) {
    return malformed("Syntax errors in policy: missing Effect.");
  }
  if (effect->value().get_string() == "Allow") {
    s.allow = true;
  } else if (effect->value().get_string() == "Deny") {
    s.allow = false;
  } else {
    return malformed("Syntax errors in policy: Effect must be Allow or Deny.");
  }
  auto action = o.find("Action"), not_action = o.find("NotAction");
  if ((action == o.end()) == (not_action == o.end())) {
    return malformed(
        "Syntax errors in policy: a statement needs exactly one of Action and "
        "NotAction.");
  }
  s.not_action = not_action != o.end();
  NUBO_ASSIGN_OR_RETURN(s.actions,
                        strings_of(s.not_action ? not_action->value() : action->value(), "Action"));
  for (const auto& a : s.actions) {
    s.actions_lower.push_back(to_lower(a));
    s.action_globs.push_back(compile_glob(s.actions_lower.back()));
  }
  auto resource = o.find("Resource"), not_resource = o.find("NotResource");
  if (resource != o.end() && not_resource != o.end()) {
    return malformed("Syntax errors in policy: a statement has both Resource and NotResource.");
  }
  if (resource != o.end() || not_resource != o.end()) {
    s.has_resource = true;
    s.not_resource = not_resource != o.end();
    NUBO_ASSIGN_OR_RETURN(
        s.resources,
        strings_of(s.not_resource ? not_resource->value() : resource->value(), "Resource"));
    for (const std::string& r : s.resources) {
      Statement::SplitPattern sp;
      sp.variables = r.find("${") != std::string::npos;
      if (!sp.variables && r.size() < 65535) {
        size_t at = 0;
        while (sp.n < 5) {
          size_t c = r.find(':', at);
          if (c == std::string::npos) break;
          sp.parts[sp.n++] = {static_cast<uint16_t>(at), static_cast<uint16_t>(c - at)};
          at = c + 1;
        }
        sp.parts[sp.n++] = {static_cast<uint16_t>(at), static_cast<uint16_t>(r.size() - at)};
        for (size_t i = 0; i < sp.n; ++i) {
          sp.globs[i] =
              compile_glob(std::string_view(r.data() + sp.parts[i].first, sp.parts[i].second));
        }
        sp.whole = compile_glob(r);
      }
      s.split_resources.push_back(sp);
    }
  }
  auto principal = o.find("Principal"), not_principal = o.find("NotPrincipal");
  if (principal != o.end() || not_principal != o.end()) {
    s.not_principal = not_principal != o.end();
    NUBO_ASSIGN_OR_RETURN(
        s.principal, principal_of(s.not_principal ? not_principal->value() : principal->value()));
  }
  if (auto it = o.find("Condition"); it != o.end()) {
    NUBO_ASSIGN_OR_RETURN(s.conditions, conditions_of(it->value()));
  }
  return s;
}

// ${...} substitution (policy variables). nullopt: a variable with no value and no default,
// which makes the element it is in match nothing.
std::optional<std::string> substitute(std::string_view text, const RequestContext& r,
                                      bool variables) {
  if (!variables || text.find("${") == std::string_view::npos) return std::string(text);
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t at = text.find("${", i);
    if (at == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    size_t end = text.find('}', at);
    if (end == std::string_view::npos) {
      out.append(text.substr(i));
      break;
    }
    out.append(text.substr(i, at - i));
    std::string_view inner = trim(text.substr(at + 2, end - at - 2));
    std::optional<std::string> fallback;
    if (size_t comma = inner.find(','); comma != std::string_view::npos) {
      std::string_view d = trim(inner.substr(comma + 1));
      if (d.size() >= 2 && d.front() == '\'' && d.back() == '\'') {
        fallback = std::string(d.substr(1, d.size() - 2));
      }
      inner = trim(inner.substr(0, comma));
    }
    if (inner == "*" || inner == "?" || inner == "$") {
      // The character itself. (In a Resource or StringLike pattern it then acts as a wildcard,
      // where IAM would match it literally: a difference of nubo's.)
      out.append(inner);
    } else if (const auto* values = r.find(inner); values && values->size() == 1) {
      out.append(values->front());
    } else if (fallback) {
      out.append(*fallback);
    } else {
      return std::nullopt;
    }
    i = end + 1;
  }
  return out;
}

std::optional<long double> number_of(std::string_view s) {
  std::string t(trim(s));
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  long double v = std::strtold(t.c_str(), &end);
  if (end == t.c_str() || *end != '\0') return std::nullopt;
  return v;
}

// ISO 8601 (2024-01-01, 2024-01-01T10:00:00Z, with fractions or an offset) or epoch seconds, in
// milliseconds.
std::optional<int64_t> date_of(std::string_view s) {
  std::string t(trim(s));
  if (!t.empty() && t.find('-') == std::string::npos && t.find(':') == std::string::npos) {
    // Epoch seconds, possibly fractional or in exponent form (a JSON number).
    char* end = nullptr;
    double v = std::strtod(t.c_str(), &end);
    if (end != t.c_str() && *end == '\0') return static_cast<int64_t>(v * 1000);
    return std::nullopt;
  }
  struct tm tm = {};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0;
  double sec = 0;
  int n = std::sscanf(t.c_str(), "%4d-%2d-%2dT%2d:%2d:%lf", &y, &mo, &d, &h, &mi, &sec);
  if (n < 3) return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = n >= 4 ? h : 0;
  tm.tm_min = n >= 5 ? mi : 0;
  int64_t ms = static_cast<int64_t>(timegm(&tm)) * 1000 + static_cast<int64_t>(sec * 1000);
  // An offset after the time ("+02:00"): the instant is that much earlier in UTC.
  size_t tpos = t.find('T');
  if (tpos != std::string::npos) {
    size_t sign = t.find_first_of("+-", tpos);
    if (sign != std::string::npos) {
      int oh = 0, om = 0;
      if (std::sscanf(t.c_str() + sign + 1, "%2d:%2d", &oh, &om) >= 1) {
        int64_t off = (static_cast<int64_t>(oh) * 60 + om) * 60000;
        ms += t[sign] == '+' ? -off : off;
      }
    }
  }
  return ms;
}

// A CIDR ("10.0.0.0/8", "2001:db8::/32", or a bare address: /32, /128) as bytes and prefix
// length; false when it is not one (a suffix that is not a number in range included).
bool parse_cidr(std::string_view text, unsigned char (&addr)[16], size_t& len, int& bits) {
  std::string cidr(trim(text));
  std::string suffix;
  bool has_suffix = false;
  if (size_t slash = cidr.find('/'); slash != std::string::npos) {
    suffix = cidr.substr(slash + 1);
    cidr.resize(slash);
    has_suffix = true;
  }
  if (inet_pton(AF_INET, cidr.c_str(), addr) == 1) {
    len = 4;
  } else if (inet_pton(AF_INET6, cidr.c_str(), addr) == 1) {
    len = 16;
  } else {
    return false;
  }
  bits = static_cast<int>(len * 8);
  if (has_suffix) {
    if (suffix.empty() || suffix.size() > 3 ||
        !std::all_of(suffix.begin(), suffix.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return false;
    }
    int n = std::atoi(suffix.c_str());
    if (n > bits) return false;
    bits = n;
  }
  return true;
}

// Whether ip is in cidr (IPv4 or IPv6; an IPv4-mapped IPv6 address counts as its IPv4 one).
bool ip_in(std::string_view ip_text, std::string_view cidr_text) {
  unsigned char a[16], b[16];
  size_t len = 0, ip_len = 0;
  int bits = 0, ip_bits = 0;
  if (!parse_cidr(cidr_text, a, len, bits) || !parse_cidr(ip_text, b, ip_len, ip_bits)) {
    return false;
  }
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (ip_len == 16 && len == 4 && std::memcmp(b, kMapped, 12) == 0) {
    std::memmove(b, b + 12, 4);
    ip_len = 4;
  }
  if (ip_len != len) return false;
  for (int i = 0; i < bits; ++i) {
    int byte = i / 8, bit = 7 - i % 8;
    if (((a[byte] >> bit) & 1) != ((b[byte] >> bit) & 1)) return false;
  }
  return true;
}

// The operator, not negated, applied to one request value and one policy value.
bool matches_one(std::string_view op, std::string_view have, std::string_view want) {
  if (op == "StringEquals" || op == "StringNotEquals") return have == want;
  if (op == "StringEqualsIgnoreCase" || op == "StringNotEqualsIgnoreCase") {
    return iequals(have, want);
  }
  if (op == "StringLike" || op == "StringNotLike") return glob_match(want, have);
  if (starts_with(op, "Numeric")) {
    auto h = number_of(have), w = number_of(want);
    if (!h || !w) return false;
    if (op == "NumericEquals" || op == "NumericNotEquals") return *h == *w;
    if (op == "NumericLessThan") return *h < *w;
    if (op == "NumericLessThanEquals") return *h <= *w;
    if (op == "NumericGreaterThan") return *h > *w;
    if (op == "NumericGreaterThanEquals") return *h >= *w;
  }
  if (starts_with(op, "Date")) {
    auto h = date_of(have), w = date_of(want);
    if (!h || !w) return false;
    if (op == "DateEquals" || op == "DateNotEquals") return *h == *w;
    if (op == "DateLessThan") return *h < *w;
    if (op == "DateLessThanEquals") return *h <= *w;
    if (op == "DateGreaterThan") return *h > *w;
    if (op == "DateGreaterThanEquals") return *h >= *w;
  }
  if (op == "Bool") return iequals(have, want);
  if (op == "BinaryEquals") return have == want;
  if (op == "IpAddress" || op == "NotIpAddress") return ip_in(have, want);
  if (starts_with(op, "Arn")) return arn_match(want, have);
  return false;
}

bool condition_holds(const ConditionClause& c, const RequestContext& r, bool variables) {
  const std::vector<std::string>* have = r.find_lower(c.key);  // lower-cased when parsed
  bool present = have && !have->empty();
  if (c.op == "Null") {
    // Null: "true" asks for the key to be absent, "false" for it to be there.
    for (const auto& v : c.values) {
      if (iequals(v, "true") ? !present : present) return true;
    }
    return false;
  }
  if (!present) {
    if (c.if_exists) return true;
    if (c.set == ConditionClause::Set::kForAllValues) return true;  // every one of none
    if (c.set == ConditionClause::Set::kForAnyValue) return false;
    return negated(c.op);
  }
  bool neg = negated(c.op);
  // m(v): the request value v matches one of the policy values (for a negated operator: none).
  auto m = [&](const std::string& v) {
    bool any = false;
    for (const auto& raw : c.values) {
      if (!variables || raw.find("${") == std::string::npos) {  // no copy for a plain value
        any = matches_one(c.op, v, raw);
      } else {
        auto want = substitute(raw, r, variables);
        any = want && matches_one(c.op, v, *want);
      }
      if (any) break;
    }
    return neg ? !any : any;
  };
  switch (c.set) {
    case ConditionClause::Set::kForAllValues:
      return std::all_of(have->begin(), have->end(), m);
    case ConditionClause::Set::kForAnyValue:
      return std::any_of(have->begin(), have->end(), m);
    case ConditionClause::Set::kSingle:
      return neg ? std::all_of(have->begin(), have->end(), m)
                 : std::any_of(have->begin(), have->end(), m);
  }
  return false;
}

// Whether role_arn (arn:aws:iam::ACCOUNT:role/PATH/NAME) is the role of session_arn
// (arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION, which has no path).
bool role_of_session(std::string_view role_arn, std::string_view session_arn) {
  std::vector<std::string> s = split(session_arn, ':');
  std::vector<std::string> r = split(role_arn, ':');
  if (s.size() != 6 || s[2] != "sts" || !starts_with(s[5], "assumed-role/")) return false;
  if (r.size() != 6 || r[2] != "iam" || r[4] != s[4] || !starts_with(r[5], "role/")) return false;
  std::string rest = s[5].substr(13);
  size_t slash = rest.find('/');
  if (slash == std::string::npos) return false;
  std::string name = rest.substr(0, slash);
  const std::string& path_name = r[5];
  return path_name.size() > name.size() && ends_with(path_name, name) &&
         path_name[path_name.size() - name.size() - 1] == '/';
}

// exact: only the principal's own ARN counts (a resource policy that names an assumed-role
// session itself is not limited by its session policies; one that names its role is).
// direct: an account (its id or root ARN) does not count: within one account, a resource policy
// that grants the account delegates to the account's identity policies (IAM User Guide,
// "Policy evaluation logic": "... the account must also grant access with an identity policy").
bool principal_matches(const PrincipalSet& p, const RequestContext& r, bool exact = false,
                       bool direct = false) {
  if (exact) {
    return !r.principal_arn.empty() &&
           std::find(p.aws.begin(), p.aws.end(), r.principal_arn) != p.aws.end();
  }
  if (p.any) return true;
  if (!r.service.empty() &&
      std::find(p.service.begin(), p.service.end(), r.service) != p.service.end()) {
    return true;
  }
  for (const auto& a : p.aws) {
    if (!r.principal_arn.empty() && (a == r.principal_arn || role_of_session(a, r.principal_arn))) {
      return true;
    }
    // An account (its id or its root ARN) stands for every principal of that account.
    if (!direct && !r.account_id.empty() &&
        (a == r.account_id || a == "arn:aws:iam::" + r.account_id + ":root")) {
      return true;
    }
  }
  return false;
}

// At most six colon-separated components of s, without allocating; returns how many.
size_t arn_components(std::string_view s, std::array<std::string_view, 6>& out) {
  size_t n = 0;
  while (n < 5) {
    size_t c = s.find(':');
    if (c == std::string_view::npos) break;
    out[n++] = s.substr(0, c);
    s.remove_prefix(c + 1);
  }
  out[n++] = s;
  return n;
}

// The request as every statement of an evaluation compares it: split and lower-cased once.
struct Prepared {
  const RequestContext& r;
  std::string action_lower;
  size_t service_len = 0;  // of action_lower: the length of the text before its ':'
  std::array<std::string_view, 6> resource{};
  size_t resource_n = 0;
  bool exact_principal = false;   // resource policies: only statements naming principal_arn
  bool direct_principal = false;  // resource policies: account principals do not count
};

bool resource_matches(std::string_view pattern, const Prepared& q) {
  if (pattern == "*") return true;
  std::array<std::string_view, 6> pc;
  if (arn_components(pattern, pc) != 6 || q.resource_n != 6) {
    return glob_match(pattern, q.r.resource);
  }
  for (size_t i = 6; i-- > 0;) {  // the resource part first: where patterns differ most
    if (!glob_match(pc[i], q.resource[i])) return false;
  }
  return true;
}

bool statement_applies(const Statement& s, const Prepared& q, bool check_principal,
                       bool variables) {
  const RequestContext& r = q.r;
  if (check_principal) {
    if (!s.principal) return false;
    if (principal_matches(*s.principal, r, q.exact_principal, q.direct_principal) ==
        s.not_principal) {
      return false;
    }
  }
  bool action = false;
  for (size_t i = 0; i < s.actions_lower.size() && !action; ++i) {
    action = glob_matches(s.action_globs[i], s.actions_lower[i], q.action_lower);
  }
  if (action == s.not_action) return false;
  if (s.has_resource) {
    bool resource = false;
    for (size_t i = 0; i < s.resources.size() && !resource; ++i) {
      const std::string& p = s.resources[i];
      const Statement::SplitPattern& sp = s.split_resources[i];
      if (sp.variables && variables) {
        auto pattern = substitute(p, r, variables);
        resource = pattern && resource_matches(*pattern, q);
      } else if (p == "*") {
        resource = true;
      } else if (sp.n != 6 || q.resource_n != 6) {
        resource = glob_matches(sp.whole, p, r.resource);
      } else {
        resource = true;
        for (size_t c = 6; c-- > 0 && resource;) {  // the resource part first: most selective
          std::string_view part(p.data() + sp.parts[c].first, sp.parts[c].second);
          resource = glob_matches(sp.globs[c], part, q.resource[c]);
        }
      }
    }
    if (resource == s.not_resource) return false;
  }
  return std::all_of(s.conditions.begin(), s.conditions.end(),
                     [&](const ConditionClause& c) { return condition_holds(c, r, variables); });
}

// The service an action pattern is confined to ("s3" for "s3:get*"), or "" when it may
// match an action of any service.
std::string_view service_of(std::string_view action_lower) {
  size_t colon = action_lower.find(':');
  if (colon == std::string_view::npos) return {};
  std::string_view service = action_lower.substr(0, colon);
  return service.find_first_of("*?") == std::string_view::npos ? service : std::string_view{};
}

void index_by_service(Policy& p) {
  std::map<std::string, std::vector<uint32_t>, std::less<>> by;
  for (uint32_t i = 0; i < p.statements.size(); ++i) {
    const Statement& s = p.statements[i];
    std::vector<std::string_view> services;
    bool any = s.not_action || s.actions_lower.empty();
    for (const auto& a : s.actions_lower) {
      std::string_view svc = service_of(a);
      if (svc.empty()) any = true;
      if (std::find(services.begin(), services.end(), svc) == services.end()) {
        services.push_back(svc);
      }
    }
    if (any) {
      p.any_service.push_back(i);
      continue;
    }
    for (std::string_view svc : services) by[std::string(svc)].push_back(i);
  }
  p.by_service.assign(by.begin(), by.end());
}

}  // namespace

Result<Policy> parse_policy(std::string_view document) {
  auto parsed = parse_json(document, "MalformedPolicyDocument");
  if (!parsed.ok()) return malformed("Syntax errors in policy.");
  if (!parsed->is_object()) return malformed("Syntax errors in policy.");
  const json::object& o = parsed->get_object();
  for (const auto& kv : o) {
    if (kv.key() != "Version" && kv.key() != "Id" && kv.key() != "Statement") {
      return malformed("Syntax errors in policy: unknown element " + std::string(kv.key()) + ".");
    }
  }
  Policy p;
  if (auto it = o.find("Version"); it != o.end()) {
    if (!it->value().is_string() ||
        (it->value().get_string() != "2012-10-17" && it->value().get_string() != "2008-10-17")) {
      return malformed("The policy failed legacy parsing");
    }
    p.version = std::string(it->value().get_string());
  }
  if (auto it = o.find("Id"); it != o.end() && it->value().is_string()) {
    p.id = std::string(it->value().get_string());
  }
  auto st = o.find("Statement");
  if (st == o.end()) return malformed("Syntax errors in policy: missing Statement.");
  if (st->value().is_array()) {
    for (const auto& s : st->value().get_array()) {
      NUBO_ASSIGN_OR_RETURN(Statement parsed_statement, statement_of(s));
      p.statements.push_back(std::move(parsed_statement));
    }
  } else {
    NUBO_ASSIGN_OR_RETURN(Statement parsed_statement, statement_of(st->value()));
    p.statements.push_back(std::move(parsed_statement));
  }
  index_by_service(p);
  return p;
}

void RequestContext::set(std::string_view key, std::string value) {
  keys[to_lower(key)] = {std::move(value)};
}

const std::vector<std::string>* RequestContext::find(std::string_view key) const {
  return find_lower(to_lower(key));
}

const std::vector<std::string>* RequestContext::find_lower(std::string_view lower_key) const {
  if (auto it = keys.find(lower_key); it != keys.end()) return &it->second;
  if (resolve == nullptr) return nullptr;
  if (auto it = resolved.find(lower_key); it != resolved.end()) return &it->second;
  std::vector<std::string> values;
  if (!resolve(*this, lower_key, values)) return nullptr;
  return &resolved.emplace(std::string(lower_key), std::move(values)).first->second;
}

bool glob_match(std::string_view pattern, std::string_view text, bool ignore_case) {
  auto eq = [&](char a, char b) {
    return ignore_case ? std::tolower(static_cast<unsigned char>(a)) ==
                             std::tolower(static_cast<unsigned char>(b))
                       : a == b;
  };
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {  // before the literal test: a '*' in the text
      star = p++;                                   // is text, not a wildcard
      mark = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || eq(pattern[p], text[t]))) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Glob compile_glob(std::string_view pattern) {
  Glob g;
  size_t first = pattern.find_first_of("*?");
  g.literal = static_cast<uint16_t>(std::min<size_t>(first, UINT16_MAX));
  if (pattern == "*") {
    g.kind = Glob::Kind::kAny;
  } else if (first == std::string_view::npos) {
    g.kind = pattern.size() <= UINT16_MAX ? Glob::Kind::kExact : Glob::Kind::kGeneral;
  } else if (first == pattern.size() - 1 && pattern[first] == '*') {
    g.kind = Glob::Kind::kPrefix;
  }
  return g;
}

bool glob_matches(const Glob& g, std::string_view pattern, std::string_view text) {
  switch (g.kind) {
    case Glob::Kind::kAny:
      return true;
    case Glob::Kind::kExact:
      return pattern == text;
    case Glob::Kind::kPrefix:
      return text.size() >= g.literal && std::memcmp(text.data(), pattern.data(), g.literal) == 0;
    case Glob::Kind::kGeneral:
      break;
  }
  if (text.size() < g.literal || std::memcmp(text.data(), pattern.data(), g.literal) != 0) {
    return false;
  }
  return glob_match(pattern.substr(g.literal), text.substr(g.literal));
}

bool arn_match(std::string_view pattern, std::string_view arn) {
  if (pattern == "*") return true;
  std::array<std::string_view, 6> pc, ac;
  if (arn_components(pattern, pc) != 6 || arn_components(arn, ac) != 6) {
    return glob_match(pattern, arn);
  }
  for (size_t i = 0; i < 6; ++i) {
    if (!glob_match(pc[i], ac[i])) return false;
  }
  return true;
}

namespace {

Prepared prepare(const RequestContext& request) {
  Prepared q{request, to_lower(request.action)};
  q.service_len = std::min(q.action_lower.find(':'), q.action_lower.size());
  q.resource_n = arn_components(request.resource, q.resource);
  return q;
}

Decision evaluate_prepared(const Policy& policy, const Prepared& q, bool check_principal) {
  bool variables = policy.version == "2012-10-17";
  Decision d = Decision::kImplicitDeny;
  // Statements apply or not independently of one another, so their order does not matter:
  // those of the request's service, then those of any service.
  std::string_view service = std::string_view(q.action_lower).substr(0, q.service_len);
  auto it = std::lower_bound(
      policy.by_service.begin(), policy.by_service.end(), service,
      [](const auto& entry, std::string_view svc) { return std::string_view(entry.first) < svc; });
  const std::vector<uint32_t>* lists[2] = {
      it != policy.by_service.end() && it->first == service ? &it->second : nullptr,
      &policy.any_service};
  for (const std::vector<uint32_t>* list : lists) {
    if (list == nullptr) continue;
    for (uint32_t i : *list) {
      const Statement& s = policy.statements[i];
      if (!statement_applies(s, q, check_principal, variables)) continue;
      if (!s.allow) return Decision::kExplicitDeny;
      d = Decision::kAllow;
    }
  }
  return d;
}

}  // namespace

Decision evaluate(const Policy& policy, const RequestContext& request, bool check_principal) {
  return evaluate_prepared(policy, prepare(request), check_principal);
}

Decision decide(const PolicySet& policies, const RequestContext& request) {
  const Prepared q = prepare(request);  // once for every policy
  bool identity_allow = false, resource_allow = false;
  for (const Policy* p : policies.identity) {
    Decision d = evaluate_prepared(*p, q, false);
    if (d == Decision::kExplicitDeny) return d;
    identity_allow = identity_allow || d == Decision::kAllow;
  }
  bool session_allow = policies.session.empty();
  for (const Policy* p : policies.session) {
    Decision d = evaluate_prepared(*p, q, false);
    if (d == Decision::kExplicitDeny) return d;
    session_allow = session_allow || d == Decision::kAllow;
  }
  // A resource policy's allow is not limited by session policies only when it names the
  // session itself (IAM User Guide, "Session policies"); its deny applies either way.
  // An allow that names the account (not the principal, its role, a service or "*") is no
  // allow of its own: it leaves the decision to the identity policies.
  if (policies.resource.empty()) {
    return identity_allow && session_allow ? Decision::kAllow : Decision::kImplicitDeny;
  }
  Prepared exact = q;
  exact.exact_principal = true;
  Prepared direct = q;
  direct.direct_principal = true;
  for (const Policy* p : policies.resource) {
    Decision d = evaluate_prepared(*p, q, /*check_principal=*/true);
    if (d == Decision::kExplicitDeny) return d;
    if (d == Decision::kAllow && evaluate_prepared(*p, direct, true) == Decision::kAllow) {
      resource_allow = resource_allow || policies.session.empty() ||
                       evaluate_prepared(*p, exact, true) == Decision::kAllow;
    }
  }
  if (resource_allow || (identity_allow && session_allow)) return Decision::kAllow;
  return Decision::kImplicitDeny;
}

}  // namespace nubo::auth

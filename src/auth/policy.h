// The IAM policy engine (issue 4): one evaluator for identity policies, session policies and
// resource policies (function, bucket, queue, topic and secret policies), with AWS's logic.
//
//   - A statement applies when its Principal (resource policies), Action/NotAction,
//     Resource/NotResource and every Condition match the request.
//   - Explicit Deny anywhere wins; else an Allow from an identity policy or a resource policy
//     (within one account either suffices, except that a resource policy granting the account
//     itself, its id or root ARN, leaves it to the identity policies) allows; else the request
//     is implicitly denied.
//     Session policies (AssumeRole's Policy) limit what identity policies allow.
//   - Action names match case-insensitively, resources case-sensitively, both with * and ?.
//     ARNs match component by component (the six colon-separated parts), as ArnLike does.
//   - Conditions: String*, Numeric*, Date*, Bool, BinaryEquals, IpAddress/NotIpAddress, Arn*,
//     Null, the ...IfExists suffix and the ForAllValues:/ForAnyValue: qualifiers. Operators AND,
//     keys AND, values OR (NOR for negated operators); a key missing from the request makes a
//     condition false, or true for a negated operator (IAM User Guide, "Condition operators").
//   - Policy variables (Version 2012-10-17): ${aws:username}, ${aws:PrincipalTag/x}, any key of
//     the request, ${key, 'default'}, and ${*} ${?} ${$} (which stay wildcards in patterns,
//     where IAM matches them literally).
//
// Plain values; no threads, no I/O. Parse once, evaluate often.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace nubo::auth {

struct ConditionClause {
  std::string op;  // the base operator, "StringEquals" (without IfExists / set qualifier)
  enum class Set { kSingle, kForAllValues, kForAnyValue };
  Set set = Set::kSingle;
  bool if_exists = false;
  std::string key;  // lower-cased: condition keys are case-insensitive
  std::vector<std::string> values;
};

struct PrincipalSet {
  bool any = false;                  // "*" or {"AWS": "*"}
  std::vector<std::string> aws;      // ARNs or account ids
  std::vector<std::string> service;  // "lambda.amazonaws.com"
  std::vector<std::string> federated;
};

// A wildcard pattern compiled when its policy is parsed: how it matches, and the length of the
// literal text before its first wildcard (a text without that prefix never matches).
struct Glob {
  enum class Kind : uint8_t { kAny, kExact, kPrefix, kGeneral };  // "*", "abc", "abc*", other
  Kind kind = Kind::kGeneral;
  uint16_t literal = 0;
};
Glob compile_glob(std::string_view pattern);
// glob_match(pattern, text) for the pattern g was compiled from.
bool glob_matches(const Glob& g, std::string_view pattern, std::string_view text);

struct Statement {
  std::string sid;
  bool allow = true;
  std::vector<std::string> actions;
  std::vector<std::string> actions_lower;  // the same, lower-cased when parsed (for matching)
  std::vector<Glob> action_globs;          // actions_lower[i], compiled
  bool not_action = false;
  std::vector<std::string> resources;  // empty with !has_resource: every resource
  // Each resource pattern without policy variables, split into its ARN components when parsed
  // (offset and length into resources[i]; n != 6: matched as one glob, `whole`), each
  // component compiled. Patterns with variables are split per request.
  struct SplitPattern {
    bool variables = false;
    uint8_t n = 0;
    std::array<std::pair<uint16_t, uint16_t>, 6> parts{};
    std::array<Glob, 6> globs{};
    Glob whole;
  };
  std::vector<SplitPattern> split_resources;
  bool not_resource = false;
  bool has_resource = false;
  std::optional<PrincipalSet> principal;
  bool not_principal = false;
  std::vector<ConditionClause> conditions;
};

struct Policy {
  std::string version;  // "2012-10-17" (policy variables) or "2008-10-17"
  std::string id;
  std::vector<Statement> statements;
  // Built by parse_policy: the statements (indices) whose actions name one service, by that
  // service ("s3", lower-cased, sorted), and the ones that may apply to any (NotAction, a
  // wildcard in the service part). A request is checked against its service's and any's only.
  std::vector<std::pair<std::string, std::vector<uint32_t>>> by_service;
  std::vector<uint32_t> any_service;
};

// Parses a policy document. Errors: "MalformedPolicyDocument" (400) naming the problem, as IAM
// answers CreatePolicy / PutRolePolicy; services wrap it in their own shape.
Result<Policy> parse_policy(std::string_view document);

// What is being asked: by whom, to do what, on what, and the request's condition keys.
struct RequestContext {
  std::string action;         // "lambda:InvokeFunction"
  std::string resource;       // an ARN, or "*" for actions without a resource
  std::string principal_arn;  // arn:aws:iam::123456789012:user/alice, ...:assumed-role/R/s
  std::string account_id;     // the principal's account
  std::string service;        // a service principal ("lambda.amazonaws.com"), or ""
  // Condition keys by lower-cased name ("aws:sourceip"); several values for multi-valued keys.
  using KeyMap = std::map<std::string, std::vector<std::string>, std::less<>>;
  KeyMap keys;
  // Keys computed only when a condition or a policy variable asks for one (the caller's
  // global keys and the service's keys: most policies ask for none): resolve(*this,
  // lower_key, out) fills `out` and returns true when the request has the key. `keys` wins
  // over it. A context with a resolver is used by one thread at a time (it remembers what
  // resolve answered).
  using Resolver = bool (*)(const RequestContext& context, std::string_view lower_key,
                            std::vector<std::string>& out);
  Resolver resolve = nullptr;
  std::array<const void*, 2> sources{};  // what resolve reads: borrowed, outlive the context
  mutable KeyMap resolved;

  void set(std::string_view key, std::string value);
  const std::vector<std::string>* find(std::string_view key) const;
  // REQUIRES: lower_key is lower-cased.
  const std::vector<std::string>* find_lower(std::string_view lower_key) const;
};

enum class Decision { kImplicitDeny, kAllow, kExplicitDeny };

// One policy's verdict: explicit deny if a Deny statement applies, allow if an Allow does.
// check_principal: the policy is a resource policy (its statements' Principal must match).
Decision evaluate(const Policy& policy, const RequestContext& request,
                  bool check_principal = false);

struct PolicySet {
  std::vector<const Policy*> identity;  // the principal's (user, group and role policies)
  std::vector<const Policy*> session;   // an assumed role's session policies; empty: none
  std::vector<const Policy*> resource;  // the resource's own policy, if any
};

// AWS's decision within one account: explicit deny anywhere denies; an identity allow (within
// the session policies, when there are any) or a resource-policy allow allows.
Decision decide(const PolicySet& policies, const RequestContext& request);

// Glob matching as IAM does it: '*' any run of characters, '?' one character.
bool glob_match(std::string_view pattern, std::string_view text, bool ignore_case = false);
// ArnLike: the six colon-separated components matched one by one (a pattern with another
// number of components matches as one glob).
bool arn_match(std::string_view pattern, std::string_view arn);

}  // namespace nubo::auth

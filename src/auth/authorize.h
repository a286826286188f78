// Authorisation: who is calling (Caller) and the one check every service makes before it acts
// (authorize), on the policy engine of auth/policy.h (issue 4).
//
// The front door authenticates a request (SigV4) and builds its Caller: the principal, the
// identity policies that apply to it (its user's and groups', or its role's, with an assumed
// role's session policies), and the request's global condition keys. A service then calls
// authorize() once per action with the resource's ARN and the resource's own policy, if it has
// one. The root principal is allowed everything; anyone else is allowed only what a policy
// allows.
//
// Every decision goes to the Caller's AuditSink (when it has one): principal, action, resource,
// decision and source.
//
// Plain values; authorize() is thread-safe (it reads only its arguments).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "auth/policy.h"
#include "base/clock.h"
#include "base/principal.h"
#include "base/result.h"

namespace nubo::auth {

// What IAM knows about a principal that is not root: the policies that apply to it. Immutable
// once built (shared by every request of the principal until IAM changes).
struct Identity {
  std::vector<std::shared_ptr<const Policy>> policies;  // identity-based: inline and managed
  // An assumed role's session policies (AssumeRole's Policy and PolicyArns): when present,
  // they bound what `policies` allow.
  std::vector<std::shared_ptr<const Policy>> session;
  std::string principal_type;  // aws:PrincipalType: "User", "AssumedRole", "FederatedUser"
  std::string user_id;         // aws:userid: "AIDA..." or "AROA...:session"
  std::string user_name;       // aws:username (users only)
  std::map<std::string, std::string> tags;  // aws:PrincipalTag/<key>
};

// One authorisation decision, as the audit trail keeps it.
struct AuditEvent {
  SystemTime time;
  std::string event_source;  // "lambda.amazonaws.com"
  std::string event_name;    // "Invoke", "CreateRole", ... (the action without its prefix)
  std::string principal_arn;
  std::string access_key_id;
  std::string action;  // "lambda:InvokeFunction"
  std::string resource;
  bool allowed = false;
  std::string source_ip;
  std::string user_agent;
  std::string request_id;
};

// Where decisions go. Thread-safe; record() must not block (it is called on io threads).
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual void record(AuditEvent event) = 0;
  // Whether allowed data events (invocations: Access::data_event) are kept. CloudTrail records
  // data events only when a trail asks for them; denied ones are always kept.
  virtual bool wants_data_events() const { return true; }
};

// The caller of one request. Built by the front door; services borrow it for the request.
struct Caller : Principal {
  std::shared_ptr<const Identity> identity;  // null for root
  bool temporary = false;     // signed with session credentials (an X-Amz-Security-Token)
  bool assumed_role = false;  // those credentials are an assumed role's
  std::string source_ip;
  bool secure_transport = false;
  SystemTime time{};
  std::string user_agent;
  std::string request_id;
  // The request's X-Amzn-Trace-Id (the SDKs send a function's _X_AMZN_TRACE_ID in it): what
  // the events the request causes carry on, for recursion detection. Empty: none.
  std::string trace_header;
  AuditSink* audit = nullptr;  // borrowed; may be null
};

// A root caller of `account_id` with no audit (for tests and for nubo's own calls).
Caller root_caller(const std::string& account_id);

// What is asked of authorize().
struct Access {
  Access() = default;
  Access(std::string action_name, std::string resource_arn = "*", const Policy* policy = nullptr)
      : action(std::move(action_name)),
        resource(std::move(resource_arn)),
        resource_policy(policy) {}

  std::string action;                       // "lambda:GetFunction"
  std::string resource = "*";               // the resource's ARN
  const Policy* resource_policy = nullptr;  // the resource's own policy (borrowed), if any
  // Service-specific condition keys ("lambda:FunctionArn", "secretsmanager:SecretId", ...).
  std::vector<std::pair<std::string, std::string>> keys;
  // A data-plane call (lambda:InvokeFunction), which the audit trail keeps only when it is
  // denied or the sink wants data events.
  bool data_event = false;
};

// How a service says no: its AccessDenied code and status (Lambda "AccessDeniedException" 403,
// Secrets Manager "AccessDeniedException" 400, IAM and STS "AccessDenied" 403, ...).
struct DenialShape {
  std::string code;
  int status = 403;
};

// Ok when the caller may perform access.action on access.resource; else the service's
// AccessDenied with AWS's message ("User: <arn> is not authorized to perform: <action> on
// resource: <resource> because no identity-based policy allows the <action> action", or "with
// an explicit deny in a(n) identity-based / resource-based policy").
Status authorize(const Caller& caller, const Access& access, const DenialShape& shape);

// The request context authorize() evaluates: the access, the caller's global condition keys.
// The context borrows `caller` and `access`, which must outlive it.
RequestContext request_context(const Caller& caller, const Access& access);

// The engine's decision alone (no audit, no error): for callers that combine several checks,
// such as AssumeRole's trust policy.
Decision decide_for(const Caller& caller, const Access& access);

}  // namespace nubo::auth

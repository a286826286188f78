// The IAM wire layer's shared parts (internal to services/iam): Query-protocol parameters in
// (validation worded as IAM words it), XML elements out (policy documents URL-encoded, as IAM
// returns them), and the action handlers' calling convention. iam_service.cc dispatches;
// actions_*.cc hold the handlers by area.
//
// Threads: handlers run on the blocking pool (they block on the Store), one request each.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "auth/authorize.h"
#include "base/result.h"
#include "services/iam/access_keys.h"
#include "services/iam/common.h"
#include "services/iam/groups.h"
#include "services/iam/managed_policies.h"
#include "services/iam/roles.h"
#include "services/iam/users.h"
#include "storage/store.h"

namespace nubo::iam::wire {

using Params = std::map<std::string, std::string>;

// ---- Parameters ----

std::string param(const Params& p, const std::string& key);
bool has(const Params& p, const std::string& key);
Error validation(const std::string& value, const std::string& field, const std::string& what);
Error missing(const std::string& field);  // "Value null at 'field' ... must not be null"

// [\w+=,.@-]+ of 1..max characters; `field` is the model's name ("userName").
Status check_name(const Params& p, const char* key, const char* field, size_t max);
// An optional Path (pathType: "/" or "/.../"); "/" when absent.
Result<std::string> path_param(const Params& p, const char* key = "Path",
                               const char* field = "path");
// An optional policy Path (policyPathType: ((/[A-Za-z0-9.,+@=_-]+)*)/).
Result<std::string> policy_path_param(const Params& p);
// An optional PathPrefix (pathPrefixType: "/" then printable ASCII); "/" when absent.
Result<std::string> path_prefix_param(const Params& p);
Result<int> max_items(const Params& p);
Result<bool> bool_param(const Params& p, const char* key, const char* field, bool dflt);
// A required policy document (1..131072 characters).
Result<std::string> document_param(const Params& p, const char* key = "PolicyDocument",
                                   const char* field = "policyDocument");
// A required policy ARN (arnType: 20..2048 characters).
Result<std::string> arn_param(const Params& p, const char* key = "PolicyArn",
                              const char* field = "policyArn");
// Key.member.1, Key.member.2, ... in order.
std::vector<std::string> member_list(const Params& p, const std::string& key);
Tags tags_param(const Params& p, const std::string& key = "Tags");

// ---- XML ----

std::string x(const std::string& tag, const std::string& text);            // <tag>escaped</tag>
std::string doc_xml(const std::string& tag, const std::string& document);  // URL-encoded
std::string tags_xml(const Tags& tags, const std::string& tag = "Tags");
std::string user_xml(const User& u, const std::string& tag = "User", bool with_tags = false);
std::string group_xml(const Group& g, const std::string& tag = "Group");
std::string role_xml(const Role& r, const std::string& tag = "Role", bool full = false);
std::string policy_xml(const ManagedPolicy& p, const std::string& tag = "Policy",
                       bool full = false);
std::string version_xml(const PolicyVersion& v, const std::string& tag = "PolicyVersion",
                        bool with_document = true);
std::string attached_xml(const std::vector<AttachedPolicy>& a,
                         const std::string& tag = "AttachedPolicies");
// <IsTruncated>..</IsTruncated> and the <Marker> when more follow.
std::string truncation(const std::string& marker);

// A page of a list the wire layer holds whole: markers are the index of the next item.
template <typename T>
Result<Page<T>> page_of(std::vector<T> all, const Params& p) {
  NUBO_ASSIGN_OR_RETURN(int max, max_items(p));
  size_t start = 0;
  std::string marker = param(p, "Marker");
  if (!marker.empty()) {
    char* end = nullptr;
    long n = std::strtol(marker.c_str(), &end, 10);
    if (*end != '\0' || n < 0) return Error{"InvalidInput", 400, "Invalid Marker."};
    start = static_cast<size_t>(n);
  }
  Page<T> page;
  for (size_t i = start; i < all.size(); ++i) {
    if (static_cast<int>(page.items.size()) == max) {
      page.marker = std::to_string(i);
      break;
    }
    page.items.push_back(std::move(all[i]));
  }
  return page;
}

// ---- Handlers ----

// The logic objects a handler may use (owned by IamService).
struct Logic {
  storage::Store& store;
  Roles& roles;
  Users& users;
  Groups& groups;
  AccessKeys& keys;
  ManagedPolicies& policies;
  std::string account_id;
  std::string root_create_date;
};

// One request being answered.
struct Call {
  std::string action;  // "CreateUser"
  const Params& p;
  const auth::Caller& caller;
  Logic& logic;

  // auth::authorize of "iam:<action>" on resource, denied as IAM denies (AccessDenied 403).
  Status allow(const std::string& resource,
               std::vector<std::pair<std::string, std::string>> keys = {}) const;
  // The ARN of a user / group / role by name: the stored one (its path), or with path "/"
  // when there is no such entity (so that the check comes before NoSuchEntity, as in IAM).
  Result<std::string> user_arn(const std::string& name) const;
  Result<std::string> group_arn(const std::string& name) const;
  Result<std::string> role_arn(const std::string& name) const;
  // The caller's own IAM user name, when the caller is an IAM user.
  std::optional<std::string> caller_user() const;
};

// Returns the XML of the action's Result element (empty for none).
using Handler = std::function<Result<std::string>(Call&)>;
using HandlerTable = std::map<std::string, Handler>;

void add_user_actions(HandlerTable& t);    // users, their policies, tags and access keys
void add_group_actions(HandlerTable& t);   // groups, members and their policies
void add_role_actions(HandlerTable& t);    // roles, their policies and tags
void add_policy_actions(HandlerTable& t);  // managed policies, attachments, account details

}  // namespace nubo::iam::wire

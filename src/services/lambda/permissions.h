// Function policies (AddPermission, GetPolicy, RemovePermission): the statement Lambda writes for
// one permission, with Lambda's validation of the request, and the policy document the
// statements of one function, version or alias make up.
//
// Plain values; no threads, no I/O.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/json.h"
#include "base/result.h"

namespace nubo::lambda {

// AddPermission's request body (the wire layer has checked the types).
struct PermissionInput {
  std::optional<std::string> statement_id;
  std::optional<std::string> action;
  std::optional<std::string> principal;
  std::optional<std::string> source_arn;
  std::optional<std::string> source_account;
  std::optional<std::string> principal_org_id;
  std::optional<std::string> event_source_token;
  std::optional<std::string> function_url_auth_type;
};

// Validates `in` as Lambda does (ValidationException naming every field that breaks its
// constraint; InvalidParameterValueException for a principal that is neither "*", an account
// id, an ARN nor a service) and returns the statement Lambda adds, in its key order:
//   {"Sid","Effect":"Allow","Principal":"*" | {"AWS":ARN} | {"Service":S},"Action",
//    "Resource":resource_arn,"Condition":{"StringEquals":{...},"ArnLike":{"AWS:SourceArn":...}}}
// An account id becomes its root ARN (arn:aws:iam::ID:root).
Result<json::object> permission_statement(const PermissionInput& in, std::string_view resource_arn);

// The Sid of a stored statement ("" if it has none).
std::string statement_sid(const json::object& statement);

// The policy document of `statements`: {"Version":"2012-10-17","Id":"default","Statement":[..]}.
std::string policy_document(const json::array& statements);

// The statements of a stored policy document (empty for a document that is not one).
json::array policy_statements(std::string_view document);

// PolicyLengthExceededException (400) for a document over kMaxFunctionPolicyBytes.
Status check_policy_size(std::string_view document);

}  // namespace nubo::lambda

// The AWS managed policies nubo knows (arn:aws:iam::aws:policy/...): read-only data, with the
// documents of their current default versions as AWS publishes them. Attachable like customer
// managed policies; never created, versioned or deleted.
//
// Plain constant data: thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace nubo::iam {

struct AwsManagedPolicy {
  const char* name;         // "AdministratorAccess"
  const char* path;         // "/" or "/service-role/"
  const char* policy_id;    // "ANPA..."
  const char* description;  // as AWS words it
  const char* create_date;  // the policy's
  const char* update_date;  // its default version's
  const char* version_id;   // the default version: "v1", "v12", ...
  const char* document;     // the default version's document
};

// arn:aws:iam::aws:policy<path><name>
std::string aws_managed_policy_arn(const AwsManagedPolicy& p);
// Every built-in policy, by name.
const std::vector<AwsManagedPolicy>& aws_managed_policies();
// The built-in policy with this ARN (exactly), or null.
const AwsManagedPolicy* find_aws_managed_policy(std::string_view arn);
// True for arn:aws:iam::aws:... (AWS's own account), built in or not.
bool is_aws_managed_arn(std::string_view arn);

}  // namespace nubo::iam

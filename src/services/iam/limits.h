// IAM's limits and defaults, in one place (STYLE.md #12). Sources: the IAM User Guide, "IAM and
// AWS STS quotas" (reference_iam-quotas.html), and the IAM API Reference's parameter constraints
// (the same as botocore's iam/2010-05-08 model: userNameType, groupNameType, pathType, ...).
#pragma once

#include <cstddef>

namespace nubo::iam {

// Names (API Reference: CreateUser UserName 1-64, existingUserNameType 1-128, roleNameType 1-64,
// groupNameType 1-128, policyNameType 1-128; all [\w+=,.@-]+).
inline constexpr size_t kUserNameMax = 64;
inline constexpr size_t kExistingUserNameMax = 128;
inline constexpr size_t kRoleNameMax = 64;
inline constexpr size_t kGroupNameMax = 128;
inline constexpr size_t kPolicyNameMax = 128;
inline constexpr size_t kPathMax = 512;                // pathType, policyPathType: 1-512
inline constexpr size_t kRoleDescriptionMax = 1000;    // roleDescriptionType
inline constexpr size_t kPolicyDescriptionMax = 1000;  // policyDescriptionType
inline constexpr size_t kArnMin = 20;                  // arnType: 20-2048
inline constexpr size_t kArnMax = 2048;

// Roles (API Reference, CreateRole MaxSessionDuration).
inline constexpr int kMaxSessionMin = 3600;
inline constexpr int kMaxSessionMax = 43200;
inline constexpr int kMaxSessionDefault = 3600;

// Policy sizes, characters without white space (quotas: "Role trust policy length 2,048",
// "User policy size 2,048", "Group policy size 5,120", "Role policy size 10,240", "Managed
// policy size 6,144").
inline constexpr size_t kTrustPolicyMax = 2048;
inline constexpr size_t kInlineUserPoliciesMax = 2048;   // all inline policies of a user
inline constexpr size_t kInlineGroupPoliciesMax = 5120;  // all inline policies of a group
inline constexpr size_t kInlineRolePoliciesMax = 10240;  // all inline policies of a role
inline constexpr size_t kManagedPolicySizeMax = 6144;

// Counts (quotas: "Access keys assigned to an IAM user 2", "Groups an IAM user can be a member
// of 10", "Managed policies attached to an IAM role / user / group 10" (the defaults), "Versions
// of a managed policy that can be stored 5", "Tags per IAM resource 50").
inline constexpr int kAccessKeysPerUser = 2;
inline constexpr int kGroupsPerUser = 10;
inline constexpr int kManagedPoliciesPerEntity = 10;
inline constexpr int kPolicyVersionsMax = 5;
inline constexpr int kTagsPerEntity = 50;
inline constexpr size_t kTagKeyMax = 128;    // tagKeyType 1-128
inline constexpr size_t kTagValueMax = 256;  // tagValueType 0-256

// Paging (API Reference: MaxItems 1-1000, 100 when not given).
inline constexpr int kMaxItemsDefault = 100;
inline constexpr int kMaxItemsMax = 1000;

// Access keys (AWS's shapes: "AKIA" + 16 characters of [A-Z2-7]; a 40-character secret).
inline constexpr size_t kAccessKeyIdSuffix = 16;
inline constexpr size_t kSecretAccessKeySize = 40;
// Entity ids: a four-letter prefix ("AIDA" user, "AGPA" group, "AROA" role, "ANPA" managed
// policy) and 17 characters of [A-Z2-7], as IAM makes them.
inline constexpr size_t kEntityIdSuffix = 17;

}  // namespace nubo::iam

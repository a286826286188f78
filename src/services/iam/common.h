// What the IAM logic files share: entity ids and ARNs, tags (their validation and their rows in
// the Store), policy sizes, and paging. No HTTP types.
//
// Threads: the free functions are pure; the *_tags functions block on the Store or run inside
// the caller's transaction.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "services/iam/limits.h"
#include "storage/store.h"

namespace nubo::iam {

// "AIDA" + 17 characters of [A-Z2-7] (the alphabet of IAM's ids and access key ids).
std::string new_entity_id(std::string_view prefix);
// n random characters of [A-Z2-7].
std::string random_base32(size_t n);

// arn:aws:iam::<account>:<kind><path><name>, path "/" or "/a/b/".
std::string iam_arn(const std::string& account_id, std::string_view kind, const std::string& path,
                    const std::string& name);

// A policy's size as IAM counts it against its quotas: characters, white space not counted.
size_t policy_size(const std::string& document);

// auth::parse_policy's verdict on a document (MalformedPolicyDocument 400).
Status check_policy_document(const std::string& document);

struct Tag {
  std::string key;
  std::string value;
  bool operator==(const Tag&) const = default;
};
using Tags = std::vector<Tag>;

// Tags as TagUser / TagRole / CreatePolicy take them: keys and values of the allowed characters
// and lengths (ValidationError), at most kTagsPerEntity in one request, no key twice without
// regard to case (InvalidInput).
Status validate_tags(const Tags& tags);

// Whose tags: "user" (owner = lower-cased user name), "role" (lower-cased role name), "policy"
// (the policy ARN).
struct TagOwner {
  std::string kind;
  std::string owner;
};

// The owner's tags in key order. Blocks on the Store.
Result<Tags> load_tags(storage::Store& store, const TagOwner& owner);
Result<Tags> load_tags(storage::Txn& txn, const TagOwner& owner);
// Adds or replaces (keys compared without regard to case) inside txn; LimitExceeded (409) when
// the owner would have more than kTagsPerEntity. `what` names the quota: "User", "Role", ...
Status merge_tags(storage::Txn& txn, const TagOwner& owner, const Tags& tags,
                  std::string_view what);
Status remove_tags(storage::Txn& txn, const TagOwner& owner, const std::vector<std::string>& keys);
Status drop_tags(storage::Txn& txn, const TagOwner& owner);
Status rename_tags(storage::Txn& txn, const TagOwner& from, const std::string& to_owner);

// One page of a sorted list: the items after `marker` (by key), at most max_items; `marker` of
// the result is the key of the last item when more follow.
template <typename T>
struct Page {
  std::vector<T> items;
  std::string marker;
};

template <typename T, typename KeyFn>
Page<T> paginate(std::vector<T> all, const std::string& marker, int max_items, KeyFn key) {
  Page<T> page;
  for (auto& item : all) {
    if (!marker.empty() && !(key(item) > marker)) continue;
    if (static_cast<int>(page.items.size()) == max_items) {
      page.marker = key(page.items.back());
      break;
    }
    page.items.push_back(std::move(item));
  }
  return page;
}

}  // namespace nubo::iam

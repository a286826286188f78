#include "services/iam/common.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "auth/policy.h"
#include "base/crypto.h"
#include "base/strings.h"

namespace nubo::iam {

namespace {

constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

Error tag_validation(const std::string& value, const std::string& field, const std::string& what) {
  return Error{"ValidationError", 400,
               "1 validation error detected: Value '" + value + "' at '" + field +
                   "' failed to satisfy constraint: " + what};
}

// [\p{L}\p{Z}\p{N}_.:/=+\-@]: ASCII letters, digits, space and those marks; bytes of UTF-8
// sequences are taken as letters (IAM accepts Unicode letters and digits).
bool tag_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || std::isalnum(u) ||
         std::string_view(" _.:/=+-@").find(c) != std::string_view::npos;
}

}  // namespace

std::string random_base32(size_t n) {
  std::string bytes = random_bytes(n);
  std::string out;
  out.reserve(n);
  for (unsigned char b : bytes) out += kBase32[b & 31];
  return out;
}

std::string new_entity_id(std::string_view prefix) {
  return std::string(prefix) + random_base32(kEntityIdSuffix);
}

std::string iam_arn(const std::string& account_id, std::string_view kind, const std::string& path,
                    const std::string& name) {
  return "arn:aws:iam::" + account_id + ":" + std::string(kind) + path + name;
}

size_t policy_size(const std::string& document) {
  return static_cast<size_t>(std::count_if(document.begin(), document.end(), [](char c) {
    return c != ' ' && c != '\t' && c != '\n' && c != '\r';
  }));
}

Status check_policy_document(const std::string& document) {
  auto parsed = auth::parse_policy(document);
  if (!parsed.ok()) return parsed.error();
  return Ok{};
}

Status validate_tags(const Tags& tags) {
  if (static_cast<int>(tags.size()) > kTagsPerEntity) {
    return Error{"ValidationError", 400,
                 "1 validation error detected: Value at 'tags' failed to satisfy constraint: "
                 "Member must have length less than or equal to " +
                     std::to_string(kTagsPerEntity)};
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < tags.size(); ++i) {
    const Tag& t = tags[i];
    std::string at = "tags." + std::to_string(i + 1) + ".member.";
    if (t.key.empty() || t.key.size() > kTagKeyMax) {
      return tag_validation(
          t.key, at + "key",
          "Member must have length less than or equal to " + std::to_string(kTagKeyMax));
    }
    if (!std::all_of(t.key.begin(), t.key.end(), tag_char)) {
      return tag_validation(t.key, at + "key",
                            "Member must satisfy regular expression pattern: "
                            "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+");
    }
    if (t.value.size() > kTagValueMax) {
      return tag_validation(
          t.value, at + "value",
          "Member must have length less than or equal to " + std::to_string(kTagValueMax));
    }
    if (!std::all_of(t.value.begin(), t.value.end(), tag_char)) {
      return tag_validation(t.value, at + "value",
                            "Member must satisfy regular expression pattern: "
                            "[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]*");
    }
    if (!seen.insert(to_lower(t.key)).second) {
      return Error{"InvalidInput", 400,
                   "Duplicate tag keys found. Please note that Tag keys are case insensitive."};
    }
  }
  return Ok{};
}

namespace {

constexpr const char* kTagQuery =
    "SELECT tag_key, tag_value FROM iam_tags WHERE kind = ? AND owner = ? ORDER BY key_lower";

Tags tags_of(const storage::Rows& rows) {
  Tags out;
  for (const auto& r : rows) out.push_back(Tag{r.text(0), r.text(1)});
  return out;
}

}  // namespace

Result<Tags> load_tags(storage::Store& store, const TagOwner& owner) {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows, store.query(kTagQuery, {owner.kind, owner.owner}));
  return tags_of(rows);
}

Result<Tags> load_tags(storage::Txn& txn, const TagOwner& owner) {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows, txn.query(kTagQuery, {owner.kind, owner.owner}));
  return tags_of(rows);
}

Status merge_tags(storage::Txn& txn, const TagOwner& owner, const Tags& tags,
                  std::string_view what) {
  NUBO_ASSIGN_OR_RETURN(Tags have, load_tags(txn, owner));
  std::set<std::string> keys;
  for (const Tag& t : have) keys.insert(to_lower(t.key));
  for (const Tag& t : tags) keys.insert(to_lower(t.key));
  if (static_cast<int>(keys.size()) > kTagsPerEntity) {
    return Error{"LimitExceeded", 409,
                 "Cannot exceed quota for TagsPer" + std::string(what) + ": " +
                     std::to_string(kTagsPerEntity)};
  }
  for (const Tag& t : tags) {
    NUBO_TRY(txn.exec("DELETE FROM iam_tags WHERE kind = ? AND owner = ? AND key_lower = ?",
                      {owner.kind, owner.owner, to_lower(t.key)}));
    NUBO_TRY(txn.exec(
        "INSERT INTO iam_tags (kind, owner, key_lower, tag_key, tag_value) VALUES (?, ?, ?, ?, ?)",
        {owner.kind, owner.owner, to_lower(t.key), t.key, t.value}));
  }
  return Ok{};
}

Status remove_tags(storage::Txn& txn, const TagOwner& owner, const std::vector<std::string>& keys) {
  for (const auto& k : keys) {
    NUBO_TRY(txn.exec("DELETE FROM iam_tags WHERE kind = ? AND owner = ? AND key_lower = ?",
                      {owner.kind, owner.owner, to_lower(k)}));
  }
  return Ok{};
}

Status drop_tags(storage::Txn& txn, const TagOwner& owner) {
  NUBO_TRY(
      txn.exec("DELETE FROM iam_tags WHERE kind = ? AND owner = ?", {owner.kind, owner.owner}));
  return Ok{};
}

Status rename_tags(storage::Txn& txn, const TagOwner& from, const std::string& to_owner) {
  NUBO_TRY(txn.exec("UPDATE iam_tags SET owner = ? WHERE kind = ? AND owner = ?",
                    {to_owner, from.kind, from.owner}));
  return Ok{};
}

}  // namespace nubo::iam

#include "services/iam/schema.h"

#include <string>
#include <vector>

namespace nubo::iam {

namespace {

// Applied statements are never edited: new ones are appended (Store::migrate counts by index).
const std::vector<std::string>& role_schema() {
  static const std::vector<std::string> s = {
      "CREATE TABLE iam_roles ("
      " name_lower TEXT PRIMARY KEY,"  // role names are unique without regard to case
      " name TEXT NOT NULL,"
      " path TEXT NOT NULL,"
      " role_id TEXT NOT NULL,"
      " create_date TEXT NOT NULL,"
      " trust_policy TEXT NOT NULL,"
      " description TEXT NOT NULL,"
      " max_session INTEGER NOT NULL)",
      "CREATE TABLE iam_role_policies ("
      " role_lower TEXT NOT NULL,"
      " name TEXT NOT NULL,"
      " document TEXT NOT NULL,"
      " PRIMARY KEY (role_lower, name))",
      // The role's ARN, so that readers without the account id (principals.h) can name it;
      // rows made before this column are filled by IamService::start().
      "ALTER TABLE iam_roles ADD COLUMN arn TEXT",
  };
  return s;
}

const std::vector<std::string>& iam_schema() {
  static const std::vector<std::string> s = {
      "CREATE TABLE iam_users ("
      " name_lower TEXT PRIMARY KEY,"  // user names are unique without regard to case
      " name TEXT NOT NULL,"
      " path TEXT NOT NULL,"
      " user_id TEXT NOT NULL,"
      " arn TEXT NOT NULL,"
      " create_date TEXT NOT NULL)",
      "CREATE TABLE iam_user_policies ("
      " user_lower TEXT NOT NULL,"
      " name TEXT NOT NULL,"
      " document TEXT NOT NULL,"
      " PRIMARY KEY (user_lower, name))",
      "CREATE TABLE iam_groups ("
      " name_lower TEXT PRIMARY KEY,"
      " name TEXT NOT NULL,"
      " path TEXT NOT NULL,"
      " group_id TEXT NOT NULL,"
      " arn TEXT NOT NULL,"
      " create_date TEXT NOT NULL)",
      "CREATE TABLE iam_group_policies ("
      " group_lower TEXT NOT NULL,"
      " name TEXT NOT NULL,"
      " document TEXT NOT NULL,"
      " PRIMARY KEY (group_lower, name))",
      "CREATE TABLE iam_group_members ("
      " group_lower TEXT NOT NULL,"
      " user_lower TEXT NOT NULL,"
      " PRIMARY KEY (group_lower, user_lower))",
      "CREATE INDEX iam_group_members_user ON iam_group_members (user_lower)",
      // kind: "user", "role" or "policy"; owner: the lower-cased name, or the policy ARN.
      "CREATE TABLE iam_tags ("
      " kind TEXT NOT NULL,"
      " owner TEXT NOT NULL,"
      " key_lower TEXT NOT NULL,"
      " tag_key TEXT NOT NULL,"
      " tag_value TEXT NOT NULL,"
      " PRIMARY KEY (kind, owner, key_lower))",
      // Customer managed policies (the AWS managed ones are data: aws_managed_policies.h).
      "CREATE TABLE iam_policies ("
      " arn TEXT PRIMARY KEY,"
      " name_lower TEXT NOT NULL UNIQUE,"
      " name TEXT NOT NULL,"
      " path TEXT NOT NULL,"
      " policy_id TEXT NOT NULL,"
      " description TEXT NOT NULL,"
      " create_date TEXT NOT NULL,"
      " update_date TEXT NOT NULL,"
      " default_version TEXT NOT NULL,"
      " next_version INTEGER NOT NULL)",
      "CREATE TABLE iam_policy_versions ("
      " policy_arn TEXT NOT NULL,"
      " version_id TEXT NOT NULL,"
      " version_no INTEGER NOT NULL,"
      " document TEXT NOT NULL,"
      " create_date TEXT NOT NULL,"
      " PRIMARY KEY (policy_arn, version_id))",
      // kind: "user", "role" or "group"; owner: the lower-cased name.
      "CREATE TABLE iam_attachments ("
      " kind TEXT NOT NULL,"
      " owner TEXT NOT NULL,"
      " policy_arn TEXT NOT NULL,"
      " PRIMARY KEY (kind, owner, policy_arn))",
      "CREATE INDEX iam_attachments_policy ON iam_attachments (policy_arn)",
      // The secret only sealed (auth::Keyring::seal, bound to the access key id).
      "CREATE TABLE iam_access_keys ("
      " access_key_id TEXT PRIMARY KEY,"
      " user_lower TEXT NOT NULL,"
      " status TEXT NOT NULL,"
      " create_date TEXT NOT NULL,"
      " sealed_secret BLOB NOT NULL,"
      " last_used_date TEXT,"
      " last_used_service TEXT,"
      " last_used_region TEXT)",
      "CREATE INDEX iam_access_keys_user ON iam_access_keys (user_lower)",
      // Account-wide facts: "root_create_date".
      "CREATE TABLE iam_account ("
      " name TEXT PRIMARY KEY,"
      " value TEXT NOT NULL)",
  };
  return s;
}

}  // namespace

Status migrate_iam_schema(storage::Store& store) {
  NUBO_TRY(store.migrate("iam_roles", role_schema()));
  return store.migrate("iam", iam_schema());
}

}  // namespace nubo::iam

// The IAM tables in the Store: roles, users, groups, their inline policies, tags, managed
// policies and their versions, attachments, access keys.
//
// Threads: blocks on the Store; call once at start (IamService::start() does), before any other
// IAM function touches the Store.
#pragma once

#include "base/result.h"
#include "storage/store.h"

namespace nubo::iam {

// Applies IAM's schema (idempotent: Store::migrate skips what is already applied).
Status migrate_iam_schema(storage::Store& store);

}  // namespace nubo::iam

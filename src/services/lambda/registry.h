// FunctionRegistry: the logic layer of the Lambda API (no HTTP types). Functions, versions,
// aliases and tags live in the Store (the truth); code packages in the CodeStore.
//
// Threads: every method blocks on the Store and the disk: call them from the blocking pool.
// Methods are thread-safe; writes are serialized by an internal mutex so that "exists" checks,
// version numbers and code package files stay consistent. After each committed write the
// `on_change` callback is called with the function's name (the service drops its caches).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/json.h"
#include "base/result.h"
#include "services/lambda/code_store.h"
#include "services/lambda/function_urls.h"
#include "services/lambda/layers.h"
#include "services/lambda/model.h"
#include "storage/store.h"

namespace nubo::lambda {

using Tags = std::vector<std::pair<std::string, std::string>>;

// Settings of CreateFunction / UpdateFunctionConfiguration; unset fields are left alone on
// update and defaulted on create. Values are already validated by the wire layer.
struct FunctionSettings {
  std::optional<std::string> runtime, role, handler, description, dead_letter_arn, kms_key_arn,
      tracing_mode, architecture, snap_start_apply_on;
  std::optional<int> timeout, memory_size, ephemeral_storage;
  std::optional<EnvVars> environment;
  std::optional<std::vector<std::string>> layers;
  struct Vpc {
    std::vector<std::string> subnet_ids, security_group_ids;
    bool ipv6_dual_stack = false;
  };
  std::optional<Vpc> vpc;
  std::optional<std::string> log_format, log_group, application_log_level, system_log_level;
};

struct CreateFunctionInput {
  std::string name;
  FunctionSettings settings;
  std::string zip;  // decoded bytes
  bool publish = false;
  Tags tags;
};

struct UpdateCodeInput {
  std::string name;
  std::string zip;
  bool publish = false;
  bool dry_run = false;
  std::optional<std::string> revision_id;
  std::optional<std::string> architecture;
};

struct AliasInput {
  std::string function_name;
  std::string name;
  std::optional<std::string> function_version;
  std::optional<std::string> description;
  std::optional<std::vector<std::pair<std::string, double>>> weights;  // set: replace
  std::optional<std::string> revision_id;
};

struct FunctionView {
  VersionConfig config;
  std::string alias;  // set when asked by alias
  Tags tags;
};

struct Page {
  std::vector<VersionConfig> items;
  std::string next_marker;
};

// What an invocation of (function, qualifier) runs: one version, or two with a weight.
struct InvokeTarget {
  VersionConfig primary;
  std::optional<VersionConfig> secondary;
  double secondary_weight = 0;
  std::string alias;
};

// One PutProvisionedConcurrencyConfig: on a published version or an alias (`qualifier`).
struct ProvisionedConfig {
  std::string qualifier;
  int requested = 0;
  std::string last_modified;
};

// A provisioned configuration with the version it provisions now (an alias's primary version).
struct ProvisionedVersionTarget {
  std::string qualifier;  // as configured: the version, or the alias
  VersionConfig version;
  int count = 0;
};

// A function policy as GetPolicy answers it: the document, and the RevisionId of what it belongs
// to (the version's, $LATEST's for the unqualified function, or the alias's), which every
// AddPermission and RemovePermission changes, as on Lambda.
struct PolicyView {
  std::string document;
  std::string revision_id;
};

struct AccountUsage {
  int64_t total_code_size = 0;
  int64_t function_count = 0;
};

class FunctionRegistry {
 public:
  FunctionRegistry(storage::Store* store, const Clock* clock, ArnContext arn, std::string root,
                   std::function<void(const std::string&)> on_change);

  // Applies the schema; re-unpacks packages whose folders are missing. Blocking.
  Status start();

  const ArnContext& arn() const { return arn_; }
  const CodeStore& code() const { return code_; }
  LayerRegistry& layers() { return layers_; }

  Result<VersionConfig> create_function(CreateFunctionInput in);
  // qualifier: "" / "$LATEST" / version / alias.
  Result<FunctionView> get_function(const std::string& name, const std::string& qualifier);
  Result<Page> list_functions(bool all_versions, const std::string& marker, int max_items);
  Result<Page> list_versions(const std::string& name, const std::string& marker, int max_items);
  Result<VersionConfig> update_code(UpdateCodeInput in);
  Result<VersionConfig> update_configuration(const std::string& name, const FunctionSettings& s,
                                             const std::optional<std::string>& revision_id);
  Result<VersionConfig> publish_version(const std::string& name,
                                        const std::optional<std::string>& code_sha256,
                                        const std::optional<std::string>& description,
                                        const std::optional<std::string>& revision_id);
  Status delete_function(const std::string& name, const std::string& qualifier);

  Result<AliasConfig> create_alias(const AliasInput& in);
  Result<AliasConfig> get_alias(const std::string& function_name, const std::string& name);
  Result<AliasConfig> update_alias(const AliasInput& in);
  Status delete_alias(const std::string& function_name, const std::string& name);
  Result<std::pair<std::vector<AliasConfig>, std::string>> list_aliases(
      const std::string& function_name, const std::optional<std::string>& function_version,
      const std::string& marker, int max_items);

  Result<Tags> list_tags(const std::string& name);
  Status tag(const std::string& name, const Tags& tags);
  Status untag(const std::string& name, const std::vector<std::string>& keys);

  Result<AccountUsage> usage();

  // Reserved concurrency (Put/Get/DeleteFunctionConcurrency); nullopt: none. put_concurrency
  // fails with InvalidParameterValueException when the account's unreserved concurrency
  // (account_limit minus every reservation) would drop below kMinUnreservedConcurrency.
  Result<std::optional<int>> get_concurrency(const std::string& name);
  Status put_concurrency(const std::string& name, int value, int account_limit);
  Status delete_concurrency(const std::string& name);
  // Every reservation, by function name.
  Result<std::vector<std::pair<std::string, int>>> reserved_concurrencies();

  // Provisioned concurrency (Put/Get/Delete/ListProvisionedConcurrencyConfig), with Lambda's
  // rules: a published version or an alias (never $LATEST), not both for one version, within
  // the function's reserved concurrency if it has one, else leaving the account at least
  // kMinUnreservedConcurrency unreserved.
  Result<ProvisionedConfig> put_provisioned(const std::string& name, const std::string& qualifier,
                                            int count, int account_limit);
  // ProvisionedConcurrencyConfigNotFoundException when there is none.
  Result<ProvisionedConfig> get_provisioned(const std::string& name, const std::string& qualifier);
  Status delete_provisioned(const std::string& name, const std::string& qualifier);
  Result<std::vector<ProvisionedConfig>> list_provisioned(const std::string& name);
  // What the function's configurations provision now, by version (empty if the function is gone).
  Result<std::vector<ProvisionedVersionTarget>> provisioned_targets(const std::string& name);
  // The names of the functions with a provisioned configuration.
  Result<std::vector<std::string>> provisioned_functions();

  // Function policies, per function and qualifier: "" (the unqualified function, which
  // "$LATEST" also names), a version or an alias. add_permission appends `statement` (built by
  // permission_statement, its Resource the qualified ARN) and returns it as text; its errors
  // are Lambda's: ResourceNotFoundException (function, version or alias), $LATEST refused
  // (InvalidParameterValueException), PreconditionFailedException (revision_id is not the
  // target's RevisionId), ResourceConflictException (the Sid is taken),
  // PolicyLengthExceededException. remove_permission drops the statement `sid` (the policy
  // when it was the last); get_policy: ResourceNotFoundException when there is none.
  Result<std::string> add_permission(const std::string& name, const std::string& qualifier,
                                     json::object statement,
                                     const std::optional<std::string>& revision_id);
  Status remove_permission(const std::string& name, const std::string& qualifier,
                           const std::string& sid, const std::optional<std::string>& revision_id);
  Result<PolicyView> get_policy(const std::string& name, const std::string& qualifier);
  // The policy document that applies to (name, qualifier) for authorisation: nullopt when
  // there is none; ResourceNotFoundException when the function does not exist.
  Result<std::optional<std::string>> policy_document(const std::string& name,
                                                     const std::string& qualifier);

  // Function URL configurations, one per function and qualifier ("" or an alias; the wire
  // layer refuses versions and $LATEST). create fills in the URL id and times;
  // ResourceConflictException when the qualifier has one already, ResourceNotFoundException
  // ("Function does not exist") for a missing function or alias. get/update/delete:
  // ResourceNotFoundException ("The resource you requested does not exist.") when there is none.
  Result<FunctionUrlConfig> create_url_config(FunctionUrlConfig c);
  Result<FunctionUrlConfig> get_url_config(const std::string& name, const std::string& qualifier);
  Result<FunctionUrlConfig> update_url_config(const std::string& name, const std::string& qualifier,
                                              const FunctionUrlUpdate& update);
  Status delete_url_config(const std::string& name, const std::string& qualifier);
  // By qualifier ("" first), after the marker's, at most max_items; and the next marker.
  Result<std::pair<std::vector<FunctionUrlConfig>, std::string>> list_url_configs(
      const std::string& name, const std::string& marker, int max_items);
  // Every configuration of one function (none if it is gone), or of every function.
  Result<std::vector<FunctionUrlConfig>> url_configs_of(const std::string& name);
  Result<std::vector<FunctionUrlConfig>> all_url_configs();

  // Resolves what an invocation runs (for the invoke cache). NotFound errors are Lambda's.
  Result<InvokeTarget> resolve(const std::string& name, const std::string& qualifier);

 private:
  Result<VersionConfig> publish_locked(const std::string& name,
                                       const std::optional<std::string>& code_sha256,
                                       const std::optional<std::string>& description,
                                       const std::optional<std::string>& revision_id);
  // REQUIRES: write_mu_ held. Removes the packages of hexes no function version, layer version
  // or function version's layer uses.
  void remove_unused_code(const std::vector<std::string>& hexes);
  // REQUIRES: write_mu_ held. Resolves s.layers into c (InvalidParameterValueException for a
  // version that does not exist) and checks the code and layers' unzipped size.
  Status apply_layers(VersionConfig& c, const FunctionSettings& s);
  std::string now_string() const;

  storage::Store* store_;
  const Clock* clock_;
  ArnContext arn_;
  CodeStore code_;
  std::function<void(const std::string&)> on_change_;
  std::mutex write_mu_;  // serializes every write (the layers' too)
  LayerRegistry layers_;
};

}  // namespace nubo::lambda

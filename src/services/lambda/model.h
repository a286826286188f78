// The Lambda model: function versions, aliases, function references, and their JSON forms (the
// stored form and the wire form of FunctionConfiguration / AliasConfiguration).
//
// Plain values; no threads, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/json.h"
#include "base/result.h"

namespace nubo::lambda {

inline constexpr std::string_view kLatest = "$LATEST";

// Lambda's version states (FunctionConfiguration.State / LastUpdateStatus).
inline constexpr std::string_view kStatePending = "Pending";
inline constexpr std::string_view kStateActive = "Active";
inline constexpr std::string_view kStateFailed = "Failed";

using EnvVars = std::vector<std::pair<std::string, std::string>>;  // in the order given

// A layer version a function version uses, as resolved when it was configured: the function
// keeps it even after the layer version is deleted, as on Lambda.
struct LayerRef {
  std::string arn;       // the layer version's ARN (…:layer:NAME:VERSION)
  std::string code_hex;  // its package in the CodeStore
  int64_t code_size = 0;
  int64_t unzipped_size = 0;
};

// One version of a function ("$LATEST" or a published number): what FunctionConfiguration shows.
struct VersionConfig {
  std::string function_name;
  std::string version = std::string(kLatest);
  std::string runtime;
  std::string role;
  std::string handler;
  std::string description;
  int timeout = 3;
  int memory_size = 128;
  int ephemeral_storage = 512;
  bool has_environment = false;
  EnvVars environment;
  std::string tracing_mode = "PassThrough";
  std::string architecture = "x86_64";
  std::string package_type = "Zip";
  std::string dead_letter_arn;
  std::string kms_key_arn;
  std::vector<LayerRef> layers;
  // VpcConfig. nubo has no VPCs: a function attached to subnets gets no outbound network, as a
  // Lambda function in private subnets without a NAT gateway.
  std::vector<std::string> vpc_subnet_ids;
  std::vector<std::string> vpc_security_group_ids;
  bool vpc_ipv6_dual_stack = false;
  bool in_vpc() const { return !vpc_subnet_ids.empty(); }
  std::string log_format = "Text";
  std::string log_group;  // default "/aws/lambda/<name>"
  std::string application_log_level;
  std::string system_log_level;
  std::string snap_start_apply_on = "None";
  // SnapStart applies to this configuration: a published version of a function whose ApplyOn is
  // PublishedVersions (GetFunctionConfiguration says OptimizationStatus "On").
  bool snap_start_on() const {
    return version != "$LATEST" && snap_start_apply_on == "PublishedVersions";
  }
  std::string code_sha256;  // base64 of the zip's SHA-256 (CodeSha256)
  std::string code_hex;     // hex of the same digest: names the package on disk
  int64_t code_size = 0;
  int64_t code_size_unzipped = 0;
  std::string last_modified;      // "2024-01-01T00:00:00.000+0000"
  std::string revision_id;        // changes on every change visible to clients
  std::string internal_revision;  // changes on every update of $LATEST's code or configuration
  std::string state = std::string(kStateActive);
  std::string state_reason;
  std::string state_reason_code;
  std::string last_update_status = "Successful";

  std::string effective_log_group() const {
    return log_group.empty() ? "/aws/lambda/" + function_name : log_group;
  }
  bool is_latest() const { return version == kLatest; }
};

struct AliasConfig {
  std::string function_name;
  std::string name;
  std::string function_version;
  std::string description;
  // AdditionalVersionWeights: at most one entry (version, weight in [0, 1]).
  std::vector<std::pair<std::string, double>> weights;
  std::string revision_id;
};

// Region and account the node serves, for ARNs.
struct ArnContext {
  std::string region;
  std::string account_id;
  std::string function_arn(std::string_view name) const;
  std::string qualified_arn(std::string_view name, std::string_view qualifier) const;
  std::string layer_arn(std::string_view layer_name) const;
  std::string layer_version_arn(std::string_view layer_name, int64_t version) const;
};

// A function named by a name, a partial ARN or a full ARN, with an optional qualifier.
struct FunctionRef {
  std::string name;
  std::string qualifier;  // from the ARN/name suffix; empty if none
  std::string region;     // from the ARN; empty if none
  std::string account;    // from the ARN; empty if none
  bool bare_name = true;  // no ARN parts and no qualifier
};

// Which operation is being validated: the limits and quoted pattern differ.
enum class NameUse { kCreate, kDelete, kGetOrInvoke, kOther };

// Parses a FunctionName path or body value. Errors are Lambda's: ValidationException (pattern,
// length), InvalidParameterValueException for a bare name on CreateFunction, and
// ResourceNotFoundException for an ARN of another region.
Result<FunctionRef> parse_function_ref(std::string_view text, NameUse use, const ArnContext& ctx);

// Combines a ref's qualifier with a Qualifier parameter (validated); InvalidParameterValue if
// both are given and differ. Returns the effective qualifier ("" for none).
Result<std::string> effective_qualifier(const FunctionRef& ref,
                                        const std::optional<std::string>& param);

bool is_version_number(std::string_view q);

// A request field that, when present and not null, must be an array of strings (Layers,
// Architectures, Cors.AllowOrigins, ...): nullopt when absent; InvalidRequestContentException
// ("unexpected type for field '<field>'") for any other JSON type.
Result<std::optional<std::vector<std::string>>> optional_string_list(const json::object& o,
                                                                     std::string_view field);
bool is_alias_name(std::string_view q);

// Collects "Value '...' at '...' failed to satisfy constraint: ..." items into Lambda's
// ValidationException message ("1 validation error detected: ..." / "N validation errors
// detected: a; b").
class Validation {
 public:
  void add(std::string item) { items_.push_back(std::move(item)); }
  void add(std::string_view value, std::string_view field, std::string_view constraint);
  bool empty() const { return items_.empty(); }
  std::string message() const;
  Status status(std::string_view code = "ValidationException", int status = 400) const;

 private:
  std::vector<std::string> items_;
};

Error validation_error(std::string_view value, std::string_view field, std::string_view constraint);
Error not_found(std::string message);  // ResourceNotFoundException, 404
Error conflict(std::string message);   // ResourceConflictException, 409
Error precondition_failed();           // PreconditionFailedException, 412 (RevisionId)

// Stored forms (the Store's `config` columns).
std::string to_store_json(const VersionConfig& c);
Result<VersionConfig> version_from_store_json(std::string_view text);
std::string to_store_json(const AliasConfig& a);
Result<AliasConfig> alias_from_store_json(std::string_view text);

// How a FunctionConfiguration is rendered.
enum class ConfigView {
  kFull,     // GetFunction(Configuration), UpdateFunction*, PublishVersion
  kList,     // ListFunctions / ListVersionsByFunction: no State*, LastUpdateStatus*
  kCreated,  // CreateFunction/PublishVersion answer: State Pending, no LastUpdateStatus
  kUpdated,  // UpdateFunctionCode/Configuration answer: LastUpdateStatus InProgress
};
struct RenderOptions {
  ConfigView view = ConfigView::kFull;
  bool qualified_arn = false;  // FunctionArn with ":<version>" (or ":<alias>")
  std::string alias;           // render the ARN with this alias as qualifier
};
json::object to_wire_json(const VersionConfig& c, const ArnContext& ctx, const RenderOptions& o);
json::object to_wire_json(const AliasConfig& a, const ArnContext& ctx);

// The RuntimeVersionArn Lambda shows for a runtime (stable per runtime name).
std::string runtime_version_arn(std::string_view runtime, const ArnContext& ctx);

}  // namespace nubo::lambda

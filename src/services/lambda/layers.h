// LayerRegistry: Lambda layers (PublishLayerVersion and friends), the logic layer (no HTTP
// types). A layer version is an immutable zip, kept in the function code's CodeStore (content
// addressed, so a layer and a function with the same zip share one package); a function version
// that uses it keeps a LayerRef, so deleting the layer version leaves its users working, as on
// Lambda, and the package goes only when nothing uses it.
//
// Threads: every method blocks on the Store and the disk: call them from the blocking pool.
// Writes take the write mutex they are given (FunctionRegistry's), so that a package is never
// removed while a function is being configured with it.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "services/lambda/code_store.h"
#include "services/lambda/model.h"
#include "storage/store.h"

namespace nubo::lambda {

struct LayerVersion {
  std::string layer_name;
  int64_t version = 0;
  std::string description;
  std::string license_info;
  std::string created_date;  // "2024-01-01T00:00:00.000+0000"
  std::vector<std::string> compatible_runtimes;
  std::vector<std::string> compatible_architectures;
  std::string code_hex;
  std::string code_sha256;  // base64
  int64_t code_size = 0;
  int64_t unzipped_size = 0;
};

struct PublishLayerInput {
  std::string layer_name;
  std::string description;
  std::string license_info;
  std::vector<std::string> compatible_runtimes;
  std::vector<std::string> compatible_architectures;
  std::string zip;  // decoded bytes
};

// ListLayers / ListLayerVersions filters; empty: any.
struct LayerFilter {
  std::string runtime;
  std::string architecture;
  bool matches(const LayerVersion& v) const;
};

struct LayerPage {
  std::vector<LayerVersion> items;
  std::string next_marker;
};

// A layer name or layer ARN of this node's region and account, split. Errors: Lambda's
// ValidationException for the LayerName pattern.
Result<std::string> parse_layer_name(std::string_view text, const ArnContext& ctx);
// A layer version ARN (…:layer:NAME:VERSION) of this node: name and version; nullopt when it is
// well formed but names another region or account. Errors: ValidationException (pattern).
Result<std::optional<std::pair<std::string, int64_t>>> parse_layer_version_arn(
    std::string_view text, const ArnContext& ctx, std::string_view field);

class LayerRegistry {
 public:
  // remove_unused: removes the packages of hexes that nothing uses any more; total_code_size:
  // the account's code storage in use, functions' and layers' (both FunctionRegistry's, called
  // with *write_mu held).
  LayerRegistry(storage::Store* store, const Clock* clock, ArnContext arn, const CodeStore* code,
                std::mutex* write_mu,
                std::function<void(const std::vector<std::string>&)> remove_unused,
                std::function<Result<int64_t>()> total_code_size);

  // Applies the schema. Blocking.
  Status start();

  Result<LayerVersion> publish(PublishLayerInput in);
  // ResourceNotFoundException when there is no such version.
  Result<LayerVersion> get(const std::string& layer_name, int64_t version);
  // Newest first, as Lambda lists them.
  Result<LayerPage> list_versions(const std::string& layer_name, const LayerFilter& filter,
                                  const std::string& marker, int max_items);
  // Each layer with its newest version that matches the filter, by name.
  Result<LayerPage> list_layers(const LayerFilter& filter, const std::string& marker,
                                int max_items);
  // Idempotent, as on Lambda: deleting a version that is not there succeeds.
  Status remove(const std::string& layer_name, int64_t version);

  // The layer versions named by arns, for a function's configuration, with Lambda's errors
  // (InvalidParameterValueException: a version that does not exist, two versions of one layer).
  // REQUIRES: *write_mu held (the registry resolves while it configures a function).
  Result<std::vector<LayerRef>> resolve_locked(const std::vector<std::string>& arns);

  // Whether a layer version's package is hex. Q: the Store or a transaction.
  static Result<bool> uses_code(storage::Store& store, const std::string& hex);
  static Result<std::vector<std::string>> all_code(storage::Store& store);
  static Result<int64_t> total_code_size(storage::Store& store);

 private:
  Result<std::optional<LayerVersion>> load(const std::string& layer_name, int64_t version);

  storage::Store* store_;
  const Clock* clock_;
  ArnContext arn_;
  const CodeStore* code_;
  std::mutex* write_mu_;
  std::function<void(const std::vector<std::string>&)> remove_unused_;
  std::function<Result<int64_t>()> total_code_size_;
};

}  // namespace nubo::lambda

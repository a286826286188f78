// Registry: the HTTP APIs of the node in the Store (the logic layer's storage; no HTTP types).
//
// A record is kept as its API representation (the camelCase JSON object GetApi, GetRoute, ...
// answer, less what is computed when answering, such as apiEndpoint): one row per API, route,
// integration, stage and deployment, keyed by (api id, kind, id). Every write is one transaction
// that reads the API's rows, applies the change to them in memory and writes what changed.
//
// Threads: every method blocks on the Store: call them from the blocking pool. Thread-safe (the
// Store serialises writes; a check and the write it guards share one transaction).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/json.h"
#include "base/result.h"
#include "storage/store.h"

namespace nubo::apigateway {

// One API and everything under it.
struct ApiRecord {
  json::object api;
  std::map<std::string, json::object> routes;        // by routeId
  std::map<std::string, json::object> integrations;  // by integrationId
  std::map<std::string, json::object> stages;        // by stageName
  std::map<std::string, json::object> deployments;   // by deploymentId
  std::string id() const;                            // api.apiId
};

class Registry {
 public:
  explicit Registry(storage::Store* store) : store_(store) {}
  Status start();  // applies the schema

  // Every API with its children, by id.
  Result<std::vector<ApiRecord>> load_all();
  // One API; NotFoundException (worded as API Gateway words it) when there is none.
  Result<ApiRecord> load(const std::string& api_id, const std::string& account_id);

  // Stores a new API (and whatever it already holds: quick create's integration, route, stage).
  // ConflictException if the id is taken.
  Status create(const ApiRecord& record);
  // Runs `change` on the API's record in one transaction and writes the rows it changed, added
  // or removed when it returns Ok (nothing when it fails). Answers the record as written.
  // NotFoundException when the API does not exist.
  Result<ApiRecord> update(const std::string& api_id, const std::string& account_id,
                           const std::function<Status(ApiRecord&)>& change);
  // Removes the API and everything under it; NotFoundException when there is none.
  Status remove(const std::string& api_id, const std::string& account_id);

 private:
  storage::Store* store_;
};

// NotFoundException for an API id, as API Gateway words it.
Error api_not_found(const std::string& api_id, const std::string& account_id);

}  // namespace nubo::apigateway

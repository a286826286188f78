#include "services/apigateway/registry.h"

namespace nubo::apigateway {

namespace {

constexpr const char* kApi = "api";
constexpr const char* kRoute = "route";
constexpr const char* kIntegration = "integration";
constexpr const char* kStage = "stage";
constexpr const char* kDeployment = "deployment";

const std::vector<std::string> kSchema = {
    "CREATE TABLE apigw_resources (api_id TEXT NOT NULL, kind TEXT NOT NULL, id TEXT NOT NULL, "
    "doc TEXT NOT NULL, PRIMARY KEY (api_id, kind, id))",
};

Result<json::object> parse_doc(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return internal_error("apigateway: a stored record does not parse");
  return std::move(v.get_object());
}

// Rows (api_id, kind, id, doc) → records, in api id order.
Result<std::vector<ApiRecord>> records_of(const storage::Rows& rows) {
  std::map<std::string, ApiRecord> by_id;
  for (const storage::Row& row : rows) {
    NUBO_ASSIGN_OR_RETURN(json::object doc, parse_doc(row.text(3)));
    ApiRecord& r = by_id[row.text(0)];
    const std::string kind = row.text(1), id = row.text(2);
    if (kind == kApi) {
      r.api = std::move(doc);
    } else if (kind == kRoute) {
      r.routes[id] = std::move(doc);
    } else if (kind == kIntegration) {
      r.integrations[id] = std::move(doc);
    } else if (kind == kStage) {
      r.stages[id] = std::move(doc);
    } else if (kind == kDeployment) {
      r.deployments[id] = std::move(doc);
    }
  }
  std::vector<ApiRecord> out;
  for (auto& [id, r] : by_id) {
    if (!r.api.empty()) out.push_back(std::move(r));  // children of a half-removed API: none
  }
  return out;
}

constexpr const char* kSelect = "SELECT api_id, kind, id, doc FROM apigw_resources";

Status put(storage::Txn& txn, const std::string& api_id, const char* kind, const std::string& id,
           const json::object& doc) {
  auto r = txn.exec(
      "INSERT INTO apigw_resources (api_id, kind, id, doc) VALUES (?, ?, ?, ?) "
      "ON CONFLICT (api_id, kind, id) DO UPDATE SET doc = excluded.doc",
      {api_id, std::string(kind), id, json::serialize(doc)});
  if (!r.ok()) return r.error();
  return Ok{};
}

Status erase(storage::Txn& txn, const std::string& api_id, const char* kind,
             const std::string& id) {
  auto r = txn.exec("DELETE FROM apigw_resources WHERE api_id = ? AND kind = ? AND id = ?",
                    {api_id, std::string(kind), id});
  if (!r.ok()) return r.error();
  return Ok{};
}

// Writes the difference between two versions of one kind's children.
Status write_diff(storage::Txn& txn, const std::string& api_id, const char* kind,
                  const std::map<std::string, json::object>& before,
                  const std::map<std::string, json::object>& after) {
  for (const auto& [id, doc] : after) {
    auto it = before.find(id);
    if (it == before.end() || it->second != doc) NUBO_TRY(put(txn, api_id, kind, id, doc));
  }
  for (const auto& [id, doc] : before) {
    if (after.count(id) == 0) NUBO_TRY(erase(txn, api_id, kind, id));
  }
  return Ok{};
}

}  // namespace

std::string ApiRecord::id() const {
  auto v = get_string(api, "apiId");
  return v.value_or("");
}

Error api_not_found(const std::string& api_id, const std::string& account_id) {
  return Error{"NotFoundException", 404,
               "Invalid API identifier specified " + account_id + ":" + api_id};
}

Status Registry::start() {
  return store_->migrate("apigateway", kSchema);
}

Result<std::vector<ApiRecord>> Registry::load_all() {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows, store_->query(std::string(kSelect)));
  return records_of(rows);
}

Result<ApiRecord> Registry::load(const std::string& api_id, const std::string& account_id) {
  NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                        store_->query(std::string(kSelect) + " WHERE api_id = ?", {api_id}));
  NUBO_ASSIGN_OR_RETURN(std::vector<ApiRecord> records, records_of(rows));
  if (records.empty()) return api_not_found(api_id, account_id);
  return std::move(records.front());
}

Status Registry::create(const ApiRecord& record) {
  const std::string id = record.id();
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows taken,
        txn.query("SELECT 1 FROM apigw_resources WHERE api_id = ? AND kind = ?", {id, kApi}));
    if (!taken.empty()) return Error{"ConflictException", 409, "The API id is taken"};
    NUBO_TRY(put(txn, id, kApi, id, record.api));
    NUBO_TRY(write_diff(txn, id, kRoute, {}, record.routes));
    NUBO_TRY(write_diff(txn, id, kIntegration, {}, record.integrations));
    NUBO_TRY(write_diff(txn, id, kStage, {}, record.stages));
    NUBO_TRY(write_diff(txn, id, kDeployment, {}, record.deployments));
    return Ok{};
  });
}

Result<ApiRecord> Registry::update(const std::string& api_id, const std::string& account_id,
                                   const std::function<Status(ApiRecord&)>& change) {
  ApiRecord written;
  Status st = store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(storage::Rows rows,
                          txn.query(std::string(kSelect) + " WHERE api_id = ?", {api_id}));
    NUBO_ASSIGN_OR_RETURN(std::vector<ApiRecord> records, records_of(rows));
    if (records.empty()) return api_not_found(api_id, account_id);
    const ApiRecord before = records.front();
    ApiRecord after = std::move(records.front());
    NUBO_TRY(change(after));
    if (after.api != before.api) NUBO_TRY(put(txn, api_id, kApi, api_id, after.api));
    NUBO_TRY(write_diff(txn, api_id, kRoute, before.routes, after.routes));
    NUBO_TRY(write_diff(txn, api_id, kIntegration, before.integrations, after.integrations));
    NUBO_TRY(write_diff(txn, api_id, kStage, before.stages, after.stages));
    NUBO_TRY(write_diff(txn, api_id, kDeployment, before.deployments, after.deployments));
    written = std::move(after);
    return Ok{};
  });
  if (!st.ok()) return std::move(st).error();
  return written;
}

Status Registry::remove(const std::string& api_id, const std::string& account_id) {
  return store_->transaction([&](storage::Txn& txn) -> Status {
    NUBO_ASSIGN_OR_RETURN(int64_t n,
                          txn.exec("DELETE FROM apigw_resources WHERE api_id = ?", {api_id}));
    if (n == 0) return api_not_found(api_id, account_id);
    return Ok{};
  });
}

}  // namespace nubo::apigateway

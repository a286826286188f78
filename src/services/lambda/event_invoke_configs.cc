#include "services/lambda/event_invoke_configs.h"

#include "base/strings.h"
#include "services/lambda/limits.h"

namespace nubo::lambda {

namespace {

std::vector<std::string> schema() {
  return {
      "CREATE TABLE lambda_event_invoke_configs (function_name TEXT NOT NULL, qualifier TEXT NOT "
      "NULL, config TEXT NOT NULL, last_modified_ms INTEGER NOT NULL, PRIMARY KEY "
      "(function_name, qualifier))",
      "CREATE TABLE lambda_recursion_configs (function_name TEXT PRIMARY KEY, loop TEXT NOT "
      "NULL)",
  };
}

std::string config_json(const EventInvokeConfig& c) {
  json::object o;
  if (c.max_retries) o["MaximumRetryAttempts"] = *c.max_retries;
  if (c.max_age_s) o["MaximumEventAgeInSeconds"] = *c.max_age_s;
  if (!c.on_success.empty()) o["OnSuccess"] = c.on_success;
  if (!c.on_failure.empty()) o["OnFailure"] = c.on_failure;
  return json::serialize(o);
}

Error validation(const std::string& value, const std::string& field, const std::string& what) {
  return Error{"ValidationException", 400,
               "1 validation error detected: Value '" + value + "' at '" + field +
                   "' failed to satisfy constraint: " + what};
}

}  // namespace

EventInvokeConfigs::EventInvokeConfigs(storage::Store* store, const Clock* clock)
    : store_(store), clock_(clock) {}

Status EventInvokeConfigs::start() {
  NUBO_TRY(store_->migrate("lambda-event-invoke-configs", schema()));
  NUBO_ASSIGN_OR_RETURN(auto rows,
                        store_->query("SELECT function_name, qualifier, config, last_modified_ms "
                                      "FROM lambda_event_invoke_configs"));
  NUBO_ASSIGN_OR_RETURN(auto loops,
                        store_->query("SELECT function_name, loop FROM lambda_recursion_configs"));
  std::lock_guard lock(mu_);
  for (const auto& r : loops) recursion_[r.text(0)] = r.text(1);
  for (const auto& r : rows) {
    EventInvokeConfig c;
    c.function_name = r.text(0);
    c.qualifier = r.text(1);
    c.last_modified_ms = r.integer(3);
    auto v = parse_json(r.text(2));
    if (v.ok() && v->is_object()) {
      const json::object& o = v->as_object();
      if (auto n = get_int(o, "MaximumRetryAttempts")) c.max_retries = *n;
      if (auto n = get_int(o, "MaximumEventAgeInSeconds")) c.max_age_s = *n;
      c.on_success = get_string(o, "OnSuccess").value_or("");
      c.on_failure = get_string(o, "OnFailure").value_or("");
    }
    configs_[{c.function_name, c.qualifier}] = std::move(c);
  }
  return Ok{};
}

Result<EventInvokeConfig> EventInvokeConfigs::parse(
    const std::string& body, EventInvokeConfig c,
    const std::function<Status(const std::string&)>& destination_ok) {
  auto v = parse_json(body.empty() ? "{}" : body, "InvalidRequestContentException");
  if (!v.ok()) return v.error();
  if (!v->is_object()) {
    return Error{"InvalidRequestContentException", 400, "Could not parse request body into json"};
  }
  const json::object& o = v->as_object();
  if (const json::value* n = o.if_contains("MaximumRetryAttempts")) {
    if (!n->is_int64())
      return validation(json::serialize(*n), "maximumRetryAttempts", "Member must be an integer");
    if (n->as_int64() < 0 || n->as_int64() > kAsyncMaxRetries) {
      return validation(std::to_string(n->as_int64()), "maximumRetryAttempts",
                        "Member must have value less than or equal to 2");
    }
    c.max_retries = n->as_int64();
  }
  if (const json::value* n = o.if_contains("MaximumEventAgeInSeconds")) {
    if (!n->is_int64())
      return validation(json::serialize(*n), "maximumEventAgeInSeconds",
                        "Member must be an integer");
    int64_t s = n->as_int64();
    if (s < kEventAgeMinSeconds || s > kEventAgeMaxSeconds) {
      return validation(std::to_string(s), "maximumEventAgeInSeconds",
                        s < kEventAgeMinSeconds
                            ? "Member must have value greater than or equal to 60"
                            : "Member must have value less than or equal to 21600");
    }
    c.max_age_s = s;
  }
  if (const json::object* d = get_object(o, "DestinationConfig")) {
    for (auto [key, into] : {std::pair<const char*, std::string*>{"OnSuccess", &c.on_success},
                             std::pair<const char*, std::string*>{"OnFailure", &c.on_failure}}) {
      if (const json::object* x = get_object(*d, key)) {
        std::string arn = get_string(*x, "Destination").value_or("");
        if (!arn.empty()) NUBO_TRY(destination_ok(arn));
        *into = arn;
      }
    }
  }
  return c;
}

json::object EventInvokeConfigs::to_json(const EventInvokeConfig& c,
                                         const std::string& function_arn) {
  json::object o;
  o["LastModified"] = static_cast<double>(c.last_modified_ms) / 1000.0;
  o["FunctionArn"] = function_arn;
  if (c.max_retries) o["MaximumRetryAttempts"] = *c.max_retries;
  if (c.max_age_s) o["MaximumEventAgeInSeconds"] = *c.max_age_s;
  json::object dest;
  json::object s, f;
  if (!c.on_success.empty()) s["Destination"] = c.on_success;
  if (!c.on_failure.empty()) f["Destination"] = c.on_failure;
  dest["OnSuccess"] = std::move(s);
  dest["OnFailure"] = std::move(f);
  o["DestinationConfig"] = std::move(dest);
  return o;
}

Status EventInvokeConfigs::put(EventInvokeConfig c) {
  c.last_modified_ms = epoch_ms(clock_->now());
  NUBO_TRY(store_->transaction([&](storage::Txn& t) -> Status {
    NUBO_TRY(
        t.exec("DELETE FROM lambda_event_invoke_configs WHERE function_name = ? AND "
               "qualifier = ?",
               {c.function_name, c.qualifier}));
    NUBO_TRY(
        t.exec("INSERT INTO lambda_event_invoke_configs (function_name, qualifier, config, "
               "last_modified_ms) VALUES (?, ?, ?, ?)",
               {c.function_name, c.qualifier, config_json(c), c.last_modified_ms}));
    return Ok{};
  }));
  std::lock_guard lock(mu_);
  configs_[{c.function_name, c.qualifier}] = std::move(c);
  return Ok{};
}

Status EventInvokeConfigs::remove(const std::string& function_name, const std::string& qualifier) {
  NUBO_TRY(store_->transaction([&](storage::Txn& t) -> Status {
    NUBO_TRY(
        t.exec("DELETE FROM lambda_event_invoke_configs WHERE function_name = ? AND "
               "qualifier = ?",
               {function_name, qualifier}));
    return Ok{};
  }));
  std::lock_guard lock(mu_);
  configs_.erase({function_name, qualifier});
  return Ok{};
}

Status EventInvokeConfigs::set_recursion(const std::string& function_name,
                                         const std::string& loop) {
  NUBO_TRY(store_->transaction([&](storage::Txn& t) -> Status {
    NUBO_TRY(
        t.exec("DELETE FROM lambda_recursion_configs WHERE function_name = ?", {function_name}));
    NUBO_TRY(t.exec("INSERT INTO lambda_recursion_configs (function_name, loop) VALUES (?, ?)",
                    {function_name, loop}));
    return Ok{};
  }));
  std::lock_guard lock(mu_);
  recursion_[function_name] = loop;
  return Ok{};
}

std::string EventInvokeConfigs::recursion(const std::string& function_name) const {
  std::lock_guard lock(mu_);
  auto it = recursion_.find(function_name);
  return it == recursion_.end() ? "Terminate" : it->second;
}

Status EventInvokeConfigs::remove_function(const std::string& function_name) {
  NUBO_TRY(store_->transaction([&](storage::Txn& t) -> Status {
    NUBO_TRY(
        t.exec("DELETE FROM lambda_event_invoke_configs WHERE function_name = ?", {function_name}));
    NUBO_TRY(
        t.exec("DELETE FROM lambda_recursion_configs WHERE function_name = ?", {function_name}));
    return Ok{};
  }));
  std::lock_guard lock(mu_);
  recursion_.erase(function_name);
  for (auto it = configs_.begin(); it != configs_.end();) {
    it = it->first.first == function_name ? configs_.erase(it) : std::next(it);
  }
  return Ok{};
}

std::optional<EventInvokeConfig> EventInvokeConfigs::find(const std::string& function_name,
                                                          const std::string& qualifier) const {
  std::lock_guard lock(mu_);
  auto it = configs_.find({function_name, qualifier == "$LATEST" ? "" : qualifier});
  if (it == configs_.end()) return std::nullopt;
  return it->second;
}

std::vector<EventInvokeConfig> EventInvokeConfigs::of_function(
    const std::string& function_name) const {
  std::lock_guard lock(mu_);
  std::vector<EventInvokeConfig> out;
  for (const auto& [k, c] : configs_) {
    if (k.first == function_name) out.push_back(c);
  }
  return out;
}

}  // namespace nubo::lambda

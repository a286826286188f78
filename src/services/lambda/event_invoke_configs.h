// EventInvokeConfigs: what happens to a function's asynchronous invocations
// (PutFunctionEventInvokeConfig and friends, API 2019-09-25): how many retries after a function
// error (MaximumRetryAttempts 0-2), how old an event may get (MaximumEventAgeInSeconds
// 60-21600), and where the invocation record goes on success and on failure (DestinationConfig:
// an SQS queue or a Lambda function). One configuration per function and qualifier ("" for the
// unqualified function, $LATEST), kept in the Store and in memory.
//
// Threads: the writers and all() block on the Store (the blocking pool); find() is answered
// from memory and may be called on any thread. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/clock.h"
#include "base/json.h"
#include "base/result.h"
#include "storage/store.h"

namespace nubo::lambda {

struct EventInvokeConfig {
  std::string function_name;
  std::string qualifier;  // "" for the unqualified function
  std::optional<int64_t> max_retries;
  std::optional<int64_t> max_age_s;
  std::string on_success;  // destination ARN, "" for none
  std::string on_failure;
  int64_t last_modified_ms = 0;
};

class EventInvokeConfigs {
 public:
  EventInvokeConfigs(storage::Store* store, const Clock* clock);
  // Applies the schema and loads every configuration. Blocks.
  Status start();

  // Reads a Put (replace) or Update (merge into `base`) request body; InvalidParameterValue /
  // Validation errors as Lambda words them. `destination_ok` checks one destination ARN
  // (exists, is a kind nubo delivers to).
  static Result<EventInvokeConfig> parse(
      const std::string& body, EventInvokeConfig base,
      const std::function<Status(const std::string&)>& destination_ok);
  // The API's FunctionEventInvokeConfig for c; function_arn names the function and qualifier.
  static json::object to_json(const EventInvokeConfig& c, const std::string& function_arn);

  Status put(EventInvokeConfig c);
  Status remove(const std::string& function_name, const std::string& qualifier);
  // Every qualifier's configuration of a function (or all of them for "" qualifiers too).
  Status remove_function(const std::string& function_name);
  std::optional<EventInvokeConfig> find(const std::string& function_name,
                                        const std::string& qualifier) const;
  std::vector<EventInvokeConfig> of_function(const std::string& function_name) const;

  // PutFunctionRecursionConfig (recursion.h): "Allow" or "Terminate" (the default) for a
  // function's recursive loops. Blocks; recursion() answers from memory.
  Status set_recursion(const std::string& function_name, const std::string& loop);
  std::string recursion(const std::string& function_name) const;

 private:
  storage::Store* store_;
  const Clock* clock_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, EventInvokeConfig> configs_;  // GUARDED_BY(mu_)
  std::map<std::string, std::string> recursion_;  // GUARDED_BY(mu_): function -> Allow
};

}  // namespace nubo::lambda

// EventSources: Lambda's event source mappings (CreateEventSourceMapping and friends) and the
// pollers that run them. A mapping from an SQS queue to a function is kept in the Store; while
// it is enabled, pollers long-poll the queue, hand each batch to the function as the AWS SQS
// event ({"Records": [...]}) through the invoker, and delete what was processed: the whole batch
// on success, all but the reported failures with ReportBatchItemFailures, nothing on a failed
// invocation (the messages come back after their visibility timeout, and the queue's redrive
// policy moves them on after maxReceiveCount). Pollers scale with the queue: a full batch starts
// another (up to the mapping's ScalingConfig.MaximumConcurrency), an empty receive ends one (down
// to one).
//
// Queues are reached only through the hooks the node passes in (services never include each
// other's internals).
//
// Threads: the API methods block on the Store (call them from the blocking pool). Pollers run
// on the workers' io threads. start() and stop() from the main thread. Thread-safe.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/json.h"
#include "base/result.h"
#include "net/http.h"
#include "storage/store.h"

namespace nubo::lambda {

// One message as a poller receives it (the SQS event record's fields).
struct SourceMessage {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  std::string md5_of_body;
  std::map<std::string, std::string> attributes;  // SentTimestamp, ApproximateReceiveCount, ...
  // name -> {DataType, StringValue or BinaryValue (base64)}
  struct Attribute {
    std::string data_type;
    std::string string_value;
    std::string binary_value_base64;
  };
  std::map<std::string, Attribute> message_attributes;
};

struct EventSourceDeps {
  storage::Store* store = nullptr;
  const Clock* clock = nullptr;
  boost::asio::io_context* io = nullptr;          // the stop path's and the default worker
  std::vector<boost::asio::io_context*> workers;  // where pollers run, in turn (empty: io)
  std::string region;
  std::string account_id;

  // The queue's "visibility timeout" and whether it exists (for validation): nullopt when there
  // is no such queue. Blocks (called from the blocking pool).
  std::function<std::optional<int64_t>(const std::string& queue_arn)> queue_visibility;
  // Receives up to `max` messages (1..10), waiting up to wait_s for the first.
  std::function<net::Task<Result<std::vector<SourceMessage>>>(std::string queue_arn, int max,
                                                              int wait_s)>
      receive;
  // Deletes the messages of these receipt handles.
  std::function<net::Task<Status>(std::string queue_arn, std::vector<std::string> receipts)>
      delete_messages;
  // Makes these messages visible again now (a batch the poller will not process).
  std::function<net::Task<Status>(std::string queue_arn, std::vector<std::string> receipts)>
      release;
  // Invokes the function synchronously through the invoker: its response payload, or an Error
  // (its own error for a failed invocation; TooManyRequestsException when throttled).
  std::function<net::Task<Result<std::string>>(std::string function_arn, std::string payload)>
      invoke;
  // The function ARN a FunctionName names (a name, an ARN or a partial ARN, maybe qualified),
  // or ResourceNotFoundException. Blocks.
  std::function<Result<std::string>(const std::string& function_name)> resolve_function;
};

class EventSources {
 public:
  explicit EventSources(EventSourceDeps deps);
  ~EventSources();  // stops first
  EventSources(const EventSources&) = delete;
  EventSources& operator=(const EventSources&) = delete;

  // Applies the schema and starts the pollers of enabled mappings. Blocks.
  Status start();
  // Stops every poller and waits (bounded) for batches in flight to end.
  void stop();

  // The API (/2015-03-31/event-source-mappings/...): method, the path after that prefix ("" or
  // "/<UUID>"), the query parameters, the JSON body. Returns the status and the JSON answer.
  // Blocks on the Store.
  Result<std::pair<int, json::value>> handle(net::http::verb method, const std::string& rest,
                                             const std::map<std::string, std::string>& query,
                                             const std::string& body);

  // How many batches the pollers have handed to functions (tests, metrics).
  uint64_t batches() const;

  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// The SQS event Lambda delivers for a batch (Lambda developer guide, "Using Lambda with Amazon
// SQS": Records with messageId, receiptHandle, body, attributes, messageAttributes, md5OfBody,
// eventSource "aws:sqs", eventSourceARN, awsRegion).
std::string sqs_event(const std::vector<SourceMessage>& batch, const std::string& queue_arn,
                      const std::string& region);

}  // namespace nubo::lambda

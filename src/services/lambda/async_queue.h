// AsyncQueue: the durable queue of asynchronous (InvocationType Event) invocations.
//
// enqueue() commits the event to the Store before it returns, so an accepted event survives a
// kill -9. Workers on the io_context deliver events with bounded concurrency through the
// `deliver` callback; a delivered event is deleted. A function error (or timeout, crash) is
// retried up to `max_retries` more times with backoff (retry_base, then 2 x retry_base, as
// Lambda waits about 1 and 2 minutes); throttles and service errors are retried with their own
// backoff and do not count as attempts. Events older than `max_event_age` and events whose
// retries are used up are dropped: `on_failure` is called (the hook for destinations and DLQs)
// and a log line says so. start() resumes the events a previous run left in the Store.
//
// Delivery is at least once: an event whose delivery was under way at a crash is delivered again.
//
// Threads: enqueue() may be called from any io thread. The dispatcher loop runs on a strand of
// the io_context; deliveries run on the workers' io_contexts in turn (or io's); store work goes to
// the blocking pool. All shared state sits in a State object kept alive by a shared_ptr that every
// coroutine holds.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/result.h"
#include "net/http.h"
#include "services/lambda/limits.h"
#include "storage/store.h"

namespace nubo::lambda {

struct AsyncEvent {
  std::string id;  // UUID; also the invocation's request id
  std::string function_name;
  std::string qualifier;  // as the caller gave it: "", "$LATEST", a version or an alias
  std::string payload;
  std::string client_context;
  // The trace header of what caused the event (X-Amzn-Trace-Id; its Lineage counts the hops of
  // a chain of events: recursion detection). Loaded with the payload.
  std::string trace;
  int attempts = 0;   // deliveries that ended in a function error
  int throttles = 0;  // deliveries refused (throttled, service error)
  int64_t created_ms = 0;
  int64_t next_attempt_ms = 0;
};

enum class DeliveryOutcome {
  kSuccess,        // delete the event
  kFunctionError,  // counts as an attempt; retried with backoff, then dropped
  kThrottled,      // retried with the throttle backoff; not an attempt
  kDrop,           // cannot ever be delivered (function deleted): drop now
};

struct DeliveryResult {
  DeliveryOutcome outcome = DeliveryOutcome::kSuccess;
  std::string detail;  // for logs (error type, message)
};

struct AsyncQueueOptions {
  // Deliveries under way at once. 0 pauses delivery (events are only stored).
  int max_concurrency = 32;
  int max_retries = kAsyncMaxRetries;
  std::chrono::milliseconds retry_base = kAsyncRetryBase;
  std::chrono::milliseconds throttle_base{1000};
  std::chrono::milliseconds throttle_max{300000};
  std::chrono::milliseconds max_event_age = kAsyncMaxEventAge;
  // Events held in memory (metadata only); the rest wait in the Store and are read back later.
  size_t max_in_memory = 10000;
  // How long stop() waits for deliveries under way.
  std::chrono::milliseconds stop_grace{5000};
};

class AsyncQueue {
 public:
  // Delivers one event (payload loaded). Must not throw.
  using Deliver = std::function<net::Task<DeliveryResult>(AsyncEvent)>;
  // Called once for each dropped event (retries used up, too old, undeliverable), on an io or
  // blocking-pool thread. Destinations and DLQs hook in here.
  using OnFailure = std::function<void(const AsyncEvent&, const std::string& reason)>;

  struct Deps {
    storage::Store* store = nullptr;
    const Clock* clock = nullptr;
    boost::asio::io_context* io = nullptr;
    boost::asio::thread_pool* blocking = nullptr;
    // Where deliveries run, in turn (the node's io threads: the instances of async invocations
    // then spread over the CPUs as the connections' do, see docs/ARCHITECTURE.md "Threading").
    // Empty: on io.
    std::vector<boost::asio::io_context*> workers;
  };

  AsyncQueue(Deps deps, AsyncQueueOptions options, Deliver deliver, OnFailure on_failure);
  ~AsyncQueue();
  AsyncQueue(const AsyncQueue&) = delete;
  AsyncQueue& operator=(const AsyncQueue&) = delete;

  // Applies the schema, loads events left by a previous run and starts the dispatcher.
  // Blocks on the Store: call it off the io threads, once.
  Status start();

  // Stores the event durably (it is queued once this returns OK) and schedules its delivery.
  // id, created_ms and next_attempt_ms are filled in when empty/zero.
  net::Task<Status> enqueue(AsyncEvent event);

  // Stops dispatching and waits (up to stop_grace) for deliveries under way. Events not yet
  // delivered stay in the Store. Must not run on an io thread. Idempotent.
  void stop();

  // Events known to be pending (in memory or under delivery); for tests and metrics.
  size_t pending() const;

  struct State;  // internal; public only so the .cc's free coroutines can name it

 private:
  std::shared_ptr<State> state_;
};

}  // namespace nubo::lambda

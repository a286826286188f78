// RuntimeApi: one instance's Lambda Runtime API endpoint (version 2018-06-01, as "Using the Lambda
// runtime API for custom runtimes" and AWS's runtime interface emulator define it) and the state
// machine behind it.
//
// Every instance gets its own RuntimeApi listening on 127.0.0.1:<its own port> of the node, or on
// 127.0.0.1:9001 of the instance's own network namespace when its sandbox isolates it: an
// instance can reach no other instance's invocations through it. Routes:
//   GET  /2018-06-01/runtime/invocation/next             waits for an event; 200 + event
//   POST /2018-06-01/runtime/invocation/{id}/response    202 {"status":"OK"}
//   POST /2018-06-01/runtime/invocation/{id}/error       202 (Lambda-Runtime-Function-Error-Type)
//   POST /2018-06-01/runtime/init/error                  202; the instance has failed
// An id that is not the current invocation's: 400 InvalidRequestID. A call out of turn (an
// answer twice, /init/error after the first /next): 403 InvalidStateTransition. A body over 6 MB:
// 413 RequestEntityTooLarge (and the invocation fails with Function.ResponseSizeTooLarge). Any
// other path: 404.
//
// Threads: thread-safe. One mutex guards the state; it is never held across an await or while
// calling out. HTTP handlers and the timer run on the io_context given to make().
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/clock.h"
#include "base/result.h"
#include "net/http.h"

namespace nubo::runtime {

class RuntimeApi : public std::enable_shared_from_this<RuntimeApi> {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;

  // One invocation as the runtime sees it in /next.
  struct Event {
    std::string request_id;
    std::string payload;
    std::string invoked_function_arn;
    std::string trace_id;
    std::string client_context;  // JSON text, or empty (no header)
    std::string cognito_identity;
    std::chrono::milliseconds timeout{3000};  // from delivery to the runtime's answer
  };

  // How an invocation ended, as far as the Runtime API knows.
  struct Answer {
    enum class Kind {
      kResponse,       // /response
      kFunctionError,  // /error
      kInitError,      // /init/error (before the event was delivered)
      kTimeout,        // no answer in time (delivered) or no /next in time (not delivered)
      kTooLarge,       // the response was over kMaxResponseBytes
      kAborted,        // close(): the process exited or the instance was stopped
    };
    Kind kind = Kind::kAborted;
    bool delivered = false;  // the event reached the runtime
    std::string body;        // response or error body
    std::string error_type;  // Lambda-Runtime-Function-Error-Type
    SteadyTime delivered_at{};
    SteadyTime answered_at{};
    // The event, handed back when it never reached the runtime (kTimeout or kAborted before
    // delivery), so that the caller can run it elsewhere.
    std::optional<Event> undelivered;
  };

  // on_deliver runs once per event, after the event is committed to the runtime and before the
  // runtime can read it, outside RuntimeApi's lock, on an io thread (the instance logs START).
  static std::shared_ptr<RuntimeApi> make(boost::asio::io_context& io, const Clock* clock,
                                          std::function<void(const Event&)> on_deliver);
  ~RuntimeApi();
  RuntimeApi(const RuntimeApi&) = delete;
  RuntimeApi& operator=(const RuntimeApi&) = delete;

  // Starts listening on 127.0.0.1 on a free port; returns the port.
  Result<uint16_t> listen();
  // Or accepts on fd, a socket already listening on port (inside the instance's own network
  // namespace: sandbox.h, SandboxProcess::take_listeners). Takes ownership of fd.
  Status adopt(int fd, uint16_t port);
  uint16_t port() const { return port_; }

  // Hands ev to the runtime (now if it is waiting in /next, else at its next /next) and completes
  // with how the invocation ended. Before the runtime's first /next, init_deadline bounds the
  // wait; after it, ev.timeout runs from the delivery.
  // REQUIRES: no other invoke() in flight on this RuntimeApi.
  net::Task<Answer> invoke(Event ev, SteadyTime init_deadline);

  // While an invocation runs unanswered, calls on_long(tick) every `after` from its delivery
  // (tick 1, 2, ... within each invocation), on an io thread and outside RuntimeApi's lock,
  // until on_long returns true: then never again (the instance uses it to let a busy process
  // leave its io thread's CPU: instance.h). It rides on the invocation's timeout timer, so an
  // invocation answered within `after` costs nothing more. Applies from the next delivery.
  void watch_long_invocation(std::chrono::milliseconds after, std::function<bool(int)> on_long);

  // When the runtime first asked for work (the end of its init phase); nullopt before that.
  std::optional<SteadyTime> ready_at() const;

  // Completes when the init phase ends without an event (provisioned concurrency initialises
  // instances ahead): true at the runtime's first /next; false at /init/error, at close(), or
  // when init_deadline passes first. An /init/error is kept for the next invoke() as usual.
  // REQUIRES: called at most once, and not while an invoke() is in flight.
  net::Task<bool> wait_ready(SteadyTime init_deadline);

  // Ends the invoke in flight (kAborted), answers a waiting /next, refuses every later call, and
  // stops the server. Idempotent.
  void close();

 private:
  struct Private {};

 public:
  RuntimeApi(Private, boost::asio::io_context& io, const Clock* clock,
             std::function<void(const Event&)> on_deliver);

 private:
  struct State;
  static net::Task<net::Response> handle(std::shared_ptr<RuntimeApi> self, net::Request& req);
  net::Task<net::Response> on_next(net::Request& req);
  net::Response on_answer(net::Request& req, std::string_view id, bool is_error);
  net::Response on_init_error(net::Request& req);
  net::Response on_too_large(const net::Request& req);
  void on_timeout(uint64_t seq);

  std::unique_ptr<State> st_;
  uint16_t port_ = 0;
};

}  // namespace nubo::runtime

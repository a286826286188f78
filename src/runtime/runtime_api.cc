#include "runtime/runtime_api.h"

// GCC 12 reports a false -Wmismatched-new-delete on the frames of some Asio coroutines (the
// frame's operator new/delete pair is Asio's own); see GCC bug 109224.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <boost/asio/steady_timer.hpp>
#include <mutex>

#include "base/json.h"
#include "net/async.h"
#include "net/server.h"
#include "runtime/limits.h"

namespace nubo::runtime {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using net::Request;
using net::Response;

namespace {

enum class Phase {
  kStarted,    // no /next yet
  kWaiting,    // a /next is waiting for an event
  kInvoking,   // an event was delivered; no answer yet
  kResponded,  // answered; the runtime has not asked for the next event yet
  kInitError,  // /init/error was posted
  kClosed,     // timed out, aborted or closed
};

// The runtime interface emulator's names for the states, used in InvalidStateTransition messages.
const char* phase_name(Phase p, bool delivered_any) {
  switch (p) {
    case Phase::kStarted:
      return "Started";
    case Phase::kWaiting:
      return delivered_any ? "RuntimeResponseSentState" : "Started";
    case Phase::kInvoking:
      return "Ready";
    case Phase::kResponded:
      return "RuntimeResponseSentState";
    case Phase::kInitError:
      return "InitError";
    case Phase::kClosed:
      return "Closed";
  }
  return "Unknown";
}

std::string error_json(std::string_view message, std::string_view type) {
  json::object o;
  o["errorMessage"] = message;
  o["errorType"] = type;
  return json::serialize(o);
}

Response error_response(const Request& req, http::status status, std::string_view message,
                        std::string_view type) {
  return net::make_response(req, status, error_json(message, type));
}

Response invalid_request_id(const Request& req) {
  return error_response(req, http::status::bad_request, "Invalid request ID", "InvalidRequestID");
}

Response invalid_transition(const Request& req, const char* from, const char* to) {
  std::string msg = std::string("State transition from ") + from + " to " + to +
                    " failed for runtime. Error: State transition is not allowed";
  return error_response(req, http::status::forbidden, msg, "InvalidStateTransition");
}

Response internal_server_error(const Request& req) {
  return error_response(req, http::status::internal_server_error, "Internal Server Error",
                        "InternalServerError");
}

Response accepted(const Request& req) {
  return net::make_response(req, http::status::accepted, R"({"status":"OK"})");
}

std::string too_large_message() {
  return "Exceeded maximum allowed payload size (" + std::to_string(kMaxResponseBytes) + " bytes).";
}

// The parts of a Runtime API target. kind: "next", "response", "error", "init-error", "".
struct Route {
  std::string_view kind;
  std::string_view id;
};

Route parse_route(std::string_view target) {
  size_t q = target.find('?');
  if (q != std::string_view::npos) target = target.substr(0, q);
  constexpr std::string_view kPrefix = "/2018-06-01/runtime/";
  if (target.substr(0, kPrefix.size()) != kPrefix) return {};
  std::string_view rest = target.substr(kPrefix.size());
  if (rest == "invocation/next") return {"next", {}};
  if (rest == "init/error") return {"init-error", {}};
  constexpr std::string_view kInvocation = "invocation/";
  if (rest.substr(0, kInvocation.size()) != kInvocation) return {};
  rest = rest.substr(kInvocation.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return {};
  std::string_view id = rest.substr(0, slash);
  std::string_view verb = rest.substr(slash + 1);
  if (verb == "response") return {"response", id};
  if (verb == "error") return {"error", id};
  return {};
}

}  // namespace

// An event on its way to a waiting /next, with the deadline fixed at delivery.
struct Delivery {
  RuntimeApi::Event ev;
  int64_t deadline_ms = 0;
};

struct RuntimeApi::State {
  State(asio::io_context& io_, const Clock* clock_, std::function<void(const Event&)> cb)
      : io(io_), clock(clock_), on_deliver(std::move(cb)), timer(io_) {}

  asio::io_context& io;
  const Clock* clock;
  const std::function<void(const Event&)> on_deliver;
  std::unique_ptr<net::HttpServer> server;

  mutable std::mutex mu;
  Phase phase = Phase::kStarted;               // GUARDED_BY(mu)
  bool delivered_any = false;                  // GUARDED_BY(mu)
  std::optional<SteadyTime> ready_at;          // GUARDED_BY(mu)
  std::optional<Event> pending;                // GUARDED_BY(mu): not yet delivered
  std::string current_id;                      // GUARDED_BY(mu): last delivered
  SteadyTime delivered_at{};                   // GUARDED_BY(mu)
  std::shared_ptr<net::OneShot<Answer>> done;  // GUARDED_BY(mu): the invoke's waiter
  std::shared_ptr<net::OneShot<std::optional<Delivery>>> waiter;  // GUARDED_BY(mu): a /next
  std::optional<Answer> init_error;  // GUARDED_BY(mu): kept when no invoke was waiting
  // Set once the init phase is over: true at the first /next, false on a failed init or close.
  const std::shared_ptr<net::OneShot<bool>> ready = net::OneShot<bool>::make();
  asio::steady_timer timer;  // GUARDED_BY(mu)
  uint64_t timer_seq = 0;    // GUARDED_BY(mu)
  // watch_long_invocation(): the watch, and the delivered invocation's own deadline while the
  // timer is set for the watch instead.
  std::chrono::milliseconds long_after{0};  // GUARDED_BY(mu)
  std::function<bool(int)> on_long;         // GUARDED_BY(mu)
  int long_ticks = 0;                       // GUARDED_BY(mu): calls in this invocation
  SteadyTime invoke_deadline{};             // GUARDED_BY(mu)

  // REQUIRES: mu held.
  Delivery deliver_locked(Event ev, SteadyTime now) {
    phase = Phase::kInvoking;
    delivered_any = true;
    current_id = ev.request_id;
    delivered_at = now;
    Delivery d;
    d.deadline_ms = epoch_ms(clock->now()) + ev.timeout.count();
    d.ev = std::move(ev);
    return d;
  }

  // REQUIRES: mu held. (Re)arms the one timer; on expiry, api->on_timeout(seq).
  void arm_timer_locked(const std::shared_ptr<RuntimeApi>& api, SteadyTime at) {
    uint64_t seq = ++timer_seq;
    timer.expires_at(at);
    std::weak_ptr<RuntimeApi> weak = api;
    timer.async_wait([weak, seq](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto a = weak.lock()) a->on_timeout(seq);
    });
  }

  // REQUIRES: mu held. Arms the timer for an invocation delivered at `now`: at its timeout, or
  // sooner for the long-invocation watch.
  void arm_delivery_timer_locked(const std::shared_ptr<RuntimeApi>& api, SteadyTime now,
                                 std::chrono::milliseconds timeout) {
    invoke_deadline = now + timeout;
    long_ticks = 0;
    arm_invoking_timer_locked(api, now);
  }

  // REQUIRES: mu held, an invocation delivered. The next watch moment or the deadline.
  void arm_invoking_timer_locked(const std::shared_ptr<RuntimeApi>& api, SteadyTime now) {
    SteadyTime at = invoke_deadline;
    if (on_long && now + long_after < at) at = now + long_after;
    arm_timer_locked(api, at);
  }

  // REQUIRES: mu held.
  void cancel_timer_locked() {
    ++timer_seq;
    timer.cancel();
  }
};

std::shared_ptr<RuntimeApi> RuntimeApi::make(asio::io_context& io, const Clock* clock,
                                             std::function<void(const Event&)> on_deliver) {
  auto api = std::make_shared<RuntimeApi>(Private{}, io, clock, std::move(on_deliver));
  std::weak_ptr<RuntimeApi> weak = api;
  net::ServerLimits limits;
  limits.max_body_bytes = kMaxResponseBytes;
  limits.idle_timeout = std::chrono::hours(24);
  limits.too_large = [weak](const Request& req) -> Response {
    auto self = weak.lock();
    if (!self) return internal_server_error(req);
    return self->on_too_large(req);
  };
  api->st_->server = std::make_unique<net::HttpServer>(
      io,
      [weak](Request& req, const net::Peer&) -> net::Task<Response> {
        return handle(weak.lock(), req);
      },
      std::move(limits));
  return api;
}

RuntimeApi::RuntimeApi(Private, asio::io_context& io, const Clock* clock,
                       std::function<void(const Event&)> on_deliver)
    : st_(std::make_unique<State>(io, clock, std::move(on_deliver))) {}

RuntimeApi::~RuntimeApi() {
  if (st_->server) st_->server->stop();
}

Result<uint16_t> RuntimeApi::listen() {
  auto port = st_->server->listen("127.0.0.1", 0);
  if (port.ok()) port_ = port.value();
  return port;
}

Status RuntimeApi::adopt(int fd, uint16_t port) {
  // The listener lives as long as the server (close() stops it with the rest).
  NUBO_TRY(st_->server->adopt(fd));
  port_ = port;
  return Ok{};
}

void RuntimeApi::watch_long_invocation(std::chrono::milliseconds after,
                                       std::function<bool(int)> on_long) {
  std::lock_guard lock(st_->mu);
  st_->long_after = after;
  st_->on_long = std::move(on_long);
}

std::optional<RuntimeApi::SteadyTime> RuntimeApi::ready_at() const {
  std::lock_guard lock(st_->mu);
  return st_->ready_at;
}

net::Task<bool> RuntimeApi::wait_ready(SteadyTime init_deadline) {
  auto self = shared_from_this();
  std::shared_ptr<net::OneShot<bool>> ready = st_->ready;
  asio::steady_timer deadline(st_->io);
  deadline.expires_at(init_deadline);
  deadline.async_wait([ready](const boost::system::error_code& ec) {
    if (!ec) ready->set(false);
  });
  bool ok = co_await ready->async_wait(asio::use_awaitable);
  deadline.cancel();
  co_return ok;
}

net::Task<RuntimeApi::Answer> RuntimeApi::invoke(Event ev, SteadyTime init_deadline) {
  auto self = shared_from_this();
  State& st = *st_;
  auto done = net::OneShot<Answer>::make();
  std::shared_ptr<net::OneShot<std::optional<Delivery>>> waiter;
  std::optional<Delivery> delivery;
  std::optional<Answer> immediate;
  {
    std::lock_guard lock(st.mu);
    if (st.phase == Phase::kClosed) {
      immediate = Answer{};
      immediate->undelivered = std::move(ev);
    } else if (st.phase == Phase::kInitError) {
      if (st.init_error) {
        immediate = *st.init_error;
      } else {
        immediate = Answer{};
        immediate->kind = Answer::Kind::kInitError;
      }
    } else {
      NUBO_CHECK(!st.done);
      st.done = done;
      auto now = std::chrono::steady_clock::now();
      if (st.phase == Phase::kWaiting && st.waiter) {
        waiter = std::move(st.waiter);
        delivery = st.deliver_locked(std::move(ev), now);
        st.arm_delivery_timer_locked(self, now, delivery->ev.timeout);
      } else {
        // Not asked for yet: bounded by the init deadline before the first /next, else by the
        // function's timeout (a runtime that never asks again must not hang the caller).
        SteadyTime deadline = st.phase == Phase::kStarted ? init_deadline : now + ev.timeout;
        st.pending = std::move(ev);
        st.arm_timer_locked(self, deadline);
      }
    }
  }
  if (immediate) co_return std::move(*immediate);
  if (delivery) {
    if (st.on_deliver) st.on_deliver(delivery->ev);
    waiter->set(std::move(delivery));
  }
  Answer a = co_await done->async_wait(asio::use_awaitable);
  co_return a;
}

void RuntimeApi::on_timeout(uint64_t seq) {
  State& st = *st_;
  std::shared_ptr<net::OneShot<Answer>> done;
  std::shared_ptr<net::OneShot<std::optional<Delivery>>> waiter;
  Answer a;
  a.kind = Answer::Kind::kTimeout;
  std::function<bool(int)> watch;
  int tick = 0;
  {
    std::lock_guard lock(st.mu);
    if (seq != st.timer_seq || !st.done) return;
    auto now = std::chrono::steady_clock::now();
    if (st.phase == Phase::kInvoking && now < st.invoke_deadline) {
      // A watch moment (watch_long_invocation), not the timeout.
      if (st.on_long) {
        watch = st.on_long;
        tick = ++st.long_ticks;
      }
      st.arm_invoking_timer_locked(shared_from_this(), now);
    } else {
      if (st.phase == Phase::kInvoking) {
        a.delivered = true;
        a.delivered_at = st.delivered_at;
      }
      a.undelivered = std::move(st.pending);
      st.pending.reset();
      st.phase = Phase::kClosed;  // the instance kills the process
      done = std::move(st.done);
      waiter = std::move(st.waiter);
    }
  }
  if (watch) {
    if (watch(tick)) {
      std::lock_guard lock(st.mu);
      st.on_long = nullptr;  // the timer, if set for the next moment, then just re-arms
    }
    return;
  }
  if (!done) return;  // a watch moment after the watch ended
  a.answered_at = std::chrono::steady_clock::now();
  if (waiter) waiter->set(std::nullopt);
  done->set(std::move(a));
}

void RuntimeApi::close() {
  State& st = *st_;
  std::shared_ptr<net::OneShot<Answer>> done;
  std::shared_ptr<net::OneShot<std::optional<Delivery>>> waiter;
  Answer a;
  {
    std::lock_guard lock(st.mu);
    if (st.phase == Phase::kInvoking) {
      a.delivered = true;
      a.delivered_at = st.delivered_at;
    }
    st.phase = Phase::kClosed;
    a.undelivered = std::move(st.pending);
    st.pending.reset();
    st.cancel_timer_locked();
    done = std::move(st.done);
    waiter = std::move(st.waiter);
  }
  a.kind = Answer::Kind::kAborted;
  a.answered_at = std::chrono::steady_clock::now();
  st.ready->set(false);
  if (waiter) waiter->set(std::nullopt);
  if (done) done->set(std::move(a));
  if (st.server) st.server->stop();
}

net::Task<Response> RuntimeApi::handle(std::shared_ptr<RuntimeApi> self, Request& req) {
  if (!self) co_return internal_server_error(req);
  Route r = parse_route(req.target());
  if (r.kind.empty()) {
    co_return error_response(req, http::status::not_found, "Not Found", "NotFound");
  }
  bool is_get = req.method() == http::verb::get;
  if (r.kind == "next") {
    if (!is_get) {
      co_return error_response(req, http::status::method_not_allowed, "Method Not Allowed",
                               "MethodNotAllowed");
    }
    co_return co_await self->on_next(req);
  }
  if (req.method() != http::verb::post) {
    co_return error_response(req, http::status::method_not_allowed, "Method Not Allowed",
                             "MethodNotAllowed");
  }
  if (r.kind == "init-error") co_return self->on_init_error(req);
  co_return self->on_answer(req, r.id, r.kind == "error");
}

net::Task<Response> RuntimeApi::on_next(Request& req) {
  auto self = shared_from_this();
  State& st = *st_;
  std::shared_ptr<net::OneShot<std::optional<Delivery>>> shot;
  std::shared_ptr<net::OneShot<std::optional<Delivery>>> replaced;
  std::optional<Delivery> delivery;
  bool first = false;
  {
    std::lock_guard lock(st.mu);
    switch (st.phase) {
      case Phase::kClosed:
        co_return internal_server_error(req);
      case Phase::kInitError:
      case Phase::kInvoking:
        co_return invalid_transition(req, phase_name(st.phase, st.delivered_any), "Ready");
      default:
        break;
    }
    auto now = std::chrono::steady_clock::now();
    if (!st.ready_at) {
      st.ready_at = now;
      first = true;
    }
    if (st.pending) {
      delivery = st.deliver_locked(std::move(*st.pending), now);
      st.pending.reset();
      st.arm_delivery_timer_locked(self, now, delivery->ev.timeout);
    } else {
      // A second /next replaces the first: the runtime gave up on that connection.
      st.phase = Phase::kWaiting;
      replaced = std::move(st.waiter);
      shot = net::OneShot<std::optional<Delivery>>::make();
      st.waiter = shot;
    }
  }
  if (first) st.ready->set(true);
  if (replaced) replaced->set(std::nullopt);
  if (!delivery) {
    delivery = co_await shot->async_wait(asio::use_awaitable);
    if (!delivery) co_return internal_server_error(req);
  } else if (st.on_deliver) {
    st.on_deliver(delivery->ev);
  }
  Event& ev = delivery->ev;
  Response res{http::status::ok, req.version()};
  res.set(http::field::content_type, "application/json");
  res.set("Lambda-Runtime-Aws-Request-Id", ev.request_id);
  res.set("Lambda-Runtime-Deadline-Ms", std::to_string(delivery->deadline_ms));
  res.set("Lambda-Runtime-Invoked-Function-Arn", ev.invoked_function_arn);
  if (!ev.trace_id.empty()) res.set("Lambda-Runtime-Trace-Id", ev.trace_id);
  if (!ev.client_context.empty()) res.set("Lambda-Runtime-Client-Context", ev.client_context);
  if (!ev.cognito_identity.empty()) {
    res.set("Lambda-Runtime-Cognito-Identity", ev.cognito_identity);
  }
  res.keep_alive(req.keep_alive());
  res.body() = std::move(ev.payload);
  res.prepare_payload();
  co_return res;
}

Response RuntimeApi::on_answer(Request& req, std::string_view id, bool is_error) {
  State& st = *st_;
  std::shared_ptr<net::OneShot<Answer>> done;
  Answer a;
  {
    std::lock_guard lock(st.mu);
    if (id.empty() || id != st.current_id) return invalid_request_id(req);
    if (st.phase != Phase::kInvoking) {
      return invalid_transition(req, phase_name(st.phase, st.delivered_any),
                                is_error ? "InvocationErrorResponse" : "InvocationResponse");
    }
    st.phase = Phase::kResponded;
    st.cancel_timer_locked();
    done = std::move(st.done);
    a.delivered_at = st.delivered_at;
  }
  a.kind = is_error ? Answer::Kind::kFunctionError : Answer::Kind::kResponse;
  a.delivered = true;
  a.answered_at = std::chrono::steady_clock::now();
  a.body = std::move(req.body());
  if (is_error) a.error_type = std::string(net::header(req, "Lambda-Runtime-Function-Error-Type"));
  if (done) done->set(std::move(a));
  return accepted(req);
}

Response RuntimeApi::on_init_error(Request& req) {
  State& st = *st_;
  std::shared_ptr<net::OneShot<Answer>> done;
  std::shared_ptr<net::OneShot<std::optional<Delivery>>> waiter;
  Answer a;
  a.kind = Answer::Kind::kInitError;
  a.body = std::move(req.body());
  a.error_type = std::string(net::header(req, "Lambda-Runtime-Function-Error-Type"));
  a.answered_at = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(st.mu);
    bool in_init =
        st.phase == Phase::kStarted || (st.phase == Phase::kWaiting && !st.delivered_any);
    if (!in_init) {
      return invalid_transition(req, phase_name(st.phase, st.delivered_any), "InitError");
    }
    st.phase = Phase::kInitError;
    st.pending.reset();
    st.cancel_timer_locked();
    done = std::move(st.done);
    waiter = std::move(st.waiter);
    if (!done) st.init_error = a;
  }
  st.ready->set(false);
  if (waiter) waiter->set(std::nullopt);
  if (done) done->set(std::move(a));
  return accepted(req);
}

Response RuntimeApi::on_too_large(const Request& req) {
  State& st = *st_;
  Route r = parse_route(req.target());
  std::shared_ptr<net::OneShot<Answer>> done;
  Answer a;
  if (r.kind == "response" || r.kind == "error") {
    std::lock_guard lock(st.mu);
    if (!r.id.empty() && r.id == st.current_id && st.phase == Phase::kInvoking) {
      st.phase = Phase::kResponded;
      st.cancel_timer_locked();
      done = std::move(st.done);
      a.delivered_at = st.delivered_at;
    }
  }
  if (done) {
    a.kind = Answer::Kind::kTooLarge;
    a.delivered = true;
    a.answered_at = std::chrono::steady_clock::now();
    done->set(std::move(a));
  }
  Response res = error_response(req, http::status::payload_too_large, too_large_message(),
                                "RequestEntityTooLarge");
  res.keep_alive(false);
  return res;
}

}  // namespace nubo::runtime

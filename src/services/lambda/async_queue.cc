#include "services/lambda/async_queue.h"

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <condition_variable>
#include <map>
#include <mutex>
#include <unordered_set>

#include "base/ids.h"
#include "base/log.h"
#include "net/async.h"

namespace nubo::lambda {

namespace asio = boost::asio;

namespace {

// Event metadata kept in memory; the payload is read from the Store when delivered.
using Meta = AsyncEvent;

const std::vector<std::string>& schema() {
  static const std::vector<std::string> s = {
      "CREATE TABLE lambda_async_events ("
      " id TEXT PRIMARY KEY,"
      " function_name TEXT NOT NULL,"
      " qualifier TEXT NOT NULL,"
      " payload BLOB NOT NULL,"
      " client_context TEXT NOT NULL,"
      " attempts INTEGER NOT NULL,"
      " throttles INTEGER NOT NULL,"
      " created_ms INTEGER NOT NULL,"
      " next_attempt_ms INTEGER NOT NULL)",
      "CREATE INDEX lambda_async_events_due ON lambda_async_events (next_attempt_ms)",
      "ALTER TABLE lambda_async_events ADD COLUMN trace TEXT NOT NULL DEFAULT ''",
  };
  return s;
}

constexpr std::string_view kSelectMeta =
    "SELECT id, function_name, qualifier, attempts, throttles, created_ms, next_attempt_ms "
    "FROM lambda_async_events ORDER BY next_attempt_ms, id LIMIT ?";

Meta meta_from_row(const storage::Row& r) {
  Meta m;
  m.id = r.text(0);
  m.function_name = r.text(1);
  m.qualifier = r.text(2);
  m.attempts = static_cast<int>(r.integer(3));
  m.throttles = static_cast<int>(r.integer(4));
  m.created_ms = r.integer(5);
  m.next_attempt_ms = r.integer(6);
  return m;
}

}  // namespace

struct AsyncQueue::State : std::enable_shared_from_this<AsyncQueue::State> {
  State(Deps d, AsyncQueueOptions o, Deliver del, OnFailure fail)
      : deps(d),
        opt(o),
        deliver(std::move(del)),
        on_failure(std::move(fail)),
        strand(asio::make_strand(*d.io)),
        timer(strand) {}

  Deps deps;
  AsyncQueueOptions opt;
  Deliver deliver;
  OnFailure on_failure;
  asio::strand<asio::io_context::executor_type> strand;
  asio::steady_timer timer;  // touched only on `strand`
  size_t next_worker = 0;    // touched only on `strand`: Deps::workers, in turn

  mutable std::mutex mu;
  std::condition_variable cv;
  std::multimap<int64_t, Meta> due;       // by next_attempt_ms, GUARDED_BY(mu)
  std::unordered_set<std::string> known;  // ids in `due` or under delivery, GUARDED_BY(mu)
  int inflight = 0;                       // GUARDED_BY(mu)
  bool overflow = false;                  // some stored events are not in memory, GUARDED_BY(mu)
  bool started = false;                   // GUARDED_BY(mu)
  bool stopping = false;                  // GUARDED_BY(mu)
  bool loop_done = true;                  // GUARDED_BY(mu)
  bool closed = false;                    // stop() returned: no more store writes, GUARDED_BY(mu)

  int64_t now_ms() const { return epoch_ms(deps.clock->now()); }

  void wake() {
    asio::post(strand, [self = shared_from_this()] { self->timer.cancel(); });
  }

  // REQUIRES: mu held.
  void remember(Meta m) {
    if (known.count(m.id)) return;
    if (due.size() + static_cast<size_t>(inflight) >= opt.max_in_memory) {
      overflow = true;
      return;
    }
    known.insert(m.id);
    int64_t when = m.next_attempt_ms;
    due.emplace(when, std::move(m));
  }

  // Reads stored events into memory (blocking).
  Status load() {
    NUBO_ASSIGN_OR_RETURN(
        storage::Rows rows,
        deps.store->query(kSelectMeta, {static_cast<int64_t>(opt.max_in_memory)}));
    std::lock_guard lock(mu);
    for (const auto& r : rows) remember(meta_from_row(r));
    if (rows.size() >= opt.max_in_memory) overflow = true;
    return Ok{};
  }

  bool is_closed() const {
    std::lock_guard lock(mu);
    return closed;
  }
};

namespace {

using StatePtr = std::shared_ptr<AsyncQueue::State>;

}  // namespace

AsyncQueue::AsyncQueue(Deps deps, AsyncQueueOptions options, Deliver deliver, OnFailure on_failure)
    : state_(std::make_shared<State>(deps, options, std::move(deliver), std::move(on_failure))) {}

AsyncQueue::~AsyncQueue() {
  stop();
}

size_t AsyncQueue::pending() const {
  std::lock_guard lock(state_->mu);
  return state_->due.size() + static_cast<size_t>(state_->inflight);
}

namespace {

// Finishes one delivery: updates or deletes the stored event, then frees the slot.
net::Task<void> finish(StatePtr s, Meta ev, DeliveryResult r) {
  const int64_t now = s->now_ms();
  enum class Next { kDelete, kDrop, kRetry } next = Next::kDelete;
  std::string reason;
  switch (r.outcome) {
    case DeliveryOutcome::kSuccess:
      next = Next::kDelete;
      break;
    case DeliveryOutcome::kDrop:
      next = Next::kDrop;
      reason = r.detail;
      break;
    case DeliveryOutcome::kFunctionError: {
      ev.attempts++;
      if (ev.attempts > s->opt.max_retries) {
        next = Next::kDrop;
        reason = "retries exhausted after " + std::to_string(ev.attempts) + " attempts (" +
                 r.detail + ")";
      } else {
        next = Next::kRetry;
        ev.next_attempt_ms = now + s->opt.retry_base.count() * (int64_t{1} << (ev.attempts - 1));
      }
      break;
    }
    case DeliveryOutcome::kThrottled: {
      ev.throttles++;
      int shift = std::min(ev.throttles - 1, 20);
      int64_t delay =
          std::min<int64_t>(s->opt.throttle_base.count() << shift, s->opt.throttle_max.count());
      next = Next::kRetry;
      ev.next_attempt_ms = now + delay;
      break;
    }
  }
  if (next == Next::kRetry && ev.next_attempt_ms - ev.created_ms > s->opt.max_event_age.count()) {
    next = Next::kDrop;
    reason = "event age would exceed the maximum (" + r.detail + ")";
  }

  if (!s->is_closed()) {
    auto store = s->deps.store;
    Status st;
    if (next == Next::kRetry) {
      auto work = [store, ev] {
        return store->transaction([&](storage::Txn& txn) -> Status {
          NUBO_TRY(txn.exec(
              "UPDATE lambda_async_events SET attempts = ?, throttles = ?, next_attempt_ms = ? "
              "WHERE id = ?",
              {static_cast<int64_t>(ev.attempts), static_cast<int64_t>(ev.throttles),
               ev.next_attempt_ms, ev.id}));
          return Ok{};
        });
      };
      auto task = net::run_blocking(*s->deps.blocking, std::move(work));
      st = co_await std::move(task);
    } else {
      auto work = [store, id = ev.id] {
        return store->transaction([&](storage::Txn& txn) -> Status {
          NUBO_TRY(txn.exec("DELETE FROM lambda_async_events WHERE id = ?", {id}));
          return Ok{};
        });
      };
      auto task = net::run_blocking(*s->deps.blocking, std::move(work));
      st = co_await std::move(task);
    }
    if (!st.ok()) log_error("lambda async queue: store update failed: " + st.error().message);
  }
  if (next == Next::kDrop) {
    log_warn("lambda async invocation " + ev.id + " of " + ev.function_name +
             (ev.qualifier.empty() ? "" : ":" + ev.qualifier) + " dropped: " + reason);
    if (s->on_failure) s->on_failure(ev, reason);
  }
  {
    std::lock_guard lock(s->mu);
    s->inflight--;
    s->known.erase(ev.id);
    if (next == Next::kRetry && !s->closed) {
      ev.payload.clear();
      ev.trace.clear();
      s->remember(std::move(ev));
    }
  }
  s->cv.notify_all();
  s->wake();
}

net::Task<void> deliver_one(StatePtr s, Meta ev) {
  auto store = s->deps.store;
  auto read = [store, id = ev.id] {
    return store->query(
        "SELECT payload, client_context, trace FROM lambda_async_events WHERE id = ?", {id});
  };
  auto read_task = net::run_blocking(*s->deps.blocking, std::move(read));
  auto rows = co_await std::move(read_task);
  if (!rows.ok() || rows->empty()) {  // gone (deleted meanwhile) or unreadable: forget it
    if (!rows.ok()) log_error("lambda async queue: " + rows.error().message);
    {
      std::lock_guard lock(s->mu);
      s->inflight--;
      s->known.erase(ev.id);
      if (!rows.ok()) s->overflow = true;  // read it back later
    }
    s->cv.notify_all();
    s->wake();
    co_return;
  }
  ev.payload = (*rows)[0].text(0);
  ev.client_context = (*rows)[0].text(1);
  ev.trace = (*rows)[0].text(2);

  DeliveryResult r;
  if (s->now_ms() - ev.created_ms > s->opt.max_event_age.count()) {
    r = DeliveryResult{DeliveryOutcome::kDrop, "event older than the maximum event age"};
  } else {
    try {
      auto task = s->deliver(ev);
      r = co_await std::move(task);
    } catch (const std::exception& e) {
      r = DeliveryResult{DeliveryOutcome::kThrottled, std::string("delivery failed: ") + e.what()};
    }
  }
  auto done = finish(s, std::move(ev), std::move(r));
  co_await std::move(done);
}

net::Task<void> dispatch_loop(StatePtr s) {
  for (;;) {
    std::vector<Meta> batch;
    int64_t wait_ms = 1000;
    bool reload = false;
    {
      std::lock_guard lock(s->mu);
      if (s->stopping) break;
      const int64_t now = s->now_ms();
      while (s->inflight < s->opt.max_concurrency && !s->due.empty() &&
             s->due.begin()->first <= now) {
        batch.push_back(std::move(s->due.begin()->second));
        s->due.erase(s->due.begin());
        s->inflight++;
      }
      if (!s->due.empty() && s->inflight < s->opt.max_concurrency) {
        wait_ms = std::clamp<int64_t>(s->due.begin()->first - now, 1, 1000);
      }
      if (s->overflow && s->due.size() < s->opt.max_in_memory / 2) {
        reload = true;
        s->overflow = false;
      }
    }
    for (auto& ev : batch) {
      auto task = deliver_one(s, std::move(ev));
      asio::io_context* where = s->deps.io;
      if (!s->deps.workers.empty()) {
        where = s->deps.workers[s->next_worker++ % s->deps.workers.size()];
      }
      asio::co_spawn(where->get_executor(), std::move(task), asio::detached);
    }
    if (reload) {
      auto load = [s] { return s->load(); };
      auto task = net::run_blocking(*s->deps.blocking, std::move(load));
      auto st = co_await std::move(task);
      if (!st.ok()) log_error("lambda async queue: " + st.error().message);
      continue;
    }
    s->timer.expires_after(std::chrono::milliseconds(wait_ms));
    boost::system::error_code ec;
    co_await s->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  {
    std::lock_guard lock(s->mu);
    s->loop_done = true;
  }
  s->cv.notify_all();
}

}  // namespace

Status AsyncQueue::start() {
  NUBO_TRY(state_->deps.store->migrate("lambda-async", schema()));
  NUBO_TRY(state_->load());
  {
    std::lock_guard lock(state_->mu);
    if (state_->started) return Ok{};
    state_->started = true;
    state_->loop_done = false;
  }
  asio::co_spawn(state_->strand, dispatch_loop(state_), asio::detached);
  return Ok{};
}

net::Task<Status> AsyncQueue::enqueue(AsyncEvent ev) {
  StatePtr s = state_;
  if (ev.id.empty()) ev.id = new_uuid();
  if (ev.created_ms == 0) ev.created_ms = s->now_ms();
  if (ev.next_attempt_ms == 0) ev.next_attempt_ms = ev.created_ms;
  auto store = s->deps.store;
  auto insert = [store, &ev] {
    return store->transaction([&](storage::Txn& txn) -> Status {
      NUBO_TRY(txn.exec(
          "INSERT INTO lambda_async_events (id, function_name, qualifier, payload, "
          "client_context, attempts, throttles, created_ms, next_attempt_ms, trace) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {ev.id, ev.function_name, ev.qualifier, storage::Blob{ev.payload}, ev.client_context,
           static_cast<int64_t>(ev.attempts), static_cast<int64_t>(ev.throttles), ev.created_ms,
           ev.next_attempt_ms, ev.trace}));
      return Ok{};
    });
  };
  auto task = net::run_blocking(*s->deps.blocking, std::move(insert));
  Status st = co_await std::move(task);
  if (!st.ok()) co_return st;
  {
    std::lock_guard lock(s->mu);
    ev.payload.clear();
    s->remember(std::move(ev));
  }
  s->wake();
  co_return Ok{};
}

void AsyncQueue::stop() {
  StatePtr s = state_;
  {
    std::lock_guard lock(s->mu);
    if (s->closed) return;
    s->stopping = true;
  }
  s->wake();
  {
    std::unique_lock lock(s->mu);
    s->cv.wait_for(lock, s->opt.stop_grace, [&] { return s->loop_done && s->inflight == 0; });
    s->closed = true;
  }
}

}  // namespace nubo::lambda

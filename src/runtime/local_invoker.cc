#include "runtime/local_invoker.h"

#include <malloc.h>

#include <signal.h>

#include <algorithm>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <unordered_map>

#include "base/cpu_affinity.h"
#include "base/ids.h"
#include "base/log.h"
#include "base/strings.h"
#include "runtime/file_log_sink.h"
#include "runtime/instance.h"
#include "runtime/lambda_messages.h"
#include "runtime/limits.h"
#include "runtime/pool.h"
#include "runtime/process_sandbox.h"
#include "runtime/spare_pool.h"
#include "runtime/templates.h"

namespace nubo::runtime {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

namespace {

// Lambda's throttling error; the Lambda layer renders the reason as its "Reason" (invoker.h).
Error throttled(const char* reason) {
  Error e{"TooManyRequestsException", 429, "Rate Exceeded."};
  e.reason = reason;
  return e;
}

Error shutting_down() {
  return Error{"ServiceException", 500, "The node is shutting down."};
}

}  // namespace

struct LocalInvoker::Core : std::enable_shared_from_this<LocalInvoker::Core> {
  explicit Core(LocalInvokerDeps d)
      : deps(std::move(d)),
        launcher(std::make_unique<asio::thread_pool>(1)),
        limiter(deps.config->account_concurrency),
        reaper(*deps.io) {
    if (!deps.logs) {
      FileLogSinkOptions o;
      o.logs_dir = deps.config->data_dir + "/logs";
      owned_logs = make_file_log_sink(std::move(o));
      deps.logs = owned_logs.get();
    }
    if (!deps.sandbox) {
      owned_sandbox = make_process_sandbox();
      deps.sandbox = owned_sandbox.get();
    }
    runtimes = resolve_runtime_settings(*deps.config);
    if (deps.config->spare_instances > 0) {
      SparePool::Options o;
      o.max_spares = static_cast<size_t>(deps.config->spare_instances);
      o.idle_timeout = std::chrono::nanoseconds(deps.config->instance_idle_timeout);
      spares = std::make_unique<SparePool>(deps.sandbox, o);
    }
    idle_timeout = deps.idle_timeout ? std::chrono::nanoseconds(*deps.idle_timeout)
                                     : std::chrono::nanoseconds(deps.config->instance_idle_timeout);
  }

  // Called once, after construction (needs shared_from_this).
  void start() {
    std::weak_ptr<Core> weak = shared_from_this();
    instance_deps.io = deps.io;
    instance_deps.launcher = launcher.get();
    instance_deps.sandbox = deps.sandbox;
    instance_deps.spares = spares.get();
    instance_deps.logs = deps.logs;
    instance_deps.clock = deps.clock;
    instance_deps.config = deps.config;
    instance_deps.runtimes = &runtimes;
    instance_deps.credentials = deps.credentials;
    instance_deps.serve_api_on = deps.serve_api_on;
    if (deps.cpu_of) {
      instance_deps.any_cpu = allowed_cpus();  // the node's: built before the io threads run
      instance_deps.cpu = deps.cpu_of(deps.io);
    }
    instance_deps.adopt = [weak](const std::shared_ptr<Instance>& inst) {
      auto core = weak.lock();
      if (!core) return false;
      std::lock_guard lock(core->mu);
      if (core->stopping) return false;
      core->instances[inst.get()] = inst;
      return true;
    };
    instance_deps.defer = [weak](std::function<void()> work) {
      auto core = weak.lock();
      if (!core) return work();
      // Once the invoker has joined the disposer, in place (a post then would never run).
      std::lock_guard lock(core->disposer_mu);
      if (core->disposer_joined) return work();
      asio::post(*core->disposer, std::move(work));
    };
    instance_deps.on_reaped = [weak](Instance* inst) {
      auto core = weak.lock();
      if (!core) return;
      std::shared_ptr<Instance> last;  // released outside the lock
      std::lock_guard lock(core->mu);
      auto it = core->instances.find(inst);
      if (it == core->instances.end()) return;
      last = std::move(it->second);
      core->instances.erase(it);
      if (core->instances.empty()) {
        // Scaled to zero: hand what a burst of instances allocated back to the system (glibc
        // keeps freed memory in its per-thread arenas otherwise: a burst of 1,000 left the node
        // at 41 MB instead of 12). A few ms at most; on the launcher thread, never an io thread.
        asio::post(*core->launcher, [] { malloc_trim(0); });
      }
    };
    // Templates are instances too (adopted, reaped, stopped with the rest), made with these
    // deps; instances then restore from them.
    templates = std::make_unique<Templates>(
        instance_deps, [weak]() -> std::shared_ptr<void> { return weak.lock(); });
    instance_deps.templates = templates.get();
    std::lock_guard lock(mu);
    arm_reaper_locked();
  }

  // REQUIRES: mu held.
  void arm_reaper_locked() {
    auto period = std::clamp<std::chrono::nanoseconds>(
        idle_timeout / 4, std::chrono::milliseconds(10), std::chrono::seconds(1));
    reaper.expires_after(period);
    std::weak_ptr<Core> weak = shared_from_this();
    reaper.async_wait([weak](const boost::system::error_code& ec) {
      if (ec) return;
      auto core = weak.lock();
      if (!core) return;
      auto expired = core->pool.take_expired(SteadyClock::now(), core->idle_timeout);
      stop_all(expired);
      core->maintain_provisioned();
      if (core->spares) {
        // Killing reaps (blocking briefly): on the launcher thread, which outlives the pool's
        // users (the invoker joins it before the pool is destroyed).
        asio::post(*core->launcher,
                   [spares = core->spares.get()] { spares->expire(SteadyClock::now()); });
      }
      std::lock_guard lock(core->mu);
      if (!core->stopping) core->arm_reaper_locked();
    });
  }

  static void stop_all(std::vector<Pool::Member>& members) {
    for (auto& m : members) std::static_pointer_cast<Instance>(m)->retire();
    members.clear();
  }

  // The invocation of a function whose program cannot run at all (no bootstrap): an init error,
  // logged in a stream of its own as Lambda logs it.
  InvokeResult entrypoint_failure(const FunctionSpec& spec, const InvokeRequest& req,
                                  const Error& e) {
    InvokeResult res;
    res.outcome = InvokeResult::Outcome::kInitError;
    res.function_error = "Unhandled";
    res.cold_start = true;
    res.executed_version = spec.version;
    std::string msg = request_error_message(req.request_id, e.message);
    res.payload = error_payload(e.code, msg);
    res.duration_ms = 0;
    res.init_duration_ms = 0.0;
    res.billed_duration_ms = 0;
    ReportFields report;
    report.request_id = req.request_id;
    report.memory_size_mb = spec.memory_mb;
    report.init_duration_ms = 0.0;
    std::string stream = make_log_stream_name(deps.clock->now(), spec.version);
    SystemTime ts = deps.clock->now();
    std::string tail;
    for (const std::string& line : {start_line(req.request_id, spec.version), msg, e.code,
                                    end_line(req.request_id), report_line(report)}) {
      deps.logs->append(spec.log_group, stream, ts, line);
      tail += line;
      tail += '\n';
    }
    if (req.want_log_tail) res.log_tail = std::move(tail);
    return res;
  }

  // ---- Provisioned concurrency (Invoker::set_provisioned_concurrency) ----

  struct ProvisionedVersion {
    FunctionSpec spec;
    int target = 0;
    int starting = 0;  // provision_one() coroutines of this generation still running
    // Unique across the invoker's life (next_generation): a new one whenever the entry is made
    // or its spec changes, so a coroutine of an older one (even of an erased entry with the same
    // key) never counts here and drops its instance.
    uint64_t generation = 0;
    std::vector<std::shared_ptr<Instance>> members;  // initialised and pinned
    std::string failure;
    SteadyClock::time_point retry_at{};
  };

  // REQUIRES: prov_mu held. Forgets dead members; unpins those over the target and appends
  // them to *released (release() stops the idle ones).
  static void prune_locked(ProvisionedVersion& v,
                           std::vector<std::shared_ptr<Instance>>* released) {
    // A stale one (credentials about to expire) is forgotten too: the pool retires it, and a
    // fresh one is started in its place.
    std::erase_if(v.members, [](const std::shared_ptr<Instance>& i) { return !i->usable(); });
    while (static_cast<int>(v.members.size()) > v.target) {
      v.members.back()->set_pinned(false);
      released->push_back(std::move(v.members.back()));
      v.members.pop_back();
    }
  }

  // Provisioned instances no longer wanted: the idle ones stop now, as Lambda frees them; one
  // that is serving an invocation goes back to the pool unpinned and ages out. Not under prov_mu.
  void release(std::vector<std::shared_ptr<Instance>>& released) {
    std::vector<Pool::Member> idle;
    for (auto& inst : released) {
      if (auto m = pool.take_member(inst->spec().qualified_arn, inst.get())) {
        idle.push_back(std::move(m));
      }
    }
    released.clear();
    stop_all(idle);
  }

  // REQUIRES: prov_mu held. Starts what the target still misses.
  void top_up_locked(const std::string& key, ProvisionedVersion& v,
                     std::vector<std::shared_ptr<Instance>>* released) {
    prune_locked(v, released);
    if (stopping_flag.load(std::memory_order_acquire)) return;
    int need = v.target - static_cast<int>(v.members.size()) - v.starting;
    for (int i = 0; i < need; ++i) {
      ++v.starting;
      asio::co_spawn(*instance_deps.io,
                     provision_one(shared_from_this(), key, v.spec, v.generation), asio::detached);
    }
  }

  void maintain_provisioned() {
    std::vector<std::shared_ptr<Instance>> released;
    {
      std::lock_guard lock(prov_mu);
      auto now = SteadyClock::now();
      for (auto& [key, v] : provisioned) {
        if (now >= v.retry_at) top_up_locked(key, v, &released);
      }
    }
    release(released);
  }

  // Starts and initialises one provisioned instance of spec, then hands it to the pool if its
  // version still wants it. Detached: holds the core alive until it ends.
  static asio::awaitable<void> provision_one(std::shared_ptr<Core> core, std::string key,
                                             FunctionSpec spec, uint64_t generation) {
    InstanceDeps deps = core->instance_deps;
    deps.provisioned = true;
    auto starting = Instance::start(std::move(deps), std::make_shared<const FunctionSpec>(spec));
    auto started = co_await std::move(starting);
    std::shared_ptr<Instance> inst;
    std::string failure;
    if (started.ok()) {
      inst = std::move(started).value();
      auto initializing = inst->initialize();
      if (!co_await std::move(initializing)) {
        failure = "FUNCTION_ERROR_INIT_FAILED";
        inst.reset();
      }
    } else {
      failure = started.error().message;
    }
    std::vector<Pool::Member> retired;
    std::vector<std::shared_ptr<Instance>> released;
    {
      std::lock_guard lock(core->prov_mu);
      auto it = core->provisioned.find(key);
      bool current = it != core->provisioned.end() && it->second.generation == generation;
      if (current) {
        ProvisionedVersion& v = it->second;
        --v.starting;
        prune_locked(v, &released);
        if (!inst) {
          v.failure = failure;
          v.retry_at = SteadyClock::now() + kProvisionedRetry;
        } else if (static_cast<int>(v.members.size()) < v.target &&
                   !core->stopping_flag.load(std::memory_order_acquire)) {
          v.failure.clear();  // a retry that succeeded
          v.members.push_back(inst);
          core->pool.add_idle(key, spec.revision_id, inst, SteadyClock::now(), &retired);
          inst.reset();
        }
      }
    }
    if (inst) retired.push_back(std::move(inst));  // no longer wanted
    stop_all(retired);
    core->release(released);
  }

  mutable std::mutex prov_mu;
  uint64_t next_generation = 0;                           // GUARDED_BY(prov_mu)
  std::map<std::string, ProvisionedVersion> provisioned;  // GUARDED_BY(prov_mu): by qualified ARN

  LocalInvokerDeps deps;
  std::unique_ptr<LogSink> owned_logs;
  std::unique_ptr<Sandbox> owned_sandbox;
  RuntimeSettings runtimes;
  // Declared before the launcher: destroyed after it is joined (launches use the pool).
  std::unique_ptr<SparePool> spares;
  std::unique_ptr<Templates> templates;         // SnapStart snapshots; made by start()
  std::unique_ptr<asio::thread_pool> launcher;  // one thread: the parent of every instance
  // InstanceDeps::defer's thread; joined by stop() once every instance is reaped.
  std::unique_ptr<asio::thread_pool> disposer = std::make_unique<asio::thread_pool>(1);
  std::mutex disposer_mu;
  bool disposer_joined = false;  // GUARDED_BY(disposer_mu)
  InstanceDeps instance_deps;    // immutable after start()
  Pool pool;
  ConcurrencyLimiter limiter;     // the unreserved pool: the account limit minus the reservations
  std::atomic<int> in_flight{0};  // every invocation, reserved or not (shutdown waits for 0)

  // Reserved concurrency per function ARN (set_reserved_concurrency). An invocation holds its
  // function's limiter (shared_ptr) until it ends, so a change never loses a release.
  std::shared_ptr<ConcurrencyLimiter> reserved_for(const std::string& function_arn) {
    std::lock_guard lock(reserved_mu);
    auto it = reserved.find(function_arn);
    return it == reserved.end() ? nullptr : it->second;
  }
  std::mutex reserved_mu;
  std::unordered_map<std::string, std::shared_ptr<ConcurrencyLimiter>> reserved;  // GUARDED_BY
  int reserved_total = 0;  // GUARDED_BY(reserved_mu)
  std::chrono::nanoseconds idle_timeout{};
  std::atomic<bool> stopping_flag{false};  // fast check on the invoke path

  mutable std::mutex mu;
  std::condition_variable cv;  // an invocation ended while stopping
  bool stopping = false;       // GUARDED_BY(mu)
  bool shut_down = false;      // GUARDED_BY(mu)
  // Every instance whose process has not been reaped yet.
  std::unordered_map<Instance*, std::shared_ptr<Instance>> instances;  // GUARDED_BY(mu)
  asio::steady_timer reaper;                                           // GUARDED_BY(mu)
};

namespace {

// Holds one concurrency slot for the life of an invocation: of the function's reservation if it
// has one, else of the unreserved pool.
class Slot {
 public:
  Slot(LocalInvoker::Core* core, std::shared_ptr<ConcurrencyLimiter> reserved)
      : core_(core), reserved_(std::move(reserved)) {
    core_->in_flight.fetch_add(1, std::memory_order_acq_rel);
  }
  ~Slot();
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;

 private:
  LocalInvoker::Core* core_;
  std::shared_ptr<ConcurrencyLimiter> reserved_;
};

}  // namespace

Slot::~Slot() {
  if (reserved_) {
    reserved_->release();
  } else {
    core_->limiter.release();
  }
  core_->in_flight.fetch_sub(1, std::memory_order_acq_rel);
  if (core_->stopping_flag.load(std::memory_order_acquire)) {
    std::lock_guard lock(core_->mu);
    core_->cv.notify_all();
  }
}

LocalInvoker::LocalInvoker(LocalInvokerDeps deps) : core_(std::make_shared<Core>(std::move(deps))) {
  core_->start();
}

LocalInvoker::~LocalInvoker() {
  shutdown(std::chrono::milliseconds(0));
  // Joining the launcher ends the parent thread of the instances: anything somehow left gets
  // SIGKILL from PR_SET_PDEATHSIG.
  core_->launcher->join();
}

net::Task<Result<InvokeResult>> LocalInvoker::invoke(FunctionSpec spec, InvokeRequest request) {
  std::shared_ptr<Core> core = core_;
  if (core->stopping_flag.load(std::memory_order_acquire)) co_return shutting_down();
  std::shared_ptr<ConcurrencyLimiter> reserved = core->reserved_for(spec.function_arn);
  if (reserved) {
    if (!reserved->try_acquire()) co_return throttled(kThrottleReasonReserved);
  } else if (!core->limiter.try_acquire()) {
    co_return throttled(kThrottleReasonAccountLimit);
  }
  Slot slot(core.get(), std::move(reserved));
  if (request.request_id.empty()) request.request_id = new_uuid();
  // The io_context this invocation runs on (the caller's connection's): a new instance's Runtime
  // API endpoint goes there, and a warm instance from there is preferred, so that the whole
  // invoke stays on one thread (net/io_shards.h).
  asio::io_context* home = core->instance_deps.io;
  {
    auto ex = co_await asio::this_coro::executor;
    if (auto* here = ex.target<asio::io_context::executor_type>()) home = &here->context();
  }
  std::vector<Pool::Member> retired;
  for (int attempt = 0;; ++attempt) {
    auto inst = std::static_pointer_cast<Instance>(
        core->pool.take_idle(spec.qualified_arn, spec.revision_id, &retired, home));
    Core::stop_all(retired);
    bool cold = !inst;
    if (cold) {
      if (core->stopping_flag.load(std::memory_order_acquire)) co_return shutting_down();
      // GCC 12 destroys by-value arguments twice when the call is in the co_await expression:
      // build the awaitable first, then await it.
      InstanceDeps deps = core->instance_deps;
      deps.io = home;
      if (core->deps.cpu_of) deps.cpu = core->deps.cpu_of(home);
      auto starting = Instance::start(std::move(deps), std::make_shared<const FunctionSpec>(spec));
      auto started = co_await std::move(starting);
      if (!started.ok()) {
        const Error& e = started.error();
        if (starts_with(e.code, "Runtime.")) co_return core->entrypoint_failure(spec, request, e);
        co_return e;
      }
      inst = std::move(started).value();
    }
    auto invoking = inst->invoke(std::move(request), cold);  // see above
    InvokeAttempt at = co_await std::move(invoking);
    if (at.not_started) {
      // The warm instance died between invocations; nothing ran. Try another.
      if (attempt >= 2) co_return internal_error("no instance could run the invocation");
      request = std::move(*at.request);
      continue;
    }
    if (inst->alive()) {
      core->pool.put_idle(spec.qualified_arn, spec.revision_id, std::move(inst), SteadyClock::now(),
                          &retired);
      Core::stop_all(retired);
    }
    co_return std::move(at.result);
  }
}

void LocalInvoker::set_reserved_concurrency(const std::string& function_arn,
                                            std::optional<int> limit) {
  Core& c = *core_;
  std::lock_guard lock(c.reserved_mu);
  auto it = c.reserved.find(function_arn);
  int old = it == c.reserved.end() ? 0 : it->second->limit();
  if (limit) {
    if (it == c.reserved.end()) {
      c.reserved.emplace(function_arn, std::make_shared<ConcurrencyLimiter>(*limit));
    } else {
      it->second->set_limit(*limit);  // invocations in flight keep their slots
    }
  } else if (it != c.reserved.end()) {
    c.reserved.erase(it);  // those in flight release into the limiter they hold
  }
  c.reserved_total += (limit ? *limit : 0) - old;
  c.limiter.set_limit(std::max(0, c.deps.config->account_concurrency - c.reserved_total));
}

void LocalInvoker::set_provisioned_concurrency(const std::string& function_arn,
                                               std::vector<ProvisionedTarget> targets) {
  Core& c = *core_;
  std::vector<std::shared_ptr<Instance>> released;
  std::unique_lock lock(c.prov_mu);
  const std::string prefix = function_arn + ":";
  for (auto it = c.provisioned.begin(); it != c.provisioned.end();) {
    bool ours = it->first.compare(0, prefix.size(), prefix) == 0;
    bool kept = std::any_of(targets.begin(), targets.end(), [&](const ProvisionedTarget& t) {
      return t.spec.qualified_arn == it->first && t.count > 0;
    });
    if (ours && !kept) {
      for (auto& inst : it->second.members) {
        inst->set_pinned(false);
        released.push_back(inst);
      }
      it = c.provisioned.erase(it);  // its coroutines find no entry and drop their instances
    } else {
      ++it;
    }
  }
  for (ProvisionedTarget& t : targets) {
    if (t.count <= 0) continue;
    std::string key = t.spec.qualified_arn;
    Core::ProvisionedVersion& v = c.provisioned[key];
    if (v.spec.revision_id != t.spec.revision_id || v.spec.qualified_arn != key) {
      for (auto& inst : v.members) {
        inst->set_pinned(false);
        released.push_back(inst);
      }
      v.members.clear();
      v.starting = 0;
      v.generation = ++c.next_generation;
      v.spec = std::move(t.spec);
    }
    if (v.target != t.count) v.failure.clear();
    v.target = t.count;
    v.retry_at = {};
    c.top_up_locked(key, v, &released);
  }
  lock.unlock();
  c.release(released);
}

Invoker::ProvisionedStatus LocalInvoker::provisioned_status(
    const std::string& qualified_arn) const {
  Core& c = *core_;
  std::lock_guard lock(c.prov_mu);
  ProvisionedStatus out;
  auto it = c.provisioned.find(qualified_arn);
  if (it == c.provisioned.end()) return out;
  for (const auto& inst : it->second.members) out.ready += inst->usable() ? 1 : 0;
  out.failure = it->second.failure;
  return out;
}

void LocalInvoker::retire_function(const std::string& function_arn) {
  auto idle = core_->pool.take_function(function_arn);
  Core::stop_all(idle);
  core_->templates->drop_function(function_arn);
}

void LocalInvoker::retire_version(const std::string& qualified_arn) {
  auto idle = core_->pool.take_version(qualified_arn);
  Core::stop_all(idle);
  core_->templates->drop_version(qualified_arn);
}

void LocalInvoker::prepare_snapshot(const FunctionSpec& spec) {
  if (spec.snap_start && core_->deps.sandbox->zygotes_on()) core_->templates->prepare(spec);
}

void LocalInvoker::shutdown(std::chrono::milliseconds grace) {
  Core& c = *core_;
  {
    std::unique_lock lock(c.mu);
    if (c.shut_down) return;
    c.shut_down = true;
    c.stopping = true;
    c.stopping_flag.store(true, std::memory_order_release);
    c.reaper.cancel();
    c.cv.wait_for(lock, grace, [&] { return c.in_flight.load() == 0; });
  }
  // A launch in progress finishes (and is adopted, or refused) before the snapshot below.
  {
    std::promise<void> done;
    asio::post(*c.launcher, [&done] { done.set_value(); });
    done.get_future().wait();
  }
  if (c.spares) c.spares->clear();
  c.templates->clear();
  {
    std::lock_guard lock(c.prov_mu);
    c.provisioned.clear();
  }
  auto idle = c.pool.take_all();
  idle.clear();
  std::vector<std::shared_ptr<Instance>> all;
  {
    std::lock_guard lock(c.mu);
    for (auto& [ptr, inst] : c.instances) all.push_back(inst);
  }
  for (auto& inst : all) inst->stop(SIGTERM);
  auto deadline = SteadyClock::now() + kTerminateGrace;
  for (auto& inst : all) inst->wait_reaped(deadline);
  for (auto& inst : all) inst->stop(SIGKILL);
  deadline = SteadyClock::now() + std::chrono::seconds(5);
  for (auto& inst : all) {
    if (!inst->wait_reaped(deadline)) {
      log_warn("runtime: instance " + std::to_string(inst->pid()) + " did not exit after SIGKILL");
    }
  }
  // Processes whose destruction was deferred before the stop: gone before the sandbox is.
  {
    std::lock_guard lock(c.disposer_mu);
    c.disposer_joined = true;
  }
  c.disposer->join();
  c.deps.logs->flush();
}

std::vector<pid_t> LocalInvoker::instance_pids() const {
  std::lock_guard lock(core_->mu);
  std::vector<pid_t> out;
  for (const auto& [ptr, inst] : core_->instances) out.push_back(inst->pid());
  return out;
}

size_t LocalInvoker::idle_instances() const {
  return core_->pool.idle_count();
}

int LocalInvoker::invocations_in_flight() const {
  return core_->in_flight.load();
}

std::unique_ptr<LocalInvoker> make_local_invoker(LocalInvokerDeps deps) {
  return std::make_unique<LocalInvoker>(std::move(deps));
}

}  // namespace nubo::runtime

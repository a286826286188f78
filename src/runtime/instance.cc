#include "runtime/instance.h"

// GCC 12 reports a false -Wmismatched-new-delete on the frames of some Asio coroutines (the
// frame's operator new/delete pair is Asio's own); see GCC bug 109224.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <random>

#include "base/crypto.h"
#include "base/log.h"
#include "billing/meter.h"
#include "net/async.h"
#include "runtime/lambda_messages.h"
#include "runtime/limits.h"
#include "runtime/runtime_api.h"
#include "runtime/spare_pool.h"
#include "runtime/templates.h"
#include "runtime/zygote_protocol.h"

namespace nubo::runtime {

namespace asio = boost::asio;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr std::chrono::milliseconds kPeakMemoryRefresh{100};
// A line longer than this is logged in pieces (CloudWatch's event limit is 256 KB).
constexpr size_t kMaxLineBytes = 256 * 1024;

double ms_between(SteadyClock::time_point a, SteadyClock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// "Root=1-<8 hex epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0", as Lambda makes one when
// the caller sent no X-Amzn-Trace-Id. Trace ids are not secrets: a per-thread generator.
std::string make_trace_id(SystemTime now) {
  thread_local std::mt19937_64 rng([] {
    std::string seed = random_bytes(8);
    uint64_t s = 0;
    for (char c : seed) s = (s << 8) | static_cast<unsigned char>(c);
    return s;
  }());
  static constexpr char kHex[] = "0123456789abcdef";
  auto put_hex = [](std::string& out, uint64_t v, int digits) {
    for (int i = digits - 1; i >= 0; --i) out += kHex[(v >> (4 * i)) & 0xf];
  };
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  std::string id;
  id.reserve(80);
  id += "Root=1-";
  put_hex(id, static_cast<uint64_t>(secs), 8);
  id += '-';
  put_hex(id, rng(), 16);
  put_hex(id, rng(), 8);
  id += ";Parent=";
  put_hex(id, rng(), 16);
  id += ";Sampled=0";
  return id;
}

// InvokeRequest::client_context is base64 JSON; the runtime gets the JSON text.
std::string decode_client_context(const std::string& b64) {
  if (b64.empty()) return {};
  auto decoded = base64_decode(b64);
  return decoded ? std::move(*decoded) : b64;
}

}  // namespace

struct Instance::Impl {
  Impl(InstanceDeps d) : deps(std::move(d)), output(*deps.io), exit(*deps.io) {}

  InstanceDeps deps;
  // Set on the launcher thread before start() completes; immutable afterwards.
  std::shared_ptr<SandboxProcess> process;  // shared with deferred kills (retire())
  SteadyClock::time_point launched_at{};
  std::shared_ptr<RuntimeApi> api;
  // Stops the node's API listener in the instance's network (InstanceDeps::serve_api_on).
  std::function<void()> stop_serving_api;
  // Run once, when the runtime takes its first event (its init is done): starts the next spare.
  std::function<void()> after_init;  // GUARDED_BY(mu) once start() completed
  // SnapStart: restored from this template (kept: the template's namespaces are this
  // instance's); or, for a template, the node's end of its control socket. Set at launch.
  bool restored = false;
  uint16_t restored_port = 0;  // its Runtime API's, in the template's network
  std::shared_ptr<Templates::Lease> template_of_this;
  int template_control = -1;
  asio::posix::stream_descriptor output;  // stdout+stderr; used by the reader chain only
  asio::posix::stream_descriptor exit;    // a dup of the pidfd; used by the exit watcher only
  std::atomic<bool> stopped{false};
  std::atomic<bool> dead{false};
  // The instance's credentials expire then (unix seconds, 0: never); set once by launch().
  std::atomic<int64_t> credentials_expire{0};
  std::atomic<bool> pinned{false};
  const std::shared_ptr<net::OneShot<ExitStatus>> exited = net::OneShot<ExitStatus>::make();

  std::mutex mu;        // the log stream's order, the capture and the exit status
  bool reaped = false;  // GUARDED_BY(mu)
  bool eof = false;     // GUARDED_BY(mu)
  std::unique_ptr<char[]> buf{new char[kReadChunk]};  // GUARDED_BY(mu)
  std::string partial;                     // GUARDED_BY(mu): output after the last newline
  bool capture = true;                     // GUARDED_BY(mu): collect lines into tail
  std::string tail;                        // GUARDED_BY(mu)
  bool started = false;                    // GUARDED_BY(mu): START logged for this invocation
  bool delivered_once = false;             // GUARDED_BY(mu)
  int64_t peak_kb = 0;                     // GUARDED_BY(mu): last peak memory read
  SteadyClock::time_point peak_read_at{};  // GUARDED_BY(mu)

  // REQUIRES: mu held.
  void emit_locked(const FunctionSpec& spec, const std::string& stream, SystemTime ts,
                   std::string_view line) {
    deps.logs->append(spec.log_group, stream, ts, line);
    if (capture) {
      tail.append(line);
      tail += '\n';
      if (tail.size() > 4 * kLogTailBytes) tail.erase(0, tail.size() - kLogTailBytes);
    }
  }

  // REQUIRES: mu held. Splits output into lines and logs the complete ones.
  void consume_locked(const FunctionSpec& spec, const std::string& stream, const char* data,
                      size_t n) {
    SystemTime ts = deps.clock->now();
    std::string_view rest(data, n);
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      if (nl == std::string_view::npos) {
        partial.append(rest);
        if (partial.size() >= kMaxLineBytes) {
          emit_locked(spec, stream, ts, partial);
          partial.clear();
        }
        return;
      }
      if (partial.empty()) {
        emit_locked(spec, stream, ts, rest.substr(0, nl));
      } else {
        partial.append(rest.substr(0, nl));
        emit_locked(spec, stream, ts, partial);
        partial.clear();
      }
      rest.remove_prefix(nl + 1);
    }
  }

  // REQUIRES: mu held. Reads what the pipe holds now, without blocking. Returns true at EOF.
  bool drain_locked(const FunctionSpec& spec, const std::string& stream) {
    if (eof) return true;
    int fd = output.is_open() ? output.native_handle() : -1;
    if (fd < 0) return false;
    for (;;) {
      ssize_t n = ::read(fd, buf.get(), kReadChunk);
      if (n > 0) {
        consume_locked(spec, stream, buf.get(), static_cast<size_t>(n));
        if (static_cast<size_t>(n) < kReadChunk) return false;  // the pipe is empty now
        continue;
      }
      if (n == 0) {
        eof = true;
        flush_partial_locked(spec, stream);
        return true;
      }
      if (errno == EINTR) continue;
      return false;  // EAGAIN: nothing more for now
    }
  }

  // REQUIRES: mu held.
  void flush_partial_locked(const FunctionSpec& spec, const std::string& stream) {
    if (partial.empty()) return;
    emit_locked(spec, stream, deps.clock->now(), partial);
    partial.clear();
  }
};

Instance::Instance(Private, InstanceDeps deps, std::shared_ptr<const FunctionSpec> spec)
    : impl_(std::make_unique<Impl>(std::move(deps))), spec_(std::move(spec)) {
  log_stream_ = make_log_stream_name(impl_->deps.clock->now(), spec_->version);
}

Instance::~Instance() {
  if (impl_->template_control >= 0) ::close(impl_->template_control);
  if (impl_->api) impl_->api->close();
  if (impl_->stop_serving_api) impl_->stop_serving_api();
  boost::system::error_code ignored;
  impl_->output.close(ignored);
  impl_->exit.close(ignored);
  // impl_->process, if never reaped, kills and reaps in its destructor.
  if (impl_->process && impl_->deps.defer) {
    impl_->deps.defer([process = std::move(impl_->process)]() mutable { process.reset(); });
  }
}

net::Task<Result<std::shared_ptr<Instance>>> Instance::start(
    InstanceDeps deps, std::shared_ptr<const FunctionSpec> spec) {
  auto inst = std::make_shared<Instance>(Private{}, std::move(deps), std::move(spec));
  Impl& m = *inst->impl_;
  m.pinned = m.deps.provisioned;
  std::weak_ptr<Instance> weak = inst;
  m.api = RuntimeApi::make(*m.deps.io, m.deps.clock, [weak](const RuntimeApi::Event& ev) {
    if (auto i = weak.lock()) i->on_deliver(ev.request_id);
  });
  // An isolated instance's Runtime API listens in its own network, made by the launch.
  uint16_t api_port = 0;
  if (!m.deps.sandbox->view()) {
    auto port = m.api->listen();
    if (!port.ok()) co_return port.error();
    api_port = port.value();
  }
  // GCC 12 destroys a capturing lambda (or a by-value argument) twice when it is created in the
  // same expression as a co_await: build the awaitable first, then await it.
  auto launch_fn = [inst, api_port]() -> Status { return inst->launch(api_port); };
  auto launching = net::run_blocking(*m.deps.launcher, std::move(launch_fn));
  Status launched = co_await std::move(launching);
  if (!launched.ok()) {
    m.stopped = true;
    m.dead = true;
    m.api->close();
    co_return launched.error();
  }
  inst->watch();
  co_return inst;
}

Status Instance::launch(uint16_t api_port) {
  Impl& m = *impl_;
  const FunctionSpec& spec = *spec_;
  RuntimeSettings settings = *m.deps.runtimes;
  settings.runtimes_dir = m.deps.config->runtimes_dir;
  const SandboxView* view = m.deps.sandbox->view();
  NUBO_ASSIGN_OR_RETURN(LaunchCommand cmd, launch_command(spec, settings, view));
  // In its own network the instance reaches nubo on its loopback, at the node's port.
  const uint16_t node_port = m.deps.config->port;
  InstanceCredentials credentials;
  if (m.deps.credentials) {
    credentials = m.deps.credentials(spec);
    m.credentials_expire = credentials.expires_epoch;
  } else {
    credentials.access_key_id = m.deps.config->root_access_key_id;
    credentials.secret_access_key = m.deps.config->root_secret_access_key;
  }
  auto family = runtime_family(spec.runtime);
  const bool provided = family && *family == RuntimeFamily::kProvided;
  // What the process is started with. restored_port: restored from a SnapStart template, with
  // its Runtime API on that port of the template's network (nubo's API: the template's
  // listener); 0: started.
  auto launch_spec = [&](uint16_t restored_port) {
    InstanceEnvironment ie;
    ie.runtime_api_port =
        restored_port ? restored_port : (view ? view->runtime_api_port : api_port);
    if (view) ie.endpoint_url = "http://127.0.0.1:" + std::to_string(node_port);
    ie.log_stream = log_stream_;
    ie.provisioned = m.deps.provisioned;
    ie.snap_start = m.deps.template_role || restored_port != 0;
    ie.credentials = credentials;
    LaunchSpec ls;
    ls.executable = cmd.executable;
    ls.argv = cmd.argv;
    ls.env = build_environment(spec, *m.deps.config, cmd, ie);
    ls.cwd = cmd.task_root;
    if (view) ls.listen_ports = {view->runtime_api_port, node_port};
    if (restored_port) ls.listen_ports = {restored_port};
    ls.max_open_files = kMaxOpenFiles;
    ls.code_dir = spec.code_dir;
    ls.layer_dirs = spec.layer_dirs;
    ls.egress = spec.egress;
    ls.memory_mb = spec.memory_mb;
    ls.ephemeral_storage_mb = spec.ephemeral_storage_mb;
    // Python forks from a zygote (runtimes/README.md "Zygotes") unless the function's own
    // variables change how an interpreter starts (PYTHONPATH, LD_LIBRARY_PATH, LANG, ...): the
    // zygote starts with the node's start-up environment only. A SnapStart template must.
    if (family && *family == RuntimeFamily::kPython) {
      ls.zygote =
          std::none_of(spec.environment.begin(), spec.environment.end(),
                       [](const auto& kv) { return SparePool::startup_variable(kv.first); });
    }
    if (ls.zygote) ls.zygote_group = spec.function_arn;  // never another function's zygote
    ls.require_zygote = m.deps.template_role;
    ls.keep_network = m.deps.template_role;  // its restored instances get listeners there
    return ls;
  };

  // SnapStart (templates.h): a cold start of such a version restores from its template once
  // that is ready (until then it initialises as usual, and the template is being made). A
  // restore that fails starts the instance as usual.
  if (spec.snap_start && view && m.deps.templates && !m.deps.template_role) {
    if (std::optional<Templates::Ready> from = m.deps.templates->ready(spec)) {
      uint16_t port = m.deps.templates->next_port(spec, node_port);
      LaunchSpec ls = launch_spec(port);
      m.launched_at = SteadyClock::now();
      bool gone = false;
      auto restored = m.deps.sandbox->restore(*from->lease->instance->template_process(),
                                              from->control, ls, &gone);
      if (restored.ok()) {
        m.process = std::move(restored).value();
        m.restored = true;
        m.restored_port = port;
        m.template_of_this = from->lease;
        // It runs with the snapshot's environment, so with the snapshot's credentials.
        m.credentials_expire = from->lease->instance->impl_->credentials_expire.load();
      } else {
        if (gone) m.deps.templates->forget(spec);
        log_warn("snapstart: a restore of " + spec.qualified_arn +
                 " failed; the instance initialises instead: " + restored.error().message);
      }
    }
  }
  LaunchSpec ls = m.process ? LaunchSpec() : launch_spec(0);  // restored: nothing to start
  if (m.deps.template_role && !(view && ls.zygote && m.deps.sandbox->zygotes_on())) {
    return internal_error(
        "SnapStart needs isolated instances forked from a zygote (the node runs as root with "
        "--zygotes on, and the function sets no start-up variable such as PYTHONPATH)");
  }
  // A process started ahead (spare_pool.h) when one matches: an interpreter, or for provided
  // functions nubo-spare-exec, which execs the bootstrap when it is given the function. The init
  // duration then counts from the moment it is given the function, as Lambda counts it from the
  // function's init.
  const std::string& stub = view ? view->spare_exec : m.deps.config->spare_exec;
  bool spares = m.deps.spares && family && (!provided || !stub.empty()) && !m.process &&
                !m.deps.template_role;
  LaunchSpec spare_ls;  // what a spare for this launch runs
  if (spares) {
    spare_ls = ls;
    if (provided) {
      spare_ls.executable = stub;
      spare_ls.argv = {stub, ls.executable};
    }
  }
  if (!m.process) m.launched_at = SteadyClock::now();
  if (!m.process && m.deps.template_role) {
    // Its fd 3 is a socket: the assignment arrives on it (then an empty datagram, its end), and
    // the node asks for restores on it later (zygote_protocol.h).
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
      return internal_error("socketpair for a SnapStart template");
    }
    ls.control_fd = sv[1];
    ls.env.push_back("NUBO_TEMPLATE_FD=3");
    auto launched = m.deps.sandbox->launch(ls);
    ::close(sv[1]);
    if (!launched.ok()) {
      ::close(sv[0]);
      return launched.error();
    }
    m.process = std::move(launched).value();
    m.template_control = sv[0];
    std::string msg = SparePool::assignment_message(ls);
    if (::send(sv[0], msg.data(), msg.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(msg.size()) ||
        ::send(sv[0], "", 0, MSG_NOSIGNAL) != 0) {
      m.process->kill(SIGKILL);
      m.process.reset();  // reaps
      return internal_error("a SnapStart template ended before its assignment");
    }
  }
  if (spares) m.process = m.deps.spares->take(spare_ls);
  if (!m.process) {
    NUBO_ASSIGN_OR_RETURN(m.process, m.deps.sandbox->launch(ls));
  }
  if (view) {
    Status serving = serve_in_instance_network();
    if (!serving.ok()) {
      m.process->kill(SIGKILL);
      m.process.reset();  // reaps
      return serving;
    }
  }
  if (m.deps.cpu >= 0 && !m.deps.template_role && !m.deps.any_cpu.empty()) {
    m.process->set_cpus({m.deps.cpu});
    // The process, not the instance: the release may run on another thread after the instance
    // is gone (the process is shared with deferred work for that: see Impl::process).
    std::weak_ptr<SandboxProcess> process = m.process;
    auto last = std::make_shared<std::chrono::nanoseconds>(0);  // CPU time at the last moment
    m.api->watch_long_invocation(
        kPinnedCpuWindow, [process, last, any = m.deps.any_cpu, defer = m.deps.defer](int tick) {
          auto p = process.lock();
          if (!p) return true;
          std::optional<std::chrono::nanoseconds> cpu = p->cpu_time();
          if (!cpu) return true;
          bool busy = tick > 1 && *cpu - *last >= kPinnedCpuWindow / 2;
          *last = *cpu;
          if (!busy) return false;
          // Reads /proc: off the io thread when the node has somewhere else to run it.
          auto release = [process, any] {
            if (auto q = process.lock()) q->set_cpus(any);
          };
          if (defer) {
            defer(std::move(release));
          } else {
            release();
          }
          return true;
        });
  }
  if (m.deps.adopt && !m.deps.adopt(shared_from_this())) {
    m.process->kill(SIGKILL);
    m.process.reset();  // reaps
    return Error{"ServiceException", 500, "The node is shutting down."};
  }
  if (spares) {
    // After this instance's init, not before it and not during it: the next cold start of the
    // same kind finds a spare, and the spare's start (a launch, or a fork and a sandbox) does not
    // take the CPU from this instance's init.
    m.after_init = [launcher = m.deps.launcher, pool = m.deps.spares,
                    spare_ls = std::move(spare_ls)]() mutable {
      asio::post(*launcher, [pool, spare_ls = std::move(spare_ls)] { pool->replenish(spare_ls); });
    };
  }
  return Ok{};
}

Status Instance::serve_in_instance_network() {
  Impl& m = *impl_;
  std::vector<int> fds = m.process->take_listeners();
  if (m.restored) {
    // Its Runtime API alone: it reaches nubo through its template's listener.
    if (fds.size() != 1) {
      for (int fd : fds) ::close(fd);
      return internal_error("a restored instance got no listener in its template's network");
    }
    return m.api->adopt(fds[0], m.restored_port);
  }
  if (fds.size() != 2) {
    for (int fd : fds) ::close(fd);
    return internal_error("the instance's sandbox made no listeners in its network");
  }
  if (m.deps.serve_api_on) {
    m.stop_serving_api = m.deps.serve_api_on(fds[1]);
  } else {
    ::close(fds[1]);  // no node API to reach (unit tests of the invoker alone)
  }
  return m.api->adopt(fds[0], m.deps.sandbox->view()->runtime_api_port);
}

void Instance::watch() {
  Impl& m = *impl_;
  boost::system::error_code ec;
  m.output.assign(m.process->take_output_fd(), ec);
  int efd = fcntl(m.process->exit_fd(), F_DUPFD_CLOEXEC, 3);
  if (efd >= 0) m.exit.assign(efd, ec);
  arm_reader();
  arm_exit();
}

void Instance::arm_reader() {
  std::weak_ptr<Instance> weak = shared_from_this();
  impl_->output.async_wait(asio::posix::stream_descriptor::wait_read,
                           [weak](const boost::system::error_code& ec) {
                             if (ec) return;
                             auto self = weak.lock();
                             if (!self) return;
                             bool eof;
                             {
                               std::lock_guard lock(self->impl_->mu);
                               eof = self->impl_->drain_locked(*self->spec_, self->log_stream_);
                             }
                             if (!eof) self->arm_reader();
                           });
}

void Instance::arm_exit() {
  auto self = shared_from_this();
  impl_->exit.async_wait(asio::posix::stream_descriptor::wait_read,
                         [self](const boost::system::error_code& ec) {
                           if (ec) return;
                           Impl& m = *self->impl_;
                           auto status = m.process->try_reap();
                           if (!status) {
                             self->arm_exit();
                             return;
                           }
                           self->handle_exit(*status);
                           boost::system::error_code ignored;
                           m.exit.close(ignored);
                         });
}

void Instance::handle_exit(const ExitStatus& status) {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.mu);
    if (m.reaped) return;
    m.reaped = true;
    m.drain_locked(*spec_, log_stream_);
    m.flush_partial_locked(*spec_, log_stream_);
  }
  m.dead = true;
  m.api->close();
  m.exited->set(status);
  if (m.deps.on_reaped) m.deps.on_reaped(this);
}

void Instance::on_deliver(std::string_view request_id) {
  Impl& m = *impl_;
  std::lock_guard lock(m.mu);
  // What the runtime wrote during its init goes before START. (Warm invocations skip the read:
  // the previous invocation drained the pipe when it ended.)
  if (!m.delivered_once) {
    m.drain_locked(*spec_, log_stream_);
    m.delivered_once = true;
    if (m.after_init) {
      m.after_init();
      m.after_init = nullptr;
    }
  }
  m.emit_locked(*spec_, log_stream_, m.deps.clock->now(), start_line(request_id, spec_->version));
  m.started = true;
}

const void* Instance::home() const {
  return impl_->deps.io;
}

net::Task<bool> Instance::initialize() {
  auto self = shared_from_this();
  Impl& m = *impl_;
  auto waiting = m.api->wait_ready(m.launched_at + kInitTimeout);  // see start()
  bool ok = co_await std::move(waiting);
  if (!ok) stop(SIGKILL);
  co_return ok;
}

bool Instance::pinned() const {
  return impl_->pinned.load(std::memory_order_relaxed);
}

void Instance::set_pinned(bool pinned) {
  impl_->pinned.store(pinned, std::memory_order_relaxed);
}

bool Instance::alive() const {
  return !impl_->stopped.load() && !impl_->dead.load();
}

bool Instance::fresh() const {
  int64_t expire = impl_->credentials_expire.load(std::memory_order_relaxed);
  if (expire == 0) return true;
  auto left = std::chrono::seconds(expire) - impl_->deps.clock->now().time_since_epoch();
  return left > kCredentialRefreshMargin;
}

void Instance::stop(int sig) {
  Impl& m = *impl_;
  m.stopped = true;
  if (m.api) m.api->close();
  if (m.process) m.process->kill(sig);
}

void Instance::retire() {
  Impl& m = *impl_;
  if (!m.deps.defer || !m.process) return stop(SIGKILL);
  m.stopped = true;
  if (m.api) m.api->close();
  // The process, not the instance: the instance's last reference must stay on its io thread.
  m.deps.defer([process = m.process] { process->kill(SIGKILL); });
}

net::Task<Status> Instance::snapshot_taken(SteadyClock::time_point deadline) {
  auto self = shared_from_this();
  Impl& m = *impl_;
  if (m.template_control < 0) co_return internal_error("not a SnapStart template");
  int fd = fcntl(m.template_control, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) co_return internal_error("cannot wait for the snapshot");
  // Shared with the timer's handler, which may run after this frame is gone (when the deadline
  // and the answer come in the same pass of the loop).
  auto control = std::make_shared<asio::posix::stream_descriptor>(*m.deps.io, fd);
  asio::steady_timer timer(*m.deps.io);
  timer.expires_at(deadline);
  timer.async_wait([control](const boost::system::error_code& ec) {
    if (!ec) control->cancel();
  });
  boost::system::error_code ec;
  auto waiting = control->async_wait(asio::posix::stream_descriptor::wait_read,
                                     asio::redirect_error(asio::use_awaitable, ec));
  co_await std::move(waiting);
  timer.cancel();
  if (ec) co_return internal_error("its init and before-snapshot hooks took too long");
  char buf[64];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  constexpr std::string_view kReady = NUBO_TEMPLATE_READY;
  if (n != static_cast<ssize_t>(kReady.size()) || std::string_view(buf, kReady.size()) != kReady) {
    co_return internal_error("its init failed (the function's log says how)");
  }
  co_return Ok{};
}

SandboxProcess* Instance::template_process() const {
  return impl_->process.get();
}

int Instance::template_control() const {
  return impl_->template_control;
}

pid_t Instance::pid() const {
  return impl_->process ? impl_->process->pid() : -1;
}

bool Instance::wait_reaped(SteadyClock::time_point deadline) {
  Impl& m = *impl_;
  for (;;) {
    {
      std::lock_guard lock(m.mu);
      if (m.reaped || !m.process) return true;
    }
    auto now = SteadyClock::now();
    if (now >= deadline) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    struct pollfd p = {m.process->exit_fd(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left + 1, 50)));
    if (auto status = m.process->try_reap()) handle_exit(*status);
  }
}

net::Task<InvokeAttempt> Instance::invoke(InvokeRequest req, bool cold) {
  auto self = shared_from_this();
  Impl& m = *impl_;
  const FunctionSpec& spec = *spec_;
  const std::string request_id = req.request_id;
  const bool want_tail = req.want_log_tail;
  {
    std::lock_guard lock(m.mu);
    // On a cold start the init output, captured since the launch (the reader may have logged it
    // before this call), is part of the tail.
    if (!cold || !want_tail) m.tail.clear();
    m.capture = want_tail;
    m.started = false;
  }

  RuntimeApi::Event ev;
  ev.request_id = std::move(req.request_id);
  ev.payload = std::move(req.payload);
  if (ev.payload.empty()) ev.payload = "{}";  // Lambda sends {} for an empty payload
  if (!req.invoked_function_arn.empty()) {
    ev.invoked_function_arn = std::move(req.invoked_function_arn);
  } else {
    ev.invoked_function_arn = spec.version == "$LATEST" ? spec.function_arn : spec.qualified_arn;
  }
  ev.trace_id = req.trace_id.empty() ? make_trace_id(m.deps.clock->now()) : std::move(req.trace_id);
  ev.client_context = decode_client_context(req.client_context);
  ev.cognito_identity = std::move(req.cognito_identity);
  ev.timeout = std::chrono::seconds(spec.timeout_s);

  auto answering = m.api->invoke(std::move(ev), m.launched_at + kInitTimeout);  // see start()
  RuntimeApi::Answer a = co_await std::move(answering);

  InvokeAttempt out;
  using Kind = RuntimeApi::Answer::Kind;
  if (!cold && !a.delivered && a.undelivered &&
      (a.kind == Kind::kAborted || a.kind == Kind::kTimeout)) {
    // A warm instance that died (or stopped asking) between invocations: nothing ran here.
    stop(SIGKILL);
    out.not_started = true;
    InvokeRequest back;
    back.request_id = request_id;
    back.payload = std::move(a.undelivered->payload);
    back.client_context = std::move(req.client_context);
    back.cognito_identity = std::move(a.undelivered->cognito_identity);
    back.trace_id = std::move(a.undelivered->trace_id);
    back.want_log_tail = want_tail;
    back.invoked_function_arn = std::move(a.undelivered->invoked_function_arn);
    out.request = std::move(back);
    {
      std::lock_guard lock(m.mu);
      m.capture = false;
    }
    co_return out;
  }

  InvokeResult& res = out.result;
  res.cold_start = cold;
  res.executed_version = spec.version;
  std::vector<std::string> error_lines;
  std::optional<ExitStatus> status;
  switch (a.kind) {
    case Kind::kResponse:
      res.outcome = InvokeResult::Outcome::kSuccess;
      res.payload = std::move(a.body);
      break;
    case Kind::kFunctionError:
      res.outcome = InvokeResult::Outcome::kFunctionError;
      res.function_error = "Unhandled";
      res.payload = function_error_payload(a.body, a.error_type);
      break;
    case Kind::kTooLarge:
      res.outcome = InvokeResult::Outcome::kFunctionError;
      res.function_error = "Unhandled";
      res.payload = response_too_large_payload();
      error_lines.push_back(request_error_message(
          request_id, "Response payload size exceeded maximum allowed payload size (" +
                          std::to_string(kMaxResponseBytes) + " bytes)."));
      break;
    case Kind::kInitError:
      res.outcome = InvokeResult::Outcome::kInitError;
      res.function_error = "Unhandled";
      res.payload = function_error_payload(a.body, a.error_type);
      stop(SIGKILL);
      status = co_await m.exited->async_wait(asio::use_awaitable);
      break;
    case Kind::kTimeout: {
      stop(SIGKILL);
      status = co_await m.exited->async_wait(asio::use_awaitable);
      res.outcome = InvokeResult::Outcome::kTimeout;
      res.function_error = "Unhandled";
      double limit_s = a.delivered ? static_cast<double>(spec.timeout_s)
                                   : static_cast<double>(kInitTimeout.count());
      std::string msg = timeout_message(m.deps.clock->now(), request_id, limit_s);
      res.payload = timeout_payload(msg);
      error_lines.push_back(std::move(msg));
      break;
    }
    case Kind::kAborted: {
      stop(SIGKILL);
      status = co_await m.exited->async_wait(asio::use_awaitable);
      res.outcome = a.delivered ? InvokeResult::Outcome::kCrash : InvokeResult::Outcome::kInitError;
      res.function_error = "Unhandled";
      // Over its memory: Lambda's Runtime.OutOfMemory, with the same "Runtime exited" message.
      const char* type = status->oom_killed ? "Runtime.OutOfMemory" : "Runtime.ExitError";
      if (status->oom_killed) res.outcome = InvokeResult::Outcome::kOutOfMemory;
      std::string msg = exit_error_message(request_id, *status);
      res.payload = error_payload(type, msg);
      error_lines.push_back(std::move(msg));
      error_lines.push_back(type);
      break;
    }
  }

  auto end = a.answered_at == SteadyClock::time_point{} ? SteadyClock::now() : a.answered_at;
  std::optional<double> restore_ms;  // a cold start restored from a snapshot, instead of an init
  if (a.delivered) {
    res.duration_ms = ms_between(a.delivered_at, end);
    if (cold) {
      if (auto ready = m.api->ready_at()) {
        (m.restored ? restore_ms : res.init_duration_ms) = ms_between(m.launched_at, *ready);
      }
    }
  } else {
    // The init phase failed: it is the whole of the invocation.
    res.duration_ms = ms_between(m.launched_at, end);
    if (cold) (m.restored ? restore_ms : res.init_duration_ms) = res.duration_ms;
  }
  res.billed_duration_ms = billing::billed_duration_ms(res.duration_ms);
  if (status) {
    res.max_memory_used_mb = kb_to_mb(status->max_rss_kb);
  } else {
    // Reading /proc/<pid>/status costs more than the rest of a warm invoke: at most every
    // kPeakMemoryRefresh per instance (the peak only grows; a hot instance reports it late by
    // at most that much).
    std::lock_guard lock(m.mu);
    auto now = SteadyClock::now();
    if (now - m.peak_read_at >= kPeakMemoryRefresh) {
      m.peak_kb = m.process->peak_memory_kb();
      m.peak_read_at = now;
    }
    res.max_memory_used_mb = kb_to_mb(m.peak_kb);
  }

  ReportFields report;
  report.request_id = request_id;
  report.duration_ms = res.duration_ms;
  report.billed_duration_ms = res.billed_duration_ms;
  report.memory_size_mb = spec.memory_mb;
  report.max_memory_used_mb = res.max_memory_used_mb;
  report.init_duration_ms = res.init_duration_ms;
  report.restore_duration_ms = restore_ms;
  {
    std::lock_guard lock(m.mu);
    // What the runtime wrote before it answered is in the pipe by now.
    m.drain_locked(spec, log_stream_);
    m.flush_partial_locked(spec, log_stream_);
    SystemTime ts = m.deps.clock->now();
    if (!m.started) m.emit_locked(spec, log_stream_, ts, start_line(request_id, spec.version));
    for (const auto& line : error_lines) m.emit_locked(spec, log_stream_, ts, line);
    m.emit_locked(spec, log_stream_, ts, end_line(request_id));
    m.emit_locked(spec, log_stream_, ts, report_line(report));
    if (want_tail) {
      res.log_tail =
          m.tail.size() > kLogTailBytes ? m.tail.substr(m.tail.size() - kLogTailBytes) : m.tail;
    }
    m.capture = false;
    m.tail.clear();
    m.started = false;
  }
  co_return out;
}

}  // namespace nubo::runtime

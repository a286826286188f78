// Instance: one execution environment of one function version: its sandboxed process, its own
// Runtime API endpoint, and its log stream. It serves one invocation at a time (the pool hands it
// to one caller at a time) and writes each invocation's START, output, END and REPORT lines.
//
// Lifetime: shared (std::shared_ptr). While its process runs, the exit watcher keeps it alive;
// stop() kills the process, and the watcher reaps it, closes the Runtime API and calls
// InstanceDeps::on_reaped. Output reading, the exit watcher and the Runtime API run on the
// io_context; the process is launched on InstanceDeps::launcher. Thread-safe.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/clock.h"
#include "base/config.h"
#include "base/result.h"
#include "net/http.h"
#include "runtime/function_spec.h"
#include "runtime/invoker.h"
#include "runtime/log_sink.h"
#include "runtime/pool.h"
#include "runtime/runtimes.h"
#include "runtime/sandbox.h"
#include "runtime/spare_pool.h"

namespace nubo::runtime {

class Instance;
class Templates;

// What instances borrow from their invoker; every pointer outlives the instances.
struct InstanceDeps {
  boost::asio::io_context* io = nullptr;
  boost::asio::thread_pool* launcher = nullptr;  // one long-lived thread: see Sandbox::launch
  Sandbox* sandbox = nullptr;
  SparePool* spares = nullptr;  // null: every launch starts a new process
  LogSink* logs = nullptr;
  const Clock* clock = nullptr;
  const NodeConfig* config = nullptr;
  const RuntimeSettings* runtimes = nullptr;
  // The credentials an instance of spec gets (the seam for issue 4's role credentials).
  std::function<InstanceCredentials(const FunctionSpec&)> credentials;
  // Called on the launcher thread right after the process started. Returning false refuses the
  // instance (the node is stopping): it is killed and start() fails.
  std::function<bool(const std::shared_ptr<Instance>&)> adopt;
  // Isolated instances (Sandbox::view()): accepts requests to nubo's API on fd, a socket
  // listening in the instance's own network; returns what stops that. Null: fd is closed, the
  // instance cannot reach nubo.
  std::function<std::function<void()>(int fd)> serve_api_on;
  // Called once when the process has been reaped (from an io thread, or from wait_reaped()).
  std::function<void(Instance*)> on_reaped;
  // Runs work away from the io threads: killing a retired instance (retire()) and destroying a
  // finished instance's process (its cgroups, mounts and descriptors go: a millisecond that an io
  // thread would otherwise spend while another instance waits for its Runtime API). Null: in
  // place.
  std::function<void(std::function<void()>)> defer;
  // The CPU of the io thread this instance serves (net::IoShards::cpu_of(io)): its process runs
  // only there, beside that thread, until one of its invocations keeps it busy (limits.h,
  // kPinnedCpuWindow), and from then on anywhere in `any_cpu`. -1: anywhere from the start.
  // SnapStart templates are never restricted (what they fork inherits it).
  int cpu = -1;
  std::vector<int> any_cpu;
  // Started ahead for provisioned concurrency: AWS_LAMBDA_INITIALIZATION_TYPE says so, and the
  // instance starts pinned (see Instance::set_pinned).
  bool provisioned = false;
  // SnapStart snapshots (templates.h): a cold start of a FunctionSpec::snap_start version
  // restores from its template when there is one. Null: none.
  Templates* templates = nullptr;
  // This instance is a SnapStart template: it initialises, runs its before-snapshot hooks and
  // then only forks restored instances (Sandbox::restore); it never serves invocations.
  bool template_role = false;
};

// One attempt to run an invocation on an instance.
struct InvokeAttempt {
  InvokeResult result;
  // The event never reached the runtime and the instance was warm (its process died between
  // invocations): nothing ran, the caller may run `request` on another instance.
  bool not_started = false;
  std::optional<InvokeRequest> request;  // set when not_started
};

class Instance final : public PoolMember, public std::enable_shared_from_this<Instance> {
 public:
  // Starts an instance of spec: its Runtime API endpoint, then its process (on deps.launcher).
  // Errors: "Runtime.InvalidEntrypoint" when the function's program cannot run (the caller
  // reports it as an init error of the invocation); "ServiceException" otherwise.
  static net::Task<Result<std::shared_ptr<Instance>>> start(
      InstanceDeps deps, std::shared_ptr<const FunctionSpec> spec);

  ~Instance() override;
  Instance(const Instance&) = delete;
  Instance& operator=(const Instance&) = delete;

  // Runs one invocation: hands the event to the runtime (after its init, on a cold start),
  // waits for its answer, a timeout or the process's exit, and logs START/END/REPORT. Function
  // failures are results, not errors. After a timeout, crash or init error the instance is dead
  // (alive() false) and its process reaped.
  // REQUIRES: no other invoke() in flight on this instance.
  net::Task<InvokeAttempt> invoke(InvokeRequest request, bool cold);

  // Waits for the init phase without an event (provisioned concurrency): true once the runtime
  // asks for its first event; false if its init fails or times out (the instance is then
  // stopped). A later invoke() then runs with cold = false and reports no Init Duration.
  // REQUIRES: right after start(), before any invoke().
  net::Task<bool> initialize();

  // PoolMember: can serve another invocation.
  bool alive() const override;
  // PoolMember: false once its credentials expire within kCredentialRefreshMargin. Any thread.
  bool fresh() const override;
  // PoolMember: kept by the pool however long it idles (one of a version's provisioned
  // instances). Any thread.
  bool pinned() const override;
  void set_pinned(bool pinned);
  // PoolMember: the io_context its Runtime API endpoint runs on.
  const void* home() const override;

  // Stops serving and sends sig to the instance's processes (SIGTERM for a graceful stop, then
  // SIGKILL). Idempotent; the exit watcher reaps.
  void stop(int sig);
  // stop(SIGKILL) for an instance no longer wanted (an old revision's, an idle one's): the same,
  // with the kill deferred (InstanceDeps::defer).
  void retire();

  // Blocks until the process is reaped (reaping it here if the io_context does not run), or the
  // deadline passes. Not on an io thread.
  bool wait_reaped(std::chrono::steady_clock::time_point deadline);

  pid_t pid() const;

  // A template (InstanceDeps::template_role): waits until its snapshot is taken (its init and
  // before-snapshot hooks have run and it serves restores) or deadline. Errors:
  // "ServiceException" with why (its init failed: the function's log says how; too slow).
  net::Task<Status> snapshot_taken(std::chrono::steady_clock::time_point deadline);
  // A template's process and the node's end of its control socket (Sandbox::restore's
  // arguments). Valid while the instance lives; use on the launcher thread.
  SandboxProcess* template_process() const;
  int template_control() const;
  const FunctionSpec& spec() const { return *spec_; }
  const std::string& log_stream() const { return log_stream_; }

  struct Private {};
  Instance(Private, InstanceDeps deps, std::shared_ptr<const FunctionSpec> spec);

 private:
  struct Impl;
  // On the launcher thread. api_port: the Runtime API's port on the node (ignored when the
  // sandbox isolates: the API then listens in the instance's network).
  Status launch(uint16_t api_port);
  // Starts accepting on the listeners the isolated launch made (Runtime API, nubo's API).
  Status serve_in_instance_network();
  void watch();  // starts the output reader and the exit watcher
  void arm_reader();
  void arm_exit();
  void on_deliver(std::string_view request_id);
  void handle_exit(const ExitStatus& status);

  std::unique_ptr<Impl> impl_;
  const std::shared_ptr<const FunctionSpec> spec_;
  std::string log_stream_;
};

}  // namespace nubo::runtime

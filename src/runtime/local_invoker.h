// LocalInvoker: the Invoker that runs functions as instances on this node.
//
// An invocation takes a concurrency slot (the account limit, NodeConfig::account_concurrency),
// then the most recently used idle instance of the function's (qualified_arn, revision_id), or
// starts a new one and waits for its init (the runtime's first /next). Instances idle for
// NodeConfig::instance_idle_timeout are stopped by a reaper timer. A timed-out, crashed or failed
// instance is killed and replaced on the next invocation.
//
// Threads: invoke() runs on the caller's io thread and completes there; instance work runs on
// the io_context given; processes are launched on a thread owned by the invoker (the instances'
// parent thread for PR_SET_PDEATHSIG). shutdown() and the destructor must not run on an io
// thread, and need the io_context to be running for a graceful stop (they reap by themselves
// otherwise).
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "base/clock.h"
#include "base/config.h"
#include "runtime/invoker.h"
#include "runtime/log_sink.h"
#include "runtime/runtimes.h"
#include "runtime/sandbox.h"

namespace nubo::runtime {

struct LocalInvokerDeps {
  const NodeConfig* config = nullptr;
  const Clock* clock = nullptr;
  boost::asio::io_context* io = nullptr;
  // Blocking work of the node. Not used for launches (they need a thread that outlives the
  // instances: the invoker owns one); kept for the blocking work to come (code unpacking).
  boost::asio::thread_pool* blocking = nullptr;
  // Where the log lines go. Null: a FileLogSink under <data_dir>/logs, owned by the invoker.
  LogSink* logs = nullptr;
  // The sandbox instances run in. Null: a ProcessSandbox, owned by the invoker.
  Sandbox* sandbox = nullptr;
  // The credentials an instance gets (issue 4: the execution role's session credentials).
  // Null: the root key pair of the config.
  std::function<InstanceCredentials(const FunctionSpec&)> credentials;
  // InstanceDeps::serve_api_on: how an isolated instance reaches nubo's API. Null: it cannot.
  std::function<std::function<void()>(int fd)> serve_api_on;
  // The CPU of each io thread (net::IoShards::cpu_of): an instance starts on its io thread's
  // (InstanceDeps::cpu). Null: instances run anywhere. Called on io threads and the constructor's.
  std::function<int(const boost::asio::io_context*)> cpu_of;
  // Overrides config->instance_idle_timeout (tests use milliseconds).
  std::optional<std::chrono::milliseconds> idle_timeout;
};

class LocalInvoker final : public Invoker {
 public:
  explicit LocalInvoker(LocalInvokerDeps deps);
  ~LocalInvoker() override;  // shutdown(0) if not done
  LocalInvoker(const LocalInvoker&) = delete;
  LocalInvoker& operator=(const LocalInvoker&) = delete;

  net::Task<Result<InvokeResult>> invoke(FunctionSpec spec, InvokeRequest request) override;
  void retire_function(const std::string& function_arn) override;
  void prepare_snapshot(const FunctionSpec& spec) override;
  void retire_version(const std::string& qualified_arn) override;
  void set_reserved_concurrency(const std::string& function_arn, std::optional<int> limit) override;
  void set_provisioned_concurrency(const std::string& function_arn,
                                   std::vector<ProvisionedTarget> targets) override;
  ProvisionedStatus provisioned_status(const std::string& qualified_arn) const override;
  void shutdown(std::chrono::milliseconds grace) override;

  // Introspection (tests, metrics): instances whose process has not been reaped yet, idle
  // instances, invocations in flight.
  std::vector<pid_t> instance_pids() const;
  size_t idle_instances() const;
  int invocations_in_flight() const;

  struct Core;

 private:
  std::shared_ptr<Core> core_;
};

std::unique_ptr<LocalInvoker> make_local_invoker(LocalInvokerDeps deps);

}  // namespace nubo::runtime

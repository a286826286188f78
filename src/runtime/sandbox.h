// Sandbox: starts the process of one function instance and lets the runtime watch, measure and
// kill it (DESIGN.md "Runtime"). ProcessSandbox (process_sandbox.h) is the implementation: a
// process in its own session, cgroup and seccomp filter, and, where the node has the privileges,
// isolated in its own namespaces under a minimal read-only root (view() then says how the
// process sees the machine). Nothing outside src/runtime depends on which one runs.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace nubo::runtime {

// How a process of an isolating sandbox sees the machine (Sandbox::view()).
struct SandboxView {
  std::string task_root = "/var/task";       // the function's code, read-only
  std::string runtime_dir = "/var/runtime";  // nubo's runtime clients, read-only
  // The Runtime API's port on the loopback of the instance's own network namespace.
  uint16_t runtime_api_port = 9001;
  // nubo-spare-exec (runtime/spare_exec.c) as the process sees it; empty when there is none.
  std::string spare_exec;
};

// Everything needed to start one instance's process. Paths (executable, argv, cwd) are as the
// process sees them (Sandbox::view()); code_dir is the node's.
struct LaunchSpec {
  std::string executable;         // absolute path of the program to exec
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // the whole environment, "KEY=value"
  std::string cwd;                // working directory (the function's code folder)
  int max_open_files = 1024;      // RLIMIT_NOFILE (Lambda's limit)
  // A descriptor the process gets as its fd 3 (a spare's assignment pipe, spare_pool.h); -1:
  // none. Borrowed: the caller closes its copy after launch().
  int control_fd = -1;
  // Used by sandboxes that isolate (ignored by ProcessSandbox): the code folder to expose
  // read-only, the memory limit, the size of the instance's own /tmp.
  // Empty: none yet (a spare; SandboxProcess::attach_code gives it one later).
  std::string code_dir;
  // The function's layers (the node's paths of their unpacked folders), in the function's
  // order: isolating sandboxes show them merged, read-only, at /opt, a later layer's files over
  // an earlier one's (as Lambda extracts them in order). Empty: an empty /opt.
  std::vector<std::string> layer_dirs;
  int memory_mb = 128;
  int ephemeral_storage_mb = 512;
  // Isolating sandboxes: ports on 127.0.0.1 of the instance's own network namespace where the
  // node accepts (SandboxProcess::take_listeners): its Runtime API, nubo's API.
  std::vector<uint16_t> listen_ports;
  // Isolating sandboxes: outbound network for the instance (its namespace connected to the
  // node's and NATed out, egress.h), where the sandbox has it. False: loopback only (a function
  // attached to VPC subnets, which nubo does not have).
  bool egress = false;
  // The process may be forked from a zygote of its command line (a python interpreter with its
  // runtime client loaded: runtimes/README.md "Zygotes") instead of exec'd, where the sandbox has
  // zygotes. REQUIRES: the runtime client waits for its function on fd 3 as a spare does, and
  // the start-up environment (SparePool::startup_variable) is the node's own, nothing the
  // function set: the zygote, a process of the node's, starts with it.
  bool zygote = false;
  // Who may share a zygote: launches of different groups never fork from the same one (its
  // children share its hash seed, address layout, stack canary and pointer guard). Instances
  // set their function's ARN.
  std::string zygote_group;
  // With zygote: fail (ServiceException) rather than start a process of its own where no zygote
  // can serve it (a SnapStart template, whose init must not run in a process that cannot fork).
  bool require_zygote = false;
  // Keep the instance's network namespace (a SnapStart template: Sandbox::restore makes its
  // restored instances' listeners there).
  bool keep_network = false;
  // A spare, started ahead (spare_pool.h): a zygote's child makes its copy-on-write pages its
  // own while it waits (zygote_protocol.h, NUBO_ZYGOTE_PREFAULT).
  bool prefault = false;
};

// How an instance's main process ended.
struct ExitStatus {
  bool signaled = false;  // killed by a signal (signal set) or exited (code set)
  int code = 0;
  int signal = 0;
  bool core_dumped = false;
  int64_t max_rss_kb = 0;   // peak resident memory of the process and the children it reaped
  bool oom_killed = false;  // the memory limit was hit and the kernel killed a process for it

  // Worded as Go's os.ProcessState.String() words it, which is what Lambda prints after
  // "Runtime exited with error: ": "exit status 1", "signal: killed", "signal: segmentation fault".
  std::string describe() const;
};

// One running instance process. Thread-safe. Destroying it kills and reaps whatever is left
// (blocking for at most the moment SIGKILL takes): callers normally reap first.
class SandboxProcess {
 public:
  virtual ~SandboxProcess() = default;

  virtual pid_t pid() const = 0;

  // A descriptor that becomes readable when the main process has exited (a pidfd). Owned by
  // this object and valid for its lifetime; dup() it to hand it to an event loop.
  virtual int exit_fd() const = 0;

  // The read end of the pipe that carries the process's stdout and stderr (both go to it, in
  // the order written). O_NONBLOCK | O_CLOEXEC. Ownership moves to the caller; -1 the second
  // time.
  virtual int take_output_fd() = 0;

  // Sends sig to everything the instance started: the process group (it is the leader of a new
  // session), later the whole sandbox. No-op once reaped.
  virtual void kill(int sig) = 0;

  // The sockets listening on LaunchSpec::listen_ports inside the instance's network namespace,
  // in that order. Ownership moves to the caller; empty the second time, and when the sandbox
  // gives the instance no network of its own.
  virtual std::vector<int> take_listeners() { return {}; }

  // Exposes code_dir (the node's path) read-only at SandboxView::task_root, and layer_dirs
  // merged at /opt (LaunchSpec::layer_dirs), for a process launched without code (a spare being
  // assigned). Blocking (mount calls). Errors: "ServiceException". No-op when the sandbox does
  // not isolate (the process sees code_dir).
  virtual Status attach_code(const std::string& code_dir,
                             const std::vector<std::string>& layer_dirs) {
    (void)code_dir;
    (void)layer_dirs;
    return Ok{};
  }

  // Restricts every thread of the instance (the processes of its cgroup, or its main process)
  // to `cpus` (base/cpu_affinity.h); what they start later inherits it. Best effort, never
  // blocks beyond reading /proc; no-op once reaped.
  virtual void set_cpus(const std::vector<int>& cpus) { (void)cpus; }

  // CPU time the main process (all its threads) has used so far; nullopt once reaped or where
  // the kernel does not say. One system call.
  virtual std::optional<std::chrono::nanoseconds> cpu_time() { return std::nullopt; }

  // Peak memory of the instance so far, in KB (VmHWM of the main process while it runs, the
  // rusage peak once reaped).
  virtual int64_t peak_memory_kb() = 0;

  // Never blocks. If the main process has exited, kills what is left of the instance (so that
  // no descendant outlives it), reaps it, and returns its status; the same status on every later
  // call. nullopt while it runs.
  virtual std::optional<ExitStatus> try_reap() = 0;
};

class Sandbox {
 public:
  virtual ~Sandbox() = default;

  // Starts a process as spec says: a new session and process group, stdin from /dev/null,
  // stdout+stderr into one pipe, no other descriptor inherited, signals reset to default,
  // RLIMIT_NOFILE = spec.max_open_files, and killed (SIGKILL) if the launching thread dies.
  //
  // Blocking (clone/exec: a fraction of a millisecond). Call it off the io threads, from a thread
  // that lives as long as the instances it starts (PR_SET_PDEATHSIG fires when the launching
  // *thread* exits).
  //
  // Errors: code "Runtime.InvalidEntrypoint" when the program itself cannot be executed (missing,
  // not executable, bad format; the message reads like Lambda's "fork/exec <path>: permission
  // denied"), "ServiceException" (500) when the node could not start a process at all.
  virtual Result<std::unique_ptr<SandboxProcess>> launch(const LaunchSpec& spec) = 0;

  // One line per protection of DESIGN.md's "A function instance is untrusted" and issue 3's
  // sandbox list, "on: ..." or "off: ... (why)": the node prints them when it starts.
  virtual std::vector<std::string> protections() const = 0;

  // How launched processes see the machine; null when they see the node's file system and
  // network as they are (paths are the node's, the Runtime API has a port of the node's).
  virtual const SandboxView* view() const { return nullptr; }

  // Zygotes running now (metrics, tests).
  virtual size_t zygote_count() const { return 0; }
  // Whether launches of LaunchSpec::zygote can fork from a zygote here at all.
  virtual bool zygotes_on() const { return false; }

  // SnapStart: a process restored from tmpl, an instance of this sandbox that has become its
  // function's template (runtimes/README.md "SnapStart") and serves forks on control (the node's
  // end of its fd 3). The new process is tmpl's child, in tmpl's sandbox (its namespaces, root,
  // uid and filter), in a cgroup of its own (spec.memory_mb), with listeners on
  // spec.listen_ports in tmpl's network; it reads spec's environment and working directory as
  // its assignment. Blocking (a round trip to the template); on the launcher thread.
  // Errors: "ServiceException" (the sandbox cannot restore: no cgroups, not isolated; the
  // template is gone). *template_gone is set when the template did not answer (dead or stuck:
  // the caller gives it up; its socket may be out of step).
  virtual Result<std::unique_ptr<SandboxProcess>> restore(SandboxProcess& tmpl, int control,
                                                          const LaunchSpec& spec,
                                                          bool* template_gone) {
    (void)tmpl;
    (void)control;
    (void)spec;
    (void)template_gone;
    return Error{"ServiceException", 500, "this sandbox cannot restore from a snapshot"};
  }
};

}  // namespace nubo::runtime

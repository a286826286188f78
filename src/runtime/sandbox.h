// Sandbox: starts the process of one function instance and lets the runtime watch, measure and
// kill it (DESIGN.md "Runtime"). Two implementations are planned behind this interface:
// ProcessSandbox (process_sandbox.h, a plain process in its own session, used now) and a
// namespaced one (issue 3: clone() with new namespaces, pivot_root into the code, cgroup limits,
// seccomp). Nothing outside src/runtime depends on which one runs.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace nubo::runtime {

// Everything needed to start one instance's process.
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
  std::string code_dir;
  int memory_mb = 128;
  int ephemeral_storage_mb = 512;
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
};

}  // namespace nubo::runtime

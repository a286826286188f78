#include "runtime/process_sandbox.h"

#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/cgroups.h"
#include "runtime/limits.h"
#include "runtime/seccomp_filter.h"

namespace nubo::runtime {

namespace {

#ifndef P_PIDFD
constexpr idtype_t P_PIDFD = static_cast<idtype_t>(3);
#endif

// Steps of the child, reported with the errno of the one that failed.
enum ChildStep : int {
  kStepNone = 0,
  kStepSetsid,
  kStepDeathSignal,
  kStepParentGone,
  kStepDup,
  kStepRlimit,
  kStepChdir,
  kStepExec,
  kStepCgroup,
  kStepNoNewPrivs,
  kStepSeccomp,
};

const char* step_name(int step) {
  switch (step) {
    case kStepSetsid:
      return "setsid";
    case kStepDeathSignal:
      return "prctl(PR_SET_PDEATHSIG)";
    case kStepParentGone:
      return "parent exited";
    case kStepDup:
      return "dup2";
    case kStepRlimit:
      return "setrlimit(RLIMIT_NOFILE)";
    case kStepChdir:
      return "chdir";
    case kStepExec:
      return "exec";
    case kStepCgroup:
      return "joining the instance's cgroup";
    case kStepNoNewPrivs:
      return "prctl(PR_SET_NO_NEW_PRIVS)";
    case kStepSeccomp:
      return "prctl(PR_SET_SECCOMP)";
    default:
      return "launch";
  }
}

// What the child needs, prepared by the parent (the child allocates nothing). In vfork mode the
// child writes err/step here and the parent reads them once clone() returns.
struct ChildArgs {
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  const char* cwd = nullptr;
  int out_fd = -1;
  int null_fd = -1;
  int control_fd = -1;  // >= 4; becomes the child's fd 3
  int report_fd = -1;   // fork mode only: where the child writes {step, errno} on failure
  rlim_t max_files = 1024;
  // cgroup.procs files of the instance's cgroup (cgroups.h); the child moves itself in first.
  int cgroup_fds[2] = {-1, -1};
  bool no_new_privs = false;
  const struct sock_fprog* seccomp = nullptr;  // installed last, right before exec
  pid_t parent_pid = 0;
  volatile int step = kStepNone;
  volatile int err = 0;
};

// The kernel's struct sigaction, zero-filled: SIG_DFL, no flags, empty mask. Whatever the
// architecture's field order, all zeros mean the same.
struct KernelSigaction {
  unsigned long words[4] = {0, 0, 0, 0};
};

// Runs in the child between clone and exec. In vfork mode it shares the parent's memory and
// thread-local storage, so it only makes raw system calls (no malloc, no locks, no libc state)
// and is not instrumented by the sanitizers.
__attribute__((no_sanitize("address", "undefined"))) __attribute__((noinline)) int child_main(
    void* raw) {
  auto* a = static_cast<ChildArgs*>(raw);
  int step = kStepNone;
  // Signal dispositions: handlers die with exec anyway, but SIG_IGN survives it (the node ignores
  // SIGPIPE) and a handler must not run in this borrowed address space. All signals are blocked
  // here (the parent blocked them before clone); reset every disposition to SIG_DFL.
  KernelSigaction dfl;
  for (long sig = 1; sig < 65; ++sig) {
    if (sig == SIGKILL || sig == SIGSTOP) continue;
    syscall(SYS_rt_sigaction, sig, &dfl, nullptr, 8);
  }
  // Into its limits before anything else runs: whatever it forks later is in there too.
  for (int fd : a->cgroup_fds) {
    if (fd >= 0 && syscall(SYS_write, fd, "0", 1) != 1) {
      step = kStepCgroup;
      goto fail;
    }
  }
  if (syscall(SYS_setsid) < 0) {
    step = kStepSetsid;
    goto fail;
  }
  if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
    step = kStepDeathSignal;
    goto fail;
  }
  if (syscall(SYS_getppid) != a->parent_pid) {  // the launching thread died before the prctl
    step = kStepParentGone;
    goto fail;
  }
  if (syscall(SYS_dup2, a->null_fd, 0) < 0 || syscall(SYS_dup2, a->out_fd, 1) < 0 ||
      syscall(SYS_dup2, a->out_fd, 2) < 0) {
    step = kStepDup;
    goto fail;
  }
  if (a->control_fd >= 0 && syscall(SYS_dup2, a->control_fd, 3) < 0) {
    step = kStepDup;
    goto fail;
  }
  // Every other descriptor goes (they are all O_CLOEXEC as well; this covers any that is not),
  // except the fork-mode report pipe (>= 4), which is O_CLOEXEC and closes on a successful exec.
  {
    unsigned first = a->control_fd >= 0 ? 4u : 3u;
    if (a->report_fd >= static_cast<int>(first)) {
      unsigned r = static_cast<unsigned>(a->report_fd);
      if (r > first) syscall(SYS_close_range, first, r - 1, 0u);
      syscall(SYS_close_range, r + 1, ~0u, 0u);
    } else {
      syscall(SYS_close_range, first, ~0u, 0u);
    }
  }
  {
    struct rlimit lim = {a->max_files, a->max_files};
    if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &lim, nullptr) < 0) {
      step = kStepRlimit;
      goto fail;
    }
  }
  {
    // Batch scheduling: a function process woken by its Runtime API answer does not preempt the
    // io thread that woke it (which goes on with the other events of its loop); it runs when a
    // core is free. On a loaded node that saves a context switch per invoke.
    struct sched_param param = {0};
    syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &param);
  }
  // No exec can grant privileges from here on (setuid binaries, file capabilities).
  if (a->no_new_privs && syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    step = kStepNoNewPrivs;
    goto fail;
  }
  if (a->cwd && a->cwd[0] && syscall(SYS_chdir, a->cwd) < 0) {
    step = kStepChdir;
    goto fail;
  }
  if (a->seccomp && syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, a->seccomp, 0, 0) < 0) {
    step = kStepSeccomp;
    goto fail;
  }
  {
    unsigned long empty = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, nullptr, 8);
  }
  syscall(SYS_execve, a->path, a->argv, a->envp);
  step = kStepExec;
fail:
  int err = errno;
  a->err = err;
  a->step = step;
  if (a->report_fd >= 0) {
    int msg[2] = {step, err};
    syscall(SYS_write, a->report_fd, msg, sizeof msg);
  }
  syscall(SYS_exit_group, 127);
  return 127;
}

// The child's stack in vfork mode: one per launching thread, reused by every launch from it.
constexpr size_t kChildStackBytes = 256 * 1024;

struct ChildStack {
  void* base = nullptr;
  ChildStack() {
    base = mmap(nullptr, kChildStackBytes, PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (base == MAP_FAILED) base = nullptr;
  }
  ~ChildStack() {
    if (base) munmap(base, kChildStackBytes);
  }
  void* top() const { return static_cast<char*>(base) + kChildStackBytes; }
};

// Moves fd to a number >= 4 (so that dup2 onto 0-3 in the child always clears O_CLOEXEC and
// never lands on a descriptor the child still needs).
int above_stdio(int fd) {
  if (fd < 0 || fd >= 4) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 4);
  close(fd);
  return moved;
}

std::string lower_first(std::string s) {
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z') s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

Error launch_error(const std::string& path, int step, int err) {
  std::string reason = lower_first(std::strerror(err));
  if (step == kStepExec &&
      (err == ENOENT || err == EACCES || err == ENOEXEC || err == ENOTDIR || err == ELOOP)) {
    // The program itself is the problem: worded as Lambda words it (Go's exec error).
    return Error{"Runtime.InvalidEntrypoint", 502, "fork/exec " + path + ": " + reason};
  }
  if (step == kStepChdir) {
    return Error{"ServiceException", 500, "cannot enter the function's code folder: " + reason};
  }
  return Error{
      "ServiceException", 500,
      std::string("cannot start the function's process: ") + step_name(step) + ": " + reason};
}

class Process final : public SandboxProcess {
 public:
  // rusage_peak: whether the kernel's rusage peak is the process's own. It is not after a vfork
  // launch: exec folds the high-water mark of the memory the child shared until then (the
  // node's) into it.
  Process(pid_t pid, int pidfd, int output_fd, int status_fd,
          std::unique_ptr<InstanceCgroup> cgroup, bool rusage_peak)
      : pid_(pid),
        pidfd_(pidfd),
        rusage_peak_(rusage_peak),
        cgroup_(std::move(cgroup)),
        output_fd_(output_fd),
        status_fd_(status_fd) {}

  ~Process() override {
    {
      std::lock_guard lock(mu_);
      if (!reaped_) {
        ::kill(-pid_, SIGKILL);
        if (cgroup_) cgroup_->kill_all(SIGKILL);
        reap_locked(/*block=*/true);
      }
    }
    cgroup_.reset();  // kills any straggler and removes the folder
    if (output_fd_ >= 0) close(output_fd_);
    if (status_fd_ >= 0) close(status_fd_);
    if (pidfd_ >= 0) close(pidfd_);
  }

  pid_t pid() const override { return pid_; }
  int exit_fd() const override { return pidfd_; }

  int take_output_fd() override {
    std::lock_guard lock(mu_);
    int fd = output_fd_;
    output_fd_ = -1;
    return fd;
  }

  void kill(int sig) override {
    std::lock_guard lock(mu_);
    // While the leader is not reaped its pid cannot be reused, so -pid is still our group.
    if (!reaped_) ::kill(-pid_, sig);
    // Descendants that left the group (setsid) are still in the cgroup.
    if (cgroup_) cgroup_->kill_all(sig);
  }

  int64_t peak_memory_kb() override {
    std::lock_guard lock(mu_);
    if (reaped_) return status_.max_rss_kb;
    if (status_fd_ < 0) return last_peak_kb_;
    char buf[4096];
    ssize_t n = pread(status_fd_, buf, sizeof buf - 1, 0);
    if (n <= 0) return last_peak_kb_;
    buf[n] = 0;
    const char* p = std::strstr(buf, "VmHWM:");
    if (p) {
      int64_t kb = std::strtoll(p + 6, nullptr, 10);
      if (kb > last_peak_kb_) last_peak_kb_ = kb;
    }
    return last_peak_kb_;
  }

  std::optional<ExitStatus> try_reap() override {
    std::lock_guard lock(mu_);
    if (reaped_) return status_;
    if (!reap_locked(/*block=*/false)) return std::nullopt;
    return status_;
  }

 private:
  // REQUIRES: mu_ held. Returns true once reaped.
  bool reap_locked(bool block) {
    if (reaped_) return true;
    siginfo_t info;
    if (!block) {
      // Peek first: the zombie still holds the pid, so the group can be killed safely before the
      // leader is reaped, and nothing it started outlives it.
      std::memset(&info, 0, sizeof info);
      if (syscall(SYS_waitid, P_PIDFD, pidfd_, &info, WEXITED | WNOHANG | WNOWAIT, nullptr) < 0) {
        if (errno != ECHILD) return false;
        // Reaped by someone else (SIGCHLD set to SIG_IGN?): nothing more to learn.
        mark_reaped(nullptr, nullptr);
        return true;
      }
      if (info.si_pid == 0) return false;  // still running
      ::kill(-pid_, SIGKILL);
      if (cgroup_) cgroup_->kill_all(SIGKILL);
    }
    std::memset(&info, 0, sizeof info);
    struct rusage ru;
    std::memset(&ru, 0, sizeof ru);
    long r;
    do {
      r = syscall(SYS_waitid, P_PIDFD, pidfd_, &info, WEXITED, &ru);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      mark_reaped(nullptr, nullptr);
      return true;
    }
    mark_reaped(&info, &ru);
    return true;
  }

  void mark_reaped(const siginfo_t* info, const struct rusage* ru) {
    reaped_ = true;
    if (info) {
      if (info->si_code == CLD_EXITED) {
        status_.code = info->si_status;
      } else {
        status_.signaled = true;
        status_.signal = info->si_status;
        status_.core_dumped = info->si_code == CLD_DUMPED;
      }
    }
    status_.max_rss_kb = last_peak_kb_;
    if (rusage_peak_ && ru && ru->ru_maxrss > status_.max_rss_kb) {
      status_.max_rss_kb = ru->ru_maxrss;
    }
    if (cgroup_) {
      // The whole instance, every process of it: what Lambda's Max Memory Used counts. (The
      // rusage peak is not: in vfork mode it includes the node's own memory, which the child
      // shared until it execed.)
      int64_t peak = cgroup_->peak_bytes() / 1024;
      if (peak > 0) status_.max_rss_kb = peak;
      status_.oom_killed = cgroup_->oom_killed();
    }
    if (status_fd_ >= 0) {
      close(status_fd_);
      status_fd_ = -1;
    }
  }

  const pid_t pid_;
  const int pidfd_;
  const bool rusage_peak_;
  std::unique_ptr<InstanceCgroup> cgroup_;  // null without cgroups
  std::mutex mu_;
  int output_fd_;             // GUARDED_BY(mu_)
  int status_fd_;             // GUARDED_BY(mu_): /proc/<pid>/status, for VmHWM
  int64_t last_peak_kb_ = 0;  // GUARDED_BY(mu_)
  bool reaped_ = false;       // GUARDED_BY(mu_)
  ExitStatus status_;         // GUARDED_BY(mu_)
};

class ProcessSandbox final : public Sandbox {
 public:
  explicit ProcessSandbox(ProcessSandboxOptions options) : options_(options) {
    null_fd_ = above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC));
    if (options_.limits) {
      cgroups_ = open_cgroup_root(&cgroups_off_);
      auto filter = build_instance_seccomp_filter();
      if (filter.ok()) {
        seccomp_prog_ = std::move(filter).value();
        seccomp_.len = static_cast<unsigned short>(seccomp_prog_.size());
        seccomp_.filter = seccomp_prog_.data();
      } else {
        seccomp_off_ = filter.error().message;
      }
    }
  }

  std::vector<std::string> protections() const override {
    std::vector<std::string> out;
    if (cgroups_) {
      out.push_back("on: memory limit = MemorySize, at most " +
                    std::to_string(kMaxInstanceProcesses) + " processes, by " +
                    cgroups_->describe());
    } else {
      out.push_back("off: memory and process limits (" +
                    (options_.limits ? cgroups_off_ : std::string("turned off")) + ")");
    }
    out.push_back("on: at most " + std::to_string(kMaxOpenFiles) + " open files (RLIMIT_NOFILE)");
    out.push_back(std::string(options_.limits ? "on" : "off") + ": no_new_privs");
    if (!seccomp_prog_.empty()) {
      out.push_back("on: seccomp filter (" + std::to_string(denied_syscalls().size()) +
                    " system calls and namespace clones refused with EPERM)");
    } else {
      out.push_back("off: seccomp filter (" +
                    (options_.limits ? seccomp_off_ : std::string("turned off")) + ")");
    }
    out.push_back(
        "off: PID, mount, IPC, UTS and network namespaces, private /tmp, read-only root, "
        "unprivileged uid (not built yet: functions run as the node's user and see its file "
        "system and processes, so a determined function can raise its own cgroup limits or "
        "read the data directory)");
    return out;
  }
  ~ProcessSandbox() override {
    if (null_fd_ >= 0) close(null_fd_);
  }

  Result<std::unique_ptr<SandboxProcess>> launch(const LaunchSpec& spec) override {
    if (null_fd_ < 0) return internal_error("cannot open /dev/null");
    if (spec.argv.empty()) return internal_error("launch: empty argv");
    // Everything the child reads is prepared here.
    std::vector<char*> argv;
    argv.reserve(spec.argv.size() + 1);
    for (const auto& s : spec.argv) argv.push_back(const_cast<char*>(s.c_str()));
    argv.push_back(nullptr);
    std::vector<char*> envp;
    envp.reserve(spec.env.size() + 1);
    for (const auto& s : spec.env) envp.push_back(const_cast<char*>(s.c_str()));
    envp.push_back(nullptr);

    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) return launch_error(spec.executable, kStepDup, errno);
    int out_r = above_stdio(pipe_fds[0]);
    int out_w = above_stdio(pipe_fds[1]);
    if (out_r < 0 || out_w < 0) {
      if (out_r >= 0) close(out_r);
      if (out_w >= 0) close(out_w);
      return launch_error(spec.executable, kStepDup, EMFILE);
    }
    fcntl(out_r, F_SETFL, fcntl(out_r, F_GETFL) | O_NONBLOCK);

    ChildArgs args;
    args.path = spec.executable.c_str();
    args.argv = argv.data();
    args.envp = envp.data();
    args.cwd = spec.cwd.c_str();
    args.out_fd = out_w;
    args.null_fd = null_fd_;
    int control = -1;
    if (spec.control_fd >= 0) {
      control = fcntl(spec.control_fd, F_DUPFD_CLOEXEC, 4);
      if (control < 0) {
        close(out_r);
        close(out_w);
        return launch_error(spec.executable, kStepDup, errno);
      }
    }
    args.control_fd = control;
    args.max_files = static_cast<rlim_t>(spec.max_open_files);
    args.parent_pid = getpid();
    args.no_new_privs = options_.limits;
    if (!seccomp_prog_.empty()) args.seccomp = &seccomp_;
    std::unique_ptr<InstanceCgroup> cgroup;
    if (cgroups_) {
      auto made = cgroups_->create(spec.memory_mb, kMaxInstanceProcesses);
      if (!made.ok()) {
        close(out_r);
        close(out_w);
        if (control >= 0) close(control);
        return made.error();
      }
      cgroup = std::move(made).value();
      for (size_t i = 0; i < cgroup->procs_fds().size() && i < 2; ++i) {
        args.cgroup_fds[i] = cgroup->procs_fds()[i];
      }
    }

    pid_t pid = -1;
    int pidfd = -1;
    int step = kStepNone;
    int err = 0;
    if (options_.method == ProcessSandboxOptions::Method::kCloneVfork) {
      thread_local ChildStack stack;
      if (!stack.base) {
        close(out_r);
        close(out_w);
        if (control >= 0) close(control);
        return launch_error(spec.executable, kStepNone, ENOMEM);
      }
      // Blocked here, the child starts with every signal blocked and no handler of ours can run
      // on its stack; it resets dispositions and unblocks right before exec.
      sigset_t all, old;
      sigfillset(&all);
      pthread_sigmask(SIG_SETMASK, &all, &old);
      pid = clone(child_main, stack.top(), CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &args,
                  &pidfd);
      int clone_err = errno;
      pthread_sigmask(SIG_SETMASK, &old, nullptr);
      if (pid < 0) {
        step = kStepNone;
        err = clone_err;
      } else {
        step = args.step;
        err = args.err;
      }
    } else {
      int report[2];
      if (pipe2(report, O_CLOEXEC) != 0) {
        close(out_r);
        close(out_w);
        if (control >= 0) close(control);
        return launch_error(spec.executable, kStepNone, errno);
      }
      report[1] = above_stdio(report[1]);
      args.report_fd = report[1];
      pid = fork();
      if (pid == 0) {
        child_main(&args);
        _exit(127);
      }
      int fork_err = errno;
      close(report[1]);
      if (pid < 0) {
        err = fork_err;
      } else {
        int msg[2] = {0, 0};
        ssize_t n;
        do {
          n = read(report[0], msg, sizeof msg);
        } while (n < 0 && errno == EINTR);
        if (n == static_cast<ssize_t>(sizeof msg)) {
          step = msg[0];
          err = msg[1];
        }
        pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
      }
      close(report[0]);
    }
    close(out_w);
    if (control >= 0) close(control);

    if (pid < 0) {
      close(out_r);
      return launch_error(spec.executable, kStepNone, err);
    }
    if (step != kStepNone || pidfd < 0) {
      // The child failed before exec and exited: reap it here.
      int status;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (pidfd >= 0) close(pidfd);
      close(out_r);
      return launch_error(spec.executable, step, step == kStepNone ? errno : err);
    }
    std::string status_path = "/proc/" + std::to_string(pid) + "/status";
    int status_fd = open(status_path.c_str(), O_RDONLY | O_CLOEXEC);
    return std::unique_ptr<SandboxProcess>(
        std::make_unique<Process>(pid, pidfd, out_r, status_fd, std::move(cgroup),
                                  options_.method == ProcessSandboxOptions::Method::kFork));
  }

 private:
  const ProcessSandboxOptions options_;
  int null_fd_ = -1;
  std::unique_ptr<CgroupRoot> cgroups_;  // null: no limits (cgroups_off_ says why)
  std::string cgroups_off_;
  std::vector<sock_filter> seccomp_prog_;  // empty: no filter (seccomp_off_ says why)
  struct sock_fprog seccomp_ = {};
  std::string seccomp_off_;
};

}  // namespace

std::unique_ptr<Sandbox> make_process_sandbox(ProcessSandboxOptions options) {
  return std::make_unique<ProcessSandbox>(options);
}

}  // namespace nubo::runtime

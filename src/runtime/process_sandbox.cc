#include "runtime/process_sandbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "base/check.h"
#include "base/cpu_affinity.h"
#include "base/log.h"
#include "base/strings.h"
#include "runtime/cgroups.h"
#include "runtime/egress.h"
#include "runtime/limits.h"
#include "runtime/sandbox_child.h"
#include "runtime/seccomp_filter.h"
#include "runtime/spare_pool.h"
#include "runtime/zygote_protocol.h"

namespace nubo::runtime {

namespace {

#ifndef P_PIDFD
constexpr idtype_t P_PIDFD = static_cast<idtype_t>(3);
#endif

// What the child needs, prepared by the parent (the child allocates nothing). In vfork mode the
// child writes step (and c.err) here and the parent reads them once clone() returns.
struct ChildArgs {
  ChildArgs() { nubo_child_args_init(&c); }
  nubo_child_args c;
  const char* path = nullptr;
  char* const* argv = nullptr;
  char* const* envp = nullptr;
  int report_fd = -1;  // fork mode only: where the child writes {step, errno} on failure
  volatile int step = NUBO_STEP_NONE;
};

// Runs in the child between clone and exec: the sandbox (sandbox_child.h), then the exec. In
// vfork mode it shares the parent's memory and thread-local storage, so it only makes raw
// system calls and is not instrumented by the sanitizers.
__attribute__((no_sanitize("address", "undefined"))) __attribute__((noinline)) int child_main(
    void* raw) {
  auto* a = static_cast<ChildArgs*>(raw);
  // All signals are blocked here (the parent blocked them before clone); setup resets every
  // disposition, and they are unblocked right before exec.
  int step = nubo_child_setup(&a->c);
  if (step == NUBO_STEP_NONE) {
    unsigned long empty = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &empty, nullptr, 8);
    syscall(SYS_execve, a->path, a->argv, a->envp);
    a->c.err = errno;
    step = NUBO_STEP_EXEC;
  }
  a->step = step;
  if (a->report_fd >= 0) {
    int msg[2] = {step, a->c.err};
    syscall(SYS_write, a->report_fd, msg, sizeof msg);
  }
  syscall(SYS_exit_group, 127);
  return 127;
}

// How long a zygote may take to say it is ready, to answer, or a child of it to make its sandbox.
constexpr std::chrono::milliseconds kZygoteStartTimeout{10000};
// How long a restored process's template may take to say how it ended, once it was killed.
constexpr std::chrono::milliseconds kRestoredReapWait{3000};
// Zygotes kept at most (one per function, command line and start-up environment; ~2 MB of
// their own each).
constexpr size_t kMaxZygotes = 16;

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

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Reads the report a zygote's or template's child writes once its sandbox is made (or which step
// failed), waiting up to kZygoteStartTimeout; false on EOF (it died first) or no answer in time.
bool read_report(int fd, nubo_zygote_report* rep) {
  struct pollfd pfd = {fd, POLLIN, 0};
  if (poll(&pfd, 1, static_cast<int>(kZygoteStartTimeout.count())) != 1) return false;
  ssize_t n;
  do {
    n = read(fd, rep, sizeof *rep);
  } while (n < 0 && errno == EINTR);
  return n == static_cast<ssize_t>(sizeof *rep);
}

// Moves fd to a number >= 4 (so that dup2 onto 0-3 in the child always clears O_CLOEXEC and
// never lands on a descriptor the child still needs).
int above_stdio(int fd) {
  if (fd < 0 || fd >= 4) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 4);
  close(fd);
  return moved;
}

Error launch_error(const std::string& path, int step, int err) {
  std::string reason = lower_first(std::strerror(err));
  if (step == NUBO_STEP_EXEC &&
      (err == ENOENT || err == EACCES || err == ENOEXEC || err == ENOTDIR || err == ELOOP)) {
    // The program itself is the problem: worded as Lambda words it (Go's exec error).
    return Error{"Runtime.InvalidEntrypoint", 502, "fork/exec " + path + ": " + reason};
  }
  if (step == NUBO_STEP_CHDIR) {
    return Error{"ServiceException", 500, "cannot enter the function's code folder: " + reason};
  }
  return Error{"ServiceException", 500,
               std::string("cannot start the function's process: ") + nubo_child_step_name(step) +
                   ": " + reason};
}

// A spare's /var/task on the node's side: an empty folder bind-mounted on itself and made shared,
// so that the code mounted on it later (Process::attach_code) propagates into the instance.
Result<std::string> make_slot(const std::string& work_dir, std::string_view suffix = "") {
  static std::atomic<uint64_t> next{1};
  std::string path = work_dir + "/spare-" + std::to_string(getpid());
  path += "-";
  path += std::to_string(next.fetch_add(1));
  path += suffix;
  if (mkdir(path.c_str(), 0755) != 0) {
    return internal_error("cannot make a spare's code folder " + path + ": " +
                          lower_first(std::strerror(errno)));
  }
  if (mount(path.c_str(), path.c_str(), nullptr, MS_BIND, nullptr) != 0 ||
      mount(nullptr, path.c_str(), nullptr, MS_SHARED, nullptr) != 0) {
    int err = errno;
    umount2(path.c_str(), MNT_DETACH);
    rmdir(path.c_str());
    return internal_error("cannot mount a spare's code folder " + path + ": " +
                          lower_first(std::strerror(err)));
  }
  return path;
}

// Unmounts what make_slot and attach_code mounted on path and removes the folder. Never deletes
// anything else: a folder still holding files is left alone.
void remove_slot(const std::string& path) {
  for (int i = 0; i < 4 && umount2(path.c_str(), MNT_DETACH) == 0; ++i) {
  }
  rmdir(path.c_str());
}

// The options of a read-only overlay of layers (two or more): "lowerdir=" with the last layer
// first (overlayfs puts its leftmost lower folder on top, and a later layer's files win, as
// Lambda extracts layers in order). ':', ',' and '\' in a path are escaped.
std::string overlay_options(const std::vector<std::string>& layer_dirs) {
  std::string out = "lowerdir=";
  for (size_t i = layer_dirs.size(); i-- > 0;) {
    for (char c : layer_dirs[i]) {
      if (c == ':' || c == ',' || c == '\\') out += '\\';
      out += c;
    }
    if (i > 0) out += ':';
  }
  return out;
}

// Mounts layer_dirs merged and read-only at target (a bind of the only one, an overlay of
// several). Returns errno, or 0.
int mount_layers(const std::vector<std::string>& layer_dirs, const std::string& target) {
  constexpr unsigned long kFlags = MS_RDONLY | MS_NOSUID | MS_NODEV;
  if (layer_dirs.size() >= 2) {
    std::string data = overlay_options(layer_dirs);
    return mount("overlay", target.c_str(), "overlay", kFlags, data.c_str()) == 0 ? 0 : errno;
  }
  int tree = open_tree(AT_FDCWD, layer_dirs[0].c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0) return errno;
  struct mount_attr attr = {};
  attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
  int err = 0;
  if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0 ||
      move_mount(tree, "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0) {
    err = errno;
  }
  close(tree);
  return err;
}

// The network namespace the calling thread started in (opened on its first launch).
int home_netns() {
  thread_local int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  return fd;
}

// Puts the calling thread into a new network namespace with loopback up; the destructor takes it
// back to home_netns(). A clone() in between makes a child that lives in the new namespace, and
// sockets made in between belong to it.
class NewNetns {
 public:
  NewNetns() = default;
  NewNetns(const NewNetns&) = delete;
  NewNetns& operator=(const NewNetns&) = delete;
  ~NewNetns() {
    // A launcher thread left in an instance's namespace would put every later instance there.
    if (entered_) NUBO_CHECK(setns(home_netns(), CLONE_NEWNET) == 0);
  }

  Status enter() {
    if (home_netns() < 0) return net_error("open /proc/thread-self/ns/net", errno);
    if (unshare(CLONE_NEWNET) != 0) return net_error("unshare(CLONE_NEWNET)", errno);
    entered_ = true;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) return net_error("socket", errno);
    struct ifreq ifr;
    std::memset(&ifr, 0, sizeof ifr);
    std::memcpy(ifr.ifr_name, "lo", 3);
    bool up = ioctl(s, SIOCGIFFLAGS, &ifr) == 0;
    if (up) {
      ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP | IFF_RUNNING);
      up = ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
    }
    int err = errno;
    close(s);
    if (!up) return net_error("bringing up loopback", err);
    return Ok{};
  }

  // Puts the calling thread into the network namespace of fd (an instance's).
  Status enter_existing(int fd) {
    if (home_netns() < 0) return net_error("open /proc/thread-self/ns/net", errno);
    if (setns(fd, CLONE_NEWNET) != 0) return net_error("setns", errno);
    entered_ = true;
    return Ok{};
  }

  // A TCP socket listening on 127.0.0.1:port of the namespace entered.
  Result<int> listen_on(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return net_error("socket", errno);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr;
    std::memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(fd, SOMAXCONN) != 0) {
      int err = errno;
      close(fd);
      return net_error("listening on 127.0.0.1:" + std::to_string(port), err);
    }
    return fd;
  }

 private:
  static Error net_error(const std::string& what, int err) {
    return internal_error("cannot give the instance its network: " + what + ": " +
                          lower_first(std::strerror(err)));
  }
  bool entered_ = false;
};

class Process final : public SandboxProcess {
 public:
  // rusage_peak: whether the kernel's rusage peak is the process's own. It is not after a vfork
  // launch: exec folds the high-water mark of the memory the child shared until then (the
  // node's) into it.
  // listeners: sockets listening in the instance's network namespace; slot, opt_slot: the
  // spare's code and layers folders of the node (make_slot), empty when the code and layers
  // were mounted at launch.
  // isolated: the process is pid 1 of its own PID namespace.
  Process(pid_t pid, int pidfd, int output_fd, int status_fd,
          std::unique_ptr<InstanceCgroup> cgroup, bool rusage_peak, std::vector<int> listeners,
          std::string slot, std::string opt_slot, bool isolated)
      : pid_(pid),
        pidfd_(pidfd),
        rusage_peak_(rusage_peak),
        isolated_(isolated),
        cgroup_(std::move(cgroup)),
        slot_(std::move(slot)),
        opt_slot_(std::move(opt_slot)),
        output_fd_(output_fd),
        status_fd_(status_fd),
        listeners_(std::move(listeners)) {}

  ~Process() override {
    {
      std::lock_guard lock(mu_);
      if (!reaped_) {
        signal_group_locked(SIGKILL);
        if (cgroup_) cgroup_->kill_all(SIGKILL);
        reap_locked(/*block=*/true);
      }
    }
    cgroup_.reset();  // kills any straggler and removes the folder
    if (!slot_.empty()) remove_slot(slot_);
    if (!opt_slot_.empty()) remove_slot(opt_slot_);
    for (int fd : listeners_) close(fd);
    if (netns_fd_ >= 0) close(netns_fd_);
    if (status_pipe_ >= 0) close(status_pipe_);
    if (output_fd_ >= 0) close(output_fd_);
    if (status_fd_ >= 0) close(status_fd_);
    if (pidfd_ >= 0) close(pidfd_);
  }

  pid_t pid() const override { return pid_; }
  int exit_fd() const override { return status_pipe_ >= 0 ? status_pipe_ : pidfd_; }

  // Isolated: a descriptor of the process's network namespace (owned), where restored
  // instances of it get their listeners. -1 otherwise.
  void set_netns(int fd) { netns_fd_ = fd; }
  // Its outbound network's addresses, freed with the process.
  void set_egress(std::unique_ptr<Egress::Lease> lease) { egress_ = std::move(lease); }
  int netns() const { return netns_fd_; }
  // Restored from a template (Sandbox::restore): the process is the template's child, not the
  // node's; the template writes how it ended on this pipe (owned, O_NONBLOCK), which is then
  // the exit descriptor.
  void set_status_pipe(int fd) { status_pipe_ = fd; }

  int take_output_fd() override {
    std::lock_guard lock(mu_);
    int fd = output_fd_;
    output_fd_ = -1;
    return fd;
  }

  std::vector<int> take_listeners() override {
    std::lock_guard lock(mu_);
    return std::move(listeners_);
  }

  Status attach_code(const std::string& code_dir,
                     const std::vector<std::string>& layer_dirs) override {
    if (slot_.empty()) return Ok{};
    if (!layer_dirs.empty()) {
      if (opt_slot_.empty()) return attach_error("mount /opt", ENOENT);
      if (int err = mount_layers(layer_dirs, opt_slot_); err != 0) {
        return attach_error("mounting the layers at /opt", err);
      }
    }
    // A copy of the code folder's mount, read-only, moved onto the slot: the mount propagates
    // to the slot's copy at /var/task in the instance's namespace.
    int tree = open_tree(AT_FDCWD, code_dir.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0) return attach_error("open_tree", errno);
    struct mount_attr attr = {};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0 ||
        move_mount(tree, "", AT_FDCWD, slot_.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0) {
      int err = errno;
      close(tree);
      return attach_error("mount", err);
    }
    close(tree);
    return Ok{};
  }

  void kill(int sig) override {
    std::lock_guard lock(mu_);
    // pid 1 of a PID namespace gets only the signals it handles (SIGKILL always): a runtime that
    // does not handle sig would never see it, so it gets what ends it for sure.
    if (isolated_ && sig != SIGKILL && !reaped_ && !handles_locked(sig)) sig = SIGKILL;
    if (!reaped_) signal_group_locked(sig);
    // Descendants that left the group (setsid) are still in the cgroup.
    if (cgroup_) cgroup_->kill_all(sig);
  }

  void set_cpus(const std::vector<int>& cpus) override {
    std::lock_guard lock(mu_);
    if (reaped_) return;  // the pid may be another process's by now
    std::vector<pid_t> pids = cgroup_ ? cgroup_->pids() : std::vector<pid_t>{};
    if (std::find(pids.begin(), pids.end(), pid_) == pids.end()) pids.push_back(pid_);
    set_process_cpus(pids, cpus);
  }

  std::optional<std::chrono::nanoseconds> cpu_time() override {
    std::lock_guard lock(mu_);
    if (reaped_) return std::nullopt;
    clockid_t clock;
    struct timespec ts;
    if (::clock_getcpuclockid(pid_, &clock) != 0 || ::clock_gettime(clock, &ts) != 0) {
      return std::nullopt;
    }
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
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
  // REQUIRES: mu_ held. Whether the process has a handler for sig (SigCgt of its status).
  bool handles_locked(int sig) {
    if (status_fd_ < 0) return false;
    char buf[4096];
    ssize_t n = pread(status_fd_, buf, sizeof buf - 1, 0);
    if (n <= 0) return false;
    buf[n] = 0;
    const char* p = std::strstr(buf, "SigCgt:");
    if (!p) return false;
    unsigned long long caught = std::strtoull(p + 7, nullptr, 16);
    return sig >= 1 && sig <= 64 && ((caught >> (sig - 1)) & 1ULL) != 0;
  }

  // REQUIRES: mu_ held. Returns true once reaped.
  bool reap_locked(bool block) {
    if (reaped_) return true;
    if (status_pipe_ >= 0) return reap_restored_locked(block);
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

  // REQUIRES: mu_ held, not reaped. Sends sig to the process's group. While the node's own
  // child is not reaped its pid cannot be reused, so -pid is still its group. A restored
  // process is its template's to reap: its pid may be another's by now, so only its pidfd
  // (the leader) is signalled; the rest of it is in its cgroup.
  void signal_group_locked(int sig) {
    if (status_pipe_ >= 0) {
      syscall(SYS_pidfd_send_signal, pidfd_, sig, nullptr, 0);
    } else {
      ::kill(-pid_, sig);
    }
  }

  // REQUIRES: mu_ held. reap_locked for a restored process: its template reaps it and writes
  // {NUBO_TEMPLATE_EXITED, wait status} on the status pipe. Blocking, it gives the template
  // kRestoredReapWait to say so, then takes the process as killed.
  bool reap_restored_locked(bool block) {
    if (block) {
      signal_group_locked(SIGKILL);
      if (cgroup_) cgroup_->kill_all(SIGKILL);
    }
    auto give_up = std::chrono::steady_clock::now() + kRestoredReapWait;
    nubo_zygote_report r{};
    for (;;) {
      ssize_t n = read(status_pipe_, &r, sizeof r);
      if (n == static_cast<ssize_t>(sizeof r) && r.step == NUBO_TEMPLATE_EXITED) break;
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        // The template went first (and its namespace with every process in it).
        mark_reaped(nullptr, nullptr);
        status_.signaled = true;
        status_.signal = SIGKILL;
        return true;
      }
      if (n < 0 && errno == EAGAIN) {
        if (!block) return false;
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            give_up - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
          mark_reaped(nullptr, nullptr);
          status_.signaled = true;
          status_.signal = SIGKILL;
          return true;
        }
        struct pollfd pfd = {status_pipe_, POLLIN, 0};
        poll(&pfd, 1, static_cast<int>(left.count()));
      }
    }
    if (cgroup_) cgroup_->kill_all(SIGKILL);  // what it started and left behind
    siginfo_t info;
    std::memset(&info, 0, sizeof info);
    if (WIFEXITED(r.err)) {
      info.si_code = CLD_EXITED;
      info.si_status = WEXITSTATUS(r.err);
    } else {
      info.si_code = WCOREDUMP(r.err) ? CLD_DUMPED : CLD_KILLED;
      info.si_status = WTERMSIG(r.err);
    }
    mark_reaped(&info, nullptr);
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

  static Error attach_error(const char* what, int err) {
    return Error{"ServiceException", 500,
                 std::string("cannot give the instance its code: ") + what + ": " +
                     lower_first(std::strerror(err))};
  }

  const pid_t pid_;
  const int pidfd_;
  const bool rusage_peak_;
  const bool isolated_;
  std::unique_ptr<InstanceCgroup> cgroup_;  // null without cgroups
  const std::string slot_;
  const std::string opt_slot_;
  std::mutex mu_;
  int output_fd_;                          // GUARDED_BY(mu_)
  int status_fd_;                          // GUARDED_BY(mu_): /proc/<pid>/status, for VmHWM
  int64_t last_peak_kb_ = 0;               // GUARDED_BY(mu_)
  bool reaped_ = false;                    // GUARDED_BY(mu_)
  ExitStatus status_;                      // GUARDED_BY(mu_)
  std::vector<int> listeners_;             // GUARDED_BY(mu_)
  int netns_fd_ = -1;                      // set once, before the process is shared
  std::unique_ptr<Egress::Lease> egress_;  // set once, before the process is shared
  int status_pipe_ = -1;                   // set once, before the process is shared
};

class ProcessSandbox final : public Sandbox {
 public:
  explicit ProcessSandbox(ProcessSandboxOptions options) : options_(std::move(options)) {
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
    if (options_.isolate) {
      isolation_off_ = set_up_isolation();
      isolated_ = isolation_off_.empty();
    } else {
      isolation_off_ = "turned off";
    }
    if (isolated_ && options_.egress) {
      auto started = Egress::start(options_.egress_lock_dir);
      if (started.ok()) {
        egress_ = std::move(started).value();
      } else {
        egress_off_ = started.error().message;
      }
    } else {
      egress_off_ = isolated_ ? "turned off" : "no network namespaces";
    }
    if (cgroups_) {
      if (geteuid() != 0 || options_.work_dir.empty()) {
        fast_moves_off_ = "the node is not root";
      } else if (mkdir(options_.work_dir.c_str(), 0700) != 0 && errno != EEXIST) {
        fast_moves_off_ = "cannot make " + options_.work_dir;
      } else {
        fast_moves_ = keep_cgroup_moves_fast(options_.work_dir + "/cgroup-moves", &fast_moves_off_);
      }
    }
  }

  std::vector<std::string> protections() const override {
    std::vector<std::string> out;
    if (cgroups_) {
      out.push_back("on: memory limit = MemorySize, at most " +
                    std::to_string(kMaxInstanceProcesses) + " processes" +
                    (cgroups_->cpu_weight() ? ", CPU weight proportional to MemorySize" : "") +
                    ", by " + cgroups_->describe());
      if (!cgroups_->cpu_weight()) {
        out.push_back("off: CPU weight proportional to MemorySize (no cpu controller)");
      }
    } else {
      out.push_back("off: memory and process limits (" +
                    (options_.limits ? cgroups_off_ : std::string("turned off")) + ")");
    }
    if (fast_moves_) {
      out.push_back(
          "on: fast cgroup moves (a cgroup hierarchy mounted with favordynmods: an instance's "
          "move into its cgroups does not wait for an RCU grace period)");
    } else if (cgroups_) {
      out.push_back("off: fast cgroup moves (" + fast_moves_off_ +
                    "): each instance's move into its cgroups waits for an RCU grace period");
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
    if (isolated_) {
      out.push_back(
          "on: PID, mount, IPC, UTS and network namespaces; read-only root with the code at "
          "/var/task, the layers at /opt and a private /tmp; uid " +
          std::to_string(options_.uid) + ", no capabilities");
      if (egress_) {
        out.push_back("on: " + egress_->describe() +
                      "; a function with VpcConfig subnets reaches only its Runtime API and nubo");
      } else {
        out.push_back("off: outbound network (" + egress_off_ +
                      "): functions reach only their Runtime API and nubo on loopback");
      }
    } else {
      out.push_back(
          "off: PID, mount, IPC, UTS and network namespaces, private /tmp, read-only root, "
          "layers at /opt (functions with layers do not start), unprivileged uid (" +
          isolation_off_ +
          ": functions run as the node's user and see its file system, processes and network)");
    }
    return out;
  }

  const SandboxView* view() const override { return isolated_ ? &view_ : nullptr; }

  // Zygotes serve isolated launches only: an isolated child's start-up environment names only
  // the instance's view of the file system (LD_LIBRARY_PATH=/var/runtime:...:/var/task/lib),
  // which on the node's file system are folders no function can write (where they exist at
  // all), and the zygote, a process of the node's own, starts with that environment.
  bool zygotes_active() const {
    return isolated_ && !options_.zygote_lib.empty() &&
           options_.method == ProcessSandboxOptions::Method::kCloneVfork;
  }

  ~ProcessSandbox() override {
    if (null_fd_ >= 0) close(null_fd_);
  }

  Result<std::unique_ptr<SandboxProcess>> launch(const LaunchSpec& spec) override {
    if (spec.zygote && zygotes_active()) {
      // One launch at a time per node through zygotes: each is one thread anyway.
      std::lock_guard lock(zygote_mu_);
      if (Zygote* z = zygote_for_locked(spec)) {
        bool gone = false;
        auto launched = launch_with(spec, /*isolate=*/true, z, /*helper=*/false, &gone);
        if (!gone) return launched;
        log_warn("sandbox: a zygote of " + spec.executable + " is gone (" +
                 launched.error().message + "); the next launch starts another");
        zygotes_.erase(SparePool::command_key(spec));
      }
    }
    if (spec.require_zygote) {
      return internal_error("no zygote can start this process (zygotes are off or failed)");
    }
    return launch_with(spec, isolated_);
  }

  Result<std::unique_ptr<SandboxProcess>> restore(SandboxProcess& tmpl, int control,
                                                  const LaunchSpec& spec,
                                                  bool* template_gone) override {
    auto* t = dynamic_cast<Process*>(&tmpl);
    if (!t || t->netns() < 0 || !cgroups_) {
      return internal_error("cannot restore from a snapshot without isolation and cgroups");
    }
    // What has to be undone if the restore fails, in one place.
    int out[2] = {-1, -1}, assign[2] = {-1, -1}, report[2] = {-1, -1};
    std::vector<int> listeners;
    auto undo = [&] {
      for (int fd : {out[0], out[1], assign[0], assign[1], report[0], report[1]}) {
        if (fd >= 0) close(fd);
      }
      for (int fd : listeners) close(fd);
    };
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(assign, O_CLOEXEC) != 0 ||
        pipe2(report, O_CLOEXEC) != 0) {
      int err = errno;
      undo();
      return launch_error(spec.executable, NUBO_STEP_DUP, err);
    }
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
    auto made = cgroups_->create(spec.memory_mb, kMaxInstanceProcesses);
    if (!made.ok()) {
      undo();
      return made.error();
    }
    std::unique_ptr<InstanceCgroup> cgroup = std::move(made).value();
    // Its listeners, in the template's network.
    {
      NewNetns net;  // leaves it for home_netns() at the end of this scope
      Status entered = net.enter_existing(t->netns());
      if (!entered.ok()) {
        undo();
        return entered.error();
      }
      for (uint16_t port : spec.listen_ports) {
        auto fd = net.listen_on(port);
        if (!fd.ok()) {
          undo();
          return fd.error();
        }
        listeners.push_back(fd.value());
      }
    }
    std::vector<int> fds = {out[1], assign[0], report[1]};
    uint32_t mask = (1u << NUBO_TFD_OUT) | (1u << NUBO_TFD_CONTROL) | (1u << NUBO_TFD_REPORT);
    for (size_t i = 0; i < cgroup->procs_fds().size() && i < 3; ++i) {
      fds.push_back(cgroup->procs_fds()[i]);
      mask |= 1u << (NUBO_TFD_CGROUP0 + i);
    }
    nubo_template_request req{NUBO_TEMPLATE_MAGIC, mask};
    Zygote conn;  // borrows control for zygote_fork's round trip
    conn.sock = control;
    bool gone = false;
    auto forked = zygote_fork(conn, std::string(reinterpret_cast<const char*>(&req), sizeof req),
                              fds, &gone, /*with_pidfd=*/false);
    conn.sock = -1;
    if (template_gone) *template_gone = gone;
    for (int* fd : {&out[1], &assign[0], &report[1]}) {
      close(*fd);
      *fd = -1;
    }
    if (!forked.ok()) {
      undo();
      return forked.error();
    }
    nubo_zygote_report rep{};
    bool reported = read_report(report[0], &rep);
    std::vector<pid_t> pids = cgroup->pids();
    if (!reported || rep.step != NUBO_STEP_NONE || pids.size() != 1) {
      cgroup->kill_all(SIGKILL);
      undo();
      if (reported && rep.step != NUBO_STEP_NONE) {
        return launch_error(spec.executable, rep.step, rep.err);
      }
      return internal_error("cannot restore from the snapshot: its child did not start");
    }
    pid_t pid = pids[0];
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    std::string message = SparePool::assignment_message(spec);
    bool written = write_all(assign[1], message);
    close(assign[1]);
    assign[1] = -1;
    if (pidfd < 0 || !written) {
      if (pidfd >= 0) close(pidfd);
      cgroup->kill_all(SIGKILL);
      undo();
      return internal_error("cannot restore from the snapshot: its child ended at once");
    }
    fcntl(report[0], F_SETFL, fcntl(report[0], F_GETFL) | O_NONBLOCK);
    std::string status_path = "/proc/" + std::to_string(pid) + "/status";
    int status_fd = open(status_path.c_str(), O_RDONLY | O_CLOEXEC);
    auto process =
        std::make_unique<Process>(pid, pidfd, out[0], status_fd, std::move(cgroup), false,
                                  std::move(listeners), std::string(), std::string(),
                                  /*isolated=*/false);
    process->set_status_pipe(report[0]);
    return std::unique_ptr<SandboxProcess>(std::move(process));
  }

  bool zygotes_on() const override { return zygotes_active(); }

  size_t zygote_count() const override {
    std::lock_guard lock(zygote_mu_);
    return zygotes_.size();
  }

 private:
  // Prepares isolation and proves it with a launch of /usr/bin/true; returns why it is off, or
  // "" when it is on.
  std::string set_up_isolation() {
    if (options_.method != ProcessSandboxOptions::Method::kCloneVfork) return "fork method";
    if (geteuid() != 0) return "the node is not root: namespaces and mounts need CAP_SYS_ADMIN";
    if (options_.work_dir.empty()) return "no work folder";
    if (mkdir(options_.work_dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return "cannot make " + options_.work_dir + ": " + lower_first(std::strerror(errno));
    }
    root_dir_ = options_.work_dir + "/root";
    empty_dir_ = options_.work_dir + "/empty";
    for (const std::string& dir : {root_dir_, empty_dir_}) {
      if (mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
        return "cannot make " + dir + ": " + lower_first(std::strerror(errno));
      }
    }
    remove_stale_slots();
    if (std::string why = identity_files(); !why.empty()) return why;
    build_plan();
    LaunchSpec probe;
    probe.executable = "/usr/bin/true";
    probe.argv = {probe.executable};
    probe.cwd = view_.task_root;
    probe.code_dir = root_dir_;  // an empty folder
    probe.memory_mb = 128;
    probe.ephemeral_storage_mb = 1;
    probe.listen_ports = {view_.runtime_api_port};
    auto launched = launch_with(probe, /*isolate=*/true);
    if (!launched.ok()) return "a test launch failed: " + launched.error().message;
    auto& process = *launched.value();
    struct pollfd pfd = {process.exit_fd(), POLLIN, 0};
    poll(&pfd, 1, 5000);
    auto status = process.try_reap();
    if (!status || status->signaled || status->code != 0) {
      return "a test launch of /usr/bin/true did not exit 0";
    }
    if (process.take_listeners().size() != 1) return "a test launch had no listener";
    return {};
  }

  // <work_dir>/passwd and group: the host's, with the instance's uid and gid named as on Lambda
  // (sbx_user1051, uid 993, gid 990 there) and its home at /tmp, so that programs that look
  // their user up (getpwuid: Node's os.homedir(), Python's pwd, ssh, git) find one. Returns why
  // that failed, or "".
  std::string identity_files() {
    auto rewrite = [&](const char* name, unsigned id, const std::string& line) -> std::string {
      std::string host;
      {
        std::ifstream in(std::string("/etc/") + name);
        std::string l;
        std::string ours = ":" + std::to_string(id) + ":";
        while (std::getline(in, l)) {
          // Drop a host entry with the same id (field 3) or name: the instance's wins.
          size_t c1 = l.find(':'), c2 = c1 == std::string::npos ? c1 : l.find(':', c1 + 1);
          bool same_id = c2 != std::string::npos && l.compare(c2, ours.size(), ours) == 0;
          if (same_id || l.rfind("sbx_user1051:", 0) == 0) continue;
          host += l;
          host += '\n';
        }
      }
      host += line;
      std::string path = options_.work_dir + "/" + name;
      std::string tmp = path + ".new";
      {
        std::ofstream out(tmp, std::ios::trunc);
        out << host;
        if (!out.flush()) return "cannot write " + tmp;
      }
      chmod(tmp.c_str(), 0644);
      if (rename(tmp.c_str(), path.c_str()) != 0) {
        return "cannot write " + path + ": " + lower_first(std::strerror(errno));
      }
      return {};
    };
    std::string uid = std::to_string(options_.uid), gid = std::to_string(options_.gid);
    std::string why = rewrite("passwd", options_.uid,
                              "sbx_user1051:x:" + uid + ":" + gid + "::/tmp:/sbin/nologin\n");
    if (why.empty()) why = rewrite("group", options_.gid, "sbx_user1051:x:" + gid + ":\n");
    return why;
  }

  // Slots a node that was killed left behind (their mounts died with its mount namespace when
  // make_mounts_private was used; otherwise they are unmounted here).
  void remove_stale_slots() {
    DIR* dir = opendir(options_.work_dir.c_str());
    if (!dir) return;
    std::string mine = "spare-" + std::to_string(getpid());
    mine += "-";
    std::vector<std::string> stale;
    while (struct dirent* e = readdir(dir)) {
      std::string name = e->d_name;
      if (name.rfind("spare-", 0) == 0 && name.rfind(mine, 0) != 0) stale.push_back(name);
    }
    closedir(dir);
    for (const auto& name : stale) remove_slot(options_.work_dir + "/" + name);
  }

  const char* keep(std::string s) { return strings_.emplace_back(std::move(s)).c_str(); }

  void add(nubo_root_op op) { plan_.push_back(op); }
  void add_mkdir(const char* path, unsigned mode) {
    nubo_root_op op{};
    op.kind = NUBO_OP_MKDIR;
    op.a = path;
    op.mode = mode;
    add(op);
  }
  void add_symlink(const char* target, const char* link) {
    nubo_root_op op{};
    op.kind = NUBO_OP_SYMLINK;
    op.a = target;
    op.b = link;
    add(op);
  }
  void add_mount(const char* source, const char* target, const char* fstype, unsigned long flags,
                 const char* data) {
    nubo_root_op op{};
    op.kind = NUBO_OP_MOUNT;
    op.a = source;
    op.b = target;
    op.fstype = fstype;
    op.flags = flags;
    op.data = data;
    add(op);
  }
  // A read-only bind of source at target; returns the index of the bind's op.
  size_t add_ro_bind(const char* source, const char* target) {
    add_mkdir(target, 0755);
    size_t at = plan_.size();
    add_mount(source, target, nullptr, MS_BIND | MS_REC, nullptr);
    add_mount(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
              nullptr);
    return at;
  }
  void add_device(const char* path, unsigned minor) {
    nubo_root_op op{};
    op.kind = NUBO_OP_MKNOD;
    op.a = path;
    op.mode = S_IFCHR | 0666;
    op.dev = makedev(1, minor);
    add(op);
  }

  // The root every isolated instance gets (ProcessSandbox's header comment), as the child's list
  // of operations; the code's source and /tmp's size are filled in per launch.
  void build_plan() {
    // The host's top-level links into /usr (merged /usr) or folders.
    for (const char* name : {"bin", "sbin", "lib", "lib32", "lib64", "libx32"}) {
      std::string host = std::string("/") + name;
      struct stat st;
      if (lstat(host.c_str(), &st) != 0) continue;
      if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = readlink(host.c_str(), target, sizeof target - 1);
        if (n <= 0) continue;
        target[n] = 0;
        add_symlink(keep(target), keep(name));
      } else if (S_ISDIR(st.st_mode)) {
        add_ro_bind(keep(host), keep(name));
      }
    }
    add_ro_bind("/usr", "usr");
    add_ro_bind("/etc", "etc");
    // The host's users and groups plus the instance's own (identity_files()).
    for (const char* name : {"passwd", "group"}) {
      const char* target = keep(std::string("etc/") + name);
      add_mount(keep(options_.work_dir + "/" + name), target, nullptr, MS_BIND, nullptr);
      add_mount(nullptr, target, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
                nullptr);
    }
    add_mkdir("var", 0755);
    if (!options_.runtimes_dir.empty()) {
      add_ro_bind(keep(options_.runtimes_dir), "var/runtime");
      add_symlink("/var/runtime/nodejs/node_modules", "var/node_modules");
    } else {
      add_mkdir("var/runtime", 0755);
    }
    task_op_ = add_ro_bind(nullptr, "var/task");
    if (!options_.spare_exec.empty()) {
      // A file to mount the program on, then the program, read-only.
      nubo_root_op file{};
      file.kind = NUBO_OP_MKNOD;
      file.a = "var/nubo-spare-exec";
      file.mode = S_IFREG | 0755;
      add(file);
      add_mount(keep(options_.spare_exec), file.a, nullptr, MS_BIND, nullptr);
      add_mount(nullptr, file.a, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
                nullptr);
      view_.spare_exec = "/var/nubo-spare-exec";
    }
    opt_op_ = add_ro_bind(keep(empty_dir_), "opt");
    add_mkdir("tmp", 01777);
    tmp_op_ = plan_.size();
    add_mount("tmpfs", "tmp", "tmpfs", MS_NOSUID | MS_NODEV, nullptr);
    add_mkdir("dev", 0755);
    add_mount("tmpfs", "dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755");
    add_device("dev/null", 3);
    add_device("dev/zero", 5);
    add_device("dev/full", 7);
    add_device("dev/random", 8);
    add_device("dev/urandom", 9);
    add_symlink("/proc/self/fd", "dev/fd");
    add_symlink("/proc/self/fd/0", "dev/stdin");
    add_symlink("/proc/self/fd/1", "dev/stdout");
    add_symlink("/proc/self/fd/2", "dev/stderr");
    add_mkdir("proc", 0555);
    add_mount("proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr);
    // Last: the root itself becomes read-only.
    add_mount(nullptr, ".", nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
              nullptr);
  }

  static std::string describe(const nubo_root_op& op) {
    auto str = [](const char* p) { return std::string(p ? p : "-"); };
    switch (op.kind) {
      case NUBO_OP_MKDIR:
        return "mkdir /" + str(op.a);
      case NUBO_OP_SYMLINK:
        return "symlink /" + str(op.b);
      case NUBO_OP_MKNOD:
        return "mknod /" + str(op.a);
      case NUBO_OP_MOUNT:
        return "mount " + str(op.a) + " at /" + str(op.b);
    }
    return "?";
  }

  // A zygote (zygote.c) of one startup key: its process and the node's end of its socket.
  struct Zygote {
    std::unique_ptr<SandboxProcess> process;
    int sock = -1;
    int out = -1;  // its stdout+stderr (O_NONBLOCK), drained at each use
    uint64_t last_used = 0;
    ~Zygote() {
      if (sock >= 0) ::close(sock);  // it reads EOF and exits; the process reaps it
      if (out >= 0) ::close(out);
    }
    // Logs what it wrote since the last use (a warning of the interpreter's): a full pipe would
    // block it.
    void drain() {
      char buf[4096];
      std::string said;
      ssize_t n;
      while (out >= 0 && (n = read(out, buf, sizeof buf)) > 0) {
        if (said.size() < 1024) said.append(buf, static_cast<size_t>(n));
      }
      if (!said.empty()) log_warn("sandbox: a zygote wrote: " + said.substr(0, 1024));
    }
  };

  // REQUIRES: zygote_mu_ held. The zygote of spec's key, started if there is none (the least
  // recently used one goes when kMaxZygotes run); null when there can be none (a start failed
  // before: that key is never tried again).
  Zygote* zygote_for_locked(const LaunchSpec& spec) {
    std::string key = SparePool::command_key(spec);
    if (auto it = zygotes_.find(key); it != zygotes_.end()) {
      it->second->last_used = ++zygote_clock_;
      it->second->drain();
      return it->second.get();
    }
    if (zygote_failed_.count(key)) return nullptr;
    if (zygotes_.size() >= kMaxZygotes) {
      // Its children are the node's and live on without it.
      auto lru = std::min_element(
          zygotes_.begin(), zygotes_.end(),
          [](const auto& a, const auto& b) { return a.second->last_used < b.second->last_used; });
      zygotes_.erase(lru);
    }
    std::string why;
    std::unique_ptr<Zygote> z = start_zygote(spec, &why);
    if (!z) {
      log_warn("sandbox: no zygote for " + spec.executable + " (its instances start the " +
               "interpreter each): " + why);
      zygote_failed_.insert(key);
      return nullptr;
    }
    return zygotes_.emplace(key, std::move(z)).first->second.get();
  }

  // Starts the zygote of spec's command line: the node's own process (no cgroup, no seccomp,
  // root where the node is), on the node's file system, with the start-up environment of spec,
  // NUBO_ZYGOTE_FD=3 (its socket), NUBO_ZYGOTE_LIB and NUBO_SPARE_FD=3 (what its children read).
  // Blocks until it says it is ready (tens of milliseconds for python).
  std::unique_ptr<Zygote> start_zygote(const LaunchSpec& spec, std::string* why) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
      *why = std::string("socketpair: ") + lower_first(std::strerror(errno));
      return nullptr;
    }
    auto z = std::make_unique<Zygote>();
    z->sock = sv[0];
    LaunchSpec zs;
    // The paths of the instance's view (/var/runtime/...) are the node's here.
    auto node_path = [&](const std::string& p) {
      const std::string& seen = view_.runtime_dir;
      if (!options_.runtimes_dir.empty() && p.rfind(seen + "/", 0) == 0) {
        return options_.runtimes_dir + p.substr(seen.size());
      }
      return p;
    };
    zs.executable = node_path(spec.executable);
    for (const std::string& a : spec.argv) zs.argv.push_back(node_path(a));
    zs.env = SparePool::startup_environment(spec.env);
    zs.env.push_back("NUBO_ZYGOTE_FD=3");
    zs.env.push_back("NUBO_ZYGOTE_LIB=" + options_.zygote_lib);
    zs.env.push_back("NUBO_SPARE_FD=3");
    zs.cwd = "/";
    zs.control_fd = sv[1];
    zs.max_open_files = kMaxOpenFiles;
    auto launched = launch_with(zs, /*isolate=*/false, nullptr, /*helper=*/true, nullptr);
    ::close(sv[1]);
    if (!launched.ok()) {
      *why = launched.error().message;
      return nullptr;
    }
    z->process = std::move(launched).value();
    char ready[64];
    ssize_t n = -1;
    struct pollfd pfd = {z->sock, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(kZygoteStartTimeout.count())) == 1) {
      n = recv(z->sock, ready, sizeof ready, 0);
    }
    constexpr std::string_view kReady = NUBO_ZYGOTE_READY;
    if (n != static_cast<ssize_t>(kReady.size()) ||
        kReady != std::string_view(ready, kReady.size())) {
      // What it printed says why (a traceback, a missing library).
      std::string said;
      int out = z->process->take_output_fd();
      if (out >= 0) {
        char buf[2048];
        ssize_t k = read(out, buf, sizeof buf);
        if (k > 0) said.assign(buf, static_cast<size_t>(k));
        ::close(out);
      }
      *why = n == 0 ? "it exited at start" : "it did not say it was ready";
      if (!said.empty()) *why += ": " + said;
      return nullptr;
    }
    z->out = z->process->take_output_fd();
    z->last_used = ++zygote_clock_;
    return z;
  }

  // Asks z (a zygote, or a template with with_pidfd false) for a child: its pid as z numbers it
  // and, from a zygote, its pidfd. *gone when z could not be reached (dead: the caller drops it).
  static Result<std::pair<pid_t, int>> zygote_fork(Zygote& z, const std::string& request,
                                                   const std::vector<int>& fds, bool* gone,
                                                   bool with_pidfd = true) {
    struct iovec iov = {const_cast<char*>(request.data()), request.size()};
    std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
    struct msghdr msg;
    std::memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (!fds.empty()) {
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    ssize_t sent;
    do {
      sent = sendmsg(z.sock, &msg, MSG_NOSIGNAL);
    } while (sent < 0 && errno == EINTR);
    if (sent != static_cast<ssize_t>(request.size())) {
      *gone = true;
      return internal_error(std::string("zygote: send: ") + lower_first(std::strerror(errno)));
    }
    struct pollfd pfd = {z.sock, POLLIN, 0};
    if (poll(&pfd, 1, static_cast<int>(kZygoteStartTimeout.count())) != 1) {
      *gone = true;
      return internal_error("zygote: no answer");
    }
    nubo_zygote_reply reply{};
    union {
      char buf[CMSG_SPACE(sizeof(int))];
      struct cmsghdr align;
    } rcontrol;
    struct iovec riov = {&reply, sizeof reply};
    struct msghdr rmsg;
    std::memset(&rmsg, 0, sizeof rmsg);
    rmsg.msg_iov = &riov;
    rmsg.msg_iovlen = 1;
    rmsg.msg_control = rcontrol.buf;
    rmsg.msg_controllen = sizeof rcontrol.buf;
    ssize_t got = recvmsg(z.sock, &rmsg, MSG_CMSG_CLOEXEC);
    int pidfd = -1;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&rmsg); c; c = CMSG_NXTHDR(&rmsg, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
          c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        std::memcpy(&pidfd, CMSG_DATA(c), sizeof(int));
      }
    }
    if (got != static_cast<ssize_t>(sizeof reply)) {
      if (pidfd >= 0) ::close(pidfd);
      *gone = true;
      return internal_error("zygote: no answer");
    }
    if (reply.pid > 0 && with_pidfd && pidfd < 0) {
      // The child exists (it is the node's) but its pidfd was lost: end it here.
      ::kill(reply.pid, SIGKILL);
      while (waitpid(reply.pid, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    if (reply.pid <= 0 || (with_pidfd && pidfd < 0)) {
      if (pidfd >= 0) ::close(pidfd);
      return internal_error(std::string("zygote: cannot make a child: ") +
                            lower_first(std::strerror(reply.err ? reply.err : EIO)));
    }
    return std::make_pair(static_cast<pid_t>(reply.pid), pidfd);
  }

  // The request of zygote_protocol.h for args (and ops when isolated).
  // prefault: the child is a spare (zygote_protocol.h, NUBO_ZYGOTE_PREFAULT).
  std::string zygote_request(const ChildArgs& args, const std::vector<nubo_root_op>& ops,
                             uint32_t fd_mask, bool prefault) const {
    std::string strings(1, '\0');
    auto str = [&](const char* p) -> uint32_t {
      if (!p) return 0;
      auto off = static_cast<uint32_t>(strings.size());
      strings += p;
      strings.push_back('\0');
      return off;
    };
    nubo_zygote_request req{};
    req.magic = NUBO_ZYGOTE_MAGIC;
    req.flags = (args.c.isolate ? NUBO_ZYGOTE_ISOLATE : 0u) |
                (args.c.no_new_privs ? NUBO_ZYGOTE_NO_NEW_PRIVS : 0u) |
                (prefault ? NUBO_ZYGOTE_PREFAULT : 0u);
    req.fd_mask = fd_mask;
    req.max_files = static_cast<uint32_t>(args.c.max_files);
    req.uid = args.c.uid;
    req.gid = args.c.gid;
    req.parent_pid = args.c.parent_pid;
    req.cwd = str(args.c.cwd);
    req.root_dir = str(args.c.root_dir);
    std::vector<nubo_zygote_op> wire;
    if (args.c.isolate) {
      for (const nubo_root_op& op : ops) {
        nubo_zygote_op w{};
        w.kind = static_cast<uint32_t>(op.kind);
        w.a = str(op.a);
        w.b = str(op.b);
        w.fstype = str(op.fstype);
        w.data = str(op.data);
        w.mode = op.mode;
        w.flags = op.flags;
        w.dev = op.dev;
        wire.push_back(w);
      }
    }
    req.n_ops = static_cast<uint32_t>(wire.size());
    req.n_filter = args.c.seccomp ? args.c.seccomp->len : 0u;
    req.strings_len = static_cast<uint32_t>(strings.size());
    std::string out(reinterpret_cast<const char*>(&req), sizeof req);
    out.append(reinterpret_cast<const char*>(wire.data()), wire.size() * sizeof(nubo_zygote_op));
    if (args.c.seccomp) {
      out.append(reinterpret_cast<const char*>(args.c.seccomp->filter),
                 req.n_filter * sizeof(struct sock_filter));
    }
    out += strings;
    return out;
  }

  // Starts spec's process: a clone (or fork) of the node, or, with zygote, a child of that
  // zygote (zygote_fork). helper: a process of the node's own (a zygote): no cgroup, no
  // seccomp, no no_new_privs. With zygote, *zygote_gone is set when the zygote could not be
  // reached (nothing was started; the caller drops it and launches without).
  Result<std::unique_ptr<SandboxProcess>> launch_with(const LaunchSpec& spec, bool isolate,
                                                      Zygote* zygote = nullptr, bool helper = false,
                                                      bool* zygote_gone = nullptr) {
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

    // What has to be undone if the launch fails, in one place.
    int out_r = -1, out_w = -1, control = -1, assign_w = -1, kept_netns = -1;
    std::vector<int> listeners;
    std::unique_ptr<Egress::Lease> lease;
    std::string slot, opt_slot;
    auto undo = [&] {
      for (int fd : {out_r, out_w, control, assign_w, kept_netns}) {
        if (fd >= 0) close(fd);
      }
      for (int fd : listeners) close(fd);
      if (!slot.empty()) remove_slot(slot);
      if (!opt_slot.empty()) remove_slot(opt_slot);
    };

    int pipe_fds[2];
    if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
      return launch_error(spec.executable, NUBO_STEP_DUP, errno);
    }
    out_r = above_stdio(pipe_fds[0]);
    out_w = above_stdio(pipe_fds[1]);
    if (out_r < 0 || out_w < 0) {
      undo();
      return launch_error(spec.executable, NUBO_STEP_DUP, EMFILE);
    }
    fcntl(out_r, F_SETFL, fcntl(out_r, F_GETFL) | O_NONBLOCK);

    ChildArgs args;
    args.path = spec.executable.c_str();
    args.argv = argv.data();
    args.envp = envp.data();
    args.c.cwd = spec.cwd.c_str();
    args.c.out_fd = out_w;
    args.c.null_fd = null_fd_;
    if (spec.control_fd >= 0) {
      control = fcntl(spec.control_fd, F_DUPFD_CLOEXEC, 4);
      if (control < 0) {
        int err = errno;
        undo();
        return launch_error(spec.executable, NUBO_STEP_DUP, err);
      }
    } else if (zygote) {
      // A zygote's child always waits for its function on fd 3 (a spare's assignment): this
      // launch writes it there once the child is made.
      int assign[2];
      if (pipe2(assign, O_CLOEXEC) != 0) {
        int err = errno;
        undo();
        return launch_error(spec.executable, NUBO_STEP_DUP, err);
      }
      control = above_stdio(assign[0]);
      assign_w = assign[1];
    }
    args.c.control_fd = control;
    args.c.max_files = static_cast<rlim_t>(spec.max_open_files);
    args.c.parent_pid = getpid();
    args.c.no_new_privs = !helper && (options_.limits || isolate);
    if (!helper && !seccomp_prog_.empty()) args.c.seccomp = &seccomp_;

    std::vector<nubo_root_op> ops;
    std::string tmp_data, opt_data;
    if (isolate) {
      if (spec.code_dir.empty()) {
        auto made = make_slot(options_.work_dir);
        auto made_opt = made.ok() ? make_slot(options_.work_dir, "-opt") : made;
        if (made.ok()) slot = std::move(made).value();
        if (!made_opt.ok()) {
          undo();
          return made_opt.error();
        }
        opt_slot = std::move(made_opt).value();
      }
      ops = plan_;
      ops[task_op_].a = slot.empty() ? spec.code_dir.c_str() : slot.c_str();
      if (!opt_slot.empty()) {
        ops[opt_op_].a = opt_slot.c_str();
      } else if (spec.layer_dirs.size() == 1) {
        ops[opt_op_].a = spec.layer_dirs[0].c_str();
      } else if (spec.layer_dirs.size() >= 2) {
        // An overlay instead of the bind; the remount after it makes it read-only as the bind.
        opt_data = overlay_options(spec.layer_dirs);
        ops[opt_op_].a = "overlay";
        ops[opt_op_].fstype = "overlay";
        ops[opt_op_].flags = MS_RDONLY | MS_NOSUID | MS_NODEV;
        ops[opt_op_].data = opt_data.c_str();
      }
      tmp_data = "size=" + std::to_string(std::max(1, spec.ephemeral_storage_mb));
      tmp_data += "m,mode=1777";
      ops[tmp_op_].data = tmp_data.c_str();
      args.c.isolate = 1;
      args.c.root_dir = root_dir_.c_str();
      args.c.ops = ops.data();
      args.c.n_ops = static_cast<int>(ops.size());
      args.c.uid = options_.uid;
      args.c.gid = options_.gid;
    }

    std::unique_ptr<InstanceCgroup> cgroup;
    if (cgroups_ && !helper) {
      auto made = cgroups_->create(spec.memory_mb, kMaxInstanceProcesses);
      if (!made.ok()) {
        undo();
        return made.error();
      }
      cgroup = std::move(made).value();
      for (size_t i = 0; i < cgroup->procs_fds().size() && i < NUBO_CHILD_CGROUP_FDS; ++i) {
        args.c.cgroup_fds[i] = cgroup->procs_fds()[i];
      }
    }

    pid_t pid = -1;
    int pidfd = -1;
    int step = NUBO_STEP_NONE;
    int err = 0;
    int failed_op = -1;
    bool unreported = false;  // a zygote's child that died (or hung) before it said how it went
    if (zygote || options_.method == ProcessSandboxOptions::Method::kCloneVfork) {
      // The child is cloned inside a new network namespace of this thread (or, a zygote's,
      // joins it), with its listeners made there first; the thread leaves it when `net` goes
      // out of scope.
      NewNetns net;
      int netns_fd = -1;
      if (isolate) {
        Status entered = net.enter();
        for (size_t i = 0; entered.ok() && i < spec.listen_ports.size(); ++i) {
          auto fd = net.listen_on(spec.listen_ports[i]);
          if (!fd.ok()) {
            entered = fd.error();
          } else {
            listeners.push_back(fd.value());
          }
        }
        if (entered.ok() && spec.egress && egress_) {
          auto connected = egress_->connect(home_netns());
          if (connected.ok()) {
            lease = std::move(connected).value();
          } else {
            entered = connected.error();
          }
        }
        // Its network, for a zygote's child to join or a template's restored instances to use.
        if (entered.ok() && (zygote || spec.keep_network)) {
          netns_fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
          if (netns_fd < 0) entered = internal_error("cannot open the instance's network");
        }
        if (!entered.ok()) {
          undo();
          return entered.error();
        }
        kept_netns = netns_fd;
      }
      if (zygote) {
        int report[2];
        if (pipe2(report, O_CLOEXEC) != 0) {
          int e = errno;
          undo();
          return launch_error(spec.executable, NUBO_STEP_NONE, e);
        }
        // In the order of enum nubo_zygote_fd.
        int slots[NUBO_ZFD_COUNT] = {null_fd_,
                                     out_w,
                                     control,
                                     report[1],
                                     netns_fd,
                                     args.c.cgroup_fds[0],
                                     args.c.cgroup_fds[1],
                                     args.c.cgroup_fds[2]};
        uint32_t mask = 0;
        std::vector<int> fds;
        for (int i = 0; i < NUBO_ZFD_COUNT; ++i) {
          if (slots[i] >= 0) {
            mask |= 1u << i;
            fds.push_back(slots[i]);
          }
        }
        bool gone = false;
        auto forked =
            zygote_fork(*zygote, zygote_request(args, ops, mask, spec.prefault), fds, &gone);
        close(report[1]);
        if (!forked.ok()) {
          close(report[0]);
          if (zygote_gone) *zygote_gone = gone;
          undo();
          return forked.error();
        }
        pid = forked->first;
        pidfd = forked->second;
        // The child says once its sandbox is made (or which step failed); EOF: it died first.
        nubo_zygote_report rep{};
        bool reported = read_report(report[0], &rep);
        close(report[0]);
        if (!reported) {
          ::kill(pid, SIGKILL);  // reaped below
          unreported = true;
        } else {
          step = rep.step;
          err = rep.err;
          failed_op = rep.failed_op;
        }
      } else {
        thread_local ChildStack stack;
        if (!stack.base) {
          undo();
          return launch_error(spec.executable, NUBO_STEP_NONE, ENOMEM);
        }
        int flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD;
        if (isolate) flags |= CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
        // Blocked here, the child starts with every signal blocked and no handler of ours can
        // run on its stack; it resets dispositions and unblocks right before exec.
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        pid = clone(child_main, stack.top(), flags, &args, &pidfd);
        int clone_err = errno;
        pthread_sigmask(SIG_SETMASK, &old, nullptr);
        if (pid < 0) {
          err = clone_err;
        } else {
          step = args.step;
          err = args.c.err;
          failed_op = args.c.failed_op;
        }
      }
    } else {
      int report[2];
      if (pipe2(report, O_CLOEXEC) != 0) {
        int e = errno;
        undo();
        return launch_error(spec.executable, NUBO_STEP_NONE, e);
      }
      report[1] = above_stdio(report[1]);
      args.report_fd = report[1];
      args.c.keep_fd = report[1];
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
    out_w = -1;
    if (control >= 0) close(control);
    control = -1;

    if (pid < 0) {
      undo();
      return launch_error(spec.executable, NUBO_STEP_NONE, err);
    }
    if (step != NUBO_STEP_NONE || pidfd < 0 || unreported) {
      // The child failed before exec and exited: reap it here.
      int status;
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (pidfd >= 0) close(pidfd);
      undo();
      if (step == NUBO_STEP_ROOT && failed_op >= 0 && failed_op < static_cast<int>(ops.size())) {
        return internal_error("cannot start the function's process: preparing its root: " +
                              describe(ops[static_cast<size_t>(failed_op)]) + ": " +
                              lower_first(std::strerror(err)));
      }
      if (unreported) {
        return internal_error(
            "cannot start the function's process: the zygote's child ended "
            "before its sandbox was made");
      }
      return launch_error(spec.executable, step, step == NUBO_STEP_NONE ? errno : err);
    }
    if (assign_w >= 0) {
      // A zygote's child started for a launch: its function, as SparePool::take gives a spare
      // its. A child that died meanwhile is seen as the instance's exit.
      write_all(assign_w, SparePool::assignment_message(spec));
      close(assign_w);
      assign_w = -1;
    }
    std::string status_path = "/proc/" + std::to_string(pid) + "/status";
    int status_fd = open(status_path.c_str(), O_RDONLY | O_CLOEXEC);
    auto process = std::make_unique<Process>(
        pid, pidfd, out_r, status_fd, std::move(cgroup),
        !zygote && options_.method == ProcessSandboxOptions::Method::kFork, std::move(listeners),
        std::move(slot), std::move(opt_slot), isolate);
    process->set_egress(std::move(lease));
    if (spec.keep_network) {
      process->set_netns(kept_netns);
    } else if (kept_netns >= 0) {
      close(kept_netns);
    }
    return std::unique_ptr<SandboxProcess>(std::move(process));
  }

  const ProcessSandboxOptions options_;
  int null_fd_ = -1;
  std::unique_ptr<CgroupRoot> cgroups_;  // null: no limits (cgroups_off_ says why)
  std::string cgroups_off_;
  std::unique_ptr<FastCgroupMoves> fast_moves_;  // null: fast_moves_off_ says why
  std::string fast_moves_off_;
  std::vector<sock_filter> seccomp_prog_;  // empty: no filter (seccomp_off_ says why)
  struct sock_fprog seccomp_ = {};
  std::string seccomp_off_;
  // Isolation: immutable after the constructor.
  bool isolated_ = false;
  std::string isolation_off_;  // why isolated_ is false
  SandboxView view_;
  std::string root_dir_;             // where each child mounts its root's tmpfs
  std::deque<std::string> strings_;  // what plan_'s pointers point into
  std::vector<nubo_root_op> plan_;
  std::string empty_dir_;           // an empty folder: /opt without layers
  std::shared_ptr<Egress> egress_;  // null: egress_off_ says why
  std::string egress_off_;
  size_t task_op_ = 0;  // the op that binds the code (its source set per launch)
  size_t opt_op_ = 0;   // the op that binds /opt (set per launch: an overlay of several layers)
  size_t tmp_op_ = 0;   // the op that mounts /tmp (its size set per launch)
  // Zygotes, by SparePool::command_key (last: they go first, before what their children use).
  mutable std::mutex zygote_mu_;
  std::map<std::string, std::unique_ptr<Zygote>> zygotes_;  // GUARDED_BY(zygote_mu_)
  std::set<std::string> zygote_failed_;                     // GUARDED_BY(zygote_mu_)
  uint64_t zygote_clock_ = 0;                               // GUARDED_BY(zygote_mu_)
};

}  // namespace

std::unique_ptr<Sandbox> make_process_sandbox(ProcessSandboxOptions options) {
  return std::make_unique<ProcessSandbox>(std::move(options));
}

Status make_mounts_private() {
  if (unshare(CLONE_NEWNS) != 0) {
    return internal_error(std::string("unshare(CLONE_NEWNS): ") +
                          lower_first(std::strerror(errno)));
  }
  if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
    return internal_error(std::string("making / a slave mount: ") +
                          lower_first(std::strerror(errno)));
  }
  return Ok{};
}

}  // namespace nubo::runtime

// ProcessSandbox: the Sandbox of every instance: a process in its own session and cgroup, under
// no_new_privs and a seccomp filter, and, with `isolate`, in its own PID, mount, IPC, UTS and
// network namespaces under a minimal read-only root, as an unprivileged uid.
//
// A launch is one clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD): the child borrows the parent's
// memory until it execs, so the cost does not grow with the size of the node (a fork() of an
// ASan-instrumented node copies page tables for gigabytes of shadow memory). The child code
// between clone and exec only makes raw system calls. The same function later becomes the
// clone(CLONE_NEW*) + pivot_root path of the isolating sandbox.
//
// Isolation (issue 3, "Sandbox"). The process sees:
//   /usr, /etc (and /bin, /lib, ... as on the host)  read-only binds of the host's, with
//                  /etc/passwd and /etc/group naming the instance's user as Lambda does
//                  (sbx_user1051, uid 993, gid 990, home /tmp)
//   /var/task      the function's code, read-only (LaunchSpec::code_dir)
//   /var/runtime   nubo's runtime clients, read-only (runtimes_dir); /var/node_modules links to
//                  its Node.js SDK (runtimes/README.md)
//   /opt           the function's layers (LaunchSpec::layer_dirs), read-only: a bind of one, an
//                  overlay of several with the last on top; empty without layers
//   /var/nubo-spare-exec  the spare of provided functions (spare_exec.c), read-only
//   /tmp           its own tmpfs of LaunchSpec::ephemeral_storage_mb (pages count against the
//                  instance's memory limit, as on any tmpfs in a cgroup)
//   /dev           null, zero, full, random, urandom and the fd links, nothing else
//   /proc          its own PID namespace: it is pid 1 and sees only its own processes
// and nothing else: not the data directory, not another function's code, not another
// instance's /tmp. Its network namespace has loopback, where the node accepts on the ports
// of LaunchSpec::listen_ports (made on the launching thread, which enters a new network namespace
// for the clone and leaves it after; SandboxProcess::take_listeners), and, with LaunchSpec::egress,
// an eth0 routed and NATed out through the node (egress.h); without, nothing else.
// A spare (no code_dir yet) gets its /var/task and /opt from per-instance folders of work_dir
// that the node mounts shared; attach_code() mounts the code and layers there later and the
// mounts propagate into the instance's namespace.
//
// Zygotes (ProcessSandboxOptions::zygote_lib; runtimes/README.md "Zygotes"): an isolated launch
// of LaunchSpec::zygote is not an exec but a child of a zygote of its command line (zygote.c): a
// python interpreter that has loaded its runtime client and forks, with CLONE_PARENT so that the
// child is the node's, into new namespaces, where the child makes the same sandbox as above
// (sandbox_child.c) and waits for its function on fd 3 as a spare does (launch() writes it there
// when the spec has no control_fd of its own). The zygote is started by the first such launch
// and kept; a zygote that died is replaced by the next launch, which starts a plain process.
//
// Being pid 1 of its namespace, the runtime ignores signals it has no handler for when they come
// from inside (kill(getpid(), SIGTERM) does nothing), and orphaned grandchildren stay zombies until
// the instance ends, unless it reaps them. SandboxProcess::kill with a signal the runtime does not
// handle sends SIGKILL instead (at shutdown the node sends SIGTERM first).
//
// Threads: launch() blocks for the clone/exec; see Sandbox::launch for which thread must call it.
// Everything else is thread-safe.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "base/result.h"
#include "runtime/sandbox.h"

namespace nubo::runtime {

struct ProcessSandboxOptions {
  // kFork exists to measure the difference (process_sandbox_test); production uses kCloneVfork.
  enum class Method { kCloneVfork, kFork };
  Method method = Method::kCloneVfork;
  // Each instance in its own cgroup (memory = LaunchSpec::memory_mb, kMaxInstanceProcesses
  // tasks; cgroups.h) and under no_new_privs. Without the privileges for cgroups the sandbox
  // still starts and protections() says the limits are off.
  bool limits = true;
  // Namespaces, minimal root and unprivileged uid (above). Needs root (CAP_SYS_ADMIN); without
  // it, or when a probe launch fails, the sandbox runs without and protections() says why.
  bool isolate = false;
  // With isolate: a folder of the node's own (the sandbox makes it; startup removes what an
  // earlier node left in it), nubo's runtime clients (mounted at /var/runtime; may be empty),
  // and the ids functions run as (Lambda's sbx_user1051 is an unprivileged uid as well).
  std::string work_dir;
  std::string runtimes_dir;
  // nubo-spare-exec on the node (NodeConfig::spare_exec), mounted at /var/nubo-spare-exec; may
  // be empty.
  std::string spare_exec;
  // libnubo_zygote.so on the node (NodeConfig::zygote_lib, zygote.c): with it, isolated
  // launches of LaunchSpec::zygote fork from a zygote of their command line; empty: none.
  std::string zygote_lib;
  uid_t uid = 993;
  gid_t gid = 990;
  // With isolate: outbound network for launches with LaunchSpec::egress (egress.h). Needs root
  // and nf_tables; without them instances have loopback only and protections() says why.
  bool egress = true;
  std::string egress_lock_dir = "/run/nubo";  // where nodes hold their address blocks
};

std::unique_ptr<Sandbox> make_process_sandbox(ProcessSandboxOptions options = {});

// Moves the calling process into a mount namespace of its own whose mounts receive the host's
// but never propagate back, so the mounts the sandbox makes (spares' code folders) vanish with
// the node, even after kill -9. Call it while the process has one thread (main, before anything
// starts one). Errors: "ServiceException" with the reason (EPERM without CAP_SYS_ADMIN).
Status make_mounts_private();

}  // namespace nubo::runtime

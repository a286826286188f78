/* The child's side of a sandboxed launch: what a new instance process does to itself, between
 * its clone and its exec (ProcessSandbox, process_sandbox.cc) or its return into the runtime it
 * was forked from (a zygote, zygote.c). C, so that the zygote library (a shared object loaded
 * into a Python interpreter) runs exactly the same steps as the node's own launches.
 *
 * nubo_child_setup() makes only raw system calls: no malloc, no locks, no libc state but errno.
 * In the node's vfork launches it runs in the parent's memory on a borrowed stack, and it is
 * never instrumented by the sanitizers. Everything it reads is prepared by the caller.
 */
#ifndef NUBO_RUNTIME_SANDBOX_CHILD_H_
#define NUBO_RUNTIME_SANDBOX_CHILD_H_

#include <linux/filter.h>
#include <sys/resource.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Steps of the child, reported with the errno of the one that failed. */
enum nubo_child_step {
  NUBO_STEP_NONE = 0,
  NUBO_STEP_SETSID,
  NUBO_STEP_DEATH_SIGNAL,
  NUBO_STEP_PARENT_GONE,
  NUBO_STEP_DUP,
  NUBO_STEP_RLIMIT,
  NUBO_STEP_CHDIR,
  NUBO_STEP_EXEC,
  NUBO_STEP_CGROUP,
  NUBO_STEP_NO_NEW_PRIVS,
  NUBO_STEP_SECCOMP,
  NUBO_STEP_ROOT,     /* an operation of nubo_root_op (failed_op says which) */
  NUBO_STEP_PIVOT,    /* pivot_root into the new root */
  NUBO_STEP_HOSTNAME, /* sethostname */
  NUBO_STEP_IDS,      /* setgroups / setresgid / setresuid */
  NUBO_STEP_NETNS,    /* setns into the instance's network namespace (zygote children) */
};

/* A name for a step, for error messages ("pivot_root", "joining the instance's cgroup"). */
const char* nubo_child_step_name(int step);

/* One step of building an isolated instance's root, run with the working directory at the
 * root's tmpfs: paths are relative to it. */
enum nubo_root_op_kind { NUBO_OP_MKDIR, NUBO_OP_SYMLINK, NUBO_OP_MOUNT, NUBO_OP_MKNOD };
struct nubo_root_op {
  int kind;
  const char* a; /* MKDIR, MKNOD: path; SYMLINK: target; MOUNT: source */
  const char* b; /* SYMLINK: link path; MOUNT: target */
  const char* fstype;
  unsigned long flags; /* MOUNT */
  const char* data;
  unsigned mode; /* MKDIR, MKNOD */
  unsigned long dev;
};

#define NUBO_CHILD_CGROUP_FDS 3

/* What the child needs. Initialise with nubo_child_args_init(). */
struct nubo_child_args {
  const char* cwd;
  int out_fd;     /* becomes 1 and 2 */
  int null_fd;    /* becomes 0; -1: 0 stays as it is */
  int control_fd; /* >= 4, or -1; becomes 3 */
  int keep_fd;    /* >= 4, or -1: left open (a report pipe) */
  /* Close every descriptor but 0-3 and keep_fd (the default). Off for a SnapStart template's
   * children, which keep what their init opened (the caller closes its own). */
  int close_others;
  rlim_t max_files;
  /* cgroup.procs files of the instance's cgroup (cgroups.h: memory, pids, cpu); the child
   * moves itself in first. */
  int cgroup_fds[NUBO_CHILD_CGROUP_FDS];
  int no_new_privs;
  const struct sock_fprog* seccomp; /* installed last */
  pid_t parent_pid;                 /* checked after PR_SET_PDEATHSIG when not isolated */
  /* Reset every signal disposition to SIG_DFL (the node's launches: a handler of the node must
   * never run in the child). A zygote's child keeps its interpreter's, as a fresh one has. */
  int reset_signals;
  /* Isolation: the child is in new mount, PID, IPC and UTS namespaces. netns_fd >= 0: it joins
   * that network namespace first (a zygote's child; the node's launches clone inside it). It
   * mounts a tmpfs on root_dir, runs ops in it, pivots into it and becomes uid/gid. */
  int isolate;
  int netns_fd;
  const char* root_dir;
  const struct nubo_root_op* ops;
  int n_ops;
  uid_t uid;
  gid_t gid;
  /* Out: the errno of the failed step, and the failed op's index (NUBO_STEP_ROOT). */
  volatile int err;
  volatile int failed_op;
};

void nubo_child_args_init(struct nubo_child_args* a);

/* Does everything but the exec. Returns NUBO_STEP_NONE, or the step that failed (a->err and
 * a->failed_op say more); a child that fails should exit at once. Signals stay blocked if they
 * were (the caller unblocks right before exec). */
int nubo_child_setup(struct nubo_child_args* a);

#ifdef __cplusplus
}
#endif

#endif /* NUBO_RUNTIME_SANDBOX_CHILD_H_ */

/* The child's side of a sandboxed launch (sandbox_child.h). */
#define _GNU_SOURCE
#include "runtime/sandbox_child.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLONE_NEWNET
#define CLONE_NEWNET 0x40000000
#endif

const char* nubo_child_step_name(int step) {
  switch (step) {
    case NUBO_STEP_SETSID:
      return "setsid";
    case NUBO_STEP_DEATH_SIGNAL:
      return "prctl(PR_SET_PDEATHSIG)";
    case NUBO_STEP_PARENT_GONE:
      return "parent exited";
    case NUBO_STEP_DUP:
      return "dup2";
    case NUBO_STEP_RLIMIT:
      return "setrlimit(RLIMIT_NOFILE)";
    case NUBO_STEP_CHDIR:
      return "chdir";
    case NUBO_STEP_EXEC:
      return "exec";
    case NUBO_STEP_CGROUP:
      return "joining the instance's cgroup";
    case NUBO_STEP_NO_NEW_PRIVS:
      return "prctl(PR_SET_NO_NEW_PRIVS)";
    case NUBO_STEP_SECCOMP:
      return "prctl(PR_SET_SECCOMP)";
    case NUBO_STEP_ROOT:
      return "preparing the instance's root";
    case NUBO_STEP_PIVOT:
      return "pivot_root";
    case NUBO_STEP_HOSTNAME:
      return "sethostname";
    case NUBO_STEP_IDS:
      return "changing to the instance's uid";
    case NUBO_STEP_NETNS:
      return "joining the instance's network";
    default:
      return "launch";
  }
}

void nubo_child_args_init(struct nubo_child_args* a) {
  memset(a, 0, sizeof *a);
  a->out_fd = -1;
  a->null_fd = -1;
  a->control_fd = -1;
  a->keep_fd = -1;
  a->close_others = 1;
  a->max_files = 1024;
  for (int i = 0; i < NUBO_CHILD_CGROUP_FDS; ++i) a->cgroup_fds[i] = -1;
  a->reset_signals = 1;
  a->netns_fd = -1;
  a->failed_op = -1;
}

/* The kernel's struct sigaction, zero-filled: SIG_DFL, no flags, empty mask. Whatever the
 * architecture's field order, all zeros mean the same. */
struct kernel_sigaction {
  unsigned long words[4];
};

__attribute__((no_sanitize("address", "undefined"))) __attribute__((noinline)) int nubo_child_setup(
    struct nubo_child_args* a) {
  if (a->reset_signals) {
    /* Handlers die with exec anyway, but SIG_IGN survives it (the node ignores SIGPIPE) and a
     * handler must not run in a borrowed address space. */
    struct kernel_sigaction dfl = {{0, 0, 0, 0}};
    for (long sig = 1; sig < 65; ++sig) {
      if (sig == SIGKILL || sig == SIGSTOP) continue;
      syscall(SYS_rt_sigaction, sig, &dfl, (void*)0, 8);
    }
  }
  /* Into its limits before anything else runs: whatever it forks later is in there too. */
  for (int i = 0; i < NUBO_CHILD_CGROUP_FDS; ++i) {
    int fd = a->cgroup_fds[i];
    if (fd >= 0 && syscall(SYS_write, fd, "0", 1) != 1) {
      a->err = errno;
      return NUBO_STEP_CGROUP;
    }
  }
  if (syscall(SYS_setsid) < 0) {
    a->err = errno;
    return NUBO_STEP_SETSID;
  }
  if (!a->isolate) {
    if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
      a->err = errno;
      return NUBO_STEP_DEATH_SIGNAL;
    }
    if (syscall(SYS_getppid) != a->parent_pid) { /* the launching thread died before the prctl */
      a->err = ESRCH;
      return NUBO_STEP_PARENT_GONE;
    }
  } else {
    if (a->netns_fd >= 0 && syscall(SYS_setns, a->netns_fd, CLONE_NEWNET) < 0) {
      a->err = errno;
      return NUBO_STEP_NETNS;
    }
    /* Mounts made from here on stay in this namespace; the node's later ones (a spare's code)
     * still arrive. */
    syscall(SYS_umask, 0);
    if (syscall(SYS_mount, (void*)0, "/", (void*)0, MS_REC | MS_SLAVE, (void*)0) < 0 ||
        syscall(SYS_mount, "tmpfs", a->root_dir, "tmpfs", MS_NOSUID | MS_NODEV,
                "size=64k,mode=0755") < 0 ||
        syscall(SYS_chdir, a->root_dir) < 0) {
      a->err = errno;
      return NUBO_STEP_ROOT;
    }
    for (int i = 0; i < a->n_ops; ++i) {
      const struct nubo_root_op* op = &a->ops[i];
      long r = 0;
      switch (op->kind) {
        case NUBO_OP_MKDIR:
          r = syscall(SYS_mkdir, op->a, op->mode);
          break;
        case NUBO_OP_SYMLINK:
          r = syscall(SYS_symlink, op->a, op->b);
          break;
        case NUBO_OP_MOUNT:
          r = syscall(SYS_mount, op->a, op->b, op->fstype, op->flags, op->data);
          break;
        case NUBO_OP_MKNOD:
          r = syscall(SYS_mknod, op->a, op->mode, op->dev);
          break;
        default:
          errno = EINVAL;
          r = -1;
      }
      if (r < 0) {
        a->err = errno;
        a->failed_op = i;
        return NUBO_STEP_ROOT;
      }
    }
    syscall(SYS_umask, 022);
    /* The old root goes: nothing of the node's file system is reachable from here. */
    if (syscall(SYS_pivot_root, ".", ".") < 0 || syscall(SYS_umount2, ".", MNT_DETACH) < 0 ||
        syscall(SYS_chdir, "/") < 0) {
      a->err = errno;
      return NUBO_STEP_PIVOT;
    }
    if (syscall(SYS_sethostname, "localhost", 9) < 0) {
      a->err = errno;
      return NUBO_STEP_HOSTNAME;
    }
  }
  if ((a->null_fd >= 0 && syscall(SYS_dup2, a->null_fd, 0) < 0) ||
      syscall(SYS_dup2, a->out_fd, 1) < 0 || syscall(SYS_dup2, a->out_fd, 2) < 0 ||
      (a->control_fd >= 0 && syscall(SYS_dup2, a->control_fd, 3) < 0)) {
    a->err = errno;
    return NUBO_STEP_DUP;
  }
  /* Every other descriptor goes, except keep_fd (>= 4). */
  if (a->close_others) {
    unsigned first = a->control_fd >= 0 ? 4u : 3u;
    if (a->keep_fd >= (int)first) {
      unsigned k = (unsigned)a->keep_fd;
      if (k > first) syscall(SYS_close_range, first, k - 1, 0u);
      syscall(SYS_close_range, k + 1, ~0u, 0u);
    } else {
      syscall(SYS_close_range, first, ~0u, 0u);
    }
  }
  {
    struct rlimit lim = {a->max_files, a->max_files};
    if (syscall(SYS_prlimit64, 0, RLIMIT_NOFILE, &lim, (void*)0) < 0) {
      a->err = errno;
      return NUBO_STEP_RLIMIT;
    }
  }
  {
    /* Batch scheduling: a function process woken by its Runtime API answer does not preempt
     * the io thread that woke it (which goes on with the other events of its loop); it runs
     * when a core is free. On a loaded node that saves a context switch per invoke. */
    struct sched_param param;
    memset(&param, 0, sizeof param);
    syscall(SYS_sched_setscheduler, 0, SCHED_BATCH, &param);
  }
  if (a->cwd && a->cwd[0] && syscall(SYS_chdir, a->cwd) < 0) {
    a->err = errno;
    return NUBO_STEP_CHDIR;
  }
  if (a->isolate) {
    /* Last of what needs privileges: from here on the instance has none. */
    if (syscall(SYS_setgroups, 0, (void*)0) < 0 ||
        syscall(SYS_setresgid, a->gid, a->gid, a->gid) < 0 ||
        syscall(SYS_setresuid, a->uid, a->uid, a->uid) < 0) {
      a->err = errno;
      return NUBO_STEP_IDS;
    }
    /* After the uid change, which clears it. (getppid() is 0 in a new PID namespace, so the
     * check of the plain path cannot be made; the launcher thread outlives its launches.) */
    if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
      a->err = errno;
      return NUBO_STEP_DEATH_SIGNAL;
    }
  }
  /* No exec can grant privileges from here on (setuid binaries, file capabilities). */
  if (a->no_new_privs && syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
    a->err = errno;
    return NUBO_STEP_NO_NEW_PRIVS;
  }
  if (a->seccomp && syscall(SYS_prctl, PR_SET_SECCOMP, SECCOMP_MODE_FILTER, a->seccomp, 0, 0) < 0) {
    a->err = errno;
    return NUBO_STEP_SECCOMP;
  }
  return NUBO_STEP_NONE;
}

// The seccomp filter of every instance (issue 3, "Limits"): the system calls a function has no
// business making on a shared node fail with EPERM. Everything else is allowed (a deny list, as
// Lambda's own sandbox relies on its microVM for the rest); a system call of another
// architecture (the 32-bit ABIs) kills the process, so the list cannot be stepped around.
//
// Denied: mount (and fsopen, fsconfig, fsmount, move_mount, open_tree, fspick, mount_setattr),
// umount2, pivot_root, chroot, swapon/swapoff, reboot, kexec_load,
// kexec_file_load, init_module, finit_module, delete_module, bpf, perf_event_open, ptrace,
// process_vm_readv/writev, setns, unshare, clone with any namespace flag (clone3 answers ENOSYS,
// so libc falls back to clone), keyctl, add_key, request_key, acct, quotactl, syslog,
// settimeofday, clock_settime, clock_adjtime, adjtimex, iopl, ioperm, open_by_handle_at,
// name_to_handle_at, userfaultfd, lookup_dcookie, fanotify_init, quotactl_fd, pidfd_getfd, kcmp.
// Not enough on its own while functions run as the node's uid (they can write /proc/<pid>/mem
// and their cgroup's files): the unprivileged uid of issue 3 closes that.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "base/result.h"

namespace nubo::runtime {

// The filter as a classic BPF program, built once (libseccomp) and installed by each instance's
// child before exec with prctl(PR_SET_SECCOMP) (process_sandbox.cc), after PR_SET_NO_NEW_PRIVS.
Result<std::vector<sock_filter>> build_instance_seccomp_filter();

// The names of the denied system calls (for the node's start-up lines and the tests).
const std::vector<std::string>& denied_syscalls();

}  // namespace nubo::runtime

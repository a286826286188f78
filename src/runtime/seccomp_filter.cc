#include "runtime/seccomp_filter.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>

namespace nubo::runtime {

namespace {

struct CtxFree {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

Error seccomp_error(const std::string& what, int rc) {
  return internal_error("seccomp: " + what + ": " + std::strerror(-rc));
}

}  // namespace

const std::vector<std::string>& denied_syscalls() {
  static const std::vector<std::string> names = {
      "mount",
      "umount2",
      "pivot_root",
      "chroot",
      "swapon",
      "swapoff",
      "reboot",
      "kexec_load",
      "kexec_file_load",
      "init_module",
      "finit_module",
      "delete_module",
      "bpf",
      "perf_event_open",
      "ptrace",
      "process_vm_readv",
      "process_vm_writev",
      "setns",
      "unshare",
      "keyctl",
      "add_key",
      "request_key",
      "acct",
      "quotactl",
      "syslog",
      "settimeofday",
      "clock_settime",
      "clock_adjtime",
      "adjtimex",
      "iopl",
      "ioperm",
      "open_by_handle_at",
      "name_to_handle_at",
      "userfaultfd",
      "lookup_dcookie",
      "fanotify_init",
  };
  return names;
}

Result<std::vector<sock_filter>> build_instance_seccomp_filter() {
  std::unique_ptr<void, CtxFree> ctx(seccomp_init(SCMP_ACT_ALLOW));
  if (!ctx) return internal_error("seccomp: seccomp_init failed");
  // Other architectures' system calls (int 0x80, x32) kill the process: the default.
  int rc = seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
  if (rc < 0) return seccomp_error("bad-arch action", rc);
  for (const std::string& name : denied_syscalls()) {
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), nr, 0);
    if (rc < 0) return seccomp_error("deny " + name, rc);
  }
  // New namespaces by clone: one rule per flag (a rule compares one masked value).
  for (unsigned long flag : {CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC, CLONE_NEWUSER, CLONE_NEWPID,
                             CLONE_NEWNET, CLONE_NEWCGROUP}) {
    rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                          SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag));
    if (rc < 0) return seccomp_error("deny clone namespaces", rc);
  }
  // clone3 passes its flags in memory, out of a filter's reach: ENOSYS makes libc use clone.
  rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  if (rc < 0) return seccomp_error("clone3", rc);

  int fd = memfd_create("nubo-seccomp", MFD_CLOEXEC);
  if (fd < 0) return internal_error(std::string("seccomp: memfd_create: ") + std::strerror(errno));
  rc = seccomp_export_bpf(ctx.get(), fd);
  struct stat st;
  if (rc < 0 || fstat(fd, &st) != 0 || st.st_size <= 0 ||
      st.st_size % static_cast<off_t>(sizeof(sock_filter)) != 0) {
    ::close(fd);
    return rc < 0 ? seccomp_error("export", rc) : internal_error("seccomp: bad export");
  }
  std::vector<sock_filter> prog(static_cast<size_t>(st.st_size) / sizeof(sock_filter));
  ssize_t n = pread(fd, prog.data(), static_cast<size_t>(st.st_size), 0);
  ::close(fd);
  if (n != st.st_size) return internal_error("seccomp: short read of the exported filter");
  return prog;
}

}  // namespace nubo::runtime

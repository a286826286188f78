/* What the node and a zygote (zygote.c, process_sandbox.cc) say to each other on the zygote's
 * fd 3, a SOCK_SEQPACKET socket: one message per datagram.
 *
 *   zygote -> node, once, when it is ready:  NUBO_ZYGOTE_READY
 *   node -> zygote:   struct nubo_zygote_request, then n_ops struct nubo_zygote_op, then
 *                     n_filter struct sock_filter, then strings_len bytes of NUL-terminated
 *                     strings (offset 0 is an empty string and means "none"); the descriptors
 *                     of fd_mask attached (SCM_RIGHTS), in the order of enum nubo_zygote_fd.
 *   zygote -> node:   struct nubo_zygote_reply; with pid > 0 the child's pidfd attached.
 *   child -> node:    on the NUBO_ZFD_REPORT pipe, struct nubo_zygote_report once its sandbox
 *                     is made (step 0) or could not be (the step that failed); then it closes it.
 *
 * The child is the node's (CLONE_PARENT): the node reaps it and gets its exit status as for any
 * launch. C, shared by both sides.
 */
#ifndef NUBO_RUNTIME_ZYGOTE_PROTOCOL_H_
#define NUBO_RUNTIME_ZYGOTE_PROTOCOL_H_

#include <stdint.h>

#define NUBO_ZYGOTE_READY "nubo-zygote-1"
#define NUBO_ZYGOTE_MAGIC 0x315a594eu /* "NYZ1" */
#define NUBO_ZYGOTE_MAX_MESSAGE 65536
#define NUBO_ZYGOTE_MAX_OPS 256
#define NUBO_ZYGOTE_MAX_FILTER 4096

enum nubo_zygote_fd {
  NUBO_ZFD_NULL = 0, /* becomes the child's 0 */
  NUBO_ZFD_OUT,      /* its 1 and 2 */
  NUBO_ZFD_CONTROL,  /* its 3 */
  NUBO_ZFD_REPORT,   /* where it writes struct nubo_zygote_report */
  NUBO_ZFD_NETNS,    /* the network namespace it joins (isolated) */
  NUBO_ZFD_CGROUP0,  /* cgroup.procs files it writes itself into */
  NUBO_ZFD_CGROUP1,
  NUBO_ZFD_CGROUP2,
  NUBO_ZFD_COUNT
};

#define NUBO_ZYGOTE_ISOLATE 1u
#define NUBO_ZYGOTE_NO_NEW_PRIVS 2u
/* A spare (started before a function needs it): the child makes the zygote's private pages its
 * own before it waits (MADV_POPULATE_WRITE), so that its function's first run does not take a
 * copy-on-write fault on each of them (~430 for a python cold start). */
#define NUBO_ZYGOTE_PREFAULT 4u

struct nubo_zygote_request {
  uint32_t magic;
  uint32_t flags;   /* NUBO_ZYGOTE_* */
  uint32_t fd_mask; /* bit i: descriptor i of enum nubo_zygote_fd is attached */
  uint32_t max_files;
  uint32_t uid;
  uint32_t gid;
  int32_t parent_pid;
  uint32_t cwd;      /* string offsets */
  uint32_t root_dir; /* isolated: where the child mounts its root's tmpfs */
  uint32_t n_ops;
  uint32_t n_filter;
  uint32_t strings_len;
};

struct nubo_zygote_op {
  uint32_t kind;               /* enum nubo_root_op_kind (sandbox_child.h) */
  uint32_t a, b, fstype, data; /* string offsets */
  uint32_t mode;
  uint64_t flags;
  uint64_t dev;
};

struct nubo_zygote_reply {
  int32_t pid; /* > 0: the child (its pidfd attached); else err says why there is none */
  int32_t err;
};

struct nubo_zygote_report {
  int32_t step; /* enum nubo_child_step: 0 when the sandbox is made */
  int32_t err;
  int32_t failed_op;
};

/* A SnapStart template (nubo_template_serve, zygote.c): an instance that ran its function's init
 * and forks restored instances of it. On its fd 3, also a SOCK_SEQPACKET socket:
 *
 *   template -> node, once, when the snapshot is taken:  NUBO_TEMPLATE_READY
 *   node -> template:  struct nubo_template_request, the descriptors of fd_mask attached, in the
 *                      order of enum nubo_template_fd
 *   template -> node:  struct nubo_zygote_reply (pid: in the template's PID namespace)
 *   child -> node:     on its NUBO_TFD_REPORT pipe, struct nubo_zygote_report once it is made;
 *   template -> node:  then, on that pipe, struct nubo_zygote_report with step
 *                      NUBO_TEMPLATE_EXITED and err = the child's wait status once it has ended
 *                      (the child is the template's, which reaps it).
 */
#define NUBO_TEMPLATE_READY "nubo-template-1"
#define NUBO_TEMPLATE_MAGIC 0x31504d54u /* "TMP1" */
#define NUBO_TEMPLATE_EXITED 1000

enum nubo_template_fd {
  NUBO_TFD_OUT = 0, /* becomes the child's 1 and 2 */
  NUBO_TFD_CONTROL, /* its 3: where it reads its assignment */
  NUBO_TFD_REPORT,
  NUBO_TFD_CGROUP0,
  NUBO_TFD_CGROUP1,
  NUBO_TFD_CGROUP2,
  NUBO_TFD_COUNT
};

struct nubo_template_request {
  uint32_t magic;
  uint32_t fd_mask;
};

#endif /* NUBO_RUNTIME_ZYGOTE_PROTOCOL_H_ */

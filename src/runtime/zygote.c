/* libnubo_zygote.so: the fork server of a zygote, an interpreter that has loaded its runtime
 * client and forks new instances instead of each starting its own (issue 3, "Cold starts in
 * milliseconds"; runtimes/README.md "Zygotes"). Loaded by the interpreter itself (Python:
 * ctypes.PyDLL, so the call holds the GIL), it serves the node's requests on a socket
 * (zygote_protocol.h) until one of them makes a child, and returns in that child only, whose
 * sandbox is then made (sandbox_child.h) as a launch's would be: the runtime goes on exactly as a
 * spare that has just started.
 *
 * The zygote itself runs only nubo's code (no function's code is ever loaded into it), as root
 * where the node is root, and is never given a function's environment or credentials.
 *
 * A child is made with a raw clone(CLONE_PARENT | CLONE_PIDFD | CLONE_NEW* ...), so it is the
 * node's child, not the zygote's, in its own namespaces from its first instruction. Python's
 * fork hooks (PyOS_BeforeFork / PyOS_AfterFork_Parent / PyOS_AfterFork_Child, found with dlsym
 * when the interpreter exports them) run around it as they run around os.fork(), so what Python
 * re-seeds after a fork (random) is re-seeded. glibc's own record of the thread id is set by
 * CLONE_CHILD_SETTID at the offset found at start (find_tid_offset).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runtime/sandbox_child.h"
#include "runtime/zygote_protocol.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

int nubo_zygote_serve(int sock);
int nubo_template_serve(int sock);

static unsigned char g_message[NUBO_ZYGOTE_MAX_MESSAGE];
static struct nubo_root_op g_ops[NUBO_ZYGOTE_MAX_OPS];
static long g_tid_offset = -1;

/* Where glibc keeps the calling thread's id in its thread descriptor: the one 4-byte slot of
 * the first kilobyte of pthread_self() that holds the thread id both here and in a forked child.
 * -1 if that is not exactly one slot (then children keep the zygote's value there, which only
 * matters to the few libc calls that read it rather than ask the kernel). */
static void find_tid_offset(void) {
  const unsigned char* self = (const unsigned char*)pthread_self();
  pid_t me = (pid_t)syscall(SYS_gettid);
  int candidates[16];
  int n = 0;
  for (int off = 0; off + 4 <= 1024 && n < 16; off += 4) {
    pid_t v;
    memcpy(&v, self + off, sizeof v);
    if (v == me) candidates[n++] = off;
  }
  if (n == 0) return;
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return;
  pid_t child = fork();
  if (child == 0) {
    pid_t mine = (pid_t)syscall(SYS_gettid);
    int found = -1, count = 0;
    for (int i = 0; i < n; ++i) {
      pid_t v;
      memcpy(&v, self + candidates[i], sizeof v);
      if (v == mine) {
        found = candidates[i];
        ++count;
      }
    }
    int answer = count == 1 ? found : -1;
    ssize_t w = write(p[1], &answer, sizeof answer);
    (void)w;
    _exit(0);
  }
  close(p[1]);
  int answer = -1;
  if (child > 0) {
    if (read(p[0], &answer, sizeof answer) != (ssize_t)sizeof answer) answer = -1;
    while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
    }
  }
  close(p[0]);
  g_tid_offset = answer;
}

static void send_reply(int sock, int32_t pid, int32_t err, int pidfd) {
  struct nubo_zygote_reply reply = {pid, err};
  struct iovec iov = {&reply, sizeof reply};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } control;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  if (pidfd >= 0) {
    memset(&control, 0, sizeof control);
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &pidfd, sizeof(int));
  }
  while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0 && errno == EINTR) {
  }
}

/* A string of the table at offset off, or NULL for 0; *ok = 0 when off is out of it. */
static const char* string_at(const char* strings, uint32_t len, uint32_t off, int* ok) {
  if (off == 0) return NULL;
  if (off >= len) {
    *ok = 0;
    return NULL;
  }
  return strings + off;
}

/* Checks a request of n bytes and fills args from it (pointers into g_message). fds[i] is
 * descriptor i of enum nubo_zygote_fd, or -1. Returns 0, or EINVAL. */
static int parse_request(size_t n, const int* fds, struct nubo_child_args* args,
                         struct sock_fprog* filter) {
  struct nubo_zygote_request req;
  if (n < sizeof req) return EINVAL;
  memcpy(&req, g_message, sizeof req);
  if (req.magic != NUBO_ZYGOTE_MAGIC || req.n_ops > NUBO_ZYGOTE_MAX_OPS ||
      req.n_filter > NUBO_ZYGOTE_MAX_FILTER) {
    return EINVAL;
  }
  size_t ops_at = sizeof req;
  size_t filter_at = ops_at + (size_t)req.n_ops * sizeof(struct nubo_zygote_op);
  /* sock_filter entries need their natural alignment (4): the header and ops keep it. */
  size_t strings_at = filter_at + (size_t)req.n_filter * sizeof(struct sock_filter);
  if (strings_at + req.strings_len != n || req.strings_len == 0) return EINVAL;
  const char* strings = (const char*)g_message + strings_at;
  if (strings[req.strings_len - 1] != 0) return EINVAL; /* every string ends in the table */
  int ok = 1;
  nubo_child_args_init(args);
  args->null_fd = fds[NUBO_ZFD_NULL];
  args->out_fd = fds[NUBO_ZFD_OUT];
  args->control_fd = fds[NUBO_ZFD_CONTROL];
  args->keep_fd = fds[NUBO_ZFD_REPORT];
  if (args->null_fd < 0 || args->out_fd < 0 || args->keep_fd < 0) return EINVAL;
  for (int i = 0; i < NUBO_CHILD_CGROUP_FDS; ++i) args->cgroup_fds[i] = fds[NUBO_ZFD_CGROUP0 + i];
  args->max_files = req.max_files;
  args->parent_pid = req.parent_pid;
  args->no_new_privs = (req.flags & NUBO_ZYGOTE_NO_NEW_PRIVS) != 0;
  args->reset_signals = 0; /* the interpreter's dispositions, as a fresh one has them */
  args->cwd = string_at(strings, req.strings_len, req.cwd, &ok);
  args->isolate = (req.flags & NUBO_ZYGOTE_ISOLATE) != 0;
  if (args->isolate) {
    args->netns_fd = fds[NUBO_ZFD_NETNS];
    args->root_dir = string_at(strings, req.strings_len, req.root_dir, &ok);
    if (args->netns_fd < 0 || !args->root_dir) return EINVAL;
    args->uid = req.uid;
    args->gid = req.gid;
    for (uint32_t i = 0; i < req.n_ops; ++i) {
      struct nubo_zygote_op w;
      memcpy(&w, g_message + ops_at + i * sizeof w, sizeof w);
      struct nubo_root_op* op = &g_ops[i];
      op->kind = (int)w.kind;
      op->a = string_at(strings, req.strings_len, w.a, &ok);
      op->b = string_at(strings, req.strings_len, w.b, &ok);
      op->fstype = string_at(strings, req.strings_len, w.fstype, &ok);
      op->data = string_at(strings, req.strings_len, w.data, &ok);
      op->mode = w.mode;
      op->flags = (unsigned long)w.flags;
      op->dev = (unsigned long)w.dev;
    }
    args->ops = g_ops;
    args->n_ops = (int)req.n_ops;
  }
  if (req.n_filter > 0) {
    filter->len = (unsigned short)req.n_filter;
    filter->filter = (struct sock_filter*)(void*)(g_message + filter_at);
    args->seccomp = filter;
  }
  return ok ? 0 : EINVAL;
}

/* Receives one message of up to len bytes with up to max_fds descriptors (MSG_CMSG_CLOEXEC).
 * Returns the size (0: EOF), or -1; *n_fds says how many descriptors came. */
static ssize_t receive(int sock, void* buf, size_t len, int* fds, int max_fds, int* n_fds) {
  struct iovec iov = {buf, len};
  union {
    char buf[CMSG_SPACE(sizeof(int) * NUBO_ZFD_COUNT)];
    struct cmsghdr align;
  } control;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t n;
  do {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  *n_fds = 0;
  if (n < 0) return -1;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; ++i) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (*n_fds < max_fds) {
        fds[(*n_fds)++] = fd;
      } else {
        close(fd);
      }
    }
  }
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) return (ssize_t)len + 1; /* too long: refused */
  return n;
}

typedef void (*fork_hook)(void);

/* Serves requests on sock (the zygote's end of the node's socket). Returns 0 in a child whose
 * sandbox is made (its descriptors are 0-3 as a launch's: /dev/null, the log pipe twice, its
 * control pipe), 1 when the node closed the socket, -1 when the socket failed. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Writes (without changing) every page of the process's private writable mappings, so that the
 * ones it shares with the zygote become its own now, while it waits, rather than one fault at a
 * time later (NUBO_ZYGOTE_PREFAULT). Mappings over kPrefaultMax are left alone (a reservation,
 * not a heap); it stops once kPrefaultTotal is done, and as soon as its assignment arrives on
 * fd 3 (a cold start is waiting: the rest it faults in as it goes). Best effort: errors are
 * ignored. */
static int assignment_waiting(void) {
  struct pollfd p = {3, POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

static void prefault_private_pages(void) {
  enum { kPrefaultMax = 8 << 20, kPrefaultTotal = 32 << 20, kChunk = 256 << 10 };
  static char maps[65536];
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, maps + len, sizeof maps - 1 - len);
    if (n <= 0) break;
    len += (size_t)n;
    if (len == sizeof maps - 1) break;
  }
  close(fd);
  maps[len] = 0;
  size_t done = 0;
  for (char* line = maps; *line;) {
    char* end = strchr(line, '\n');
    if (end) *end = 0;
    char* dash = strchr(line, '-');
    char* space = dash ? strchr(dash, ' ') : NULL;
    if (space && strncmp(space + 1, "rw-p", 4) == 0) {
      unsigned long start = strtoul(line, NULL, 16);
      unsigned long stop = strtoul(dash + 1, NULL, 16);
      size_t size = stop > start ? stop - start : 0;
      if (size > 0 && size <= kPrefaultMax && done + size <= kPrefaultTotal) {
        for (size_t at = 0; at < size; at += kChunk) {
          if (assignment_waiting()) return;
          size_t n = size - at < kChunk ? size - at : kChunk;
          if (madvise((void*)(start + at), n, MADV_POPULATE_WRITE) != 0) break;
          done += n;
        }
      }
    }
    if (!end) break;
    line = end + 1;
  }
}

int nubo_zygote_serve(int sock) {
  fork_hook before = (fork_hook)dlsym(RTLD_DEFAULT, "PyOS_BeforeFork");
  fork_hook after_parent = (fork_hook)dlsym(RTLD_DEFAULT, "PyOS_AfterFork_Parent");
  fork_hook after_child = (fork_hook)dlsym(RTLD_DEFAULT, "PyOS_AfterFork_Child");
  find_tid_offset();
  if (send(sock, NUBO_ZYGOTE_READY, sizeof NUBO_ZYGOTE_READY - 1, MSG_NOSIGNAL) < 0) return -1;
  for (;;) {
    int received[NUBO_ZFD_COUNT];
    int n_received = 0;
    ssize_t n = receive(sock, g_message, sizeof g_message, received, NUBO_ZFD_COUNT, &n_received);
    if (n < 0) return -1;
    if (n == 0) return 1;
    int fds[NUBO_ZFD_COUNT];
    for (int i = 0; i < NUBO_ZFD_COUNT; ++i) fds[i] = -1;
    int err = 0;
    struct nubo_zygote_request head;
    if ((size_t)n >= sizeof head && (size_t)n <= sizeof g_message) {
      memcpy(&head, g_message, sizeof head);
      int next = 0;
      for (int i = 0; i < NUBO_ZFD_COUNT; ++i) {
        if (head.fd_mask & (1u << i)) fds[i] = next < n_received ? received[next++] : -1;
      }
      if (next != n_received || (head.fd_mask >> NUBO_ZFD_COUNT) != 0) err = EINVAL;
    } else {
      err = EINVAL; /* too short, or truncated (receive() says len + 1) */
    }
    struct nubo_child_args args;
    struct sock_fprog filter;
    memset(&filter, 0, sizeof filter);
    if (err == 0) err = parse_request((size_t)n, fds, &args, &filter);
    if (err != 0) {
      for (int i = 0; i < n_received; ++i) close(received[i]);
      send_reply(sock, -1, err, -1);
      continue;
    }

    unsigned long flags = SIGCHLD | CLONE_PARENT | CLONE_PIDFD;
    if (args.isolate) flags |= CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    void* tid_slot = NULL;
    if (g_tid_offset >= 0) {
      flags |= CLONE_CHILD_SETTID;
      tid_slot = (unsigned char*)pthread_self() + g_tid_offset;
    }
    int pidfd = -1;
    if (before) before();
    long pid = syscall(SYS_clone, flags, NULL, &pidfd, tid_slot, 0);
    if (pid == 0) {
      int step = nubo_child_setup(&args);
      /* The uid change made the process undumpable, which an exec would have undone: without
       * it its own /proc/self (fd, environ, maps, and /dev/stdout through them) is root's. */
      if (step == NUBO_STEP_NONE && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) {
        args.err = errno;
        step = NUBO_STEP_IDS;
      }
      struct nubo_zygote_report report = {step, step ? args.err : 0, args.failed_op};
      ssize_t w = write(args.keep_fd, &report, sizeof report);
      (void)w;
      if (step != NUBO_STEP_NONE) _exit(127);
      close(args.keep_fd);
      if (after_child) after_child();
      if (head.flags & NUBO_ZYGOTE_PREFAULT) prefault_private_pages();
      return 0;
    }
    int clone_err = errno;
    if (after_parent) after_parent();
    for (int i = 0; i < n_received; ++i) close(received[i]);
    if (pid < 0) {
      send_reply(sock, -1, clone_err, -1);
    } else {
      send_reply(sock, (int32_t)pid, 0, pidfd);
      close(pidfd);
    }
  }
}

/* The restored instances a template has made and not yet reaped: the node's pipe of each. */
#define NUBO_TEMPLATE_MAX_CHILDREN 1024
static struct {
  pid_t pid;
  int report_fd;
} g_children[NUBO_TEMPLATE_MAX_CHILDREN];
static int g_n_children;

/* Reaps every child that has ended and tells the node how (on that child's pipe). */
static void reap_children(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < g_n_children; ++i) {
      if (g_children[i].pid != pid) continue;
      struct nubo_zygote_report r = {NUBO_TEMPLATE_EXITED, status, -1};
      ssize_t w = write(g_children[i].report_fd, &r, sizeof r);
      (void)w;
      close(g_children[i].report_fd);
      g_children[i] = g_children[--g_n_children];
      break;
    }
  }
}

/* The fork server of a SnapStart template (runtimes/README.md "SnapStart"): the process has run
 * its function's init and its before-snapshot hooks; from here on it only forks. Each child
 * joins the cgroup the node made for it, gets its log pipe as 1 and 2 and its assignment pipe as
 * 3, and returns into the runtime, which reads its assignment and runs the after-restore hooks.
 * The children share the template's sandbox (its namespaces, root, uid and seccomp filter: the
 * template has no privilege left to make new ones); the template reaps them and tells the node
 * how each ended. Returns 0 in a child, 1 when the node closed the socket (the template is no
 * longer wanted), -1 when it failed. */
int nubo_template_serve(int sock) {
  fork_hook before = (fork_hook)dlsym(RTLD_DEFAULT, "PyOS_BeforeFork");
  fork_hook after_parent = (fork_hook)dlsym(RTLD_DEFAULT, "PyOS_AfterFork_Parent");
  fork_hook after_child = (fork_hook)dlsym(RTLD_DEFAULT, "PyOS_AfterFork_Child");
  /* The template reaps its children itself, whatever the function's init did with SIGCHLD
   * (SIG_IGN or SA_NOCLDWAIT would let the kernel reap them unseen): its disposition is the
   * default while the template serves, and each child gets the function's back. */
  struct sigaction function_chld, dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  if (sigaction(SIGCHLD, &dfl, &function_chld) != 0) return -1;
  sigset_t chld, old;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &chld, &old) != 0) return -1;
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) return -1;
  if (send(sock, NUBO_TEMPLATE_READY, sizeof NUBO_TEMPLATE_READY - 1, MSG_NOSIGNAL) < 0) return -1;
  for (;;) {
    struct pollfd pfds[2] = {{sock, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (poll(pfds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (pfds[1].revents) {
      struct signalfd_siginfo info;
      while (read(sfd, &info, sizeof info) == (ssize_t)sizeof info) {
      }
      reap_children();
    }
    if (!pfds[0].revents) continue;
    struct nubo_template_request req;
    int received[NUBO_ZFD_COUNT];
    int n_received = 0;
    ssize_t n = receive(sock, &req, sizeof req, received, NUBO_ZFD_COUNT, &n_received);
    if (n == 0) return 1;
    if (n < 0) return -1;
    /* Above whatever the init opened low (it may have closed 0-2): dup2 onto 1-3 in the child
     * must never land on one of these. */
    for (int i = 0; i < n_received; ++i) {
      if (received[i] < 10) {
        int moved = fcntl(received[i], F_DUPFD_CLOEXEC, 10);
        close(received[i]);
        received[i] = moved;
      }
    }
    int fds[NUBO_TFD_COUNT];
    for (int i = 0; i < NUBO_TFD_COUNT; ++i) fds[i] = -1;
    int err = 0;
    if (n != (ssize_t)sizeof req || req.magic != NUBO_TEMPLATE_MAGIC ||
        (req.fd_mask >> NUBO_TFD_COUNT) != 0) {
      err = EINVAL;
    } else {
      int next = 0;
      for (int i = 0; i < NUBO_TFD_COUNT; ++i) {
        if (req.fd_mask & (1u << i)) fds[i] = next < n_received ? received[next++] : -1;
      }
      if (next != n_received || fds[NUBO_TFD_OUT] < 0 || fds[NUBO_TFD_CONTROL] < 0 ||
          fds[NUBO_TFD_REPORT] < 0) {
        err = EINVAL;
      }
    }
    if (err == 0 && g_n_children >= NUBO_TEMPLATE_MAX_CHILDREN) err = EAGAIN;
    int keep = err == 0 ? fcntl(fds[NUBO_TFD_REPORT], F_DUPFD_CLOEXEC, 4) : -1;
    if (err == 0 && keep < 0) err = errno;
    if (err != 0) {
      for (int i = 0; i < n_received; ++i) close(received[i]);
      send_reply(sock, -1, err, -1);
      continue;
    }
    if (before) before();
    pid_t pid = fork();
    if (pid == 0) {
      struct nubo_child_args args;
      nubo_child_args_init(&args);
      args.reset_signals = 0;
      args.out_fd = fds[NUBO_TFD_OUT];
      args.null_fd = -1; /* the template's stdin: /dev/null */
      args.control_fd = fds[NUBO_TFD_CONTROL];
      args.keep_fd = fds[NUBO_TFD_REPORT];
      /* What the init opened stays open (the objects that hold it live on in the child); what
       * is the template's own goes, and what came with the request once it is in place. */
      args.close_others = 0;
      close(sfd);
      close(sock);
      for (int i = 0; i < g_n_children; ++i) close(g_children[i].report_fd);
      g_n_children = 0;
      close(keep);
      for (int i = 0; i < NUBO_CHILD_CGROUP_FDS; ++i) {
        args.cgroup_fds[i] = fds[NUBO_TFD_CGROUP0 + i];
      }
      args.max_files = 1024;
      args.isolate = 0;
      args.parent_pid = getppid();
      int step = nubo_child_setup(&args);
      for (int i = 0; i < n_received; ++i) {
        if (received[i] != args.keep_fd) close(received[i]);
      }
      struct nubo_zygote_report report = {step, step ? args.err : 0, -1};
      ssize_t w = write(args.keep_fd, &report, sizeof report);
      (void)w;
      if (step != NUBO_STEP_NONE) _exit(127);
      close(args.keep_fd);
      sigaction(SIGCHLD, &function_chld, NULL);
      sigprocmask(SIG_SETMASK, &old, NULL);
      if (after_child) after_child();
      return 0;
    }
    int fork_err = errno;
    if (after_parent) after_parent();
    for (int i = 0; i < n_received; ++i) close(received[i]);
    if (pid < 0) {
      close(keep);
      send_reply(sock, -1, fork_err, -1);
      continue;
    }
    g_children[g_n_children].pid = pid;
    g_children[g_n_children].report_fd = keep;
    ++g_n_children;
    send_reply(sock, (int32_t)pid, 0, -1);
  }
}

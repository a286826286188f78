// nubo-spare-exec: the spare of a `provided` function (runtime/spare_pool.h). The node launches it
// ahead of a cold start, inside the instance's sandbox and cgroups, as
//
//     nubo-spare-exec <bootstrap path>        with NUBO_SPARE_FD=3
//
// It blocks reading fd 3 to EOF. The node writes "nubo-spare-1" NUL <cwd> NUL KEY=value NUL ...
// when it assigns the spare a function: the program changes to <cwd> and execs the bootstrap with
// exactly that environment, so a cold start pays an exec instead of a whole launch. EOF without
// that message: the spare is no longer needed; exit 0.
//
// If the exec fails, the bootstrap is the problem, as it would be for a direct launch: the error
// goes to the instance's Runtime API as an init error with Lambda's wording
// ("Runtime.InvalidEntrypoint", "fork/exec /var/task/bootstrap: exec format error").
//
// Plain C, linked statically, no allocation after the read: it is a process of the function's.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char kTag[] = "nubo-spare-1";

// The whole of fd until EOF; *len set. NULL on a read error.
static char* read_all(int fd, size_t* len) {
  size_t cap = 64 * 1024, n = 0;
  char* buf = malloc(cap);
  if (!buf) return NULL;
  for (;;) {
    if (n == cap) {
      cap *= 2;
      char* bigger = realloc(buf, cap);
      if (!bigger) {
        free(buf);
        return NULL;
      }
      buf = bigger;
    }
    ssize_t r = read(fd, buf + n, cap - n);
    if (r > 0) {
      n += (size_t)r;
    } else if (r == 0) {
      break;
    } else if (errno != EINTR) {
      free(buf);
      return NULL;
    }
  }
  *len = n;
  return buf;
}

// Lowercase first letter, as Go (and so Lambda) words errno strings.
static void lower_first(char* s) {
  if (s[0] >= 'A' && s[0] <= 'Z') s[0] = (char)(s[0] - 'A' + 'a');
}

// POSTs an init error to the Runtime API at host:port (AWS_LAMBDA_RUNTIME_API, numeric).
static void post_init_error(const char* api, const char* message) {
  char host[64];
  const char* colon = api ? strrchr(api, ':') : NULL;
  if (!colon || (size_t)(colon - api) >= sizeof host) return;
  memcpy(host, api, (size_t)(colon - api));
  host[colon - api] = 0;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)atoi(colon + 1));
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) return;
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return;
  if (connect(s, (struct sockaddr*)&addr, sizeof addr) == 0) {
    char body[1024];
    // message is a path and an errno string: nothing in it needs JSON escaping but quotes.
    int blen =
        snprintf(body, sizeof body,
                 "{\"errorMessage\":\"%s\",\"errorType\":\"Runtime.InvalidEntrypoint\"}", message);
    char req[1536];
    int rlen = snprintf(req, sizeof req,
                        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\n"
                        "Host: %s\r\n"
                        "Lambda-Runtime-Function-Error-Type: Runtime.InvalidEntrypoint\r\n"
                        "Content-Type: application/json\r\n"
                        "Content-Length: %d\r\n"
                        "Connection: close\r\n\r\n%s",
                        api, blen, body);
    if (rlen > 0 && rlen < (int)sizeof req && write(s, req, (size_t)rlen) == rlen) {
      char sink[512];
      while (read(s, sink, sizeof sink) > 0) {
      }
    }
  }
  close(s);
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: nubo-spare-exec BOOTSTRAP (with the node's message on fd 3)\n");
    return 127;
  }
  size_t len = 0;
  char* msg = read_all(3, &len);
  close(3);
  if (!msg) return 127;
  if (len == 0) return 0;  // not needed any more
  if (len < sizeof kTag || memcmp(msg, kTag, sizeof kTag) != 0 || msg[len - 1] != 0) return 127;
  // <cwd> NUL then KEY=value NUL ...
  char* cwd = msg + sizeof kTag;
  size_t count = 0;
  for (char* p = cwd; p < msg + len; p += strlen(p) + 1) ++count;
  char** envp = calloc(count + 1, sizeof(char*));
  if (!envp) return 127;
  size_t i = 0;
  const char* api = NULL;
  for (char* p = cwd + strlen(cwd) + 1; p < msg + len; p += strlen(p) + 1) {
    envp[i++] = p;
    if (strncmp(p, "AWS_LAMBDA_RUNTIME_API=", 23) == 0) api = p + 23;
  }
  envp[i] = NULL;
  if (cwd[0] && chdir(cwd) != 0) {
    fprintf(stderr, "nubo-spare-exec: chdir %s: %s\n", cwd, strerror(errno));
    return 127;
  }
  char* child_argv[] = {argv[1], NULL};
  execve(argv[1], child_argv, envp);
  char reason[256];
  snprintf(reason, sizeof reason, "%s", strerror(errno));
  lower_first(reason);
  char message[768];
  snprintf(message, sizeof message, "fork/exec %s: %s", argv[1], reason);
  post_init_error(api, message);
  return 127;
}

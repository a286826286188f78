/* A no-op `provided` runtime: the smallest correct Lambda Runtime API client.
 * One keep-alive connection; GET .../invocation/next, then POST .../response with "{}".
 * NOOP_SLEEP_MS=N in the function's environment: each invocation sleeps N ms first (the
 * scale-from-zero soak test, tests/soak).
 * Built static by bench/CMakeLists.txt and zipped as `bootstrap` by the benchmarks. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static int fd = -1;
static char host[256];
static int port;
static char buf[1 << 20];
static size_t have = 0; /* bytes in buf not yet consumed */

static void die(const char* m) {
  fprintf(stderr, "noop bootstrap: %s\n", m);
  exit(1);
}

static void connect_api(void) {
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) die("bad host");
  fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0 || connect(fd, (struct sockaddr*)&a, sizeof a) != 0) die("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  have = 0;
}

static void send_all(const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) die("write");
    p += w;
    n -= (size_t)w;
  }
}

/* Reads one response; copies the request id header (if any) into rid. Discards the body. */
static void read_response(char* rid, size_t rid_len) {
  char* end;
  for (;;) {
    buf[have] = 0;
    end = strstr(buf, "\r\n\r\n");
    if (end) break;
    if (have >= sizeof buf - 1) die("header too large");
    ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
    if (r <= 0) die("read");
    have += (size_t)r;
  }
  size_t header_len = (size_t)(end - buf) + 4;
  size_t body_len = 0;
  for (char* line = buf; line < end; line = strstr(line, "\r\n") + 2) {
    if (strncasecmp(line, "content-length:", 15) == 0) body_len = strtoul(line + 15, NULL, 10);
    if (rid && strncasecmp(line, "lambda-runtime-aws-request-id:", 30) == 0) {
      char* v = line + 30;
      while (*v == ' ') v++;
      size_t n = strcspn(v, "\r\n");
      if (n >= rid_len) n = rid_len - 1;
      memcpy(rid, v, n);
      rid[n] = 0;
    }
  }
  size_t total = header_len + body_len;
  while (have < total) {
    if (total > sizeof buf - 1) die("body too large");
    ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
    if (r <= 0) die("read body");
    have += (size_t)r;
  }
  memmove(buf, buf + total, have - total);
  have -= total;
}

int main(void) {
  const char* api = getenv("AWS_LAMBDA_RUNTIME_API");
  if (!api) die("AWS_LAMBDA_RUNTIME_API not set");
  const char* colon = strrchr(api, ':');
  if (!colon || (size_t)(colon - api) >= sizeof host) die("bad AWS_LAMBDA_RUNTIME_API");
  memcpy(host, api, (size_t)(colon - api));
  host[colon - api] = 0;
  port = atoi(colon + 1);
  connect_api();
  const char* sleep_ms = getenv("NOOP_SLEEP_MS");
  useconds_t pause = sleep_ms ? (useconds_t)atoi(sleep_ms) * 1000u : 0;
  char req[512], rid[128];
  for (;;) {
    int n = snprintf(req, sizeof req,
                     "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\n\r\n", api);
    send_all(req, (size_t)n);
    rid[0] = 0;
    read_response(rid, sizeof rid);
    if (!rid[0]) die("no request id");
    if (pause) usleep(pause);
    n = snprintf(req, sizeof req,
                 "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: %s\r\n"
                 "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
                 rid, api);
    send_all(req, (size_t)n);
    read_response(NULL, 0);
  }
}

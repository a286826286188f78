"""A fake Lambda Runtime API (2018-06-01) and helpers that run nubo's runtime clients against it.

(A module with its own name rather than conftest.py, so that `from fake_runtime_api import ...`
cannot pick up another test directory's conftest.)

The fake is a real HTTP/1.1 keep-alive server on 127.0.0.1:0 in a thread. The test queues events
with invoke(); the runtime client under test long-polls /invocation/next for them, and whatever it
posts to /response, /error or /init/error is recorded with its headers.
"""

import http.server
import json
import os
import queue
import select
import shutil
import socket
import subprocess
import threading
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUNTIMES = os.path.join(REPO, "runtimes")
PYTHON_BOOTSTRAP = os.path.join(RUNTIMES, "python", "bootstrap.py")
NODE_BOOTSTRAP = os.path.join(RUNTIMES, "nodejs", "bootstrap.cjs")
NODE_ESM_HOOK = os.path.join(RUNTIMES, "nodejs", "esm-hook.mjs")
NODE_MODULES = os.path.join(RUNTIMES, "nodejs", "node_modules")
RIC_DIR = os.path.join(RUNTIMES, "ric")
# The interpreter the node uses for python3.x functions (runtimes/README.md): Debian's, which has
# boto3 in its dist-packages.
PYTHON = os.environ.get("NUBO_TEST_PYTHON", "/usr/bin/python3")
NODE = shutil.which("node") or "/usr/bin/node"

TIMEOUT = 20.0  # seconds any single wait may take before the test fails


class Posted:
    """One POST the runtime client made: kind is 'response', 'error' or 'init_error'."""

    def __init__(self, kind, request_id, headers, body):
        self.kind = kind
        self.request_id = request_id
        self.headers = headers  # lowercase names
        self.body = body
        self.trailers = {}  # of a chunked (streamed) body, lowercase names

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Posted({self.kind}, {self.request_id}, {self.headers}, {self.body[:500]!r})"


class FakeRuntimeApi:
    def __init__(self):
        self.events = queue.Queue()
        self.posted = {}  # request id -> Posted
        self.init_errors = []
        self.next_calls = []  # monotonic times of each GET /next
        self.connections = set()  # client ports seen, to check keep-alive
        self.cond = threading.Condition()
        self.stopping = False
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _client_gone(self):
                readable, _, _ = select.select([self.connection], [], [], 0)
                if not readable:
                    return False
                try:
                    return self.connection.recv(1, socket.MSG_PEEK) == b""
                except OSError:
                    return True

            def do_GET(self):
                api.connections.add(self.client_address[1])
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self._reply(404, b'{"errorType":"NotFound"}')
                with api.cond:
                    api.next_calls.append(time.monotonic())
                    api.cond.notify_all()
                while True:
                    if api.stopping:
                        return self._reply(410, b"stopping", [("Connection", "close")])
                    if self._client_gone():
                        return  # a killed runtime must not swallow the next event
                    try:
                        event = api.events.get(timeout=0.05)
                    except queue.Empty:
                        continue
                    if self._client_gone():
                        api.events.put(event)
                        return
                    break
                headers = [
                    ("Content-Type", "application/json"),
                    ("Lambda-Runtime-Aws-Request-Id", event["request_id"]),
                    ("Lambda-Runtime-Deadline-Ms", str(event["deadline_ms"])),
                    ("Lambda-Runtime-Invoked-Function-Arn", event["arn"]),
                    ("Lambda-Runtime-Trace-Id", event["trace_id"]),
                ]
                if event.get("client_context") is not None:
                    headers.append(("Lambda-Runtime-Client-Context", event["client_context"]))
                if event.get("identity") is not None:
                    headers.append(("Lambda-Runtime-Cognito-Identity", event["identity"]))
                self._reply(200, event["body"], headers)

            def do_POST(self):
                api.connections.add(self.client_address[1])
                headers = {k.lower(): v for k, v in self.headers.items()}
                trailers = {}
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            break
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    while True:  # trailers, then an empty line
                        line = self.rfile.readline().decode("latin-1").strip()
                        if not line:
                            break
                        name, _, value = line.partition(":")
                        trailers[name.strip().lower()] = value.strip()
                    body = b"".join(chunks)
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                prefix = "/2018-06-01/runtime/"
                path = self.path
                posted = None
                if path == prefix + "init/error":
                    posted = Posted("init_error", None, headers, body)
                elif path.startswith(prefix + "invocation/"):
                    rest = path[len(prefix + "invocation/") :]
                    request_id, _, kind = rest.rpartition("/")
                    if kind in ("response", "error"):
                        posted = Posted(kind, request_id, headers, body)
                if posted is None:
                    return self._reply(404, b'{"errorType":"NotFound"}')
                posted.trailers = trailers
                with api.cond:
                    if posted.kind == "init_error":
                        api.init_errors.append(posted)
                    else:
                        api.posted[posted.request_id] = posted
                    api.cond.notify_all()
                self._reply(202, b'{"status":"OK"}', [("Content-Type", "application/json")])

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a killed runtime resets its connection; that is not the test's concern

        self.server = Server(("127.0.0.1", 0), Handler)
        self.address = "127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.stopping = True
        self.server.shutdown()
        self.server.server_close()

    def enqueue(self, event=None, request_id=None, timeout_ms=3000, body=None, client_context=None,
                identity=None, trace_id=None, arn=None):
        request_id = request_id or str(uuid.uuid4())
        self.events.put(
            {
                "request_id": request_id,
                "body": body if body is not None else json.dumps(event).encode(),
                "deadline_ms": int(time.time() * 1000) + timeout_ms,
                "arn": arn or "arn:aws:lambda:us-east-1:000000000000:function:fn",
                "trace_id": trace_id or "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                "client_context": client_context,
                "identity": identity,
            }
        )
        return request_id

    def wait_posted(self, request_id, timeout=TIMEOUT, proc=None):
        return self._wait(lambda: self.posted.get(request_id), timeout, proc, f"a result for {request_id}")

    def invoke(self, event=None, proc=None, **kw):
        return self.wait_posted(self.enqueue(event, **kw), proc=proc)

    def wait_init_error(self, timeout=TIMEOUT, proc=None):
        return self._wait(lambda: self.init_errors[0] if self.init_errors else None, timeout, proc, "an init error")

    def wait_next(self, count=1, timeout=TIMEOUT, proc=None):
        return self._wait(lambda: len(self.next_calls) >= count or None, timeout, proc, f"{count} /next calls")

    def _wait(self, probe, timeout, proc, what):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = probe()
                if found is not None:
                    return found
                if proc is not None and proc.poll() is not None:
                    # The process is gone: give in-flight posts a moment to land, then fail.
                    self.cond.wait(0.2)
                    found = probe()
                    if found is not None:
                        return found
                    raise AssertionError(f"runtime exited ({proc.returncode}) before {what}:\n{proc.output()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}" + (f":\n{proc.output()}" if proc else ""))
                self.cond.wait(min(left, 0.1))


class RuntimeProcess:
    """A runtime client subprocess whose stdout and stderr go to files."""

    def __init__(self, argv, env, cwd, log_dir):
        self.out_path = os.path.join(log_dir, "stdout.txt")
        self.err_path = os.path.join(log_dir, "stderr.txt")
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.started = time.monotonic()
        self.popen = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err)

    def poll(self):
        return self.popen.poll()

    @property
    def returncode(self):
        return self.popen.returncode

    def wait(self, timeout=TIMEOUT):
        return self.popen.wait(timeout)

    def stdout(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr(self):
        with open(self.err_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def output(self):
        return f"--- stdout ---\n{self.stdout()}\n--- stderr ---\n{self.stderr()}"

    def stop(self):
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(5)
        self._out.close()
        self._err.close()


def base_env(api, task_root, handler, function_name="fn"):
    """The environment the node gives every runtime (runtimes/README.md)."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": RUNTIMES,
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/" + function_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": "token",
    }


def python_argv():
    return [PYTHON, "-S", "-u", PYTHON_BOOTSTRAP]


def python_env(api, task_root, handler, runtime="python3.11"):
    env = base_env(api, task_root, handler)
    env["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + runtime
    return env


def node_argv(memory_mb=256):
    """The command line of runtimes/README.md (AWS's nodejs bootstrap sizes V8's heap the same way)."""
    new_space = memory_mb // 10
    return [
        NODE,
        "--expose-gc",
        "--max-http-header-size=81920",
        "--max-semi-space-size=%d" % (new_space // 2),
        "--max-old-space-size=%d" % (memory_mb - new_space),
        NODE_BOOTSTRAP,
    ]


def node_env(api, task_root, handler, runtime="nodejs20.x"):
    env = base_env(api, task_root, handler)
    env["AWS_EXECUTION_ENV"] = "AWS_Lambda_" + runtime
    env["NODE_PATH"] = NODE_MODULES
    return env


def write_files(root, files):
    """Writes {relative path: text} under root; returns root as a str."""
    for rel, text in files.items():
        path = os.path.join(str(root), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
    return str(root)

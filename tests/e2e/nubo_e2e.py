"""End-to-end helpers: a real `nubo serve` on a free port, driven by real AWS clients.

The node binary is $NUBO_BINARY (make test sets it to the debug build). Each test module gets
its own node and data directory; `node.restart()` and `node.kill9()` exercise durability.
"""
import base64
import io
import json
import os
import signal
import subprocess
import time
import zipfile

import boto3
import botocore.config
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AWS_CLI = "/usr/bin/aws"  # Debian's awscli v2
ROLE = "arn:aws:iam::000000000000:role/lambda-role"
# The execution role every test function runs as (Node.start() makes it): Lambda may assume it,
# and it may list functions (what the tests' functions ask of nubo) and nothing else.
LAMBDA_TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": "sts:AssumeRole"}]}
ROLE_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*"}]}


def nubo_binary():
    path = os.environ.get("NUBO_BINARY") or os.path.join(ROOT, "build", "debug", "nubo")
    if not os.path.exists(path):
        pytest.fail(f"nubo binary not found at {path}: run make test")
    return path


class Node:
    """One running nubo node with its own data directory."""

    def __init__(self, data_dir, extra_args=()):
        self.data_dir = data_dir
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.log_path = os.path.join(data_dir, "node.log")

    def start(self):
        log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0")
        self.proc = subprocess.Popen(
            [nubo_binary(), "serve", "--host", "127.0.0.1", "--port", "0",
             "--data-dir", self.data_dir] + self.extra_args,
            stdout=subprocess.PIPE, stderr=log, env=env)
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening on http://"):
            self.proc.kill()
            raise RuntimeError(f"nubo did not start: {line!r}; log: {self.log()}")
        self.port = int(line.strip().rsplit(":", 1)[1])
        self.ensure_role(ROLE.rsplit("/", 1)[1])
        return self

    def ensure_role(self, name, trust=None, policy=None):
        """Creates an execution role (once per data directory): CreateFunction refuses a role
        that does not exist or that Lambda may not assume, as on AWS."""
        iam = self.client("iam")
        try:
            iam.create_role(RoleName=name,
                            AssumeRolePolicyDocument=json.dumps(trust or LAMBDA_TRUST))
        except iam.exceptions.EntityAlreadyExistsException:
            return f"arn:aws:iam::000000000000:role/{name}"
        iam.put_role_policy(RoleName=name, PolicyName="tests",
                            PolicyDocument=json.dumps(policy or ROLE_POLICY))
        return f"arn:aws:iam::000000000000:role/{name}"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-8000:]
        except OSError:
            return ""

    def stop(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def restart(self):
        self.stop()
        return self.start()

    def client(self, service="lambda", **kw):
        cfg = botocore.config.Config(retries={"max_attempts": 0}, read_timeout=120,
                                     connect_timeout=5)
        return boto3.client(service, endpoint_url=self.url, region_name="us-east-1",
                            aws_access_key_id=kw.get("key", "test"),
                            aws_secret_access_key=kw.get("secret", "test"),
                            aws_session_token=kw.get("token"), config=cfg)

    def aws(self, *args, check=True):
        """Runs Debian's awscli v2 against the node; returns parsed JSON output (or text)."""
        env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                   AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", AWS_MAX_ATTEMPTS="1")
        p = subprocess.run([AWS_CLI, "--endpoint-url", self.url, "--output", "json"] + list(args),
                           capture_output=True, text=True, env=env, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({p.returncode}): {p.stderr}")
        if not check:
            return p
        try:
            return json.loads(p.stdout) if p.stdout.strip() else None
        except json.JSONDecodeError:
            return p.stdout


def zip_bytes(files):
    """files: {name: (content, mode)} or {name: content}; returns the zip's bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, spec in files.items():
            content, mode = spec if isinstance(spec, tuple) else (spec, 0o644)
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, content)
    return buf.getvalue()


def zip_dir(path):
    files = {}
    for base, _, names in os.walk(path):
        for n in names:
            full = os.path.join(base, n)
            rel = os.path.relpath(full, path)
            with open(full, "rb") as f:
                files[rel] = (f.read(), os.stat(full).st_mode & 0o777)
    return zip_bytes(files)


def wait_active(lam, name, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        c = lam.get_function_configuration(FunctionName=name)
        if c["State"] == "Active" and c.get("LastUpdateStatus", "Successful") == "Successful":
            return c
        time.sleep(0.02)
    raise AssertionError(f"{name} never became Active: {c}")


def create(lam, name, runtime, handler, files, **kw):
    kw.setdefault("Role", ROLE)
    resp = lam.create_function(FunctionName=name, Runtime=runtime, Handler=handler,
                               Code={"ZipFile": zip_bytes(files)}, **kw)
    wait_active(lam, name)
    return resp


def invoke_json(lam, name, payload=None, **kw):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(payload if payload is not None else {}),
                   **kw)
    body = r["Payload"].read()
    return r, (json.loads(body) if body else None)


def log_tail(resp):
    return base64.b64decode(resp["LogResult"]).decode() if "LogResult" in resp else ""


def children(pid):
    """Live (not zombie) child processes of pid: a node's instances and spares. (Inside its
    sandbox an instance is pid 1 of its own namespace, so the node's side is the one to ask.)"""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return out


def function_log(node, name):
    """Everything the function's instances have logged so far (the node keeps each log stream
    as <data>/logs/<group>/<stream>.log, '/' written as %2F)."""
    group = os.path.join(node.data_dir, "logs", f"/aws/lambda/{name}".replace("/", "%2F"))
    text = ""
    try:
        for stream in sorted(os.listdir(group)):
            with open(os.path.join(group, stream), errors="replace") as f:
                text += f.read()
    except OSError:
        pass
    return text


def wait_logged(node, name, texts, timeout=10):
    """Waits until every one of texts appears in the function's log; returns those that never
    did. (A sandboxed function cannot leave a file on the node's disk: its log is the trace.)"""
    deadline = time.time() + timeout
    while True:
        log = function_log(node, name)
        missing = [t for t in texts if t not in log]
        if not missing or time.time() > deadline:
            return missing
        time.sleep(0.05)

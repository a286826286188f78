"""Isolation (issue 3, "Sandbox"): a function instance runs in its own PID, mount, IPC, UTS and
network namespaces under a minimal read-only root, as an unprivileged uid. Functions that try to
read the data directory, another function's code or another instance's /tmp, list the node's
processes, write outside /tmp or reach a Runtime API that is not theirs fail as they should, and
the node keeps serving. Needs root (as make test runs); elsewhere the node says isolation is off
and these tests are skipped."""
import json
import os
import socket
import threading
import time

import pytest

from nubo_e2e import Node, create, invoke_json

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="isolation needs root")

PROBE = {"app.py": r'''
import errno, json, os, socket, time

def attempt(fn):
    try:
        return fn()
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))

def write(path):
    with open(path, "w") as f:
        f.write("x")
    return "written"

def read(path):
    with open(path, "rb") as f:
        return "read %d bytes" % len(f.read())

def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.close()
    return "connected"

def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    out = {
        "uid": os.getuid(), "gid": os.getgid(), "pid": os.getpid(),
        "task_root": os.environ["LAMBDA_TASK_ROOT"], "cwd": os.getcwd(),
        "runtime_api": os.environ["AWS_LAMBDA_RUNTIME_API"],
        "endpoint": os.environ["AWS_ENDPOINT_URL"],
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "hostname": socket.gethostname(),
        "tmp_mb": os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize // 2**20,
    }
    for path in event.get("read", []):
        out["read " + path] = attempt(lambda: read(path))
    for path in event.get("write", []):
        out["write " + path] = attempt(lambda: write(path))
    for port in event.get("connect", []):
        out["connect %d" % port] = attempt(lambda: connect(port))
    if event.get("mark_tmp"):
        out["tmp before"] = sorted(os.listdir("/tmp"))
        write("/tmp/" + event["mark_tmp"])
    return out
'''}


@pytest.fixture(scope="module")
def probes(node, lam):
    create(lam, "probe-a", "python3.12", "app.handler", PROBE)
    # Other code (code is stored by content): a folder of its own on the node.
    create(lam, "probe-b", "python3.12", "app.handler", dict(PROBE, **{"b.txt": "b"}),
           EphemeralStorage={"Size": 600})
    return lam


def code_dirs(node):
    """The node's folders of unpacked code, one per function version."""
    found = []
    for root, dirs, files in os.walk(node.data_dir):
        if "app.py" in files:
            found.append(root)
    return found


def test_runs_unprivileged_in_its_own_namespaces(node, probes):
    _, out = invoke_json(probes, "probe-a")
    assert out["uid"] == 993 and out["gid"] == 990, out
    assert out["pid"] == 1, out  # pid 1 of its own PID namespace
    assert len(out["pids"]) <= 2, out  # itself, nothing of the node's
    assert node.proc.pid not in out["pids"] or node.proc.pid <= 2
    assert out["task_root"] == out["cwd"] == "/var/task"
    assert out["runtime_api"] == "127.0.0.1:9001"
    assert out["endpoint"] == f"http://127.0.0.1:{node.port}"
    assert out["hostname"] == "localhost"


def test_cannot_read_the_data_directory_or_another_functions_code(node, probes):
    others = code_dirs(node)
    assert len(others) >= 2, others
    targets = [os.path.join(node.data_dir, "nubo.db"), node.data_dir] + [
        os.path.join(d, "app.py") for d in others]
    _, out = invoke_json(probes, "probe-a", {"read": targets + ["/var/task/app.py"]})
    for t in targets:
        assert out["read " + t] == "ENOENT", (t, out)
    assert out["read /var/task/app.py"].startswith("read "), out  # its own code it can read


def test_cannot_write_outside_tmp(probes):
    paths = ["/var/task/app.py", "/var/task/new", "/new", "/etc/passwd", "/usr/new", "/opt/new",
             "/var/runtime/new", "/dev/new", "/proc/sys/kernel/hostname"]
    _, out = invoke_json(probes, "probe-a", {"write": paths + ["/tmp/new"]})
    for p in paths:
        assert out["write " + p] in ("EROFS", "EACCES", "EPERM"), (p, out)
    assert out["write /tmp/new"] == "written"


def test_tmp_is_sized_by_ephemeral_storage(probes):
    assert invoke_json(probes, "probe-a")[1]["tmp_mb"] == 512  # Lambda's default
    assert invoke_json(probes, "probe-b")[1]["tmp_mb"] == 600


def test_tmp_is_each_instances_own(probes):
    # Two instances of probe-a at once (the first holds its instance), and one of probe-b.
    results = {}

    def call(key, name, event):
        results[key] = invoke_json(probes, name, event)[1]

    t = threading.Thread(target=call, args=("slow", "probe-a", {"sleep": 1.0, "mark_tmp": "a1"}))
    t.start()
    time.sleep(0.3)
    call("fast", "probe-a", {"mark_tmp": "a2"})
    call("other", "probe-b", {"mark_tmp": "b"})
    t.join()
    assert "a1" not in results["fast"]["tmp before"], results
    assert "a1" not in results["other"]["tmp before"], results
    assert "a2" not in results["other"]["tmp before"], results


def test_cannot_reach_ports_of_the_node_or_other_instances(node, probes):
    # Another instance's Runtime API, or anything else listening on the node's loopback.
    host = socket.socket()
    host.bind(("127.0.0.1", 0))
    host.listen()
    port = host.getsockname()[1]
    try:
        _, out = invoke_json(probes, "probe-a", {"connect": [port, node.port, 9001]})
    finally:
        host.close()
    assert out[f"connect {port}"] == "ECONNREFUSED", out
    # Its own Runtime API and nubo's API, on its own loopback, it reaches.
    assert out["connect 9001"] == "connected", out
    assert out[f"connect {node.port}"] == "connected", out


def test_reaches_nubo_with_the_sdk_from_inside(probes):
    create(probes, "sdk-fn", "python3.12", "app.handler", {"app.py": (
        "import boto3, os\n"
        "def handler(event, context):\n"
        "    # (Debian's boto3 1.26 predates AWS_ENDPOINT_URL: it is passed by hand.)\n"
        "    lam = boto3.client('lambda', endpoint_url=os.environ['AWS_ENDPOINT_URL'])\n"
        "    return sorted(f['FunctionName'] for f in lam.list_functions()['Functions'])\n")},
           Timeout=30)
    r, out = invoke_json(probes, "sdk-fn")
    assert "FunctionError" not in r, out
    assert "probe-a" in out and "sdk-fn" in out


def test_isolation_off_runs_functions_on_the_host(tmp_path):
    node = Node(str(tmp_path), extra_args=["--isolation", "off"]).start()
    try:
        assert "sandbox: off: PID, mount, IPC, UTS and network namespaces" in node.log()
        lam = node.client("lambda")
        create(lam, "host-fn", "python3.12", "app.handler", PROBE)
        _, out = invoke_json(lam, "host-fn")
        assert out["pid"] != 1 and out["uid"] == os.getuid(), out
        assert out["task_root"] != "/var/task"
    finally:
        assert node.stop() == 0


def test_node_es_module_imports_the_sdk_and_calls_nubo(probes):
    """ES modules find the bundled SDK v3 through /var/node_modules (an ancestor of /var/task),
    and the SDK finds nubo through AWS_ENDPOINT_URL on the instance's loopback."""
    create(probes, "esm-sdk", "nodejs22.x", "index.handler", {"index.mjs": (
        "import { LambdaClient, ListFunctionsCommand } from '@aws-sdk/client-lambda';\n"
        "export const handler = async () => {\n"
        "  const out = await new LambdaClient({}).send(new ListFunctionsCommand({}));\n"
        "  return out.Functions.map((f) => f.FunctionName).sort();\n"
        "};\n")}, Timeout=30)
    r, out = invoke_json(probes, "esm-sdk")
    assert "FunctionError" not in r, out
    assert "esm-sdk" in out and "probe-a" in out

"""Cold starts from spares (src/runtime/spare_pool.h): an interpreter the node started before the
cold start needed it is given the function's environment and working directory, and runs it as a
fresh process would."""
import os
import time

import pytest

from nubo_e2e import Node, children, create, invoke_json, log_tail, wait_active

# Each process tells itself apart by a random id made when the handler module loads (its pid is 1
# in its sandbox's PID namespace).
PY_HANDLER = (
    "import os\n"
    "ID = os.urandom(8).hex()\n"
    "def age():\n"
    "    with open('/proc/self/stat') as f:\n"
    "        fields = f.read().rsplit(')', 1)[1].split()\n"
    "    with open('/proc/uptime') as f:\n"
    "        up = float(f.read().split()[0])\n"
    "    return up - int(fields[19]) / os.sysconf('SC_CLK_TCK')\n"
    "def handler(event, context):\n"
    "    return {'run': os.environ.get('RUN'), 'cwd': os.getcwd(),\n"
    "            'task_root': os.environ['LAMBDA_TASK_ROOT'], 'handler': os.environ['_HANDLER'],\n"
    "            'spare_fd': os.environ.get('NUBO_SPARE_FD'), 'id': ID, 'age': age(),\n"
    "            'secret': os.environ.get('AWS_SECRET_ACCESS_KEY'),\n"
    "            'stream': context.log_stream_name,\n"
    "            'stream_env': os.environ['AWS_LAMBDA_LOG_STREAM_NAME']}\n")

NODE_HANDLER = (
    "const ID = require('crypto').randomBytes(8).toString('hex');\n"
    "exports.handler = async (event, context) => ({\n"
    "  run: process.env.RUN, cwd: process.cwd(), task_root: process.env.LAMBDA_TASK_ROOT,\n"
    "  handler: process.env._HANDLER, spare_fd: process.env.NUBO_SPARE_FD ?? null,\n"
    "  id: ID, age: process.uptime(), secret: process.env.AWS_SECRET_ACCESS_KEY,\n"
    "  stream: context.logStreamName, stream_env: process.env.AWS_LAMBDA_LOG_STREAM_NAME,\n"
    "  sdk: typeof require('@aws-sdk/client-s3').S3Client,\n"
    "});\n")


def update_and_invoke(lam, name, run):
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": {"RUN": run}})
    wait_active(lam, name)
    return invoke_json(lam, name, LogType="Tail")


def check_cold_start_from_spare(node, runtime, handler, files):
    lam = node.client("lambda")
    create(lam, "spare-fn", runtime, handler, files, Environment={"Variables": {"RUN": "first"}})
    r, first = invoke_json(lam, "spare-fn", LogType="Tail")
    assert "FunctionError" not in r, first
    assert first["run"] == "first" and first["spare_fd"] is None
    # The node starts a spare of this runtime after the first cold start; let it finish starting.
    time.sleep(1.5)
    r, out = update_and_invoke(lam, "spare-fn", "second")
    assert "FunctionError" not in r, out
    assert "Init Duration" in log_tail(r), "a new configuration must cold start"
    assert out["id"] != first["id"]
    # The process is older than the invocation: it was started ahead, as a spare...
    assert out["age"] > 1.0, out
    # ...and it runs exactly as a fresh process of this configuration would.
    assert out["run"] == "second"
    assert out["spare_fd"] is None
    assert out["cwd"] == out["task_root"] == first["task_root"]
    assert out["handler"] == handler
    # The environment of its assignment: session credentials of the function's role.
    assert len(out["secret"]) == 40 and out["secret"] != "test"
    assert out["stream"] == out["stream_env"] != first["stream"]
    return out


def test_python_cold_start_from_spare(fresh_node):
    check_cold_start_from_spare(fresh_node, "python3.12", "app.handler", {"app.py": PY_HANDLER})


def test_node_cold_start_from_spare(fresh_node):
    out = check_cold_start_from_spare(fresh_node, "nodejs20.x", "index.handler",
                                      {"index.js": NODE_HANDLER})
    assert out["sdk"] == "function"  # NODE_PATH re-read after the assignment


def test_spares_stop_with_the_node(fresh_node):
    lam = fresh_node.client("lambda")
    create(lam, "spare-stop", "python3.12", "app.handler", {"app.py": PY_HANDLER})
    invoke_json(lam, "spare-stop")
    deadline = time.time() + 10
    # As root: the python zygote too (runtimes/README.md "Zygotes").
    expected = 3 if os.geteuid() == 0 else 2
    while len(children(fresh_node.proc.pid)) < expected and time.time() < deadline:
        time.sleep(0.05)
    left = children(fresh_node.proc.pid)
    assert len(left) == expected, "the instance, one spare (and the zygote)"
    assert fresh_node.stop() == 0
    time.sleep(0.2)
    for pid in left:
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split(
            ")")[-1].split()[0] == "Z", f"{pid} outlived the node"


def test_no_spares_when_turned_off(tmp_path):
    node = Node(str(tmp_path), extra_args=["--spare-instances", "0"]).start()
    try:
        lam = node.client("lambda")
        create(lam, "no-spare", "python3.12", "app.handler", {"app.py": PY_HANDLER})
        _, first = invoke_json(lam, "no-spare")
        time.sleep(1.0)
        expected = 2 if os.geteuid() == 0 else 1
        assert len(children(node.proc.pid)) == expected, "the instance (and the zygote) alone"
        _, out = update_and_invoke(lam, "no-spare", "again")
        assert out["age"] < 1.0  # started for this invocation
    finally:
        assert node.stop() == 0


def test_function_code_run_at_startup_never_uses_a_spare(fresh_node):
    """NODE_OPTIONS=--require runs the function's module as node starts: in a spare it would run
    before the function's environment arrived, so such a function always starts fresh."""
    lam = fresh_node.client("lambda")
    create(lam, "preload-fn", "nodejs20.x", "index.handler", {
        "pre.js": "globalThis.seenAtStart = process.env.AWS_LAMBDA_FUNCTION_NAME;\n",
        "index.js": "exports.handler = async () => ({seen: globalThis.seenAtStart, "
                    "age: process.uptime(), run: process.env.RUN});\n",
    }, Environment={"Variables": {"NODE_OPTIONS": "--require ./pre.js", "RUN": "1"}})
    _, out = invoke_json(lam, "preload-fn")
    assert out["seen"] == "preload-fn", out
    time.sleep(1.5)
    assert len(children(fresh_node.proc.pid)) == 1, "no spare beside the instance"
    lam.update_function_configuration(FunctionName="preload-fn", Environment={"Variables": {
        "NODE_OPTIONS": "--require ./pre.js", "RUN": "2"}})
    wait_active(lam, "preload-fn")
    _, out = invoke_json(lam, "preload-fn")
    assert out["run"] == "2" and out.get("seen") == "preload-fn", out
    assert out["age"] < 1.0, out


# A provided bootstrap that says how long ago its process started: a spare (nubo-spare-exec,
# src/runtime/spare_exec.c) execs it in a process started ahead, so it is older than its function.
PROVIDED_BOOTSTRAP = r"""#!/bin/sh
ID=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
START=$(cut -d' ' -f22 /proc/$$/stat)
while true; do
  HEADERS=$(mktemp)
  curl -sS -o /dev/null -D "$HEADERS" "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next"
  RID=$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  AGE=$(awk -v s="$START" '{print $1 - s / 100}' /proc/uptime)
  curl -sS -o /dev/null "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/$RID/response" \
    -d "{\"id\": \"$ID\", \"age\": $AGE, \"run\": \"$RUN\", \"cwd\": \"$(pwd)\", \"task_root\": \"$LAMBDA_TASK_ROOT\"}"
  rm -f "$HEADERS"
done
"""


def test_provided_cold_start_from_spare(fresh_node):
    lam = fresh_node.client("lambda")
    create(lam, "prov-spare", "provided.al2023", "unused", {"bootstrap": (PROVIDED_BOOTSTRAP, 0o755)},
           Environment={"Variables": {"RUN": "first"}})
    r, first = invoke_json(lam, "prov-spare", LogType="Tail")
    assert "FunctionError" not in r, first
    time.sleep(1.5)
    r, out = update_and_invoke(lam, "prov-spare", "second")
    assert "FunctionError" not in r, out
    assert "Init Duration" in log_tail(r), "a new configuration must cold start"
    assert out["id"] != first["id"]
    assert out["age"] > 1.0, out  # started ahead
    assert out["run"] == "second"
    assert out["cwd"] == out["task_root"] == first["task_root"]


@pytest.mark.skipif(os.geteuid() != 0, reason="spares serve other functions' code only isolated")
def test_a_bootstrap_that_cannot_exec_fails_alike_from_a_spare(fresh_node, tmp_path):
    lam = fresh_node.client("lambda")
    create(lam, "good-boot", "provided.al2023", "unused", {"bootstrap": (PROVIDED_BOOTSTRAP, 0o755)})
    invoke_json(lam, "good-boot")
    deadline = time.time() + 10
    while len(children(fresh_node.proc.pid)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    # The younger child is the spare started after that cold start.
    kids = sorted(children(fresh_node.proc.pid),
                  key=lambda p: int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[19]))
    assert len(kids) == 2, kids
    spare = kids[-1]
    # A script whose interpreter is missing: only the exec can tell (a file that is no program at
    # all is refused before any launch, spare or not).
    bad = {"bootstrap": ("#!/no/such/interpreter\n", 0o755)}
    create(lam, "bad-boot", "provided.al2023", "unused", bad)
    r, from_spare = invoke_json(lam, "bad-boot")
    assert r.get("FunctionError") == "Unhandled", from_spare
    assert not os.path.exists(f"/proc/{spare}") or spare not in children(fresh_node.proc.pid)
    # The same answer as a process started for it.
    node = Node(str(tmp_path), extra_args=["--spare-instances", "0"]).start()
    try:
        lam2 = node.client("lambda")
        create(lam2, "bad-boot", "provided.al2023", "unused", bad)
        r2, direct = invoke_json(lam2, "bad-boot")
    finally:
        assert node.stop() == 0
    assert r2.get("FunctionError") == "Unhandled"
    assert from_spare["errorType"] == direct["errorType"] == "Runtime.InvalidEntrypoint"
    # Lambda's wording; from the spare without the "RequestId: ... Error: " the node puts in front
    # of errors it sees itself (spare_exec.c posts the error as the runtime).
    message = "fork/exec /var/task/bootstrap: no such file or directory"
    assert from_spare["errorMessage"] == message, from_spare
    assert direct["errorMessage"].endswith(" Error: " + message), direct

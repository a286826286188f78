"""Cold starts from spares (src/runtime/spare_pool.h): an interpreter the node started before the
cold start needed it is given the function's environment and working directory, and runs it as a
fresh process would."""
import os
import time

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
    assert out["secret"] == "test"
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
    while len(children(fresh_node.proc.pid)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    left = children(fresh_node.proc.pid)
    assert len(left) == 2, "the instance and one spare"
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
        assert len(children(node.proc.pid)) == 1, "the instance alone"
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

"""Invoking functions of every runtime, and every way an invocation can fail."""
import json
import os
import shutil
import tempfile
import threading
import time
import uuid

import botocore.exceptions
import pytest

from nubo_e2e import (ROLE, ROOT, Node, children, create, invoke_json, log_tail, wait_active,
                      wait_logged, zip_dir)

BASH_BOOTSTRAP = r"""#!/bin/bash
set -euo pipefail
source "$LAMBDA_TASK_ROOT/$(echo "$_HANDLER" | cut -d. -f1).sh"
while true; do
  HEADERS="$(mktemp)"
  EVENT_DATA=$(curl -sS -LD "$HEADERS" "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")
  curl -sS "http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation/$REQUEST_ID/response" -d "$RESPONSE" >/dev/null
  rm -f "$HEADERS"
done
"""
BASH_HANDLER = 'function handler () {\n  echo "bash saw: $1" 1>&2\n  echo "{\\"bash\\": $1}"\n}\n'


def test_python_function(lam):
    create(lam, "py-fn", "python3.12", "app.handler", {"app.py": (
        "import os\n"
        "def handler(event, context):\n"
        "    print('hello from python')\n"
        "    return {'event': event, 'name': context.function_name,\n"
        "            'request_id': context.aws_request_id,\n"
        "            'remaining': context.get_remaining_time_in_millis(),\n"
        "            'region': os.environ['AWS_REGION'], 'task_root': os.environ['LAMBDA_TASK_ROOT']}\n")})
    r, out = invoke_json(lam, "py-fn", {"k": "v"}, LogType="Tail")
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    assert out["event"] == {"k": "v"} and out["name"] == "py-fn"
    assert out["request_id"] == r["ResponseMetadata"]["RequestId"]
    assert 0 < out["remaining"] <= 3000
    assert out["region"] == "us-east-1"
    tail = log_tail(r)
    assert "START RequestId: " + out["request_id"] in tail
    assert "hello from python" in tail
    assert "END RequestId: " + out["request_id"] in tail
    assert "REPORT RequestId: " + out["request_id"] in tail
    assert "Billed Duration: " in tail and "Init Duration: " in tail
    r2, out2 = invoke_json(lam, "py-fn", {"k": 2}, LogType="Tail")
    assert out2["event"] == {"k": 2}
    assert "Init Duration" not in log_tail(r2), "second invoke should be warm"


def test_python_boto3_importable(lam):
    create(lam, "py-boto3", "python3.12", "app.handler", {"app.py": (
        "import boto3, os\n"
        "def handler(event, context):\n"
        "    return {'boto3': boto3.__version__, 'endpoint': os.environ.get('AWS_ENDPOINT_URL')}\n")})
    _, out = invoke_json(lam, "py-boto3")
    assert out["boto3"] and out["endpoint"].startswith("http://127.0.0.1:")


def test_python_exception(lam):
    create(lam, "py-err", "python3.11", "app.handler", {"app.py": (
        "def handler(event, context):\n"
        "    raise ValueError('bad input: ' + str(event.get('n')))\n")})
    r, out = invoke_json(lam, "py-err", {"n": 7})
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "ValueError"
    assert out["errorMessage"] == "bad input: 7"
    assert isinstance(out["stackTrace"], list)


def test_python_import_error(lam):
    create(lam, "py-import-err", "python3.12", "missing.handler", {"app.py": "x = 1\n"})
    r, out = invoke_json(lam, "py-import-err")
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.ImportModuleError"


def test_node_commonjs_and_esm(lam):
    create(lam, "node-cjs", "nodejs20.x", "index.handler", {"index.js": (
        "exports.handler = async (event, context) => {\n"
        "  console.log('hello from node');\n"
        "  return {event, name: context.functionName, rid: context.awsRequestId};\n"
        "};\n")})
    r, out = invoke_json(lam, "node-cjs", {"a": [1, 2]}, LogType="Tail")
    assert out["event"] == {"a": [1, 2]} and out["name"] == "node-cjs"
    assert "hello from node" in log_tail(r)
    create(lam, "node-esm", "nodejs22.x", "index.handler", {"index.mjs": (
        "export const handler = async (event) => ({esm: true, event});\n")})
    _, out = invoke_json(lam, "node-esm", {"b": 1})
    assert out == {"esm": True, "event": {"b": 1}}
    create(lam, "node-cb", "nodejs20.x", "index.handler", {"index.js": (
        "exports.handler = (event, context, callback) => { callback(null, {cb: event.x}); };\n")})
    _, out = invoke_json(lam, "node-cb", {"x": 5})
    assert out == {"cb": 5}


def test_node_error_and_sdk(lam):
    create(lam, "node-err", "nodejs20.x", "index.handler", {"index.js": (
        "const { S3Client } = require('@aws-sdk/client-s3');\n"
        "exports.handler = async (event) => {\n"
        "  if (event.fail) throw new TypeError('nope');\n"
        "  return {sdk: typeof S3Client};\n"
        "};\n")})
    _, out = invoke_json(lam, "node-err")
    assert out == {"sdk": "function"}
    r, out = invoke_json(lam, "node-err", {"fail": True})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "TypeError" and out["errorMessage"] == "nope"


def test_bash_provided_bootstrap(lam):
    create(lam, "bash-fn", "provided.al2023", "function.handler", {
        "bootstrap": (BASH_BOOTSTRAP, 0o755), "function.sh": BASH_HANDLER})
    r, out = invoke_json(lam, "bash-fn", {"q": 1}, LogType="Tail")
    assert out == {"bash": {"q": 1}}
    assert "bash saw:" in log_tail(r)


def test_aws_lambda_ric_bootstrap(lam):
    ric = os.path.join(ROOT, "runtimes", "ric")
    fn_dir = os.path.join(ROOT, "tests", "runtimes", "ric_function")
    if not os.path.isdir(os.path.join(ric, "node_modules", "aws-lambda-ric")):
        pytest.fail("aws-lambda-ric is not installed: scripts/install-deps runs runtimes/ric/install.sh")
    lam.create_function(FunctionName="ric-fn", Runtime="provided.al2023", Handler="index.handler",
                        Role=ROLE, Code={"ZipFile": zip_dir(fn_dir)},
                        Environment={"Variables": {"NUBO_RIC_DIR": ric}})
    wait_active(lam, "ric-fn")
    r, out = invoke_json(lam, "ric-fn", {"from": "ric"})
    assert r["StatusCode"] == 200 and "FunctionError" not in r, out
    assert out["event"] == {"from": "ric"}


def test_timeout(lam):
    create(lam, "slow-fn", "python3.12", "app.handler", {"app.py": (
        "import time\n"
        "def handler(event, context):\n"
        "    time.sleep(event.get('sleep', 0))\n"
        "    return 'done'\n")}, Timeout=1)
    t0 = time.time()
    r, out = invoke_json(lam, "slow-fn", {"sleep": 5})
    assert time.time() - t0 < 4
    assert r["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in out["errorMessage"]
    _, out = invoke_json(lam, "slow-fn", {"sleep": 0})
    assert out == "done", "a new instance must replace the timed-out one"


def test_crash_is_runtime_exit_error(lam):
    create(lam, "crash-fn", "python3.12", "app.handler", {"app.py": (
        "import os\n"
        "def handler(event, context):\n"
        "    if event.get('crash'):\n"
        "        os._exit(3)\n"
        "    return 'alive'\n")})
    r, out = invoke_json(lam, "crash-fn", {"crash": True})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.ExitError"
    _, out = invoke_json(lam, "crash-fn", {})
    assert out == "alive"


def test_dry_run_and_not_found(lam):
    create(lam, "dry-fn", "python3.12", "app.handler",
           {"app.py": "def handler(e, c):\n    return 1\n"})
    r = lam.invoke(FunctionName="dry-fn", InvocationType="DryRun")
    assert r["StatusCode"] == 204
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.invoke(FunctionName="no-such-fn", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_payload_limits(lam):
    create(lam, "limit-fn", "python3.12", "app.handler",
           {"app.py": "def handler(e, c):\n    return len(e['s'])\n"})
    big = json.dumps({"s": "x" * (6 * 1024 * 1024)})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.invoke(FunctionName="limit-fn", Payload=big)
    assert e.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    mid = json.dumps({"s": "x" * (300 * 1024)})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.invoke(FunctionName="limit-fn", Payload=mid, InvocationType="Event")
    assert e.value.response["Error"]["Code"] == "RequestEntityTooLargeException"
    _, out = invoke_json(lam, "limit-fn", {"s": "x" * (300 * 1024)})
    assert out == 300 * 1024


def test_async_invoke_delivers(lam, node):
    create(lam, "async-fn", "python3.12", "app.handler", {"app.py": (
        "def handler(event, context):\n"
        "    print('delivered', event['mark'], context.aws_request_id)\n")})
    mark = uuid.uuid4().hex
    r = lam.invoke(FunctionName="async-fn", InvocationType="Event",
                   Payload=json.dumps({"mark": mark}))
    assert r["StatusCode"] == 202
    assert not wait_logged(node, "async-fn", [f"delivered {mark} {r['ResponseMetadata']['RequestId']}"])


def test_async_invoke_survives_kill9():
    d = tempfile.mkdtemp(prefix="nubo-e2e-")
    fresh_node = Node(d, ["--async-retry-base-ms", "1000"]).start()
    lam = fresh_node.client("lambda")
    # A function slower than the kill, so the events are still queued or in flight when it comes;
    # its first attempts fail, so what is delivered after the restart comes from the queue's
    # retries.
    create(lam, "durable-fn", "python3.12", "app.handler", {"app.py": (
        "import os, time\n"
        "def handler(event, context):\n"
        "    if os.environ.get('GATE') != 'open':\n"
        "        time.sleep(0.5)\n"
        "        raise RuntimeError('gate closed')\n"
        "    print('delivered', event['mark'])\n")}, Timeout=10)
    marks = [uuid.uuid4().hex for _ in range(5)]
    for m in marks:
        r = lam.invoke(FunctionName="durable-fn", InvocationType="Event",
                       Payload=json.dumps({"mark": m}))
        assert r["StatusCode"] == 202
    fresh_node.kill9()
    fresh_node.start()
    try:
        lam = fresh_node.client("lambda")
        lam.update_function_configuration(FunctionName="durable-fn",
                                          Environment={"Variables": {"GATE": "open"}})
        # The failed first attempts retry after 1 s, then 2 s.
        missing = wait_logged(fresh_node, "durable-fn", [f"delivered {m}" for m in marks], 60)
        assert not missing, f"events lost after kill -9: {missing}; log: {fresh_node.log()}"
    finally:
        fresh_node.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_sigterm_stops_instances(fresh_node):
    lam = fresh_node.client("lambda")
    create(lam, "pid-fn", "python3.12", "app.handler", {"app.py": (
        "import os\n"
        "def handler(event, context):\n"
        "    return os.getpid()\n")})
    invoke_json(lam, "pid-fn")
    pids = children(fresh_node.proc.pid)  # the instance (and a spare, maybe)
    assert pids
    for pid in pids:
        os.kill(pid, 0)  # alive while the node runs
    assert fresh_node.stop() == 0
    time.sleep(0.2)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)

"""The official AWS Lambda Node.js runtime interface client (npm aws-lambda-ric, installed by
runtimes/ric/install.sh) as a provided.* bootstrap against a fake Runtime API: what nubo must serve
for functions that bring their own AWS runtime client (container-image style)."""

import os
import shutil

import pytest

from fake_runtime_api import RIC_DIR, RUNTIMES, base_env

FUNCTION = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ric_function")
RIC_ADDON = os.path.join(RIC_DIR, "node_modules", "aws-lambda-ric", "rapid-client.node")

# make test installs aws-lambda-ric (scripts/install-deps): a missing install fails these tests,
# unless NUBO_ALLOW_MISSING_INSTALLS=1 says that running them without it is intended.
pytestmark = pytest.mark.skipif(
    os.environ.get("NUBO_ALLOW_MISSING_INSTALLS") == "1" and not os.path.isfile(RIC_ADDON),
    reason="runtimes/ric/install.sh has not been run")


def start(api, launch, task_root, handler, env_extra):
    env = base_env(api, task_root, handler)
    env.update(env_extra)
    # The node execs the function's own bootstrap, with the task root as working directory.
    return launch([os.path.join(task_root, "bootstrap")], env, task_root)


def unpacked_copy(tmp_path):
    """The function as nubo would unpack it: somewhere unrelated to the nubo installation."""
    root = str(tmp_path / "task")
    shutil.copytree(FUNCTION, root)
    return root


def test_ric_bootstrap_serves_invocations(api, launch, tmp_path):
    root = unpacked_copy(tmp_path)
    proc = start(api, launch, root, "index.handler", {"NUBO_RIC_DIR": RIC_DIR})
    for n in range(2):  # warm reuse on one process
        posted = api.invoke({"n": n}, proc=proc, timeout_ms=4000)
        assert posted.kind == "response", proc.output()
        out = posted.json()
        assert out["runtime"] == "aws-lambda-ric"
        assert out["event"] == {"n": n}
        assert out["requestId"] == posted.request_id
        assert out["functionName"] == "fn"
        assert 0 < out["remaining"] <= 4000
    assert proc.poll() is None


def test_ric_bootstrap_reports_errors(api, launch, tmp_path):
    root = unpacked_copy(tmp_path)
    proc = start(api, launch, root, "index.fail", {"LAMBDA_RUNTIME_DIR": RUNTIMES})  # found via $LAMBDA_RUNTIME_DIR/ric
    posted = api.invoke({}, proc=proc)
    assert posted.kind == "error", proc.output()
    body = posted.json()
    assert body["errorType"] == "TypeError"
    assert body["errorMessage"] == "failed inside aws-lambda-ric"
    assert body["trace"][0] == "TypeError: failed inside aws-lambda-ric"
    # AWS's own client does not send Lambda-Runtime-Function-Error-Type on /error: nubo must not need it.
    assert "lambda-runtime-function-error-type" not in posted.headers


def test_ric_bootstrap_init_error(api, launch, tmp_path):
    root = unpacked_copy(tmp_path)
    proc = start(api, launch, root, "missing.handler", {"NUBO_RIC_DIR": RIC_DIR})
    posted = api.wait_init_error(proc=proc)
    assert posted.json()["errorType"] == "Runtime.ImportModuleError"
    assert posted.headers["lambda-runtime-function-error-type"] == "Runtime.ImportModuleError"
    assert proc.wait() != 0

"""The runtime clients as spares (runtimes/README.md "Spares"): started with NUBO_SPARE_FD=3 and
only the start-up environment, they wait on fd 3 for the function's environment and working
directory, and exit quietly when the node closes it without one."""

import json
import os
import subprocess

import pytest

from fake_runtime_api import (TIMEOUT, node_argv, node_env, python_argv, python_env,
                              write_files)

PY_APP = ("import os\n"
          "def handler(event, context):\n"
          "    return {'env': dict(os.environ), 'cwd': os.getcwd()}\n")
NODE_APP = ("exports.handler = async () => ({env: {...process.env}, cwd: process.cwd()});\n")

RUNTIMES = {
    "python": (python_argv, python_env, "app.handler", {"app.py": PY_APP}),
    "node": (node_argv, node_env, "index.handler", {"index.js": NODE_APP}),
}


def start_spare(argv, tmp_path):
    # The read end becomes the child's fd 3 (preexec_fn); 3 is in pass_fds so that Popen does
    # not close it again after preexec_fn ran.
    r, w = os.pipe()
    out = open(tmp_path / "spare.out", "wb")
    proc = subprocess.Popen(argv, cwd="/", stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                            env={"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
                                 "STALE": "from-the-spare", "NUBO_SPARE_FD": "3"},
                            pass_fds=(r, 3), preexec_fn=lambda: os.dup2(r, 3))
    os.close(r)
    return proc, w


def task_folder(tmp_path, files):
    task = tmp_path / "task"
    task.mkdir()
    write_files(str(task), files)
    return task


def assign(w, task, env):
    """Hands the spare its function as the node does (spare_pool.h), then EOF."""
    msg = b"nubo-spare-1\0" + str(task).encode() + b"\0"
    msg += b"".join(f"{k}={v}".encode() + b"\0" for k, v in env.items())
    os.write(w, msg)
    os.close(w)


@pytest.mark.parametrize("kind", sorted(RUNTIMES))
def test_spare_runs_the_function_it_is_assigned(kind, api, tmp_path):
    argv, env_of, handler, files = RUNTIMES[kind]
    task = task_folder(tmp_path, files)
    proc, w = start_spare(argv(), tmp_path)
    try:
        env = env_of(api, str(task), handler)
        env["MINE"] = "assigned"
        assign(w, task, env)
        out = api.invoke({}).json()
        assert out["cwd"] == str(task)
        assert out["env"]["MINE"] == "assigned"
        assert out["env"]["_HANDLER"] == handler
        # Nothing of the spare's own environment survives the assignment.
        assert "STALE" not in out["env"] and "NUBO_SPARE_FD" not in out["env"]
    finally:
        proc.kill()
        proc.wait(TIMEOUT)


@pytest.mark.parametrize("kind", sorted(RUNTIMES))
def test_spare_exits_quietly_when_the_node_lets_it_go(kind, tmp_path):
    argv = RUNTIMES[kind][0]
    proc, w = start_spare(argv(), tmp_path)
    os.close(w)
    assert proc.wait(TIMEOUT) == 0
    assert (tmp_path / "spare.out").read_bytes() == b""


PY_LOGGING_APP = ("import logging\n"
                  "def handler(event, context):\n"
                  "    logging.getLogger().warning('from-the-handler')\n"
                  "    return 1\n")
NODE_LOGGING_APP = ("exports.handler = async () => { console.warn('from-the-handler'); return 1; };\n")


@pytest.mark.parametrize("kind,handler,files", [
    ("python", "app.handler", {"app.py": PY_LOGGING_APP}),
    ("node", "index.handler", {"index.js": NODE_LOGGING_APP}),
])
def test_spare_logs_in_the_format_it_is_assigned(kind, handler, files, api, tmp_path):
    """AWS_LAMBDA_LOG_FORMAT arrives with the assignment, after the client was loaded."""
    argv, env_of = RUNTIMES[kind][0], RUNTIMES[kind][1]
    task = task_folder(tmp_path, files)
    proc, w = start_spare(argv(), tmp_path)
    try:
        env = env_of(api, str(task), handler)
        env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
        assign(w, task, env)
        assert api.invoke({}).json() == 1
    finally:
        proc.kill()
        proc.wait(TIMEOUT)
    lines = (tmp_path / "spare.out").read_text().splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    assert [r["message"] for r in records] == ["from-the-handler"], lines
    assert records[0]["level"] in ("WARN", "WARNING")

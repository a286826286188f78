"""Fixtures for tests/runtimes: `api` (a fake Runtime API) and `launch` (runtime processes)."""

import pytest

from fake_runtime_api import FakeRuntimeApi, RuntimeProcess


@pytest.fixture
def api():
    server = FakeRuntimeApi()
    yield server
    server.close()


@pytest.fixture
def launch(tmp_path):
    """launch(argv, env, cwd) starts a runtime process that is killed when the test ends."""
    procs = []

    def start(argv, env, cwd):
        log_dir = tmp_path / ("logs%d" % len(procs))
        log_dir.mkdir()
        proc = RuntimeProcess(argv, env, cwd, str(log_dir))
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stop()

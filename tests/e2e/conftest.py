"""End-to-end fixtures (helpers live in nubo_e2e.py, imported by the tests)."""
import shutil
import tempfile

import pytest

from nubo_e2e import Node


@pytest.fixture(scope="module")
def node():
    d = tempfile.mkdtemp(prefix="nubo-e2e-")
    n = Node(d).start()
    yield n
    try:
        rc = n.stop()
        assert rc == 0, f"nubo exited {rc} on SIGTERM; log: {n.log()}"
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def fresh_node():
    d = tempfile.mkdtemp(prefix="nubo-e2e-")
    n = Node(d).start()
    yield n
    try:
        if n.proc.poll() is None:
            n.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def lam(node):
    return node.client("lambda")

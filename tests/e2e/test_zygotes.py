"""Python cold starts from a zygote (issue 3, "Cold starts in milliseconds"; runtimes/README.md
"Zygotes"): an interpreter with the runtime client loaded forks each new instance into its own
sandbox, so a cold start never waits for an interpreter to start, and each instance is as
separate from the others as a freshly started one. Zygotes serve isolated instances, so these
tests need root (as make test runs)."""
import os
import time

import pytest

from nubo_e2e import Node, children, create, invoke_json, log_tail, wait_active

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="zygotes serve isolated instances (root)")

# ctypes is loaded by the zygote's fork server and by nothing else of the runtime client: in an
# instance's sys.modules before its handler ran, it says the process was forked from the zygote.
PROBE = {"app.py": (
    "import os, random, sys, uuid\n"
    "FORKED = 'ctypes' in sys.modules\n"
    "ID = (random.getrandbits(64), str(uuid.uuid4()), os.urandom(8).hex())\n"
    "def handler(event, context):\n"
    "    return {'forked': FORKED, 'id': ID, 'pid': os.getpid(), 'uid': os.getuid(),\n"
    "            'run': os.environ.get('RUN'), 'path': os.environ.get('PYTHONPATH'),\n"
    "            'vars': sorted(k for k in os.environ if k.startswith('NUBO_')),\n"
    "            'modules_from_task': sorted(m for m, v in sys.modules.items()\n"
    "                if getattr(v, '__file__', '') and v.__file__.startswith('/var/task')),\n"
    "            'cwd': os.getcwd()}\n")}


def zygotes_of(node):
    """The node's zygotes: its children that run in the node's own PID namespace (an instance
    is pid 1 of its own: two NSpid entries)."""
    found = []
    for pid in children(node.proc.pid):
        with open(f"/proc/{pid}/status") as f:
            nspid = next(l for l in f if l.startswith("NSpid:")).split()[1:]
        if len(nspid) == 1:
            found.append(pid)
    return found


def cold_invoke(lam, name, run, **env):
    variables = {"RUN": run}
    variables.update(env)
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": variables})
    wait_active(lam, name)
    r, out = invoke_json(lam, name, LogType="Tail")
    assert "FunctionError" not in r, out
    assert "Init Duration" in log_tail(r)
    return out


@pytest.fixture
def no_spare_node(tmp_path):
    # No spares: every cold start below forks from the zygote at the moment it is needed.
    node = Node(str(tmp_path), extra_args=["--spare-instances", "0"]).start()
    yield node
    assert node.stop() == 0


def test_cold_starts_fork_from_the_zygote(no_spare_node):
    lam = no_spare_node.client("lambda")
    create(lam, "zy", "python3.12", "app.handler", PROBE)
    outs = [cold_invoke(lam, "zy", str(i)) for i in range(3)]
    for i, out in enumerate(outs):
        assert out["forked"], out
        assert out["run"] == str(i)
        assert out["pid"] == 1 and out["uid"] == 993 and out["cwd"] == "/var/task"
        assert out["vars"] == [], "the zygote's own variables never reach the function"
    # Each instance re-seeded what Python re-seeds after a fork: no two share a random state.
    ids = [tuple(o["id"]) for o in outs]
    assert len(set(ids)) == 3, ids
    log = no_spare_node.log()
    assert "no zygote for" not in log and "a zygote of" not in log, log  # started and served


def test_a_function_that_sets_start_up_variables_starts_its_own_interpreter(no_spare_node):
    lam = no_spare_node.client("lambda")
    create(lam, "zy-path", "python3.12", "app.handler", PROBE,
           Environment={"Variables": {"PYTHONPATH": "/var/task/lib"}})
    _, out = invoke_json(lam, "zy-path")
    assert not out["forked"], "PYTHONPATH is read as the interpreter starts: no zygote"
    assert out["path"] == "/var/task/lib"


def test_zygotes_off(tmp_path):
    node = Node(str(tmp_path), extra_args=["--spare-instances", "0", "--zygotes", "off"]).start()
    try:
        lam = node.client("lambda")
        create(lam, "zy-off", "python3.12", "app.handler", PROBE)
        _, out = invoke_json(lam, "zy-off")
        assert not out["forked"]
        time.sleep(0.3)
        assert len(children(node.proc.pid)) == 1, "the instance alone"
    finally:
        assert node.stop() == 0


def test_the_zygote_stops_with_the_node(tmp_path):
    node = Node(str(tmp_path), extra_args=["--spare-instances", "0"]).start()
    lam = node.client("lambda")
    create(lam, "zy-stop", "python3.12", "app.handler", PROBE)
    invoke_json(lam, "zy-stop")
    left = children(node.proc.pid)
    assert len(left) == 2 and len(zygotes_of(node)) == 1, "the instance and the zygote"
    assert node.stop() == 0
    time.sleep(0.2)
    for pid in left:
        assert not os.path.exists(f"/proc/{pid}"), f"{pid} outlived the node"


def test_a_killed_zygote_is_replaced(no_spare_node):
    lam = no_spare_node.client("lambda")
    create(lam, "zy-kill", "python3.12", "app.handler", PROBE)
    invoke_json(lam, "zy-kill")
    assert len(zygotes_of(no_spare_node)) == 1
    zygotes = zygotes_of(no_spare_node)
    os.kill(zygotes[0], 9)
    time.sleep(0.1)
    out = cold_invoke(lam, "zy-kill", "after")  # started as a plain interpreter
    assert out["run"] == "after"
    out = cold_invoke(lam, "zy-kill", "again")  # from the zygote started meanwhile
    assert out["forked"] and out["run"] == "again"


def test_functions_never_share_a_zygote(no_spare_node):
    """A zygote's children share its hash seed, address layout, stack canary and pointer guard:
    each function forks from a zygote of its own."""
    lam = no_spare_node.client("lambda")
    for name in ("zy-a", "zy-b"):
        create(lam, name, "python3.12", "app.handler", PROBE)
        _, out = invoke_json(lam, name)
        assert out["forked"]
    assert len(zygotes_of(no_spare_node)) == 2
    # The same function again: its own zygote, no new one.
    cold_invoke(lam, "zy-a", "again")
    assert len(zygotes_of(no_spare_node)) == 2

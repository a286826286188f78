"""CPU affinity (docs/ARCHITECTURE.md, "Threading"): with one io thread per CPU, an instance runs
on the CPU of the io thread that serves it while its invocations are short, so that a warm invoke
wakes nothing on another CPU; an invocation that keeps it busy lets it run anywhere from then on,
and `--cpu-affinity off` leaves it to the kernel from the start."""
import os
import shutil
import tempfile

import pytest

from nubo_e2e import Node, create, invoke_json

pytestmark = pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two CPUs")

HANDLER = {"app.py": (
    "import os, time\n"
    "def handler(event, context):\n"
    "    if event.get('busy'):\n"
    "        end = time.process_time() + 0.3\n"
    "        while time.process_time() < end:\n"
    "            pass\n"
    "    return sorted(os.sched_getaffinity(0))\n")}


def run_node(args):
    d = tempfile.mkdtemp(prefix="nubo-e2e-")
    return d, Node(d, args).start()


def stop_node(d, n):
    try:
        assert n.stop() == 0, n.log()
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_an_instance_stays_on_one_cpu_until_it_is_busy():
    everything = sorted(os.sched_getaffinity(0))
    d, n = run_node(["--threads", str(len(everything))])
    try:
        lam = n.client("lambda")
        create(lam, "affinity", "python3.12", "app.handler", HANDLER)
        seen = [invoke_json(lam, "affinity", {})[1] for _ in range(3)]
        assert len(seen[0]) == 1 and seen[0][0] in everything, seen
        assert seen[1] == seen[0] and seen[2] == seen[0], seen  # one warm instance, one CPU
        _, busy = invoke_json(lam, "affinity", {"busy": True})
        assert busy in (seen[0], everything), busy  # released while it ran, or just after
        _, after = invoke_json(lam, "affinity", {})
        assert after == everything
    finally:
        stop_node(d, n)


def test_cpu_affinity_off_leaves_instances_to_the_kernel():
    everything = sorted(os.sched_getaffinity(0))
    d, n = run_node(["--cpu-affinity", "off"])
    try:
        lam = n.client("lambda")
        create(lam, "affinity", "python3.12", "app.handler", HANDLER)
        for _ in range(2):
            assert invoke_json(lam, "affinity", {})[1] == everything
    finally:
        stop_node(d, n)

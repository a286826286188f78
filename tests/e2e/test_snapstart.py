"""SnapStart (issue 3, "Cold starts in milliseconds"; runtimes/README.md "SnapStart"): a version
published with SnapStart {ApplyOn: PublishedVersions} gets a snapshot of its initialised
instance, and its cold starts restore from it: the REPORT line says Restore Duration instead of
Init Duration, the init ran once, the runtime hooks run as on Lambda. Snapshots are forks of an
isolated instance, so these tests need root (as make test runs)."""
import concurrent.futures
import os
import time

import pytest

from nubo_e2e import children, create, invoke_json, log_tail, wait_active

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="SnapStart needs isolation (root)")

APP = {"app.py": (
    "import os, random, time\n"
    "from snapshot_restore_py import register_before_snapshot, register_after_restore\n"
    "time.sleep(0.2)  # a slow init: what SnapStart is for\n"
    "INIT = {'rand': random.getrandbits(64), 'type': os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']}\n"
    "EVENTS = []\n"
    "@register_before_snapshot\n"
    "def first(): EVENTS.append('before first')\n"
    "register_before_snapshot(EVENTS.append, 'before second')\n"
    "@register_after_restore\n"
    "def restored(): EVENTS.append('after ' + os.environ['AWS_LAMBDA_LOG_STREAM_NAME'])\n"
    "def handler(event, context):\n"
    "    if event.get('sleep'):\n"
    "        time.sleep(event['sleep'])\n"
    "    return {'init': INIT, 'events': EVENTS, 'stream': context.log_stream_name,\n"
    "            'type': os.environ['AWS_LAMBDA_INITIALIZATION_TYPE'], 'pid': os.getpid()}\n")}


def wait_for_snapshot(node, arn, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        log = node.log()
        if f"snapstart: snapshot of {arn} taken" in log:
            return
        assert f"snapstart: no snapshot of {arn}" not in log, log[-2000:]
        time.sleep(0.05)
    raise AssertionError("no snapshot was taken: " + node.log()[-2000:])


def test_a_published_version_restores_from_its_snapshot(node, lam):
    create(lam, "snappy", "python3.12", "app.handler", APP,
           SnapStart={"ApplyOn": "PublishedVersions"})
    latest = lam.get_function_configuration(FunctionName="snappy")
    assert latest["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    v = lam.publish_version(FunctionName="snappy")
    assert v["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    wait_for_snapshot(node, v["FunctionArn"])

    r, out = invoke_json(lam, "snappy", Qualifier=v["Version"], LogType="Tail")
    assert "FunctionError" not in r, out
    report = [l for l in log_tail(r).splitlines() if l.startswith("REPORT")][0]
    assert "Restore Duration: " in report and "Billed Restore Duration: " in report, report
    assert "Init Duration" not in report, report
    assert out["type"] == "snap-start" and out["init"]["type"] == "snap-start"
    # The before-snapshot hooks ran once, in the reverse order of registration; the
    # after-restore hook in this instance, with its own log stream.
    assert out["events"] == ["before second", "before first", "after " + out["stream"]], out

    # Two at once: a second cold start, restored from the same snapshot.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        outs = [f.result()[1] for f in [pool.submit(invoke_json, lam, "snappy", {"sleep": 0.5},
                                                    Qualifier=v["Version"]) for _ in range(2)]]
    assert outs[0]["stream"] != outs[1]["stream"]
    assert outs[0]["pid"] != outs[1]["pid"]
    for o in outs:
        assert o["init"] == out["init"], "the init ran once, in the snapshot"
        assert o["events"][:2] == ["before second", "before first"]

    # $LATEST is not a published version: it initialises as usual.
    r, out = invoke_json(lam, "snappy", LogType="Tail")
    assert "Init Duration" in log_tail(r) and "Restore Duration" not in log_tail(r)
    assert out["type"] == "on-demand" and out["events"] == []


def test_a_snapshot_whose_init_fails_leaves_cold_starts_as_they_were(node, lam):
    create(lam, "snap-broken", "python3.12", "app.handler",
           {"app.py": "raise RuntimeError('no init for you')\n"},
           SnapStart={"ApplyOn": "PublishedVersions"})
    v = lam.publish_version(FunctionName="snap-broken")
    deadline = time.time() + 15
    while f"snapstart: no snapshot of {v['FunctionArn']}" not in node.log():
        assert time.time() < deadline, node.log()[-2000:]
        time.sleep(0.05)
    r, out = invoke_json(lam, "snap-broken", Qualifier=v["Version"])
    assert r["FunctionError"] == "Unhandled"
    assert out["errorMessage"] == "no init for you"


def test_snapstart_is_refused_where_lambda_refuses_it(lam):
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        create(lam, "snap-311", "python3.11", "app.handler", APP,
               SnapStart={"ApplyOn": "PublishedVersions"})


def test_an_after_restore_hook_that_fails_is_the_restored_instances_init_error(node, lam):
    create(lam, "snap-hook", "python3.12", "app.handler", {"app.py": (
        "from snapshot_restore_py import register_after_restore\n"
        "@register_after_restore\n"
        "def restored(): raise ValueError('cannot reconnect')\n"
        "def handler(event, context): return 'never'\n")},
        SnapStart={"ApplyOn": "PublishedVersions"})
    v = lam.publish_version(FunctionName="snap-hook")
    wait_for_snapshot(node, v["FunctionArn"])
    r, out = invoke_json(lam, "snap-hook", Qualifier=v["Version"], LogType="Tail")
    assert r["FunctionError"] == "Unhandled", out
    assert out["errorType"] == "ValueError" and out["errorMessage"] == "cannot reconnect", out
    report = [l for l in log_tail(r).splitlines() if l.startswith("REPORT")][0]
    assert "Restore Duration" in report and "Init Duration" not in report, report


def test_deleting_a_version_stops_its_snapshot_and_instances(fresh_node):
    lam = fresh_node.client("lambda")
    create(lam, "snap-del", "python3.12", "app.handler", APP,
           SnapStart={"ApplyOn": "PublishedVersions"})
    v = lam.publish_version(FunctionName="snap-del")
    wait_for_snapshot(fresh_node, v["FunctionArn"])
    invoke_json(lam, "snap-del", Qualifier=v["Version"])
    # The zygote and the template (the restored instance is the template's child, in its PID
    # namespace: it ends with it).
    assert len(children(fresh_node.proc.pid)) == 2
    lam.delete_function(FunctionName="snap-del", Qualifier=v["Version"])
    deadline = time.time() + 5
    while len(children(fresh_node.proc.pid)) > 1 and time.time() < deadline:
        time.sleep(0.05)
    assert len(children(fresh_node.proc.pid)) == 1, "the zygote alone"

"""Reserved concurrency (PutFunctionConcurrency and friends) with AWS's accounting: the unreserved
pool never drops under 100, a function over its reservation gets
ReservedFunctionConcurrentInvocationLimitExceeded, and a reservation of 0 stops the function."""
import shutil
import tempfile
import threading
import time

import botocore.exceptions
import pytest

from nubo_e2e import Node, create, invoke_json, log_tail, wait_active

SLEEPER = {"app.py": (
    "import time\n"
    "def handler(event, context):\n"
    "    time.sleep(event.get('sleep', 0))\n"
    "    return 'ok'\n")}


@pytest.fixture
def small_node():
    """A node whose account limit is 102, so two reserved slots reach the floor of 100."""
    d = tempfile.mkdtemp(prefix="nubo-e2e-")
    n = Node(d, ["--account-concurrency", "102"]).start()
    yield n
    try:
        if n.proc.poll() is None:
            assert n.stop() == 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


def client_error(call, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kw)
    return e.value.response


def test_put_get_delete_and_accounting(small_node):
    lam = small_node.client("lambda")
    create(lam, "res-a", "python3.12", "app.handler", SLEEPER)
    create(lam, "res-b", "python3.12", "app.handler", SLEEPER)

    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="res-a")
    assert "Concurrency" not in lam.get_function(FunctionName="res-a")
    limits = lam.get_account_settings()["AccountLimit"]
    assert limits["ConcurrentExecutions"] == 102
    assert limits["UnreservedConcurrentExecutions"] == 102

    r = lam.put_function_concurrency(FunctionName="res-a", ReservedConcurrentExecutions=2)
    assert r["ReservedConcurrentExecutions"] == 2
    assert lam.get_function_concurrency(FunctionName="res-a")["ReservedConcurrentExecutions"] == 2
    assert lam.get_function(FunctionName="res-a")["Concurrency"] == {"ReservedConcurrentExecutions": 2}
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100

    # Any reservation for another function would take the unreserved pool under 100.
    err = client_error(lam.put_function_concurrency, FunctionName="res-b",
                       ReservedConcurrentExecutions=1)
    assert err["Error"]["Code"] == "InvalidParameterValueException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "below its minimum value of [100]" in err["Error"]["Message"]
    # Lowering the function's own reservation frees room for the other.
    lam.put_function_concurrency(FunctionName="res-a", ReservedConcurrentExecutions=1)
    lam.put_function_concurrency(FunctionName="res-b", ReservedConcurrentExecutions=1)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100

    # Bad input (a negative count botocore refuses itself): a qualifier, an unknown function.
    err = client_error(lam.put_function_concurrency, FunctionName="res-a:1",
                       ReservedConcurrentExecutions=1)
    assert err["Error"]["Code"] == "ValidationException"
    err = client_error(lam.get_function_concurrency, FunctionName="nope")
    assert err["Error"]["Code"] == "ResourceNotFoundException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 404
    err = client_error(lam.put_function_concurrency, FunctionName="nope",
                       ReservedConcurrentExecutions=1)
    assert err["Error"]["Code"] == "ResourceNotFoundException"

    # The awscli spells the same calls.
    out = small_node.aws("lambda", "get-function-concurrency", "--function-name", "res-b")
    assert out == {"ReservedConcurrentExecutions": 1}

    lam.delete_function_concurrency(FunctionName="res-b")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName="res-b")
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 101

    # A reservation is durable and still enforced after a restart.
    lam.put_function_concurrency(FunctionName="res-b", ReservedConcurrentExecutions=0)
    small_node.restart()
    lam = small_node.client("lambda")
    assert lam.get_function_concurrency(FunctionName="res-a")["ReservedConcurrentExecutions"] == 1
    assert lam.get_function_concurrency(FunctionName="res-b")["ReservedConcurrentExecutions"] == 0
    err = client_error(lam.invoke, FunctionName="res-b", Payload=b"{}")
    assert err["Error"]["Code"] == "TooManyRequestsException"
    assert err["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"

    # Deleting the function releases its reservation.
    lam.delete_function(FunctionName="res-a")
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 102


def test_reserved_limit_throttles_only_that_function(small_node):
    lam = small_node.client("lambda")
    create(lam, "one-at-a-time", "python3.12", "app.handler", SLEEPER, Timeout=10)
    create(lam, "free", "python3.12", "app.handler", SLEEPER, Timeout=10)
    lam.put_function_concurrency(FunctionName="one-at-a-time", ReservedConcurrentExecutions=1)
    invoke_json(lam, "one-at-a-time")  # warm

    results = {}
    t = threading.Thread(
        target=lambda: results.update(first=invoke_json(lam, "one-at-a-time", {"sleep": 1.5})))
    t.start()
    time.sleep(0.5)
    err = client_error(lam.invoke, FunctionName="one-at-a-time", Payload=b"{}")
    assert err["Error"]["Code"] == "TooManyRequestsException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert err["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    # Other functions draw from the unreserved pool and are not affected.
    assert invoke_json(lam, "free")[1] == "ok"
    t.join()
    assert results["first"][1] == "ok"
    # Once the running invocation ends the slot is free again.
    assert invoke_json(lam, "one-at-a-time")[1] == "ok"

    # Reserved concurrency 0 is the circuit breaker: every invocation is throttled until the
    # reservation is removed.
    lam.put_function_concurrency(FunctionName="free", ReservedConcurrentExecutions=0)
    err = client_error(lam.invoke, FunctionName="free", Payload=b"{}")
    assert err["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    lam.delete_function_concurrency(FunctionName="free")
    assert invoke_json(lam, "free")[1] == "ok"


def test_account_limit_reason(tmp_path):
    n = Node(str(tmp_path), ["--account-concurrency", "1"]).start()
    try:
        lam = n.client("lambda")
        create(lam, "busy", "python3.12", "app.handler", SLEEPER, Timeout=10)
        invoke_json(lam, "busy")
        t = threading.Thread(target=lambda: invoke_json(lam, "busy", {"sleep": 1.5}))
        t.start()
        time.sleep(0.5)
        err = client_error(lam.invoke, FunctionName="busy", Payload=b"{}")
        assert err["Error"]["Code"] == "TooManyRequestsException"
        assert err["Reason"] == "ConcurrentInvocationLimitExceeded"
        t.join()
    finally:
        assert n.stop() == 0


INIT_TYPE = {"app.py": (
    "import os, time\n"
    "STARTED = time.time()\n"
    "def handler(event, context):\n"
    "    return {'type': os.environ['AWS_LAMBDA_INITIALIZATION_TYPE'], 'pid': os.getpid(),\n"
    "            'version': context.function_version}\n")}


def wait_status(lam, name, qualifier, want, timeout=30):
    deadline = time.time() + timeout
    while True:
        c = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)
        if c["Status"] == want or time.time() > deadline:
            return c
        time.sleep(0.1)


def test_provisioned_concurrency(fresh_node):
    lam = fresh_node.client("lambda")
    create(lam, "prov", "python3.12", "app.handler", INIT_TYPE)
    lam.publish_version(FunctionName="prov")
    lam.update_function_configuration(FunctionName="prov", Description="two")
    wait_active(lam, "prov")
    lam.publish_version(FunctionName="prov")
    lam.create_alias(FunctionName="prov", Name="live", FunctionVersion="2")

    err = client_error(lam.put_provisioned_concurrency_config, FunctionName="prov",
                       Qualifier="$LATEST", ProvisionedConcurrentExecutions=1)
    assert err["Error"]["Code"] == "InvalidParameterValueException"
    err = client_error(lam.get_provisioned_concurrency_config, FunctionName="prov", Qualifier="1")
    assert err["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 404

    r = lam.put_provisioned_concurrency_config(FunctionName="prov", Qualifier="1",
                                               ProvisionedConcurrentExecutions=2)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert r["RequestedProvisionedConcurrentExecutions"] == 2
    assert r["Status"] == "IN_PROGRESS"
    c = wait_status(lam, "prov", "1", "READY")
    assert c["Status"] == "READY", c
    assert c["AllocatedProvisionedConcurrentExecutions"] == 2
    assert c["AvailableProvisionedConcurrentExecutions"] == 2

    # Served by a provisioned instance: initialised ahead, so no Init Duration.
    r, out = invoke_json(lam, "prov", Qualifier="1", LogType="Tail")
    assert out["type"] == "provisioned-concurrency" and out["version"] == "1", out
    tail = log_tail(r)
    assert "REPORT RequestId" in tail and "Init Duration" not in tail, tail

    lam.put_provisioned_concurrency_config(FunctionName="prov", Qualifier="live",
                                           ProvisionedConcurrentExecutions=1)
    assert wait_status(lam, "prov", "live", "READY")["Status"] == "READY"
    _, out = invoke_json(lam, "prov", Qualifier="live")
    assert out == {"type": "provisioned-concurrency", "pid": out["pid"], "version": "2"}
    err = client_error(lam.put_provisioned_concurrency_config, FunctionName="prov",
                       Qualifier="2", ProvisionedConcurrentExecutions=1)
    assert err["Error"]["Code"] == "ResourceConflictException"

    listed = lam.list_provisioned_concurrency_configs(FunctionName="prov")
    arns = sorted(c["FunctionArn"].rsplit(":", 1)[1] for c in listed["ProvisionedConcurrencyConfigs"])
    assert arns == ["1", "live"]
    out = fresh_node.aws("lambda", "get-provisioned-concurrency-config", "--function-name", "prov",
                         "--qualifier", "1")
    assert out["RequestedProvisionedConcurrentExecutions"] == 2

    # $LATEST is not provisioned: its first invocation is a cold start.
    r, out = invoke_json(lam, "prov", LogType="Tail")
    assert out["type"] == "on-demand" and "Init Duration" in log_tail(r)

    # The configuration is durable: after a restart the instances are provisioned again.
    fresh_node.restart()
    lam = fresh_node.client("lambda")
    assert wait_status(lam, "prov", "1", "READY")["Status"] == "READY"
    r, out = invoke_json(lam, "prov", Qualifier="1", LogType="Tail")
    assert out["type"] == "provisioned-concurrency" and "Init Duration" not in log_tail(r)

    lam.delete_provisioned_concurrency_config(FunctionName="prov", Qualifier="1")
    err = client_error(lam.get_provisioned_concurrency_config, FunctionName="prov", Qualifier="1")
    assert err["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException"
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in
            lam.list_provisioned_concurrency_configs(FunctionName="prov")[
                "ProvisionedConcurrencyConfigs"]] == ["live"]


def test_provisioned_init_failure_is_reported(fresh_node):
    lam = fresh_node.client("lambda")
    create(lam, "prov-bad", "python3.12", "app.handler", {"app.py": "raise RuntimeError('no')\n"})
    lam.publish_version(FunctionName="prov-bad")
    lam.put_provisioned_concurrency_config(FunctionName="prov-bad", Qualifier="1",
                                           ProvisionedConcurrentExecutions=1)
    c = wait_status(lam, "prov-bad", "1", "FAILED")
    assert c["Status"] == "FAILED" and c["StatusReason"], c
    assert c["AllocatedProvisionedConcurrentExecutions"] == 0

"""Instance limits (issue 3, "Limits"): a seccomp filter, memory = MemorySize with Runtime.OutOfMemory when a
function goes over it, at most 1,024 processes, at most 1,024 open files. Each attempt fails as
Lambda's would and the node keeps serving. The node says at start which protections are on."""
import os

import pytest

from nubo_e2e import create, invoke_json, log_tail, wait_active

HOG = {"app.py": (
    "def handler(event, context):\n"
    "    if event.get('mb'):\n"
    "        hog = bytearray(event['mb'] * 1024 * 1024)\n"
    "        return len(hog)\n"
    "    return 'fine'\n")}

FORKER = {"app.py": (
    "import os, time\n"
    "def handler(event, context):\n"
    "    pids = []\n"
    "    try:\n"
    "        while len(pids) < 5000:\n"
    "            pid = os.fork()\n"
    "            if pid == 0:\n"
    "                time.sleep(60)\n"
    "                os._exit(0)\n"
    "            pids.append(pid)\n"
    "        error = None\n"
    "    except OSError as e:\n"
    "        error = e.errno\n"
    "    for pid in pids:\n"
    "        os.kill(pid, 9)\n"
    "        os.waitpid(pid, 0)\n"
    "    return {'forked': len(pids), 'errno': error}\n")}

OPENER = {"app.py": (
    "def handler(event, context):\n"
    "    files = []\n"
    "    try:\n"
    "        for _ in range(5000):\n"
    "            files.append(open('/dev/null'))\n"
    "        error = None\n"
    "    except OSError as e:\n"
    "        error = e.errno\n"
    "    n = len(files)\n"
    "    for f in files:\n"
    "        f.close()\n"
    "    return {'opened': n, 'errno': error}\n")}


def limits_on(node):
    log = node.log()
    if "sandbox: on: memory limit" not in log:
        pytest.skip("this machine gives the node no cgroups: " +
                    next((l for l in log.splitlines() if "sandbox: off: memory" in l), log[-300:]))


def test_node_says_which_protections_are_on(node):
    log = node.log()
    assert "sandbox: " in log
    assert "open files (RLIMIT_NOFILE)" in log
    if os.geteuid() == 0:
        assert "sandbox: on: PID, mount, IPC, UTS and network namespaces" in log
        # Outbound network is said either way: on, or off with the reason.
        assert ("sandbox: on: outbound network through NAT" in log
                or "sandbox: off: outbound network (" in log)
        if "sandbox: on: memory limit" in log:
            assert "sandbox: on: fast cgroup moves" in log
    else:
        assert "sandbox: off: PID, mount, IPC, UTS and network namespaces" in log


def test_out_of_memory_is_runtime_out_of_memory(node, lam):
    limits_on(node)
    create(lam, "hog", "python3.12", "app.handler", HOG, MemorySize=128, Timeout=10)
    assert invoke_json(lam, "hog")[1] == "fine"
    r, out = invoke_json(lam, "hog", {"mb": 400}, LogType="Tail")
    assert r.get("FunctionError") == "Unhandled", out
    assert out["errorType"] == "Runtime.OutOfMemory", out
    assert "Runtime exited with error: signal: killed" in out["errorMessage"]
    tail = log_tail(r)
    assert "Runtime.OutOfMemory" in tail
    assert "Max Memory Used: 128 MB" in tail, tail
    # The instance was replaced; the function and the node keep serving.
    r, out = invoke_json(lam, "hog", LogType="Tail")
    assert out == "fine" and "Init Duration" in log_tail(r)
    # Within its memory a bigger allocation is fine.
    lam.update_function_configuration(FunctionName="hog", MemorySize=1024)
    wait_active(lam, "hog")
    assert invoke_json(lam, "hog", {"mb": 400})[1] == 400 * 1024 * 1024


def test_fork_bomb_stops_at_the_process_limit(node, lam):
    limits_on(node)
    create(lam, "forker", "python3.12", "app.handler", FORKER, MemorySize=2048, Timeout=60)
    r, out = invoke_json(lam, "forker")
    assert "FunctionError" not in r, out
    assert out["errno"] == 11, out  # EAGAIN
    assert 900 < out["forked"] < 1024, out
    # The instance cleaned up after itself and serves again with the same limit.
    r, again = invoke_json(lam, "forker")
    assert again["errno"] == 11 and abs(again["forked"] - out["forked"]) <= 2, again


def test_open_files_stop_at_1024(lam):
    create(lam, "opener", "python3.12", "app.handler", OPENER)
    r, out = invoke_json(lam, "opener")
    assert "FunctionError" not in r, out
    assert out["errno"] == 24, out  # EMFILE
    assert 1000 < out["opened"] < 1024, out


SYSCALLS = {"app.py": (
    "import ctypes, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "def call(fn, *args):\n"
    "    ctypes.set_errno(0)\n"
    "    rc = fn(*args)\n"
    "    return [rc, ctypes.get_errno()]\n"
    "def handler(event, context):\n"
    "    status = {}\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith(('NoNewPrivs:', 'Seccomp:')):\n"
    "            status[line.split(':')[0]] = line.split()[1]\n"
    "    return {\n"
    # Each call is harmless without the filter too: a missing target (ENOENT), this process's
    # own UTS namespace, tracing itself.
    "        'mount': call(libc.mount, b'none', b'/nubo-no-such-dir', b'tmpfs', 0, None),\n"
    "        'swapoff': call(libc.swapoff, b'/nubo-no-such-file'),\n"
    "        'unshare': call(libc.unshare, 0x04000000),\n"
    "        'ptrace': call(libc.ptrace, 0, 0, 0, 0),\n"
    "        'status': status,\n"
    "    }\n")}


def test_seccomp_refuses_privileged_system_calls(node, lam):
    create(lam, "syscalls", "python3.12", "app.handler", SYSCALLS)
    r, out = invoke_json(lam, "syscalls")
    assert "FunctionError" not in r, out
    eperm = [-1, 1]  # without the filter: ENOENT, ENOENT, 0 and 0
    assert out["mount"] == eperm and out["swapoff"] == eperm, out
    assert out["unshare"] == eperm and out["ptrace"] == eperm, out
    assert out["status"] == {"NoNewPrivs": "1", "Seccomp": "2"}, out
    # The node is untouched and keeps serving.
    assert invoke_json(lam, "syscalls")[1] == out

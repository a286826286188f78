"""Measures nubo's runtime clients' startup against the fake Runtime API of fake_runtime_api.py.

For each runtime: spawn -> the first GET /invocation/next, and spawn -> the first response posted
(handler `return event`); for comparison the bare interpreter (`python3 [-S] -c ...`,
`node -e ...`): spawn -> its first output. Wall times swing with whatever else runs on the machine,
so each line also gives the CPU time (user + sys) the process used until that point, which does
not. The cases run interleaved, so drift hits them alike.

Run: /usr/bin/python3 tests/runtimes/measure_startup.py [runs]   (prints min and median)
"""

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fake_runtime_api as c  # noqa: E402

# What the node gives a runtime, less the Lambda variables: no NODE_OPTIONS, NODE_EXTRA_CA_CERTS
# (which alone costs node ~40 ms), PYTHON* or the like from the caller's shell.
CLEAN_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


def cpu_ms(rusage):
    return (rusage.ru_utime + rusage.ru_stime) * 1000


def bare(argv):
    """(wall ms to the first byte written, CPU ms of the whole run)."""
    t = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=CLEAN_ENV)
    proc.stdout.read(1)
    wall = (time.monotonic() - t) * 1000
    proc.stdout.read()
    _, _, rusage = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return wall, cpu_ms(rusage)


def client(argv, env, root):
    """(wall ms to the first /next, wall ms to the first response, CPU ms until then)."""
    api = c.FakeRuntimeApi()
    env = dict(env, AWS_LAMBDA_RUNTIME_API=api.address)
    t = time.monotonic()
    proc = subprocess.Popen(argv, env=env, cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        api.wait_next()
        to_next = (api.next_calls[0] - t) * 1000
        api.invoke({"n": 1})
        to_response = (time.monotonic() - t) * 1000
        api.wait_next(2)  # idle in the second /next: everything after is not startup
    finally:
        proc.send_signal(signal.SIGKILL)
        _, _, rusage = os.wait4(proc.pid, 0)
        proc.returncode = -9
        api.close()
    return to_next, to_response, cpu_ms(rusage)


def main():
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    root = tempfile.mkdtemp(prefix="nubo-startup-")
    c.write_files(root, {
        "py/app.py": "def handler(event, context):\n    return event\n",
        "cjs/index.js": "exports.handler = async (event) => event;\n",
        "esm/index.mjs": "export const handler = async (event) => event;\n",
        "layout/functions/fn/index.mjs": "export const handler = async (event) => event;\n",
    })
    if os.path.isdir(c.NODE_MODULES):
        os.symlink(c.NODE_MODULES, os.path.join(root, "layout", "node_modules"))
    fake = c.FakeRuntimeApi()  # only for the environment builders
    fake.close()

    def node_case(task_root):
        return lambda: client(c.node_argv(), c.node_env(fake, task_root, "index.handler"), task_root)

    cases = [
        ("python3 -c 'write(x)'", lambda: bare([c.PYTHON, "-c", "import sys; sys.stdout.write('x')"])),
        ("python3 -S -c 'write(x)'", lambda: bare([c.PYTHON, "-S", "-c", "import sys; sys.stdout.write('x')"])),
        ("python client", lambda: client(c.python_argv(), c.python_env(fake, root + "/py", "app.handler"), root + "/py")),
        ("node -e 'write(x)'", lambda: bare([c.NODE, "-e", "process.stdout.write('x')"])),
        ("node client, CommonJS handler", node_case(root + "/cjs")),
        ("node client, ES module handler, node_modules layout", node_case(root + "/layout/functions/fn")),
        ("node client, ES module handler, resolve hook", node_case(root + "/esm")),
    ]
    results = {name: [] for name, _ in cases}
    for _ in range(runs):
        for name, run in cases:
            results[name].append(run())

    def stat(values):
        return "%6.1f / %6.1f" % (min(values), statistics.median(values))

    print("%-52s %-17s %-17s %-17s" % ("ms, min / median of %d runs" % runs, "to output|/next", "to 1st response", "CPU"))
    for name, _ in cases:
        rows = results[name]
        if len(rows[0]) == 2:
            print("%-52s %-17s %-17s %-17s" % (name, stat([r[0] for r in rows]), "", stat([r[1] for r in rows])))
        else:
            print("%-52s %-17s %-17s %-17s" % (name, stat([r[0] for r in rows]), stat([r[1] for r in rows]),
                                             stat([r[2] for r in rows])))


if __name__ == "__main__":
    main()

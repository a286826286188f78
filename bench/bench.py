#!/usr/bin/env python3
"""nubo benchmarks: warm invoke latency/throughput and cold starts per runtime.

Runs against the release binary (make build) on a free port with a fresh data directory, and
measures the peers named in the issue in the same run: the loopback HTTP round trip of a trivial
server (the floor for warm invokes) and the bare interpreter start (`python3 -c pass`,
`node -e 0`) for cold starts. Prints a Markdown report; --out writes it to a file (bench/RESULTS.md).
"""
import argparse
import http.client
import io
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import zipfile

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "release")
ROLE = "arn:aws:iam::000000000000:role/bench"


def zip_bytes(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, (content, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            z.writestr(info, content)
    return buf.getvalue()


def signed_raw_request(port, path, body, headers=None):
    creds = botocore.credentials.Credentials("test", "test")
    req = botocore.awsrequest.AWSRequest(method="POST", url=f"http://127.0.0.1:{port}{path}",
                                         data=body, headers=headers or {})
    botocore.auth.SigV4Auth(creds, "lambda", "us-east-1").add_auth(req)
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    for k, v in req.headers.items():
        if k.lower() != "host":
            lines.append(f"{k}: {v}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body, dict(req.headers.items())


def logged_starts(data_dir, function, keys, timeout=30):
    """{key: ns} for each key a function's handler logged as its first line "T <time_ns> <key>"
    (the latency benchmarks' functions print it), read from the node's log files; waits up to
    timeout for all of them."""
    group = os.path.join(data_dir, "logs", f"%2Faws%2Flambda%2F{function}")
    started = {}
    deadline = time.time() + timeout
    while len(started) < len(keys) and time.time() < deadline:
        started = {}
        for stream in os.listdir(group) if os.path.isdir(group) else []:
            with open(os.path.join(group, stream), errors="replace") as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3 and parts[-3] == "T" and parts[-1] in keys:
                        started[parts[-1]] = int(parts[-2])
        time.sleep(0.2)
    return started


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def http_load(port, request, concurrency, seconds, reconnect=False):
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(request)
    try:
        out = subprocess.run([os.path.join(BUILD, "bench", "http_load"), "run", "--port", str(port),
                              "--request-file", f.name, "--concurrency", str(concurrency),
                              "--seconds", str(seconds), "--warmup", "1"] +
                             (["--reconnect", "1"] if reconnect else []),
                             capture_output=True, text=True, timeout=seconds + 60)
    finally:
        os.unlink(f.name)
    if out.returncode != 0:
        raise RuntimeError(f"http_load failed: {out.stdout} {out.stderr}")
    return json.loads(out.stdout)


def user_ticks(pid):
    """utime of one process (its own code, no kernel work), in clock ticks (0 once gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[11])
    except OSError:
        return 0


def cpu_ticks(pid):
    """utime + stime of one process, in clock ticks (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except OSError:
        return 0


def children_of(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(entry))
            except OSError:
                pass
    return out


def machine_busy_ticks():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:3]) + sum(v[5:8])  # user nice system, irq softirq steal


class Node:
    def __init__(self, args=()):
        self.dir = tempfile.mkdtemp(prefix="nubo-bench-")
        extra = os.environ.get("NUBO_BENCH_NODE_ARGS", "").split() + list(args)
        self.proc = subprocess.Popen([os.path.join(BUILD, "nubo"), "serve", "--port", "0",
                                      "--data-dir", self.dir] + extra, stdout=subprocess.PIPE,
                                     stderr=open(os.path.join(self.dir, "node.log"), "w"))
        line = self.proc.stdout.readline().decode()
        if not line.startswith("listening on"):
            raise RuntimeError(f"nubo did not start: {line}")
        self.port = int(line.strip().rsplit(":", 1)[1])
        cfg = botocore.config.Config(retries={"max_attempts": 0}, read_timeout=60)
        self.lam = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{self.port}",
                                region_name="us-east-1", aws_access_key_id="test",
                                aws_secret_access_key="test", config=cfg)
        # The execution role the benchmark functions run as (CreateFunction checks it exists
        # and trusts Lambda, as on AWS).
        self.iam = boto3.client("iam", endpoint_url=f"http://127.0.0.1:{self.port}",
                                region_name="us-east-1", aws_access_key_id="test",
                                aws_secret_access_key="test", config=cfg)
        self.iam.create_role(RoleName=ROLE.rsplit("/", 1)[1], AssumeRolePolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole"}]}))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)

    def wait_ready(self, name):
        while True:
            c = self.lam.get_function_configuration(FunctionName=name)
            if c["State"] == "Active" and c["LastUpdateStatus"] == "Successful":
                return
            time.sleep(0.001)


FUNCTIONS = {
    "provided": ("provided.al2023", "noop", None),
    "python": ("python3.12", "app.handler",
               {"app.py": ("def handler(event, context):\n    return {}\n", 0o644)}),
    "nodejs": ("nodejs20.x", "index.handler",
               {"index.js": ("exports.handler = async () => ({});\n", 0o644)}),
}


SNAPSTART_APP = ("import time\ntime.sleep(0.2)  # a 200 ms init\n"
                 "def handler(event, context):\n    return {}\n")


def snapstart_cold_starts(node, n):
    """First invoke of n published versions of a python function with a 200 ms init and
    SnapStart on, each once its snapshot is taken (the node logs it): restores, in ms."""
    node.lam.create_function(FunctionName="bench-snap", Runtime="python3.12", Handler="app.handler",
                             Role=ROLE, MemorySize=128,
                             Code={"ZipFile": zip_bytes({"app.py": (SNAPSTART_APP, 0o644)})},
                             SnapStart={"ApplyOn": "PublishedVersions"})
    node.wait_ready("bench-snap")
    log_path = os.path.join(node.dir, "node.log")
    first = []
    for i in range(n):
        node.lam.update_function_configuration(FunctionName="bench-snap",
                                               Environment={"Variables": {"RUN": str(i)}})
        node.wait_ready("bench-snap")
        v = node.lam.publish_version(FunctionName="bench-snap")
        want = f"snapstart: snapshot of {v['FunctionArn']} taken"
        deadline = time.time() + 30
        while want not in open(log_path).read():
            if time.time() > deadline:
                raise RuntimeError("no snapshot: " + open(log_path).read()[-1000:])
            time.sleep(0.01)
        first.append(timed_invoke(node.port, f"bench-snap:{v['Version']}"))
    return first


def create_functions(node):
    with open(os.path.join(BUILD, "bench", "noop_bootstrap"), "rb") as f:
        noop = f.read()
    for name, (runtime, handler, files) in FUNCTIONS.items():
        files = files or {"bootstrap": (noop, 0o755)}
        node.lam.create_function(FunctionName=f"bench-{name}", Runtime=runtime, Handler=handler,
                                 Role=ROLE, Code={"ZipFile": zip_bytes(files)}, MemorySize=128)
        node.wait_ready(f"bench-{name}")


def timed_invoke(port, name):
    raw, headers = signed_raw_request(port, f"/2015-03-31/functions/{name}/invocations", b"{}")
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.connect()
    t0 = time.perf_counter()
    conn.request("POST", f"/2015-03-31/functions/{name}/invocations", body=b"{}", headers=headers)
    resp = conn.getresponse()
    body = resp.read()
    t1 = time.perf_counter()
    conn.close()
    if resp.status != 200 or resp.getheader("X-Amz-Function-Error"):
        raise RuntimeError(f"invoke {name} failed: {resp.status} {body[:300]}")
    return (t1 - t0) * 1000


def unique_kb(pid):
    """Memory only this process holds (USS): its private pages, clean and dirty."""
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total += int(line.split()[1])
    except OSError:
        pass
    return total


def kind_of(pid):
    """Which runtime a child of the node runs ("python", "nodejs", "provided"), and whether it is
    an instance (pid 1 of its own PID namespace) or a zygote (in the node's)."""
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = f.read().split(b"\0")
    with open(f"/proc/{pid}/status") as f:
        nspid = next(l for l in f if l.startswith("NSpid:")).split()[1:]
    exe = os.path.basename(argv[0]).decode()
    kind = "python" if exe.startswith("python") else "nodejs" if exe == "node" else "provided"
    return kind, len(nspid) == 1 and os.geteuid() == 0


def idle_instance_memory():
    """USS of one idle warm instance per runtime (and whatever it started), on a node without
    spares so that every child of the node is an instance or a zygote; the python zygote's own
    USS beside it (shared by every python instance)."""
    node = Node(["--spare-instances", "0"])
    try:
        create_functions(node)
        for name in FUNCTIONS:
            timed_invoke(node.port, f"bench-{name}")
        time.sleep(1.0)
        out = {}
        for pid in children_of(node.proc.pid):
            kind, zygote = kind_of(pid)
            tree = [pid] + descendants_of(pid)
            out[kind + (" zygote" if zygote else "")] = sum(unique_kb(p) for p in tree) / 1024
        return out
    finally:
        node.stop()


# A function that sleeps 1 s per runtime: a burst of them is all cold starts.
SLEEPERS = {
    "provided": ("provided.al2023", "noop", None, {"NOOP_SLEEP_MS": "1000"}),
    "python": ("python3.12", "app.handler",
               {"app.py": ("import time\ndef handler(event, context):\n    time.sleep(1)\n"
                           "    return {}\n", 0o644)}, {}),
}


def concurrent_cold_starts(name, count):
    """count invocations at once of a 1 s function, on a fresh node with no instance: each is a
    cold start. Returns http_load's burst figures."""
    node = Node()
    try:
        runtime, handler, files, env = SLEEPERS[name]
        if files is None:
            with open(os.path.join(BUILD, "bench", "noop_bootstrap"), "rb") as f:
                files = {"bootstrap": (f.read(), 0o755)}
        node.lam.create_function(FunctionName="burst", Runtime=runtime, Handler=handler,
                                 Role=ROLE, Code={"ZipFile": zip_bytes(files)}, MemorySize=128,
                                 Timeout=60, Environment={"Variables": env})
        node.wait_ready("burst")
        raw, _ = signed_raw_request(node.port, "/2015-03-31/functions/burst/invocations", b"{}")
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(raw)
        try:
            out = subprocess.run([os.path.join(BUILD, "bench", "http_load"), "burst", "--port",
                                  str(node.port), "--request-file", f.name, "--count",
                                  str(count)], capture_output=True, text=True, timeout=600)
        finally:
            os.unlink(f.name)
        if not out.stdout:
            raise RuntimeError(f"http_load burst failed: {out.stderr}")
        return json.loads(out.stdout)
    finally:
        node.stop()


def descendants_of(pid):
    out = []
    for c in children_of(pid):
        out += [c] + descendants_of(c)
    return out


def bare_start(argv, n):
    """Wall ms of n starts of argv, with the environment an instance starts with (PATH and LANG
    only: the shell's NODE_EXTRA_CA_CERTS alone costs node ~40 ms, runtimes/README.md)."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, env=env)
        times.append((time.perf_counter() - t0) * 1000)
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--cold-starts", type=int, default=100)
    ap.add_argument("--cold-start-gap-ms", type=float, default=300,
                    help="pause before each cold start of the spaced series (the burst series "
                         "has none)")
    ap.add_argument("--runtimes", default="provided,python,nodejs",
                    help="cold-start runtimes to measure, comma separated")
    ap.add_argument("--burst", type=int, default=1000,
                    help="concurrent cold starts of a 1 s function per runtime (0: none)")
    ap.add_argument("--burst-runtimes", default="provided,python")
    ap.add_argument("--out", help="append the Markdown report to this file")
    args = ap.parse_args()

    report = []
    node = Node()
    try:
        create_functions(node)
        # Floor: the same request bytes against a trivial keep-alive server.
        floor = subprocess.Popen([os.path.join(BUILD, "bench", "http_load"), "serve"],
                                 stdout=subprocess.PIPE)
        floor_port = int(floor.stdout.readline().split()[1])
        raw, _ = signed_raw_request(node.port, "/2015-03-31/functions/bench-provided/invocations",
                                    b"{}")
        # No warm-up invoke from another connection: http_load's own warm-up second starts the
        # instances from the measured connections, so that each lives on its connection's io
        # thread (net/io_shards.h), as the instances of a steady client do.
        rows = []
        cpu = None
        # Concurrency 64 three times, each beside its own floor run: this VM's speed drifts by
        # ±15% from one minute to the next, so one run alone says little.
        for c in (1, 64, 64, 64):
            f = http_load(floor_port, raw, c, args.seconds)
            # Where the CPU goes: the node, its instances, everything else (the load generator).
            before = (cpu_ticks(node.proc.pid),
                      {k: cpu_ticks(k) for k in children_of(node.proc.pid)},
                      machine_busy_ticks())
            n = http_load(node.port, raw, c, args.seconds)
            kids = set(before[1]) | set(children_of(node.proc.pid))
            node_s = cpu_ticks(node.proc.pid) - before[0]
            inst_s = sum(cpu_ticks(k) - before[1].get(k, 0) for k in kids)
            busy = machine_busy_ticks() - before[2]
            invokes = n["rps"] * (args.seconds + 1)  # the measured window and its warm-up second
            hz = os.sysconf("SC_CLK_TCK")
            cpu = [x / hz / invokes * 1e6 for x in (node_s, inst_s, busy - node_s - inst_s)]
            rows.append((c, n, f, cpu))
        floor.send_signal(signal.SIGTERM)
        floor.wait()

        report.append("### Warm invoke, no-op `provided` function (C), keep-alive HTTP\n")
        report.append("| concurrency | nubo p50 µs | nubo p99 µs | nubo invokes/s | floor p50 µs | "
                      "floor p99 µs | floor req/s | CPU µs per invoke: node / instances / rest |")
        report.append("|---|---|---|---|---|---|---|---|")
        for c, n, f, cpu in rows:
            report.append(f"| {c} | {n['p50_us']:.0f} | {n['p99_us']:.0f} | {n['rps']:.0f} | "
                          f"{f['p50_us']:.0f} | {f['p99_us']:.0f} | {f['rps']:.0f} | "
                          f"{cpu[0]:.0f} / {cpu[1]:.0f} / {cpu[2]:.0f} |")
        median64 = statistics.median(n["rps"] for c, n, f, cpu in rows if c == 64)
        report.append("\nTargets: p50 ≤ 150 µs at concurrency 1, ≥ 15,000 invokes/s at "
                      f"concurrency 64 (median of the three runs here: {median64:,.0f}). Floor: a "
                      "trivial keep-alive HTTP server answering `{}`, same client, same request "
                      "bytes. CPU per invoke from /proc, warm-up second included: the node / its "
                      "function instances / the rest of the machine (mostly the load generator).\n")

        # Cold starts: change the configuration (new revision: no warm instance may serve it),
        # then time the first invoke end to end; also update + invoke together.
        report.append("### Cold start (update configuration, then first invoke)\n")
        report.append("| runtime | series | first invoke p50 ms | p99 ms | update+invoke p50 ms | "
                      "bare interpreter p50 ms | target |")
        report.append("|---|---|---|---|---|---|---|")
        bare = {
            "provided": None,
            "python": statistics.median(bare_start(["/usr/bin/python3", "-c", "pass"], args.cold_starts)),
            "nodejs": statistics.median(bare_start(["/usr/bin/node", "-e", "0"],
                                                   args.cold_starts)),
        }
        targets = {"provided": "≤ 3 ms", "python": "≤ 5 ms", "nodejs": "≤ 25 ms"}
        for name in args.runtimes.split(","):
            fn = f"bench-{name}"
            b = bare[name]
            for series, gap in (("spaced", args.cold_start_gap_ms / 1000), ("burst", 0)):
                first, total = [], []
                for i in range(args.cold_starts):
                    time.sleep(gap)
                    t0 = time.perf_counter()
                    node.lam.update_function_configuration(
                        FunctionName=fn, Environment={"Variables": {"RUN": f"{series}{i}"}})
                    node.wait_ready(fn)
                    first.append(timed_invoke(node.port, fn))
                    total.append((time.perf_counter() - t0) * 1000)
                report.append(f"| {name} | {series} | {pct(first, 50):.1f} | {pct(first, 99):.1f} | "
                              f"{pct(total, 50):.1f} | {'' if b is None else f'{b:.1f}'} | "
                              f"{targets[name]} |")
        if "python" in args.runtimes.split(","):
            snap = snapstart_cold_starts(node, args.cold_starts)
            report.append(f"| python, SnapStart, 200 ms init | restore | {pct(snap, 50):.1f} | "
                          f"{pct(snap, 99):.1f} | | {bare['python']:.1f} | ≤ 5 ms |")
        report.append("\nBare interpreter: `python3 -c pass` and `node -e 0` started by "
                      "subprocess from the benchmark with only PATH and LANG set, same run. "
                      "Series `spaced`: "
                      f"{args.cold_start_gap_ms:g} ms between two cold starts, so that the spare "
                      "interpreter the node starts after each cold start (src/runtime/spare_pool.h) "
                      "is ready for the next; `burst`: back to back, each cold start waits for "
                      "the interpreter that the previous one set starting. SnapStart: a new "
                      "version published each time, invoked once its snapshot is taken (the "
                      "node's log says when): the first invoke restores from it.\n")
    finally:
        node.stop()

    if args.burst:
        report.append(f"### {args.burst:,} concurrent cold starts\n")
        report.append("| runtime | wall s (until the last answer) | answered 200 | 429 | other | "
                      "p50 s | p99 s |")
        report.append("|---|---|---|---|---|---|---|")
        for name in args.burst_runtimes.split(","):
            b = concurrent_cold_starts(name, args.burst)
            report.append(f"| {name} | {b['wall_ms'] / 1000:.2f} | {b['ok']} | {b['throttled']} | "
                          f"{b['errors']} | {b['p50_ms'] / 1000:.2f} | {b['p99_ms'] / 1000:.2f} |")
        report.append(f"\n{args.burst:,} connections opened first, then one invoke on each at the "
                      "same moment (bench/http_load.cc `burst`), of a function that sleeps 1 s, "
                      "on a fresh node: every invocation is a cold start (1 s of each answer is "
                      "the sleep). The account limit is 1,000 (429 past it).\n")

    memory = idle_instance_memory()
    report.append("### Memory of an idle warm instance\n")
    report.append("| runtime | unique memory (USS) MB | target |")
    report.append("|---|---|---|")
    mem_targets = {"provided": "≤ 3 MB", "python": "≤ 8 MB", "nodejs": "",
                   "python zygote": "(one per function, shared by its instances)"}
    for name in mem_targets:
        if name in memory:
            report.append(f"| {name} | {memory[name]:.1f} | {mem_targets[name]} |")
    report.append("\nPrivate pages (clean and dirty, /proc/PID/smaps_rollup) of the instance's "
                  "process and its descendants, 1 s after its first invocation, on a node "
                  "started with `--spare-instances 0`. Shared pages (the interpreter's "
                  "libraries, shared with every other process of the machine, and a forked "
                  "python instance's pages it shares with its zygote) are not counted.\n")

    # Authorisation (issue 4): the policy engine alone, one request's whole authentication and
    # authorisation in process, then end to end.
    policy = subprocess.run([os.path.join(BUILD, "bench", "policy_bench")], check=True,
                            capture_output=True, text=True).stdout
    report.append("### Authorisation: the policy engine\n")
    report.append(policy.rstrip())
    report.append("\nauth::decide() (src/auth/policy.h) for a role with 20 identity policies of 10 "
                  "statements each (wildcard actions and resources, two conditions each), one "
                  "thread, release build (bench/policy_bench.cc). The engine looks only at the "
                  "statements of the request's service (and those that name any), and none of "
                  "these name another.\n")
    whole = subprocess.run([os.path.join(BUILD, "bench", "auth_bench")], check=True,
                           capture_output=True, text=True).stdout
    report.append("### Authorisation: one request, in process\n")
    report.append(whole.rstrip())
    report.append("\nSigV4 verification with the key's lookup (the session token opened, or "
                  "found already opened), the caller's identity and authorize() for a "
                  "GetSecretValue, as the front door and Secrets Manager run them, on the same "
                  "Directory and Store as a node's; the role is secrets_bench's (20 policies × 10 "
                  "statements, the allowing one last). No sockets: the difference of the rows is "
                  "what authorisation adds (bench/auth_bench.cc; medians of five alternating "
                  "rounds).\n")
    # End to end: GetSecretValue with the root key vs that kind of role, beside moto.
    import secrets_bench
    report.extend(secrets_bench.run(min(args.seconds, 3)))
    # S3 beside moto, and a function URL beside a warm invoke of the same function (issue 5).
    import s3_bench
    report.extend(s3_bench.run(min(args.seconds, 3)))
    # SQS beside moto, and SendMessage -> function start (issue 6).
    import sqs_bench
    report.extend(sqs_bench.run(min(args.seconds, 3)))

    header = (f"## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} — "
              f"{platform.node()}, {os.cpu_count()} cores, {platform.platform()}\n\n"
              f"Command: `make bench` (bench/run → bench/bench.py --seconds {args.seconds:g} "
              f"--cold-starts {args.cold_starts} --cold-start-gap-ms {args.cold_start_gap_ms:g} "
              f"--burst {args.burst})\n")
    text = header + "\n" + "\n".join(report) + "\n"
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write("# Benchmark results\n\nThe latest run of `make bench`; each run replaces "
                    "this file.\n\n" + text)


if __name__ == "__main__":
    main()

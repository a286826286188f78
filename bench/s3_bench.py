#!/usr/bin/env python3
"""Issue 5's benchmarks: S3 PutObject / GetObject beside moto, and a function URL beside a warm
invoke of the same function.

  - PutObject and GetObject of a 1 KiB and a 1 MiB object at concurrency 1 and 16, against a
    release node and against moto's server (python3 -m moto.server), the same SigV4-signed
    request bytes (service s3, path style, x-amz-content-sha256 the body's real SHA-256)
    replayed by bench/http_load.cc. A PUT replayed overwrites the same key.
  - The no-op `provided` function (bench/noop_bootstrap.c) invoked warm through Invoke (signed
    POST .../invocations) and through its function URL (AuthType NONE, GET on the path form
    /_nubo/url/<url-id>/), in alternating runs.

Run alone: /usr/bin/python3 bench/s3_bench.py [--seconds S]; bench/bench.py includes it.
"""
import argparse
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import botocore.auth
import botocore.awsrequest
import botocore.credentials

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from secrets_bench import client, free_port, moto_python  # noqa: E402

BUCKET = "bench-bucket"
SIZES = (("1 KiB", 1 << 10), ("1 MiB", 1 << 20))
CONCURRENCY = (1, 16)
URL_ROUNDS = 5  # alternating invoke / function URL rounds (this VM's speed drifts)


def s3_request(port, method, key, body=b""):
    """The raw bytes of one SigV4-signed path-style S3 request (http_load replays them)."""
    creds = botocore.credentials.Credentials("test", "test")
    url = f"http://127.0.0.1:{port}/{BUCKET}/{key}"
    headers = {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
    if method == "PUT":
        headers["Content-Type"] = "application/octet-stream"
    req = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=headers)
    botocore.auth.SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    lines = [f"{method} /{BUCKET}/{key} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    for k, v in req.headers.items():
        if k.lower() != "host":
            lines.append(f"{k}: {v}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def probe(port, raw):
    """Sends raw once on a new connection; returns (status, headers text, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(raw)
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        text = head.decode(errors="replace")
        length = 0
        for line in text.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v.strip())
        while len(body) < length:
            chunk = s.recv(65536)
            if not chunk:
                break
            body += chunk
    return int(text.split()[1]), text, body


def check(port, raw, what, want_body=None):
    status, head, body = probe(port, raw)
    if status != 200 or (want_body is not None and body != want_body):
        raise RuntimeError(f"{what}: {status} {head!r} {body[:300]!r}")


def load(port, raw, concurrency, seconds, reconnect=False):
    """http_load run; unlike bench.http_load it keeps the figures of a run with errors (non-200
    answers, or connections that failed, which end their client) so they can be reported."""
    with tempfile.NamedTemporaryFile(delete=False) as f:
        f.write(raw)
    try:
        out = subprocess.run([os.path.join(bench.BUILD, "bench", "http_load"), "run", "--port",
                              str(port), "--request-file", f.name, "--concurrency",
                              str(concurrency), "--seconds", str(seconds), "--warmup", "1"] +
                             (["--reconnect", "1"] if reconnect else []),
                             capture_output=True, text=True, timeout=seconds + 120)
    finally:
        os.unlink(f.name)
    try:
        r = json.loads(out.stdout)
    except ValueError:
        raise RuntimeError(f"http_load failed: {out.stdout} {out.stderr}")
    r["failed_connections"] = out.stderr.count("connection failed")
    # Throughput counts the 200 answers only (a 500 that came fast is no object stored).
    r["ok_rps"] = (r["requests"] - r["errors"]) / seconds
    r["stderr"] = out.stderr.strip()[:300]
    return r


def flag(r):
    """'' for a clean run, else what went wrong in it."""
    bad = []
    if r["errors"]:
        bad.append(f"{r['errors']} non-200")
    if r["failed_connections"]:
        bad.append(f"{r['failed_connections']} connections failed")
    if not r["requests"]:
        bad.append("no answers")
    return " ⚠ " + ", ".join(bad) if bad else ""


def start_moto():
    py = moto_python()
    if not py:
        return None, None
    port = free_port()
    proc = subprocess.Popen([py, "-m", "moto.server", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                proc.wait()
                raise RuntimeError("moto's server did not start")
            time.sleep(0.1)


def s3_cells(port, seconds, reconnect, what):
    """{(op, size label, concurrency): http_load result} against one S3 endpoint."""
    s3 = client(port, "s3")
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    out = {}
    for label, size in SIZES:
        body = os.urandom(size)
        key = f"obj-{size}"
        put = s3_request(port, "PUT", key, body)
        get = s3_request(port, "GET", key)
        check(port, put, f"{what} PutObject {label}")
        check(port, get, f"{what} GetObject {label}", body)
        for c in CONCURRENCY:
            out[("PutObject", label, c)] = load(port, put, c, seconds, reconnect)
            out[("GetObject", label, c)] = load(port, get, c, seconds, reconnect)
        check(port, get, f"{what} GetObject {label} after the runs", body)
    return out


def beside_moto(cells, seconds):
    """cells(port, seconds, reconnect, what) against a release node (keep-alive connections, then
    a new connection per request, like for like with moto, which closes every connection) and
    against moto's server. Returns (nubo, nubo with new connections, moto or None)."""
    node = bench.Node()
    try:
        nubo = cells(node.port, seconds, False, "nubo")
        nubo_new = cells(node.port, seconds, True, "nubo (new connections)")
    finally:
        node.stop()
    moto, mport = start_moto()
    peer = None
    if moto:
        try:
            peer = cells(mport, seconds, True, "moto")
        finally:
            moto.terminate()
            try:
                moto.wait(timeout=10)
            except subprocess.TimeoutExpired:
                moto.kill()
                moto.wait()
    return nubo, nubo_new, peer


def s3_section(seconds):
    return beside_moto(s3_cells, seconds)


def url_section(seconds):
    node = bench.Node()
    try:
        with open(os.path.join(bench.BUILD, "bench", "noop_bootstrap"), "rb") as f:
            noop = f.read()
        name = "bench-provided"
        node.lam.create_function(FunctionName=name, Runtime="provided.al2023", Handler="noop",
                                 Role=bench.ROLE, MemorySize=128,
                                 Code={"ZipFile": bench.zip_bytes({"bootstrap": (noop, 0o755)})})
        node.wait_ready(name)
        cfg = node.lam.create_function_url_config(FunctionName=name, AuthType="NONE")
        url_id = cfg["FunctionUrl"].split("//", 1)[1].split(".", 1)[0]
        node.lam.add_permission(FunctionName=name, StatementId="public-url",
                                Action="lambda:InvokeFunctionUrl", Principal="*",
                                FunctionUrlAuthType="NONE")
        invoke, _ = bench.signed_raw_request(node.port, f"/2015-03-31/functions/{name}/invocations",
                                             b"{}")
        url = (f"GET /_nubo/url/{url_id}/ HTTP/1.1\r\nHost: 127.0.0.1:{node.port}\r\n\r\n").encode()
        check(node.port, invoke, "Invoke", b"{}")
        check(node.port, url, "function URL", b"{}")
        runs = {(k, c): [] for k in ("invoke", "url") for c in CONCURRENCY}
        for i in range(URL_ROUNDS):
            for c in CONCURRENCY:
                order = (("invoke", invoke), ("url", url))
                for k, raw in order if i % 2 == 0 else order[::-1]:  # ABBA: no order bias
                    runs[(k, c)].append(load(node.port, raw, c, seconds))
        return runs, cfg["FunctionUrl"], url_id
    finally:
        node.stop()


NOTIFY_UPLOADS = 200   # uploads timed for the upload -> function start latency
NOTIFY_GAP_S = 0.02    # between two of them (each event finds the function's instance idle)
NOTIFY_LOGGER = ("import time\n"
                 "def handler(event, context):\n"
                 "    print('T', time.time_ns(), event['Records'][0]['s3']['object']['key'])\n")


def notify_section():
    """Upload -> function start: the time from just before a PutObject's bytes are sent to the
    moment the handler of the function its notification invokes starts (the handler prints
    time.time_ns(); the same machine's clock). Returns (latencies ms, PUT answer ms)."""
    node = bench.Node()
    try:
        s3 = client(node.port, "s3")
        s3.create_bucket(Bucket=BUCKET)
        node.lam.create_function(FunctionName="bench-notify", Runtime="python3.12",
                                 Handler="app.handler", Role=bench.ROLE, MemorySize=128,
                                 Code={"ZipFile": bench.zip_bytes({"app.py": (NOTIFY_LOGGER,
                                                                              0o644)})})
        node.wait_ready("bench-notify")
        node.lam.add_permission(FunctionName="bench-notify", StatementId="s3",
                                Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                                SourceArn=f"arn:aws:s3:::{BUCKET}")
        s3.put_bucket_notification_configuration(Bucket=BUCKET, NotificationConfiguration={
            "LambdaFunctionConfigurations": [{
                "LambdaFunctionArn": "arn:aws:lambda:us-east-1:000000000000:function:bench-notify",
                "Events": ["s3:ObjectCreated:*"]}]})
        sent, answered = {}, []
        body = os.urandom(1024)
        for i in range(NOTIFY_UPLOADS + 1):  # n0 warms the function up (its cold start)
            key = f"n{i}"
            raw = s3_request(node.port, "PUT", key, body)
            t0 = time.time_ns()
            status, head, _ = probe(node.port, raw)
            if status != 200:
                raise RuntimeError(f"upload {key}: {status} {head!r}")
            answered.append((time.time_ns() - t0) / 1e6)
            sent[key] = t0
            time.sleep(1.0 if i == 0 else NOTIFY_GAP_S)
        started = bench.logged_starts(node.dir, "bench-notify", sent)
        lat = [(started[k] - sent[k]) / 1e6 for k in sent if k != "n0" and k in started]
        if len(lat) < NOTIFY_UPLOADS:
            raise RuntimeError(f"only {len(lat)} of {NOTIFY_UPLOADS} notifications arrived")
        return lat, answered[1:]
    finally:
        node.stop()


def run(seconds):
    """Returns the Markdown lines of the report."""
    nubo, nubo_new, peer = s3_section(seconds)
    lines = ["### S3 PutObject / GetObject beside moto\n"]
    lines.append("| operation | object | concurrency | nubo p50 µs | nubo p99 µs | nubo req/s | "
                 "nubo req/s, new connection each | moto p50 µs | moto p99 µs | moto req/s | "
                 "nubo / moto req/s (keep-alive; new connection each) |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    ratios, new_ratios = [], []
    for op in ("PutObject", "GetObject"):
        for label, _ in SIZES:
            for c in CONCURRENCY:
                n = nubo[(op, label, c)]
                f = nubo_new[(op, label, c)]
                row = (f"| {op} | {label} | {c} | {n['p50_us']:.0f} | {n['p99_us']:.0f} | "
                       f"{n['ok_rps']:,.0f}{flag(n)} | {f['ok_rps']:,.0f}{flag(f)} |")
                if peer:
                    m = peer[(op, label, c)]
                    ratio = n["ok_rps"] / m["ok_rps"] if m["ok_rps"] else float("inf")
                    new_ratio = f["ok_rps"] / m["ok_rps"] if m["ok_rps"] else float("inf")
                    ratios.append(ratio)
                    new_ratios.append(new_ratio)
                    row += (f" {m['p50_us']:.0f} | {m['p99_us']:.0f} | {m['ok_rps']:,.0f}{flag(m)} | "
                            f"{ratio:.1f}×; {new_ratio:.1f}× |")
                else:
                    row += " | | | |"
                lines.append(row)
    lines.append("")
    if peer:
        lines.append(f"nubo / moto throughput over the eight cells: {min(ratios):.1f}× to "
                     f"{max(ratios):.1f}× (median {statistics.median(ratios):.1f}×) with nubo on "
                     f"keep-alive connections, {min(new_ratios):.1f}× to {max(new_ratios):.1f}× "
                     f"(median {statistics.median(new_ratios):.1f}×) with a new connection per "
                     "request on both sides (target ≥ 20×).")
    else:
        lines.append("moto's server is not installed for any python3 here: no peer figures.")
    lines.append(f"\nOne release node, then moto 5.2's server (`python3 -m moto.server`), each "
                 f"with one bucket. Each cell: one SigV4-signed path-style request (`PUT` or "
                 f"`GET /{BUCKET}/<key>`, service s3, `x-amz-content-sha256` the body's real "
                 "SHA-256, Content-Length set), the same bytes for both servers, replayed by "
                 f"bench/http_load.cc for {seconds:g} s after 1 s of warm-up; a PUT replayed "
                 "overwrites its key; every answer should be a 200: req/s counts the 200s only, and ⚠ marks a cell "
                 "with any other answer or a failed connection (p50/p99 are of all answers). nubo is loaded over keep-alive connections "
                 "(c=1: one, c=16: sixteen), as SDK clients use it, and again with a new "
                 "connection per request; moto's werkzeug server answers HTTP/1.0 and closes "
                 "each connection, so it is loaded with a new connection per request (connect "
                 "time included; its p50/p99 too). Target (issue 5): nubo ≥ 20× "
                 "moto's throughput.\n")
    if peer and any(m["errors"] for m in peer.values()):
        lines.append("moto's ⚠ cells: its server answers some of the concurrent overwrites of "
                     "one key with a 500 (seen while writing this benchmark: `ValueError: I/O "
                     "operation on closed file` from FakeKey.etag in moto/s3/models.py, an "
                     "overwrite closing the buffer another thread is reading).\n")

    lat, answered = notify_section()
    lines.append("### Upload → function start (bucket notification)\n")
    lines.append("| uploads | function start p50 ms | p99 ms | max ms | PutObject answer p50 ms | "
                 "target |")
    lines.append("|---|---|---|---|---|---|")
    lines.append(f"| {len(lat)} | {bench.pct(lat, 50):.2f} | {bench.pct(lat, 99):.2f} | "
                 f"{max(lat):.2f} | {bench.pct(answered, 50):.2f} | p50 ≤ 5 ms |")
    lines.append(f"\nA 1 KiB SigV4-signed PutObject on a new connection every "
                 f"{NOTIFY_GAP_S * 1000:g} ms to a bucket whose notification configuration "
                 "sends s3:ObjectCreated:* to a python3.12 function (warm after the first, "
                 "untimed, upload); the time from just before the request's bytes are sent to "
                 "the handler's first line (it prints time.time_ns()). The event goes through "
                 "the function policy check and the Lambda async queue (stored before the PUT "
                 "is answered), as every asynchronous invocation does.\n")

    runs, furl, url_id = url_section(seconds)
    med = {k: (statistics.median(r["p50_us"] for r in v), statistics.median(r["p99_us"] for r in v),
               statistics.median(r["ok_rps"] for r in v), "".join(flag(r) for r in v),
               min(r["ok_rps"] for r in v), max(r["ok_rps"] for r in v))
           for k, v in runs.items()}
    lines.append("### Function URL vs warm invoke\n")
    lines.append("| concurrency | path | p50 µs | p99 µs | req/s | req/s, lowest – highest run | "
                 "function URL / invoke req/s |")
    lines.append("|---|---|---|---|---|---|---|")
    url_ratios = []
    for c in CONCURRENCY:
        i, u = med[("invoke", c)], med[("url", c)]
        ratio = u[2] / i[2] if i[2] else float("inf")
        url_ratios.append(ratio)
        lines.append(f"| {c} | Invoke (signed POST) | {i[0]:.0f} | {i[1]:.0f} | "
                     f"{i[2]:,.0f}{i[3]} | {i[4]:,.0f} – {i[5]:,.0f} | |")
        lines.append(f"| {c} | function URL (GET) | {u[0]:.0f} | {u[1]:.0f} | {u[2]:,.0f}{u[3]} | "
                     f"{u[4]:,.0f} – {u[5]:,.0f} | {ratio:.2f} |")
    lines.append("")
    lines.append("Function URL throughput against warm invoke: " +
                 ", ".join(f"{r:.0%} at c={c}" for c, r in zip(CONCURRENCY, url_ratios)) +
                 " (target: within 10%, ≥ 90%).")
    lines.append(f"\nThe no-op `provided` function (bench/noop_bootstrap.c, 128 MB), on a fresh "
                 "release node: (a) Invoke, a SigV4-signed `POST /2015-03-31/functions/"
                 "bench-provided/invocations` with body `{}`; (b) its function URL (AuthType "
                 "NONE, with the resource-policy statement allowing lambda:InvokeFunctionUrl "
                 f"to `*`), an unsigned `GET /_nubo/url/<url-id>/` (the path form of "
                 f"`{furl.replace(url_id, '<url-id>')}`), the payload 2.0 event and the "
                 "function's `{}` answered as a 200. Keep-alive connections, bench/http_load.cc; "
                 f"{URL_ROUNDS} rounds of {seconds:g} s (after 1 s of warm-up) of each, "
                 "alternating (invoke first in one round, the URL first in the next); p50, p99 "
                 "and req/s are the medians of the rounds.\n")
    return lines


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3)
    a = ap.parse_args()
    print("\n".join(run(a.seconds)))

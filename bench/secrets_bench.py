#!/usr/bin/env python3
"""Issue 4's benchmarks: the cost of authorisation end to end, and GetSecretValue beside moto.

  - GetSecretValue signed with the root key, and with an assumed role that has 20 policies of 10
    statements each (10 attached managed policies and 10 inline ones; the statement that allows
    the call is the last one), both against one release node: the difference is what
    authorisation adds to a request.
  - GetSecretValue against moto's server (python3 -m moto.server), the peer the issue names,
    same request bytes, same load generator, same run.

Run alone: /usr/bin/python3 bench/secrets_bench.py [--seconds S]; bench/bench.py includes it.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

ACCOUNT = "000000000000"
CPU_PAIRS = 9    # root/role run pairs for the CPU figures
CPU_SECONDS = 2  # each run's length


def signed(port, target, body, key, secret, token=None):
    """The raw bytes of one signed JSON 1.1 request (http_load replays them)."""
    creds = botocore.credentials.Credentials(key, secret, token)
    headers = {"X-Amz-Target": target, "Content-Type": "application/x-amz-json-1.1"}
    req = botocore.awsrequest.AWSRequest(method="POST", url=f"http://127.0.0.1:{port}/",
                                         data=body, headers=headers)
    botocore.auth.SigV4Auth(creds, "secretsmanager", "us-east-1").add_auth(req)
    lines = ["POST / HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    for k, v in req.headers.items():
        if k.lower() != "host":
            lines.append(f"{k}: {v}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def client(port, service, key="test", secret="test", token=None):
    cfg = botocore.config.Config(retries={"max_attempts": 0})
    return boto3.client(service, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        aws_session_token=token, config=cfg)


def heavy_role(port, secret_arn):
    """A role with 20 policies of 10 statements each; only the very last statement allows
    GetSecretValue on the secret. Returns session credentials for it."""
    iam = client(port, "iam")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "sts:AssumeRole"}]}
    iam.create_role(RoleName="heavy", AssumeRolePolicyDocument=json.dumps(trust))

    def doc(p, last):
        # Managed policies (6,144 characters each) carry a condition per statement; a role's
        # inline policies share 10,240 characters, so theirs are plain.
        st = [{"Effect": "Allow", "Action": f"s3:Get{p}x{i}*", "Resource": f"arn:aws:s3:::b{p}-{i}/*"}
              for i in range(10)]
        if p < 10:
            for i, x in enumerate(st):
                x["Condition"] = {"StringEquals": {"aws:PrincipalTag/team": f"t{i}"}}
        if last:
            st[-1] = {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                      "Resource": secret_arn}
        return json.dumps({"Version": "2012-10-17", "Statement": st}, separators=(",", ":"))

    for p in range(10):
        arn = iam.create_policy(PolicyName=f"managed{p}", PolicyDocument=doc(p, False))["Policy"]["Arn"]
        iam.attach_role_policy(RoleName="heavy", PolicyArn=arn)
    for p in range(10):
        iam.put_role_policy(RoleName="heavy", PolicyName=f"inline{p}",
                            PolicyDocument=doc(10 + p, p == 9))
    out = client(port, "sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/heavy",
                                          RoleSessionName="bench")["Credentials"]
    return out["AccessKeyId"], out["SecretAccessKey"], out["SessionToken"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def moto_python():
    """moto is installed for pyenv's python3 (not Debian's)."""
    for p in (os.path.expanduser("~/.pyenv/shims/python3"), "python3"):
        try:
            subprocess.run([p, "-c", "import moto.server"], check=True, capture_output=True)
            return p
        except (OSError, subprocess.CalledProcessError):
            continue
    return None


def run(seconds):
    """Returns the Markdown lines of the report."""
    node = bench.Node()
    moto = None
    lines = []
    try:
        sm = client(node.port, "secretsmanager")
        arn = sm.create_secret(Name="bench/db", SecretString="s" * 64)["ARN"]
        key, secret, token = heavy_role(node.port, arn)
        body = json.dumps({"SecretId": arn}).encode()
        root_req = signed(node.port, "secretsmanager.GetSecretValue", body, "test", "test")
        role_req = signed(node.port, "secretsmanager.GetSecretValue", body, key, secret, token)
        # The role's request must really be allowed (and a denied one would be fast).
        assert client(node.port, "secretsmanager", key, secret, token).get_secret_value(
            SecretId=arn)["SecretString"] == "s" * 64
        runs = {"root": [], "role": []}
        for _ in range(3):  # alternate: this VM's speed drifts from one minute to the next
            for name, req in (("root", root_req), ("role", role_req)):
                runs[name].append((bench.http_load(node.port, req, 1, seconds),
                                   bench.http_load(node.port, req, 16, seconds)))
        median = {name: (statistics.median(r[0]["p50_us"] for r in rs),
                         statistics.median(r[1]["rps"] for r in rs)) for name, rs in runs.items()}
        # Like for like with moto, which closes every connection: a new one per request.
        fresh_conn = bench.http_load(node.port, root_req, 16, seconds, reconnect=True)
        # Node CPU per request, in alternating pairs (this VM's speed drifts by a factor of
        # two within minutes: only neighbouring runs compare), the median of each and of the
        # pairs' differences.
        # Both all of the node's CPU and its user CPU alone: authorisation is computation in
        # the node's own code, while the kernel's share (sockets, scheduling) swings with how
        # the two cores happen to be shared with the load generator.
        samples = {"root": [], "role": []}
        user = {"root": [], "role": []}
        deltas, user_deltas = [], []
        tck = os.sysconf("SC_CLK_TCK")
        for _ in range(CPU_PAIRS):
            for name, req in (("root", root_req), ("role", role_req)):
                before = bench.cpu_ticks(node.proc.pid), bench.user_ticks(node.proc.pid)
                n = bench.http_load(node.port, req, 16, CPU_SECONDS)
                used = (bench.cpu_ticks(node.proc.pid) - before[0]) / tck
                used_user = (bench.user_ticks(node.proc.pid) - before[1]) / tck
                # the run is one second of warm-up and then CPU_SECONDS measured
                count = n["rps"] * (CPU_SECONDS + 1)
                samples[name].append(used / count * 1e6)
                user[name].append(used_user / count * 1e6)
            deltas.append(samples["role"][-1] - samples["root"][-1])
            user_deltas.append(user["role"][-1] - user["root"][-1])
        cpu = {name: statistics.median(v) for name, v in samples.items()}
        cpu_user = {name: statistics.median(v) for name, v in user.items()}
        cpu_delta = statistics.median(deltas)
        user_delta = statistics.median(user_deltas)
    finally:
        node.stop()

    py = moto_python()
    moto_row = None
    if py:
        port = free_port()
        moto = subprocess.Popen([py, "-m", "moto.server", "-p", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.1)
            marn = client(port, "secretsmanager").create_secret(
                Name="bench/db", SecretString="s" * 64)["ARN"]
            mreq = signed(port, "secretsmanager.GetSecretValue",
                          json.dumps({"SecretId": marn}).encode(), "test", "test")
            moto_row = (bench.http_load(port, mreq, 1, seconds, reconnect=True),
                        bench.http_load(port, mreq, 16, seconds, reconnect=True))
        finally:
            moto.terminate()
            moto.wait(timeout=10)

    lines.append("### Authorisation and Secrets Manager: GetSecretValue end to end\n")
    lines.append("| server | credentials | p50 µs (c=1) | req/s (c=16) | node CPU µs per request "
                 "| of it user CPU µs |")
    lines.append("|---|---|---|---|---|---|")
    lines.append(f"| nubo | root key | {median['root'][0]:.0f} | {median['root'][1]:,.0f} | "
                 f"{cpu['root']:.1f} | {cpu_user['root']:.1f} |")
    lines.append(f"| nubo | role, 20 policies × 10 statements | {median['role'][0]:.0f} | "
                 f"{median['role'][1]:,.0f} | {cpu['role']:.1f} | {cpu_user['role']:.1f} |")
    lines.append(f"| nubo, a new connection per request | root key | | "
                 f"{fresh_conn['rps']:,.0f} | | |")
    if moto_row:
        lines.append(f"| moto 5.2 server (closes every connection) | root key | "
                     f"{moto_row[0]['p50_us']:.0f} | {moto_row[1]['rps']:,.0f} | | |")
    added = median["role"][0] - median["root"][0]
    lines.append("")
    lines.append(f"Authorisation added per request (medians of {CPU_PAIRS} paired runs): "
                 f"{user_delta:+.1f} µs of the node's user CPU (target ≤ 10 µs), "
                 f"{cpu_delta:+.1f} µs of its CPU with the kernel's, {added:+.0f} µs at p50 (c=1).")
    if moto_row:
        m = moto_row[1]["rps"]
        lines.append(f"Throughput against moto at c=16: {median['root'][1] / m:.0f}× with the "
                     f"root key and {median['role'][1] / m:.0f}× with the heavy role (nubo on "
                     f"keep-alive connections, as SDK clients use it), {fresh_conn['rps'] / m:.0f}× "
                     "with a new connection per request on both sides (target ≥ 20×).")
    else:
        lines.append("moto's server is not installed for any python3 here: no peer figures.")
    lines.append("\nOne release node; the same signed request replayed over keep-alive "
                 "connections by bench/http_load.cc (c=1: one connection; c=16: sixteen). p50 "
                 "and req/s are the medians of three alternating runs of each; CPU from "
                 f"/proc/PID/stat over {CPU_PAIRS} more alternating pairs of runs at c=16. The role's session credentials come "
                 "from AssumeRole; the statement that allows the call is the last of its 200 "
                 "(the 100 of its 10 managed policies each have a condition on a principal tag); "
                 "the engine looks only at the statements of the request's service, so the "
                 "policies of other services cost a lookup each. moto: `python3 -m moto.server` (threaded werkzeug; it "
                 "answers HTTP/1.0 and closes each connection, so it is measured with a new "
                 "connection per request, connect time included), same request bytes.\n")
    return lines


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3)
    a = ap.parse_args()
    print("\n".join(run(a.seconds)))

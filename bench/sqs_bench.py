#!/usr/bin/env python3
"""Issue 6's SQS benchmark: SendMessage and ReceiveMessage beside moto.

Each cell replays one SigV4-signed Query-protocol request (as boto3 1.26 and awscli v2.9 send it:
form-encoded POST /, service sqs) with bench/http_load.cc for the run's seconds after 1 s of
warm-up, at concurrency 1 and 16, against a release node and against moto's server
(python3 -m moto.server). SendMessage sends a 100-byte body with one string attribute (every
replay is a new message: the queue grows); ReceiveMessage asks for one message with
VisibilityTimeout=0 from a queue holding ten, so every replay receives one and leaves it visible.
moto answers HTTP/1.0 and closes each connection, so it is loaded with a new connection per
request; nubo is measured both on keep-alive connections (as SDK clients use it) and with a new
connection per request.

Run alone: /usr/bin/python3 bench/sqs_bench.py [--seconds S] [--out FILE]
"""
import argparse
import os
import sys
import time
import urllib.parse

import botocore.auth
import botocore.awsrequest
import botocore.credentials

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from s3_bench import beside_moto, check, flag, load, probe  # noqa: E402
from secrets_bench import client  # noqa: E402

CONCURRENCY = (1, 16)


def sqs_request(port, params):
    """The raw bytes of one SigV4-signed Query-protocol SQS request."""
    body = urllib.parse.urlencode(params).encode()
    creds = botocore.credentials.Credentials("test", "test")
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=f"http://127.0.0.1:{port}/", data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    botocore.auth.SigV4Auth(creds, "sqs", "us-east-1").add_auth(req)
    lines = ["POST / HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    for k, v in req.headers.items():
        if k.lower() != "host":
            lines.append(f"{k}: {v}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def cells(port, seconds, reconnect, what):
    sqs = client(port, "sqs")
    url = sqs.create_queue(QueueName="bench-queue")["QueueUrl"]
    rurl = sqs.create_queue(QueueName="bench-receive")["QueueUrl"]
    for i in range(10):
        sqs.send_message(QueueUrl=rurl, MessageBody=f"waiting {i}")
    send = sqs_request(port, {"Action": "SendMessage", "Version": "2012-11-05", "QueueUrl": url,
                              "MessageBody": "x" * 100, "MessageAttribute.1.Name": "kind",
                              "MessageAttribute.1.Value.DataType": "String",
                              "MessageAttribute.1.Value.StringValue": "bench"})
    receive = sqs_request(port, {"Action": "ReceiveMessage", "Version": "2012-11-05",
                                 "QueueUrl": rurl, "MaxNumberOfMessages": "1",
                                 "VisibilityTimeout": "0"})
    check(port, send, f"{what} SendMessage")
    check(port, receive, f"{what} ReceiveMessage")
    out = {}
    for c in CONCURRENCY:
        out[("SendMessage", c)] = load(port, send, c, seconds, reconnect)
        out[("ReceiveMessage", c)] = load(port, receive, c, seconds, reconnect)
    # Every receive found a message (the queue kept its ten).
    got = sqs.receive_message(QueueUrl=rurl, MaxNumberOfMessages=10, VisibilityTimeout=0)
    if len(got.get("Messages", [])) == 0:
        raise RuntimeError(f"{what}: the receive queue is empty after the runs")
    return out


EVENTS = 200    # messages timed for the SendMessage -> function start latency
EVENT_GAP_S = 0.02
LOGGER = ("import time\n"
          "def handler(event, context):\n"
          "    print('T', time.time_ns(), event['Records'][0]['body'])\n")


def event_latency():
    """SendMessage -> function start: from just before a SendMessage's bytes are sent to the
    first line of the handler of the function its queue's event source mapping invokes (it
    prints time.time_ns(); the same machine's clock). Returns (latencies ms, send answer ms)."""
    node = bench.Node()
    try:
        sqs = client(node.port, "sqs")
        url = sqs.create_queue(QueueName="bench-events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        node.lam.create_function(FunctionName="bench-sqs", Runtime="python3.12",
                                 Handler="app.handler", Role=bench.ROLE, MemorySize=128,
                                 Code={"ZipFile": bench.zip_bytes({"app.py": (LOGGER, 0o644)})})
        node.wait_ready("bench-sqs")
        node.lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="bench-sqs",
                                             BatchSize=1)
        sent, answered = {}, []
        for i in range(EVENTS + 1):  # m0 warms the function up (its cold start)
            body = f"m{i}"
            raw = sqs_request(node.port, {"Action": "SendMessage", "Version": "2012-11-05",
                                          "QueueUrl": url, "MessageBody": body})
            t0 = time.time_ns()
            status, head, _ = probe(node.port, raw)
            if status != 200:
                raise RuntimeError(f"send {body}: {status} {head!r}")
            answered.append((time.time_ns() - t0) / 1e6)
            sent[body] = t0
            time.sleep(1.0 if i == 0 else EVENT_GAP_S)
        started = bench.logged_starts(node.dir, "bench-sqs", sent)
        lat = [(started[k] - sent[k]) / 1e6 for k in sent if k != "m0" and k in started]
        if len(lat) < EVENTS:
            raise RuntimeError(f"only {len(lat)} of {EVENTS} messages reached the function")
        return lat, answered[1:]
    finally:
        node.stop()


def run(seconds):
    nubo, nubo_new, peer = beside_moto(cells, seconds)
    lines = ["### SQS SendMessage / ReceiveMessage beside moto\n",
             "| operation | concurrency | nubo p50 µs | nubo p99 µs | nubo req/s | nubo req/s, new "
             "connection each | moto p50 µs | moto p99 µs | moto req/s | nubo / moto req/s "
             "(keep-alive; new connection each) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    ratios = []
    for op in ("SendMessage", "ReceiveMessage"):
        for c in CONCURRENCY:
            n, nn = nubo[(op, c)], nubo_new[(op, c)]
            if peer:
                m = peer[(op, c)]
                r1 = n["ok_rps"] / m["ok_rps"] if m["ok_rps"] else float("inf")
                r2 = nn["ok_rps"] / m["ok_rps"] if m["ok_rps"] else float("inf")
                ratios.append((r1, r2))
                moto_cells = (f"{m['p50_us']:.0f} | {m['p99_us']:.0f} | "
                              f"{m['ok_rps']:,.0f}{flag(m)} | {r1:.1f}×; {r2:.1f}×")
            else:
                moto_cells = "| | | (moto not installed)"
            lines.append(f"| {op} | {c} | {n['p50_us']:.0f} | {n['p99_us']:.0f} | "
                         f"{n['ok_rps']:,.0f}{flag(n)} | {nn['ok_rps']:,.0f}{flag(nn)} | "
                         f"{moto_cells} |")
    if ratios:
        lines.append(f"\nnubo / moto throughput over the four cells: "
                     f"{min(r[0] for r in ratios):.1f}× to {max(r[0] for r in ratios):.1f}× with "
                     f"nubo on keep-alive connections, {min(r[1] for r in ratios):.1f}× to "
                     f"{max(r[1] for r in ratios):.1f}× with a new connection per request on both "
                     "sides (target ≥ 20×).")
    lines.append("\n" + __doc__.split("\n\n")[1].replace("\n", " ").strip() + "\n")
    lat, answered = event_latency()
    lines += ["### SendMessage → function start (event source mapping)\n",
              "| messages | function start p50 ms | p99 ms | max ms | SendMessage answer p50 ms "
              "| target |", "|---|---|---|---|---|---|",
              f"| {len(lat)} | {bench.pct(lat, 50):.2f} | {bench.pct(lat, 99):.2f} | "
              f"{max(lat):.2f} | {bench.pct(answered, 50):.2f} | p50 ≤ 5 ms |",
              "\nA SigV4-signed SendMessage (Query protocol) on a new connection every 20 ms to a "
              "queue with an event source mapping (BatchSize 1) to a python3.12 function (warm "
              "after the first, untimed, message); the time from just before the request's bytes "
              "are sent to the handler's first line (it prints time.time_ns()). The poller "
              "long-polls the queue and is woken by the send; the batch goes through the invoker "
              "like every invocation, and is deleted once the function returns.\n"]
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--out")
    args = ap.parse_args()
    lines = run(args.seconds)
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()

"""Recursion-loop detection (issue 6): the classic loop of a function that writes to the bucket
that triggers it is stopped after 16 invocations (RecursiveInvocationException), unless the
function's recursion config says Allow. The chain is followed through the trace header the
function's SDK sends (X-Amzn-Trace-Id, from _X_AMZN_TRACE_ID)."""
import http.client
import json
import time

import botocore.auth
import botocore.awsrequest
import botocore.credentials

from nubo_e2e import create, function_log

FN_ARN = "arn:aws:lambda:us-east-1:000000000000:function:"

# Writes gen-<n+1> for each gen-<n> it is told about, up to gen-<limit> (so that the test of
# Allow ends on its own).
LOOPER = {"app.py": """
import os
import boto3

s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])

def handler(event, context):
    for r in event["Records"]:
        key = r["s3"]["object"]["key"]
        n = int(key.split("-")[1])
        if n < 125:
            s3.put_object(Bucket=r["s3"]["bucket"]["name"], Key="gen-%d" % (n + 1), Body=b"x")
"""}


def recursion_config(node, name, loop=None):
    """Get/PutFunctionRecursionConfig as a signed REST call (boto3 1.26 predates the API)."""
    path = f"/2024-08-31/functions/{name}/recursion-config"
    body = json.dumps({"RecursiveLoop": loop}).encode() if loop else b""
    req = botocore.awsrequest.AWSRequest(method="PUT" if loop else "GET", url=node.url + path,
                                         data=body)
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), "lambda",
                            "us-east-1").add_auth(req)
    c = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10)
    c.request(req.method, path, body=body, headers=dict(req.headers.items()))
    r = c.getresponse()
    out = json.loads(r.read() or b"{}")
    c.close()
    assert r.status == 200, out
    return out["RecursiveLoop"]


def keys(s3, bucket):
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []))


def settle(s3, bucket, quiet=2.0, timeout=60):
    """The bucket's keys once no new one has appeared for `quiet` seconds."""
    last, since = None, time.time()
    deadline = time.time() + timeout
    while time.time() < deadline:
        now = keys(s3, bucket)
        if now != last:
            last, since = now, time.time()
        elif time.time() - since >= quiet:
            return now
        time.sleep(0.1)
    return last


def test_a_bucket_that_triggers_itself_is_stopped_after_16_invocations(node):
    s3 = node.client("s3")
    lam = node.client("lambda")
    s3.create_bucket(Bucket="loop")
    role = node.ensure_role("looper-role", policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::loop/*"}]})
    create(lam, "looper", "python3.12", "app.handler", LOOPER, Role=role, Timeout=30)
    lam.add_permission(FunctionName="looper", StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::loop")
    s3.put_bucket_notification_configuration(Bucket="loop", NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": FN_ARN + "looper",
                                          "Events": ["s3:ObjectCreated:*"]}]})
    assert recursion_config(node, "looper") == "Terminate"

    s3.put_object(Bucket="loop", Key="gen-0", Body=b"start")
    got = settle(s3, "loop")
    # gen-0 from the test, then one object per invocation: 16 invocations, then stopped.
    assert got == sorted(f"gen-{i}" for i in range(17)), got
    assert function_log(node, "looper").count("START RequestId") == 16
    assert "RecursiveInvocationException" in node.log()

    # Allow: the loop is the function's business (it stops itself at gen-125 here).
    assert recursion_config(node, "looper", "Allow") == "Allow"
    assert recursion_config(node, "looper") == "Allow"
    s3.put_object(Bucket="loop", Key="gen-100", Body=b"again")
    got = settle(s3, "loop")
    assert "gen-125" in got and "gen-117" in got, got

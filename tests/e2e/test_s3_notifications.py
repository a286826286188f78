"""S3 bucket notifications to Lambda (issue 5): a file landing in a bucket starts a function,
with the AWS event record, only when the function's policy lets S3 invoke it."""
import json
import os
import time

import botocore.exceptions
import pytest

from nubo_e2e import create, function_log

ACCOUNT = "000000000000"
FN_ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
# Logs each event on one line; the test reads the function's log.
LOGGER = {"app.py": "import json\n"
                    "def handler(event, context):\n"
                    "    print('EVENT ' + json.dumps(event))\n"}


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def events_of(node, name):
    out = []
    for line in function_log(node, name).splitlines():
        at = line.find("EVENT ")
        if at >= 0:
            out.append(json.loads(line[at + 6:]))
    return out


def wait_events(node, name, count, timeout=10):
    deadline = time.time() + timeout
    while True:
        got = events_of(node, name)
        if len(got) >= count or time.time() > deadline:
            return got
        time.sleep(0.05)


def test_uploads_and_deletes_start_the_function_with_the_s3_event(node):
    s3 = node.client("s3")
    lam = node.client("lambda")
    create(lam, "on-upload", "python3.12", "app.handler", LOGGER)
    s3.create_bucket(Bucket="inbox")
    config = {"LambdaFunctionConfigurations": [
        {"Id": "created", "LambdaFunctionArn": FN_ARN + "on-upload",
         "Events": ["s3:ObjectCreated:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"},
                                            {"Name": "suffix", "Value": ".txt"}]}}},
        {"Id": "removed", "LambdaFunctionArn": FN_ARN + "on-upload",
         "Events": ["s3:ObjectRemoved:*"],
         "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}}}]}
    # Without a policy that lets S3 invoke it, S3 refuses the destination.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket="inbox",
                                                 NotificationConfiguration=config)
    assert code_of(e) == "InvalidArgument"
    # A permission for another bucket does not do either.
    lam.add_permission(FunctionName="on-upload", StatementId="other", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::other-bucket")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket="inbox",
                                                 NotificationConfiguration=config)
    assert code_of(e) == "InvalidArgument"
    lam.add_permission(FunctionName="on-upload", StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::inbox",
                       SourceAccount=ACCOUNT)
    s3.put_bucket_notification_configuration(Bucket="inbox", NotificationConfiguration=config)
    got = s3.get_bucket_notification_configuration(Bucket="inbox")
    assert [c["Id"] for c in got["LambdaFunctionConfigurations"]] == ["created", "removed"]
    assert got["LambdaFunctionConfigurations"][0]["Events"] == ["s3:ObjectCreated:*"]
    rules = got["LambdaFunctionConfigurations"][0]["Filter"]["Key"]["FilterRules"]
    assert sorted((r["Name"].lower(), r["Value"]) for r in rules) == [("prefix", "in/"),
                                                                      ("suffix", ".txt")]

    put = s3.put_object(Bucket="inbox", Key="in/hello world.txt", Body=b"12345")
    s3.put_object(Bucket="inbox", Key="out/skipped.txt", Body=b"x")  # prefix does not match
    s3.put_object(Bucket="inbox", Key="in/skipped.bin", Body=b"x")   # suffix does not match
    [msg] = wait_events(node, "on-upload", 1)
    [record] = msg["Records"]
    assert record["eventVersion"] == "2.1" and record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == "us-east-1"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["configurationId"] == "created"
    assert record["s3"]["bucket"]["name"] == "inbox"
    assert record["s3"]["bucket"]["arn"] == "arn:aws:s3:::inbox"
    obj = record["s3"]["object"]
    assert obj["key"] == "in/hello+world.txt"  # URL-encoded, as S3 sends keys
    assert obj["size"] == 5 and '"' + obj["eTag"] + '"' == put["ETag"]
    assert len(obj["sequencer"]) >= 16
    assert record["eventTime"].endswith("Z")

    s3.copy_object(Bucket="inbox", Key="in/copy.txt", CopySource="inbox/in/hello world.txt")
    uid = s3.create_multipart_upload(Bucket="inbox", Key="in/parts.txt")["UploadId"]
    part = s3.upload_part(Bucket="inbox", Key="in/parts.txt", UploadId=uid, PartNumber=1,
                          Body=b"one part")
    s3.complete_multipart_upload(Bucket="inbox", Key="in/parts.txt", UploadId=uid,
                                 MultipartUpload={"Parts": [{"PartNumber": 1,
                                                             "ETag": part["ETag"]}]})
    s3.delete_object(Bucket="inbox", Key="in/copy.txt")
    s3.delete_object(Bucket="inbox", Key="in/never-there.txt")  # nothing removed: no event
    s3.delete_objects(Bucket="inbox", Delete={"Objects": [{"Key": "in/parts.txt"},
                                                          {"Key": "out/skipped.txt"}]})
    msgs = wait_events(node, "on-upload", 5)
    seen = sorted((m["Records"][0]["eventName"], m["Records"][0]["s3"]["object"]["key"])
                  for m in msgs)
    assert seen == sorted([("ObjectCreated:Put", "in/hello+world.txt"),
                           ("ObjectCreated:Copy", "in/copy.txt"),
                           ("ObjectCreated:CompleteMultipartUpload", "in/parts.txt"),
                           ("ObjectRemoved:Delete", "in/copy.txt"),
                           ("ObjectRemoved:Delete", "in/parts.txt")])
    removal = [m["Records"][0] for m in msgs if m["Records"][0]["eventName"].startswith("ObjectRemoved")]
    assert all("size" not in r["s3"]["object"] and r["s3"]["configurationId"] == "removed"
               for r in removal)
    # Sequencers of one key increase.
    copy_events = [m["Records"][0]["s3"]["object"]["sequencer"] for m in msgs
                   if m["Records"][0]["s3"]["object"]["key"] == "in/copy.txt"]
    assert int(copy_events[0], 16) < int(copy_events[1], 16)

    # An empty configuration turns notifications off.
    s3.put_bucket_notification_configuration(Bucket="inbox", NotificationConfiguration={})
    assert "LambdaFunctionConfigurations" not in s3.get_bucket_notification_configuration(
        Bucket="inbox")
    s3.put_object(Bucket="inbox", Key="in/after.txt", Body=b"x")
    time.sleep(0.5)
    assert len(events_of(node, "on-upload")) == 5


def test_configurations_s3_refuses(node):
    s3 = node.client("s3")
    s3.create_bucket(Bucket="refusals")
    for config in (
            {"LambdaFunctionConfigurations": [{"LambdaFunctionArn": FN_ARN + "no-such-fn",
                                               "Events": ["s3:ObjectCreated:*"]}]},
            {"QueueConfigurations": [{"QueueArn": "arn:aws:sqs:us-east-1:000000000000:q",
                                      "Events": ["s3:ObjectCreated:*"]}]},
            {"LambdaFunctionConfigurations": [{"LambdaFunctionArn": FN_ARN + "x",
                                               "Events": ["s3:NoSuchEvent"]}]}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_bucket_notification_configuration(Bucket="refusals",
                                                     NotificationConfiguration=config)
        assert code_of(e) == "InvalidArgument"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_notification_configuration(Bucket="no-such-bucket-here")
    assert code_of(e) == "NoSuchBucket"


# A thumbnail-style function: reads the uploaded object and writes a derived one (its bytes
# reversed) to <bucket>-thumbs, as its own narrow role.
THUMBNAILER = {"app.py": """
import os
import urllib.parse
import boto3

s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])

def handler(event, context):
    for r in event["Records"]:
        bucket = r["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(r["s3"]["object"]["key"])
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        s3.put_object(Bucket=bucket + "-thumbs", Key=key + ".thumb", Body=body[::-1])
"""}


def thumbnailer(node, name, bucket):
    """The function, its role (read the bucket, write its -thumbs twin, nothing else), its
    permission for S3, and the bucket's notification."""
    s3 = node.client("s3")
    lam = node.client("lambda")
    s3.create_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=bucket + "-thumbs")
    role = node.ensure_role(name + "-role", policy={"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"},
        {"Effect": "Allow", "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{bucket}-thumbs/*"}]})
    create(lam, name, "python3.12", "app.handler", THUMBNAILER, Role=role, Timeout=30)
    lam.add_permission(FunctionName=name, StatementId="s3", Action="lambda:InvokeFunction",
                       Principal="s3.amazonaws.com", SourceArn=f"arn:aws:s3:::{bucket}")
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "LambdaFunctionConfigurations": [{"LambdaFunctionArn": FN_ARN + name,
                                          "Events": ["s3:ObjectCreated:*"]}]})
    return s3


def wait_thumbs(s3, bucket, count, timeout=30):
    deadline = time.time() + timeout
    while True:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
        if len(keys) >= count or time.time() > deadline:
            return sorted(keys)
        time.sleep(0.1)


def test_a_thumbnail_function_writes_a_derived_object(node):
    s3 = thumbnailer(node, "thumbnailer", "photos")
    s3.put_object(Bucket="photos", Key="cats/tom cat.jpg", Body=b"JPEG bytes")
    assert wait_thumbs(s3, "photos-thumbs", 1) == ["cats/tom cat.jpg.thumb"]
    got = s3.get_object(Bucket="photos-thumbs", Key="cats/tom cat.jpg.thumb")["Body"].read()
    assert got == b"setyb GEPJ"


def test_uploads_acknowledged_before_kill9_all_reach_the_function(fresh_node):
    s3 = thumbnailer(fresh_node, "durable-thumbs", "durable")
    keys = [f"k{i}" for i in range(5)]
    for k in keys:
        s3.put_object(Bucket="durable", Key=k, Body=os.urandom(10))
    fresh_node.kill9()
    fresh_node.start()
    # Each acknowledged upload's event was queued before the answer, so each one's derived
    # object appears (an invocation cut short by the kill is delivered again).
    s3 = fresh_node.client("s3")
    assert wait_thumbs(s3, "durable-thumbs", len(keys)) == [k + ".thumb" for k in keys]

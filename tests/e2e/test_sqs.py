"""SQS (issue 6) against a real node: the Query protocol through boto3 1.26 and Debian's awscli
v2.9, the JSON protocol through the AWS SDK for JavaScript v3, long polling, visibility, batches,
the redrive to a dead-letter queue, FIFO order and deduplication, least privilege, and messages
that survive a kill -9."""
import hashlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import time

import botocore.exceptions
import pytest

from nubo_e2e import AWS_CLI, ROOT, Node

ACCOUNT = "000000000000"
SDK = os.path.join(ROOT, "runtimes", "nodejs", "node_modules", "@aws-sdk", "client-sqs")


def err(fn, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kw)
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Message"]


def md5_of_attributes(attrs):
    """The SQS algorithm (developer guide, "Calculating the MD5 message digest for message
    attributes"), computed here independently of the server."""
    h = hashlib.md5()
    for name in sorted(attrs):
        a = attrs[name]
        for part in (name.encode(), a["DataType"].encode()):
            h.update(struct.pack("!I", len(part)) + part)
        if "BinaryValue" in a:
            h.update(b"\x02" + struct.pack("!I", len(a["BinaryValue"])) + a["BinaryValue"])
        else:
            v = a["StringValue"].encode()
            h.update(b"\x01" + struct.pack("!I", len(v)) + v)
    return h.hexdigest()


@pytest.fixture(scope="module")
def sqs(node):
    return node.client("sqs")


def test_queues_and_their_attributes(sqs, node):
    url = sqs.create_queue(QueueName="e2e-attrs", Attributes={"VisibilityTimeout": "40"},
                           tags={"team": "a"})["QueueUrl"]
    assert url == f"{node.url}/{ACCOUNT}/e2e-attrs"
    # The same attributes again: the same queue; a different value: QueueAlreadyExists.
    assert sqs.create_queue(QueueName="e2e-attrs",
                            Attributes={"VisibilityTimeout": "40"})["QueueUrl"] == url
    code, status, _ = err(sqs.create_queue, QueueName="e2e-attrs",
                          Attributes={"VisibilityTimeout": "41"})
    assert (code, status) == ("QueueAlreadyExists", 400)
    assert sqs.get_queue_url(QueueName="e2e-attrs")["QueueUrl"] == url
    assert url in sqs.list_queues(QueueNamePrefix="e2e-attr")["QueueUrls"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "40"
    assert attrs["QueueArn"] == f"arn:aws:sqs:us-east-1:{ACCOUNT}:e2e-attrs"
    assert attrs["MessageRetentionPeriod"] == "345600" and attrs["DelaySeconds"] == "0"
    assert "FifoQueue" not in attrs
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "2"})
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])[
        "Attributes"] == {"DelaySeconds": "2"}
    code, status, _ = err(sqs.set_queue_attributes, QueueUrl=url,
                          Attributes={"VisibilityTimeout": "43201"})
    assert (code, status) == ("InvalidAttributeValue", 400)
    code, _, msg = err(sqs.set_queue_attributes, QueueUrl=url, Attributes={"Colour": "blue"})
    assert (code, msg) == ("InvalidAttributeName", "Unknown Attribute Colour.")
    sqs.tag_queue(QueueUrl=url, Tags={"env": "test"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "test"}
    sqs.delete_queue(QueueUrl=url)
    code, status, _ = err(sqs.get_queue_url, QueueName="e2e-attrs")
    assert (code, status) == ("AWS.SimpleQueueService.NonExistentQueue", 400)


def test_send_receive_delete_with_attributes_and_visibility(sqs):
    url = sqs.create_queue(QueueName="e2e-msgs", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    attrs = {"s": {"DataType": "String", "StringValue": "v"},
             "n": {"DataType": "Number.int", "StringValue": "42"},
             "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"}}
    body = "line one\r\nline two & <three>"
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attrs)
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == md5_of_attributes(attrs)
    got = sqs.receive_message(QueueUrl=url, AttributeNames=["All"],
                              MessageAttributeNames=["All"])["Messages"]
    assert len(got) == 1
    m = got[0]
    assert m["Body"] == body and m["MessageId"] == sent["MessageId"]
    assert m["MessageAttributes"] == attrs
    assert m["MD5OfMessageAttributes"] == md5_of_attributes(attrs)
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"
    assert int(m["Attributes"]["SentTimestamp"]) > 0
    # Invisible for its 1 s visibility timeout, then back with a second receive count.
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    time.sleep(1.2)
    again = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"],
                                MessageAttributeNames=["s", "n"])["Messages"][0]
    assert again["Attributes"] == {"ApproximateReceiveCount": "2"}
    assert set(again["MessageAttributes"]) == {"s", "n"}
    assert again["MD5OfMessageAttributes"] == md5_of_attributes(
        {k: attrs[k] for k in ("s", "n")})
    # The first receipt handle is stale: deleting with it deletes nothing.
    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"],
                                  VisibilityTimeout=0)
    third = sqs.receive_message(QueueUrl=url)["Messages"][0]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"])
    time.sleep(1.2)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    code, status, _ = err(sqs.delete_message, QueueUrl=url, ReceiptHandle="garbage")
    assert (code, status) == ("ReceiptHandleIsInvalid", 400)
    code, _, _ = err(sqs.send_message, QueueUrl=url, MessageBody="bad \x01 char")
    assert code == "InvalidMessageContents"


def test_a_long_poll_returns_as_soon_as_a_message_arrives(sqs, node):
    url = sqs.create_queue(QueueName="e2e-long-poll")["QueueUrl"]
    t0 = time.time()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    assert 0.9 <= time.time() - t0 < 3  # waited for its whole second, not more
    sender = node.client("sqs")
    timer = threading.Timer(0.5, lambda: sender.send_message(QueueUrl=url, MessageBody="late"))
    timer.start()
    t0 = time.time()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)
    elapsed = time.time() - t0
    timer.join()
    assert got["Messages"][0]["Body"] == "late"
    assert 0.4 <= elapsed < 3, elapsed


def test_batches(sqs):
    url = sqs.create_queue(QueueName="e2e-batch")["QueueUrl"]
    r = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "one"}, {"Id": "b", "MessageBody": "two"},
        {"Id": "c", "MessageBody": "three", "DelaySeconds": 901}])
    assert sorted(e["Id"] for e in r["Successful"]) == ["a", "b"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in r["Failed"]] == [
        ("c", "InvalidParameterValue", True)]
    msgs = []
    for _ in range(10):
        msgs += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if len(msgs) == 2:
            break
    assert sorted(m["Body"] for m in msgs) == ["one", "two"]
    d = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": f"m{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(msgs)] + [
        {"Id": "bad", "ReceiptHandle": "nope"}])
    assert sorted(e["Id"] for e in d["Successful"]) == ["m0", "m1"]
    assert [(f["Id"], f["Code"]) for f in d["Failed"]] == [("bad", "ReceiptHandleIsInvalid")]
    code, _, _ = err(sqs.send_message_batch, QueueUrl=url,
                     Entries=[{"Id": "x", "MessageBody": "1"}, {"Id": "x", "MessageBody": "2"}])
    assert code == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    code, _, _ = err(sqs.send_message_batch, QueueUrl=url,
                     Entries=[{"Id": str(i), "MessageBody": "1"} for i in range(11)])
    assert code == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"


def test_redrive_to_a_dead_letter_queue(sqs):
    dlq = sqs.create_queue(QueueName="e2e-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    src = sqs.create_queue(QueueName="e2e-src", Attributes={
        "VisibilityTimeout": "0",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})[
        "QueueUrl"]
    sent = sqs.send_message(QueueUrl=src, MessageBody="poison")["MessageId"]
    for _ in range(2):  # received and never deleted, twice
        assert sqs.receive_message(QueueUrl=src)["Messages"][0]["MessageId"] == sent
    assert "Messages" not in sqs.receive_message(QueueUrl=src)  # moved on the third
    moved = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=2)["Messages"][0]
    assert (moved["MessageId"], moved["Body"]) == (sent, "poison")
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [src]


def test_fifo_order_groups_and_deduplication(sqs):
    url = sqs.create_queue(QueueName="e2e-order.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]
    ids = [sqs.send_message(QueueUrl=url, MessageBody=b, MessageGroupId=g)
           for b, g in (("a1", "A"), ("a2", "A"), ("b1", "B"))]
    dup = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="A")
    assert dup["MessageId"] == ids[0]["MessageId"]  # deduplicated: not enqueued again
    assert int(ids[0]["SequenceNumber"]) < int(ids[1]["SequenceNumber"])
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1,
                                AttributeNames=["MessageGroupId"])["Messages"]
    assert [m["Body"] for m in first] == ["a1"]
    # Group A is held while a1 is in flight; B is not.
    second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in second] == ["b1"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"])
    third = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in third] == ["a2"]
    code, _, _ = err(sqs.send_message, QueueUrl=url, MessageBody="x")
    assert code == "MissingParameter"


def test_least_privilege(sqs, node):
    allowed = sqs.create_queue(QueueName="e2e-allowed")["QueueUrl"]
    other = sqs.create_queue(QueueName="e2e-other")["QueueUrl"]
    iam = node.client("iam")
    iam.create_user(UserName="sqs-sender")
    iam.put_user_policy(UserName="sqs-sender", PolicyName="send", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "sqs:SendMessage",
            "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:e2e-allowed"}]}))
    key = iam.create_access_key(UserName="sqs-sender")["AccessKey"]
    user = node.client("sqs", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    user.send_message(QueueUrl=allowed, MessageBody="ok")
    for fn, kw in ((user.send_message, {"QueueUrl": other, "MessageBody": "no"}),
                   (user.receive_message, {"QueueUrl": allowed}),
                   (user.list_queues, {})):
        code, status, msg = err(fn, **kw)
        assert (code, status) == ("AccessDenied", 403), msg
    # The queue's own policy can grant what the user's policies do not.
    sqs.set_queue_attributes(QueueUrl=other, Attributes={"Policy": json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/sqs-sender"},
            "Action": "sqs:SendMessage",
            "Resource": f"arn:aws:sqs:us-east-1:{ACCOUNT}:e2e-other"}]})})
    user.send_message(QueueUrl=other, MessageBody="granted by the queue policy")


def test_awscli_v2(node):
    if not os.path.exists(AWS_CLI):
        pytest.skip("Debian's awscli is not installed")
    url = node.aws("sqs", "create-queue", "--queue-name", "e2e-cli")["QueueUrl"]
    node.aws("sqs", "send-message", "--queue-url", url, "--message-body", "from the cli")
    got = node.aws("sqs", "receive-message", "--queue-url", url, "--wait-time-seconds", "2")
    assert got["Messages"][0]["Body"] == "from the cli"


SDK_SCRIPT = """
const sqs = require(process.argv[2]);
const c = new sqs.SQSClient({ endpoint: process.argv[3], region: 'us-east-1',
                              credentials: { accessKeyId: 'test', secretAccessKey: 'test' } });
(async () => {
  const { QueueUrl } = await c.send(new sqs.CreateQueueCommand({ QueueName: 'e2e-sdk-v3' }));
  const sent = await c.send(new sqs.SendMessageCommand({ QueueUrl, MessageBody: 'hello\\r\\nv3',
      MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } } }));
  const got = await c.send(new sqs.ReceiveMessageCommand({ QueueUrl, MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['All'], WaitTimeSeconds: 1 }));
  const m = got.Messages[0];
  await c.send(new sqs.DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
  let missing = null;
  try { await c.send(new sqs.GetQueueUrlCommand({ QueueName: 'no-such-queue' })); }
  catch (e) { missing = e.name; }
  console.log(JSON.stringify({ same: sent.MessageId === m.MessageId, body: m.Body,
      attr: m.MessageAttributes.k.StringValue, count: m.Attributes.ApproximateReceiveCount,
      missing }));
})().catch(e => { console.error('FAIL', e.name, e.message); process.exit(1); });
"""


@pytest.mark.skipif(not os.path.isdir(SDK) or shutil.which("node") is None,
                    reason="the nodejs runtime's SDK is not installed")
def test_json_protocol_with_the_sdk_v3(node, tmp_path):
    script = tmp_path / "sqs.cjs"
    script.write_text(SDK_SCRIPT)
    p = subprocess.run(["node", str(script), SDK, node.url], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out == {"same": True, "body": "hello\r\nv3", "attr": "v", "count": "1",
                   "missing": "QueueDoesNotExist"}


def test_acknowledged_messages_survive_kill9():
    d = tempfile.mkdtemp(prefix="nubo-e2e-")
    n = Node(d).start()
    try:
        sqs = n.client("sqs")
        url = sqs.create_queue(QueueName="e2e-durable")["QueueUrl"]
        sent = {sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")["MessageId"]
                for i in range(20)}
        n.kill9()
        n.start()
        sqs = n.client("sqs")
        url = sqs.get_queue_url(QueueName="e2e-durable")["QueueUrl"]
        got = set()
        for _ in range(10):
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                got.add(m["MessageId"])
            if len(got) == 20:
                break
        assert got == sent
    finally:
        n.stop()
        shutil.rmtree(d, ignore_errors=True)


BOTO3_JSON_SCRIPT = """
import json, sys, boto3
s = boto3.client("sqs", endpoint_url=sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test")
url = s.create_queue(QueueName="e2e-json.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
for body in ("x", "y"):
    s.send_message(QueueUrl=url, MessageBody=body, MessageGroupId="g", MessageDeduplicationId=body)
got = s.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                        MessageSystemAttributeNames=["SequenceNumber", "MessageGroupId"])
out = {"version": boto3.__version__, "bodies": [m["Body"] for m in got["Messages"]],
       "groups": [m["Attributes"]["MessageGroupId"] for m in got["Messages"]]}
try:
    s.get_queue_attributes(QueueUrl=url + "-missing", AttributeNames=["All"])
except s.exceptions.QueueDoesNotExist as e:
    out["missing"] = e.response["Error"]["Code"]
print(json.dumps(out))
"""


def json_protocol_python():
    """A python3 on PATH whose boto3 speaks SQS's JSON protocol (1.31.81 and later), if any."""
    for exe in ("/root/.pyenv/versions/3.11.7/bin/python3", shutil.which("python3") or ""):
        if not exe or not os.path.exists(exe):
            continue
        p = subprocess.run([exe, "-c", "import boto3; print(boto3.__version__)"],
                           capture_output=True, text=True)
        if p.returncode == 0:
            major, minor, patch = (int(x) for x in p.stdout.strip().split(".")[:3])
            if (major, minor, patch) >= (1, 31, 81):
                return exe
    return None


@pytest.mark.skipif(json_protocol_python() is None, reason="no boto3 >= 1.31.81 installed")
def test_json_protocol_with_boto3_1_43(node, tmp_path):
    script = tmp_path / "sqs_json.py"
    script.write_text(BOTO3_JSON_SCRIPT)
    p = subprocess.run([json_protocol_python(), str(script), node.url], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    assert out["bodies"] == ["x", "y"] and out["groups"] == ["g", "g"], out
    assert out["missing"] == "AWS.SimpleQueueService.NonExistentQueue", out

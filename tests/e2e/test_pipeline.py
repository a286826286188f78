"""The image pipeline of issue 6, whole: an upload starts a function (S3 → Lambda), which
writes a derived object; that bucket's notification sends a message to a queue (S3 → SQS, allowed
by the queue's policy); the queue's event source mapping starts a second function (SQS → Lambda).
"""
import json

import botocore.exceptions
import pytest

from nubo_e2e import create, function_log, wait_logged
from test_s3_notifications import thumbnailer, wait_thumbs

ACCOUNT = "000000000000"

INDEXER = {"app.py": (
    "import json\n"
    "def handler(event, context):\n"
    "    for r in event['Records']:\n"
    "        body = json.loads(r['body'])\n"
    "        if body.get('Event') == 's3:TestEvent':\n"
    "            print('TEST EVENT ' + body['Bucket'])\n"
    "            continue\n"
    "        for s in body['Records']:\n"
    "            print('INDEXED ' + s['s3']['bucket']['name'] + '/' + s['s3']['object']['key'])\n")}


def queue_policy(queue_arn, bucket):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn,
        "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{bucket}"},
                      "StringEquals": {"aws:SourceAccount": ACCOUNT}}}]})


def test_upload_function_derived_object_queue_second_function(node):
    s3 = thumbnailer(node, "pipe-thumbnailer", "pipe")
    sqs = node.client("sqs")
    lam = node.client("lambda")
    url = sqs.create_queue(QueueName="pipe-thumbs-ready")["QueueUrl"]
    qarn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    config = {"QueueConfigurations": [{"QueueArn": qarn, "Events": ["s3:ObjectCreated:*"],
                                       "Filter": {"Key": {"FilterRules": [
                                           {"Name": "suffix", "Value": ".thumb"}]}}}]}
    # Without a queue policy that lets S3 send, S3 refuses the destination, as on AWS.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_notification_configuration(Bucket="pipe-thumbs",
                                                 NotificationConfiguration=config)
    assert e.value.response["Error"]["Code"] == "InvalidArgument"
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": queue_policy(qarn,
                                                                              "pipe-thumbs")})
    s3.put_bucket_notification_configuration(Bucket="pipe-thumbs",
                                             NotificationConfiguration=config)
    got = s3.get_bucket_notification_configuration(Bucket="pipe-thumbs")
    assert got["QueueConfigurations"][0]["QueueArn"] == qarn
    create(lam, "pipe-indexer", "python3.12", "app.handler", INDEXER)
    lam.create_event_source_mapping(EventSourceArn=qarn, FunctionName="pipe-indexer")

    s3.put_object(Bucket="pipe", Key="dogs/rex.jpg", Body=b"JPEG")
    assert wait_thumbs(s3, "pipe-thumbs", 1) == ["dogs/rex.jpg.thumb"]
    assert wait_logged(node, "pipe-indexer",
                       ["TEST EVENT pipe-thumbs", "INDEXED pipe-thumbs/dogs/rex.jpg.thumb"],
                       timeout=20) == [], function_log(node, "pipe-indexer")
    # Only objects that match the filter are sent.
    s3.put_object(Bucket="pipe-thumbs", Key="notes.txt", Body=b"x")
    s3.put_object(Bucket="pipe", Key="dogs/fido.jpg", Body=b"JPEG2")
    assert wait_logged(node, "pipe-indexer", ["INDEXED pipe-thumbs/dogs/fido.jpg.thumb"],
                       timeout=20) == []
    assert "notes.txt" not in function_log(node, "pipe-indexer")

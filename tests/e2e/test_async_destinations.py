"""Asynchronous invocation configuration and destinations (issue 6): MaximumRetryAttempts,
OnSuccess / OnFailure destinations (an SQS queue, a function) with Lambda's invocation record,
and the function's dead-letter queue."""
import json

import botocore.exceptions
import pytest

from nubo_e2e import create, function_log, wait_logged

HANDLER = {"app.py": (
    "def handler(event, context):\n"
    "    if event.get('fail'):\n"
    "        raise ValueError('asked to fail')\n"
    "    return {'ok': event.get('n')}\n")}

RECORDER = {"app.py": (
    "import json\n"
    "def handler(event, context):\n"
    "    print('RECORD ' + json.dumps(event))\n")}


@pytest.fixture(scope="module")
def lam(node):
    return node.client("lambda")


@pytest.fixture(scope="module")
def sqs(node):
    return node.client("sqs")


def queue(sqs, name):
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"]
    return url, arn


def one_message(sqs, url):
    for _ in range(20):
        got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1,
                                  MessageAttributeNames=["All"]).get("Messages", [])
        if got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
            return got[0]
    raise AssertionError("no message arrived")


def test_success_and_failure_records_go_to_their_queues(lam, sqs):
    create(lam, "dest-fn", "python3.12", "app.handler", HANDLER)
    ok_url, ok_arn = queue(sqs, "dest-success")
    bad_url, bad_arn = queue(sqs, "dest-failure")
    cfg = lam.put_function_event_invoke_config(
        FunctionName="dest-fn", MaximumRetryAttempts=0,
        DestinationConfig={"OnSuccess": {"Destination": ok_arn},
                           "OnFailure": {"Destination": bad_arn}})
    assert cfg["MaximumRetryAttempts"] == 0
    assert cfg["FunctionArn"].endswith(":function:dest-fn:$LATEST")
    assert cfg["DestinationConfig"]["OnSuccess"]["Destination"] == ok_arn
    assert lam.get_function_event_invoke_config(FunctionName="dest-fn")[
        "DestinationConfig"]["OnFailure"]["Destination"] == bad_arn
    assert len(lam.list_function_event_invoke_configs(FunctionName="dest-fn")[
        "FunctionEventInvokeConfigs"]) == 1

    r = lam.invoke(FunctionName="dest-fn", InvocationType="Event", Payload=json.dumps({"n": 7}))
    record = json.loads(one_message(sqs, ok_url)["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["requestId"] == r["ResponseMetadata"]["RequestId"]
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"n": 7}
    assert record["responsePayload"] == {"ok": 7}
    assert record["responseContext"]["statusCode"] == 200

    lam.invoke(FunctionName="dest-fn", InvocationType="Event", Payload=json.dumps({"fail": 1}))
    record = json.loads(one_message(sqs, bad_url)["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1  # no retries
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorMessage"] == "asked to fail"

    # Update changes only what it names; Delete removes the configuration.
    upd = lam.update_function_event_invoke_config(FunctionName="dest-fn",
                                                  MaximumEventAgeInSeconds=600)
    assert (upd["MaximumRetryAttempts"], upd["MaximumEventAgeInSeconds"]) == (0, 600)
    lam.delete_function_event_invoke_config(FunctionName="dest-fn")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName="dest-fn")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_function_as_the_success_destination(node, lam):
    create(lam, "dest-source", "python3.12", "app.handler", HANDLER)
    create(lam, "dest-recorder", "python3.12", "app.handler", RECORDER)
    target = lam.get_function(FunctionName="dest-recorder")["Configuration"]["FunctionArn"]
    lam.put_function_event_invoke_config(FunctionName="dest-source",
                                         DestinationConfig={"OnSuccess": {"Destination": target}})
    lam.invoke(FunctionName="dest-source", InvocationType="Event", Payload=json.dumps({"n": 3}))
    assert wait_logged(node, "dest-recorder", ['"condition": "Success"',
                                               '"responsePayload": {"ok": 3}']) == [], \
        function_log(node, "dest-recorder")


def test_the_dead_letter_queue_gets_the_failed_event(lam, sqs):
    dlq_url, dlq_arn = queue(sqs, "dest-dlq")
    create(lam, "dest-dlq-fn", "python3.12", "app.handler", HANDLER,
           DeadLetterConfig={"TargetArn": dlq_arn})
    lam.put_function_event_invoke_config(FunctionName="dest-dlq-fn", MaximumRetryAttempts=0)
    r = lam.invoke(FunctionName="dest-dlq-fn", InvocationType="Event",
                   Payload=json.dumps({"fail": True, "order": 42}))
    m = one_message(sqs, dlq_url)
    assert json.loads(m["Body"]) == {"fail": True, "order": 42}
    attrs = {k: v["StringValue"] for k, v in m["MessageAttributes"].items()}
    assert attrs["RequestID"] == r["ResponseMetadata"]["RequestId"]
    assert attrs["ErrorMessage"] == "asked to fail"


def test_bad_destinations_are_refused(lam):
    create(lam, "dest-bad", "python3.12", "app.handler", HANDLER)
    for arn in ("arn:aws:sqs:us-east-1:000000000000:no-such-queue",
                "arn:aws:lambda:us-east-1:000000000000:function:no-such-function"):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lam.put_function_event_invoke_config(
                FunctionName="dest-bad", DestinationConfig={"OnFailure": {"Destination": arn}})
        assert e.value.response["Error"]["Code"] == "InvalidParameterValueException", arn
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.put_function_event_invoke_config(FunctionName="no-such-fn", MaximumRetryAttempts=1)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"

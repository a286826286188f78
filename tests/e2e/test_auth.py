"""SigV4 at the front door: wrong keys, wrong signatures, missing auth, clock skew."""
import datetime
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest


def test_unknown_access_key(node):
    lam = node.client("lambda", key="AKIDNOTKNOWN", secret="whatever")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.list_functions()
    assert e.value.response["Error"]["Code"] == "UnrecognizedClientException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_wrong_secret(node):
    lam = node.client("lambda", key="test", secret="not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.list_functions()
    assert e.value.response["Error"]["Code"] == "InvalidSignatureException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_missing_authentication(node):
    req = urllib.request.Request(node.url + "/2015-03-31/functions/")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 403
    assert e.value.headers["x-amzn-ErrorType"].startswith("MissingAuthenticationToken")


def _signed(node, when):
    creds = botocore.credentials.Credentials("test", "test")
    req = botocore.awsrequest.AWSRequest(method="GET", url=node.url + "/2015-03-31/functions/")
    signer = botocore.auth.SigV4Auth(creds, "lambda", "us-east-1")
    real = datetime.datetime

    class Frozen(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return when

    botocore.auth.datetime.datetime = Frozen
    try:
        signer.add_auth(req)
    finally:
        botocore.auth.datetime.datetime = real
    return urllib.request.Request(req.url, headers=dict(req.headers.items()), method="GET")


def test_clock_skew(node):
    now = datetime.datetime.utcnow()
    ok = urllib.request.urlopen(_signed(node, now - datetime.timedelta(minutes=14)))
    assert ok.status == 200
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(_signed(node, now - datetime.timedelta(minutes=16)))
    assert e.value.code == 403
    assert e.value.headers["x-amzn-ErrorType"].startswith("InvalidSignatureException")
    assert b"Signature expired" in e.value.read()

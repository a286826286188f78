"""The front door: malformed requests, unknown services, keep-alive, health."""
import json
import socket
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest


def raw(node, data, read=True):
    s = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    s.sendall(data)
    out = b""
    if read:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    s.close()
    return out


def test_garbage_does_not_hurt_the_node(node, lam):
    raw(node, b"\x00\x01\x02 this is not http\r\n\r\n")
    raw(node, b"GET / HTTP/1.1\r\nContent-Length: nope\r\n\r\n")
    raw(node, b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
        read=False)
    # The node still answers real clients.
    assert "Functions" in lam.list_functions()


def test_health_and_keep_alive(node):
    s = socket.create_connection(("127.0.0.1", node.port), timeout=10)
    for _ in range(3):
        s.sendall(b"GET /_nubo/health HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or not data.endswith(b"}"):
            data += s.recv(4096)
        assert data.startswith(b"HTTP/1.1 200")
        assert json.loads(data.split(b"\r\n\r\n", 1)[1]) == {"status": "ok"}
    s.close()


def test_unimplemented_service_answers_in_its_protocol(node):
    ddb = node.client("dynamodb")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        ddb.list_tables()
    assert e.value.response["Error"]["Code"] == "UnknownOperationException"


def test_unknown_lambda_route(node):
    # A well-signed Lambda request to a path Lambda does not serve: 404 in Lambda's shape.
    creds = botocore.credentials.Credentials("test", "test")
    req = botocore.awsrequest.AWSRequest(method="GET", url=node.url + "/2015-03-31/nothing-here")
    botocore.auth.SigV4Auth(creds, "lambda", "us-east-1").add_auth(req)
    signed = urllib.request.Request(req.url, headers=dict(req.headers.items()), method="GET")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(signed)
    assert e.value.code == 404
    assert e.value.headers["x-amzn-ErrorType"].startswith("UnknownOperationException")


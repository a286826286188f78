"""Function policies (AddPermission / GetPolicy / RemovePermission) and function URL configs
(Create/Get/Update/Delete/ListFunctionUrlConfigs) as boto3 sees them, against a real node."""
import json
import re

import botocore.exceptions
import pytest

from nubo_e2e import create, invoke_json

ACCOUNT = "000000000000"
FN_ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
PY = {"app.py": "def handler(event, context):\n    return {'ok': True}\n"}


def err(call, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kw)
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"].get("Message", "")


def test_add_get_remove_permission(node):
    lam = node.client("lambda")  # a new client: other tests restart the node (new port)
    create(lam, "pol-basic", "python3.12", "app.handler", PY)
    r = lam.add_permission(FunctionName="pol-basic", StatementId="s3",
                           Action="lambda:InvokeFunction", Principal="s3.amazonaws.com",
                           SourceArn="arn:aws:s3:::bucket", SourceAccount=ACCOUNT)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(r["Statement"]) == {
        "Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction", "Resource": FN_ARN + "pol-basic",
        "Condition": {"StringEquals": {"AWS:SourceAccount": ACCOUNT},
                      "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}}}
    lam.add_permission(FunctionName="pol-basic", StatementId="xacct",
                       Action="lambda:GetFunction", Principal="123456789012")
    got = lam.get_policy(FunctionName="pol-basic")
    doc = json.loads(got["Policy"])
    assert doc["Version"] == "2012-10-17" and doc["Id"] == "default"
    assert [s["Sid"] for s in doc["Statement"]] == ["s3", "xacct"]
    assert doc["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::123456789012:root"}
    assert got["RevisionId"] == lam.get_function(FunctionName="pol-basic")["Configuration"][
        "RevisionId"]

    code, status, msg = err(lam.add_permission, FunctionName="pol-basic", StatementId="s3",
                            Action="lambda:InvokeFunction", Principal="sns.amazonaws.com")
    assert (code, status) == ("ResourceConflictException", 409)
    assert msg == ("The statement id (s3) provided already exists. Please provide a new "
                   "statement id, or remove the existing statement.")
    code, status, _ = err(lam.add_permission, FunctionName="pol-basic", StatementId="stale",
                          Action="lambda:InvokeFunction", Principal="sns.amazonaws.com",
                          RevisionId="00000000-0000-0000-0000-000000000000")
    assert (code, status) == ("PreconditionFailedException", 412)
    code, status, _ = err(lam.add_permission, FunctionName="pol-basic", StatementId="bad",
                          Action="s3:GetObject", Principal="sns.amazonaws.com")
    assert (code, status) == ("ValidationException", 400)
    code, status, msg = err(lam.add_permission, FunctionName="pol-basic", StatementId="latest",
                            Action="lambda:InvokeFunction", Principal="sns.amazonaws.com",
                            Qualifier="$LATEST")
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert msg == "We currently do not support adding policies for $LATEST."

    lam.remove_permission(FunctionName="pol-basic", StatementId="s3")
    code, status, msg = err(lam.remove_permission, FunctionName="pol-basic", StatementId="s3")
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert msg == "Statement s3 is not found in resource policy."
    lam.remove_permission(FunctionName="pol-basic", StatementId="xacct")
    code, status, msg = err(lam.get_policy, FunctionName="pol-basic")
    assert (code, status, msg) == ("ResourceNotFoundException", 404,
                                   "The resource you requested does not exist.")
    code, status, _ = err(lam.get_policy, FunctionName="pol-nope")
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_permissions_survive_restart_and_go_with_the_function(node):
    lam = node.client("lambda")
    create(lam, "pol-durable", "python3.12", "app.handler", PY)
    lam.add_permission(FunctionName="pol-durable", StatementId="events",
                       Action="lambda:InvokeFunction", Principal="events.amazonaws.com")
    before = lam.get_policy(FunctionName="pol-durable")["Policy"]
    node.restart()
    lam = node.client("lambda")
    assert lam.get_policy(FunctionName="pol-durable")["Policy"] == before
    lam.delete_function(FunctionName="pol-durable")
    create(lam, "pol-durable", "python3.12", "app.handler", PY)
    code, _, _ = err(lam.get_policy, FunctionName="pol-durable")
    assert code == "ResourceNotFoundException"


def test_function_policy_lets_a_user_invoke(node):
    lam = node.client("lambda")
    create(lam, "pol-user", "python3.12", "app.handler", PY)
    iam = node.client("iam")
    iam.create_user(UserName="pol-invoker")
    iam.put_user_policy(UserName="pol-invoker", PolicyName="read", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "lambda:GetFunction", "Resource": "*"}]}))
    key = iam.create_access_key(UserName="pol-invoker")["AccessKey"]
    user = node.client("lambda", key=key["AccessKeyId"], secret=key["SecretAccessKey"])
    code, status, _ = err(user.invoke, FunctionName="pol-user", Payload=b"{}")
    assert (code, status) == ("AccessDeniedException", 403)
    lam.add_permission(FunctionName="pol-user", StatementId="invoker",
                       Action="lambda:InvokeFunction",
                       Principal=f"arn:aws:iam::{ACCOUNT}:user/pol-invoker")
    _, out = invoke_json(user, "pol-user")
    assert out == {"ok": True}
    lam.remove_permission(FunctionName="pol-user", StatementId="invoker")
    code, status, _ = err(user.invoke, FunctionName="pol-user", Payload=b"{}")
    assert (code, status) == ("AccessDeniedException", 403)


def test_function_url_config_crud(node):
    lam = node.client("lambda")
    create(lam, "url-basic", "python3.12", "app.handler", PY)
    r = lam.create_function_url_config(
        FunctionName="url-basic", AuthType="NONE",
        Cors={"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET"], "MaxAge": 30})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert re.fullmatch(r"http://[a-z0-9]{32}\.lambda-url\.us-east-1\.localhost:%d/" % node.port,
                        r["FunctionUrl"]), r["FunctionUrl"]
    assert r["FunctionArn"] == FN_ARN + "url-basic"
    assert r["AuthType"] == "NONE"
    assert r["Cors"] == {"AllowOrigins": ["https://example.com"], "AllowMethods": ["GET"],
                         "MaxAge": 30}
    got = lam.get_function_url_config(FunctionName="url-basic")
    assert got["FunctionUrl"] == r["FunctionUrl"] and "LastModifiedTime" in got
    # (Debian's botocore predates InvokeMode: the unit tests cover it.)
    up = lam.update_function_url_config(FunctionName="url-basic", AuthType="AWS_IAM")
    assert up["AuthType"] == "AWS_IAM"
    assert up["FunctionUrl"] == r["FunctionUrl"]

    code, status, msg = err(lam.create_function_url_config, FunctionName="url-basic",
                            AuthType="NONE")
    assert (code, status) == ("ResourceConflictException", 409)
    assert msg == ("Failed to create function url config for [functionArn = "
                   f"{FN_ARN}url-basic]. Error message:  FunctionUrlConfig exists for this "
                   "Lambda function")
    code, status, _ = err(lam.create_function_url_config, FunctionName="url-nope",
                          AuthType="NONE")
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, status, _ = err(lam.create_function_url_config, FunctionName="url-basic",
                          AuthType="NONE", Qualifier="nope")
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, status, _ = err(lam.get_function_url_config, FunctionName="url-basic", Qualifier="1")
    assert (code, status) == ("ValidationException", 400)
    code, status, _ = err(lam.create_function_url_config, FunctionName="url-basic",
                          AuthType="NONE", Cors={"MaxAge": 86401})
    assert (code, status) == ("ValidationException", 400)

    # An alias has a URL of its own; both are listed, in pages.
    v = lam.publish_version(FunctionName="url-basic")["Version"]
    lam.create_alias(FunctionName="url-basic", Name="live", FunctionVersion=v)
    live = lam.create_function_url_config(FunctionName="url-basic", Qualifier="live",
                                          AuthType="AWS_IAM")
    assert live["FunctionArn"] == FN_ARN + "url-basic:live"
    assert live["FunctionUrl"] != r["FunctionUrl"]
    listed = lam.list_function_url_configs(FunctionName="url-basic")["FunctionUrlConfigs"]
    assert sorted(c["FunctionArn"] for c in listed) == [FN_ARN + "url-basic",
                                                         FN_ARN + "url-basic:live"]
    page = lam.list_function_url_configs(FunctionName="url-basic", MaxItems=1)
    assert len(page["FunctionUrlConfigs"]) == 1 and page["NextMarker"]
    rest = lam.list_function_url_configs(FunctionName="url-basic", MaxItems=1,
                                         Marker=page["NextMarker"])
    assert len(rest["FunctionUrlConfigs"]) == 1 and "NextMarker" not in rest

    # Durable, and deleted with the function.
    node.restart()
    lam = node.client("lambda")
    assert lam.get_function_url_config(FunctionName="url-basic")["AuthType"] == "AWS_IAM"
    lam.delete_function_url_config(FunctionName="url-basic")
    code, status, msg = err(lam.get_function_url_config, FunctionName="url-basic")
    assert (code, status, msg) == ("ResourceNotFoundException", 404,
                                   "The resource you requested does not exist.")
    lam.delete_function(FunctionName="url-basic")
    create(lam, "url-basic", "python3.12", "app.handler", PY)
    assert lam.list_function_url_configs(FunctionName="url-basic")["FunctionUrlConfigs"] == []

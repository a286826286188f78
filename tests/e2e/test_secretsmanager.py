"""Secrets Manager with boto3 and awscli v2 against a real node (issue 4): secrets, versions and
staging labels, deletion, passwords, policies, encryption at rest, and rotation by a real Lambda
function that calls back through the API."""
import base64
import json
import os
import re
import time
import uuid

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest
import urllib.request

from nubo_e2e import create

ACCOUNT = "000000000000"
PREFIX = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:"

# A rotation function written as AWS's template (SecretsManagerRotationTemplate) writes one: every
# step checks the version's labels; createSecret puts a random AWSPENDING value, finishSecret
# moves AWSCURRENT to it. FAIL_AT makes a step fail.
ROTATOR = r'''
import json, os
import boto3

# AWS_ENDPOINT_URL points at nubo (passed explicitly: older botocore does not read it).
sm = boto3.client("secretsmanager", endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))


def handler(event, context):
    arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if os.environ.get("FAIL_AT") == step:
        raise RuntimeError("step %s failed on purpose" % step)
    meta = sm.describe_secret(SecretId=arn)
    if not meta["RotationEnabled"]:
        raise ValueError("Secret %s is not enabled for rotation" % arn)
    versions = meta["VersionIdsToStages"]
    if token not in versions:
        raise ValueError("Secret version %s has no stage for rotation of secret %s." % (token, arn))
    if "AWSCURRENT" in versions[token]:
        return
    if "AWSPENDING" not in versions[token]:
        raise ValueError("Secret version %s not set as AWSPENDING" % token)
    if step == "createSecret":
        current = json.loads(sm.get_secret_value(SecretId=arn, VersionStage="AWSCURRENT")["SecretString"])
        try:
            sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
        except sm.exceptions.ResourceNotFoundException:
            current["password"] = sm.get_random_password(ExcludeCharacters="/@\"'\\")["RandomPassword"]
            sm.put_secret_value(SecretId=arn, ClientRequestToken=token,
                                SecretString=json.dumps(current), VersionStages=["AWSPENDING"])
    elif step == "setSecret":
        pass  # the database would get the new password here
    elif step == "testSecret":
        sm.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
    elif step == "finishSecret":
        stages = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
        current = next(v for v, s in stages.items() if "AWSCURRENT" in s)
        if current != token:
            sm.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT",
                                           MoveToVersionId=token, RemoveFromVersionId=current)
    else:
        raise ValueError("Invalid step parameter %s" % step)
'''

ROTATOR_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]}


@pytest.fixture(scope="module")
def sm(node):
    return node.client("secretsmanager")


def error_of(call, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kw)
    r = e.value.response
    return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]


def raw_call(node, action, body):
    """A signed JSON 1.1 request, for what the installed botocore's model does not know yet
    (BatchGetSecretValue, ListSecrets' IncludePlannedDeletion): (status, parsed body)."""
    req = botocore.awsrequest.AWSRequest(
        method="POST", url=node.url + "/", data=json.dumps(body).encode(),
        headers={"X-Amz-Target": "secretsmanager." + action,
                 "Content-Type": "application/x-amz-json-1.1"})
    botocore.auth.SigV4Auth(botocore.credentials.Credentials("test", "test"), "secretsmanager",
                            "us-east-1").add_auth(req)
    prepared = req.prepare()
    r = urllib.request.Request(prepared.url, data=prepared.body, method="POST",
                               headers=dict(prepared.headers))
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def files_containing(root, needle):
    """Every file under root (the database, its -wal and -shm, logs, code) whose bytes contain
    needle."""
    hits = []
    for base, _, names in os.walk(root):
        for n in names:
            path = os.path.join(base, n)
            try:
                with open(path, "rb") as f:
                    if needle in f.read():
                        hits.append(path)
            except OSError:
                pass
    return hits


def test_create_read_describe_and_list(sm):
    made = sm.create_secret(Name="app/db-credentials", Description="the app's database",
                            SecretString=json.dumps({"user": "app", "password": "p1"}),
                            Tags=[{"Key": "env", "Value": "prod"}])
    arn = made["ARN"]
    assert re.fullmatch(re.escape(PREFIX) + r"app/db-credentials-[A-Za-z0-9]{6}", arn), arn
    assert made["Name"] == "app/db-credentials" and len(made["VersionId"]) == 36
    for secret_id in ("app/db-credentials", arn, PREFIX + "app/db-credentials"):
        got = sm.get_secret_value(SecretId=secret_id)
        assert json.loads(got["SecretString"]) == {"user": "app", "password": "p1"}
        assert got["ARN"] == arn and got["VersionStages"] == ["AWSCURRENT"]
        assert got["VersionId"] == made["VersionId"] and got["CreatedDate"].year >= 2024
    d = sm.describe_secret(SecretId=arn)
    assert d["Description"] == "the app's database"
    assert d["Tags"] == [{"Key": "env", "Value": "prod"}]
    assert d["VersionIdsToStages"] == {made["VersionId"]: ["AWSCURRENT"]}
    assert "RotationEnabled" not in d and "DeletedDate" not in d
    assert d["LastAccessedDate"].hour == 0 and d["LastAccessedDate"].minute == 0  # a date

    sm.create_secret(Name="app/api-key", SecretString="k", Tags=[{"Key": "env", "Value": "dev"}])
    sm.create_secret(Name="other/thing", SecretString="t")
    names = lambda **kw: [s["Name"] for s in sm.list_secrets(**kw)["SecretList"]]
    assert {"app/db-credentials", "app/api-key", "other/thing"} <= set(names())
    assert names(Filters=[{"Key": "name", "Values": ["app/"]}]) == ["app/db-credentials",
                                                                    "app/api-key"]
    assert "app/api-key" not in names(Filters=[{"Key": "name", "Values": ["!app/"]}])
    assert names(Filters=[{"Key": "tag-value", "Values": ["prod"]}]) == ["app/db-credentials"]
    assert names(Filters=[{"Key": "description", "Values": ["database"]}]) == [
        "app/db-credentials"]
    page = sm.list_secrets(MaxResults=1, Filters=[{"Key": "name", "Values": ["app/"]}])
    assert len(page["SecretList"]) == 1 and page["NextToken"]
    rest = sm.list_secrets(MaxResults=1, NextToken=page["NextToken"],
                           Filters=[{"Key": "name", "Values": ["app/"]}])
    assert rest["SecretList"][0]["Name"] == "app/api-key" and "NextToken" not in rest
    # The paginator follows NextToken.
    pages = sm.get_paginator("list_secrets").paginate(PaginationConfig={"PageSize": 1})
    assert len([s for p in pages for s in p["SecretList"]]) >= 3


def test_versions_labels_and_tokens(sm):
    v1 = sm.create_secret(Name="versions", SecretString="one")["VersionId"]
    v2 = sm.put_secret_value(SecretId="versions", SecretString="two")
    assert v2["VersionStages"] == ["AWSCURRENT"]
    v2 = v2["VersionId"]
    assert sm.get_secret_value(SecretId="versions", VersionStage="AWSPREVIOUS")["SecretString"] == "one"
    pending = sm.put_secret_value(SecretId="versions", SecretString="three",
                                  VersionStages=["AWSPENDING"])["VersionId"]
    assert sm.get_secret_value(SecretId="versions")["SecretString"] == "two"

    # Moving AWSCURRENT needs RemoveFromVersionId; the version it leaves becomes AWSPREVIOUS.
    code, msg, status = error_of(sm.update_secret_version_stage, SecretId="versions",
                                 VersionStage="AWSCURRENT", MoveToVersionId=pending)
    assert (code, status) == ("InvalidParameterException", 400)
    assert f"currently attached to version {v2}" in msg
    sm.update_secret_version_stage(SecretId="versions", VersionStage="AWSCURRENT",
                                   MoveToVersionId=pending, RemoveFromVersionId=v2)
    stages = sm.describe_secret(SecretId="versions")["VersionIdsToStages"]
    assert stages[pending] == ["AWSCURRENT", "AWSPENDING"]
    assert stages[v2] == ["AWSPREVIOUS"] and v1 not in stages
    assert error_of(sm.update_secret_version_stage, SecretId="versions",
                    VersionStage="AWSCURRENT", RemoveFromVersionId=pending)[0] == \
        "InvalidParameterException"

    listed = sm.list_secret_version_ids(SecretId="versions")
    assert {v["VersionId"] for v in listed["Versions"]} == {v2, pending}
    deprecated = sm.list_secret_version_ids(SecretId="versions", IncludeDeprecated=True)
    assert {v["VersionId"] for v in deprecated["Versions"]} == {v1, v2, pending}

    # ClientRequestToken: the same token and value again is the first answer; another value is
    # refused.
    token = str(uuid.uuid4())
    first = sm.put_secret_value(SecretId="versions", SecretString="four", ClientRequestToken=token)
    again = sm.put_secret_value(SecretId="versions", SecretString="four", ClientRequestToken=token)
    assert first["VersionId"] == again["VersionId"] == token
    code, msg, _ = error_of(sm.put_secret_value, SecretId="versions", SecretString="five",
                            ClientRequestToken=token)
    assert code == "ResourceExistsException" and token in msg and "five" not in msg
    created = sm.create_secret(Name="tokened", SecretString="x", ClientRequestToken=token)
    assert sm.create_secret(Name="tokened", SecretString="x",
                            ClientRequestToken=token)["ARN"] == created["ARN"]
    assert error_of(sm.create_secret, Name="tokened", SecretString="x")[0] == \
        "ResourceExistsException"

    updated = sm.update_secret(SecretId="versions", SecretString="six", Description="now described",
                               KmsKeyId="alias/my-key")
    assert sm.get_secret_value(SecretId="versions")["VersionId"] == updated["VersionId"]
    d = sm.describe_secret(SecretId="versions")
    assert d["Description"] == "now described" and d["KmsKeyId"] == "alias/my-key"
    assert "VersionId" not in sm.update_secret(SecretId="versions", Description="only metadata")


def test_binary_secrets(sm):
    blob = bytes(range(256))
    sm.create_secret(Name="binary", SecretBinary=blob)
    got = sm.get_secret_value(SecretId="binary")
    assert got["SecretBinary"] == blob and "SecretString" not in got
    sm.put_secret_value(SecretId="binary", SecretString="now text")
    assert sm.get_secret_value(SecretId="binary")["SecretString"] == "now text"
    assert sm.get_secret_value(SecretId="binary", VersionStage="AWSPREVIOUS")["SecretBinary"] == blob


def test_errors_as_aws_sends_them(sm):
    code, msg, status = error_of(sm.get_secret_value, SecretId="does-not-exist")
    assert (code, msg, status) == ("ResourceNotFoundException",
                                   "Secrets Manager can't find the specified secret.", 400)
    code, msg, _ = error_of(sm.create_secret, Name="bad name!?", SecretString="x")
    assert code == "ValidationException" and msg.startswith("Invalid name.")
    code, msg, _ = error_of(sm.create_secret, Name="both", SecretString="x", SecretBinary=b"x")
    assert code == "InvalidParameterException"
    sm.create_secret(Name="errors", SecretString="x")
    code, msg, _ = error_of(sm.get_secret_value, SecretId="errors", VersionStage="NOPE")
    assert code == "ResourceNotFoundException" and "staging label: NOPE" in msg
    code, msg, _ = error_of(sm.put_secret_value, SecretId="errors", SecretString="y" * 65537)
    assert code == "ValidationException" and "yyyy" not in msg
    assert "65536" in msg


def test_delete_and_restore(node, sm):
    sm.create_secret(Name="doomed", SecretString="x")
    code, msg, _ = error_of(sm.delete_secret, SecretId="doomed", RecoveryWindowInDays=7,
                            ForceDeleteWithoutRecovery=True)
    assert code == "InvalidParameterException"
    assert error_of(sm.delete_secret, SecretId="doomed", RecoveryWindowInDays=31)[0] == \
        "InvalidParameterException"
    deleted = sm.delete_secret(SecretId="doomed")
    window = deleted["DeletionDate"].timestamp() - time.time()
    assert 29.9 * 86400 < window < 30.1 * 86400
    code, msg, _ = error_of(sm.get_secret_value, SecretId="doomed")
    assert code == "InvalidRequestException"
    assert msg == ("You can't perform this operation on the secret because it was marked for "
                   "deletion.")
    assert "DeletedDate" in sm.describe_secret(SecretId="doomed")
    assert "doomed" not in [s["Name"] for s in sm.list_secrets()["SecretList"]]
    status, planned = raw_call(node, "ListSecrets", {"IncludePlannedDeletion": True})
    assert status == 200 and "doomed" in [s["Name"] for s in planned["SecretList"]]
    assert error_of(sm.create_secret, Name="doomed", SecretString="y")[0] == "InvalidRequestException"
    sm.restore_secret(SecretId="doomed")
    assert sm.get_secret_value(SecretId="doomed")["SecretString"] == "x"
    sm.delete_secret(SecretId="doomed", ForceDeleteWithoutRecovery=True)
    assert error_of(sm.describe_secret, SecretId="doomed")[0] == "ResourceNotFoundException"
    sm.create_secret(Name="doomed", SecretString="reborn")  # the name is free at once
    sm.delete_secret(SecretId="never-existed", ForceDeleteWithoutRecovery=True)


def test_random_passwords(sm):
    pw = sm.get_random_password()["RandomPassword"]
    assert len(pw) == 32
    assert any(c.islower() for c in pw) and any(c.isupper() for c in pw)
    assert any(c.isdigit() for c in pw) and any(not c.isalnum() for c in pw)
    digits = sm.get_random_password(PasswordLength=64, ExcludeLowercase=True, ExcludeUppercase=True,
                                    ExcludePunctuation=True)["RandomPassword"]
    assert len(digits) == 64 and digits.isdigit()
    spaced = sm.get_random_password(PasswordLength=4096, IncludeSpace=True,
                                    ExcludeCharacters="abc")["RandomPassword"]
    assert " " in spaced and not set("abc") & set(spaced)
    assert error_of(sm.get_random_password, PasswordLength=4097)[0] == "ValidationException"
    assert error_of(sm.get_random_password, PasswordLength=3)[0] == "InvalidParameterException"


def test_tags_policies_and_batch_reads(node, sm):
    arn = sm.create_secret(Name="policy/one", SecretString="1")["ARN"]
    sm.create_secret(Name="policy/two", SecretString="2")
    sm.tag_resource(SecretId=arn, Tags=[{"Key": "team", "Value": "blue"}, {"Key": "x", "Value": "y"}])
    sm.untag_resource(SecretId=arn, TagKeys=["x"])
    assert sm.describe_secret(SecretId=arn)["Tags"] == [{"Key": "team", "Value": "blue"}]

    policy = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(policy), BlockPublicPolicy=True)
    assert json.loads(sm.get_resource_policy(SecretId=arn)["ResourcePolicy"]) == policy
    assert error_of(sm.put_resource_policy, SecretId=arn, ResourcePolicy="{not json")[0] == \
        "MalformedPolicyDocumentException"
    public = dict(policy, Statement=[dict(policy["Statement"][0], Principal="*")])
    assert error_of(sm.put_resource_policy, SecretId=arn, ResourcePolicy=json.dumps(public),
                    BlockPublicPolicy=True)[0] == "PublicPolicyException"
    check = sm.validate_resource_policy(ResourcePolicy=json.dumps(public))
    assert check["PolicyValidationPassed"] is False and check["ValidationErrors"]
    assert sm.validate_resource_policy(SecretId=arn,
                                       ResourcePolicy=json.dumps(policy))["PolicyValidationPassed"]
    sm.delete_resource_policy(SecretId=arn)
    assert "ResourcePolicy" not in sm.get_resource_policy(SecretId=arn)

    status, batch = raw_call(node, "BatchGetSecretValue",
                             {"SecretIdList": ["policy/one", "policy/missing", "policy/two"]})
    assert status == 200, batch
    assert sorted(v["SecretString"] for v in batch["SecretValues"]) == ["1", "2"]
    assert [(e["SecretId"], e["ErrorCode"]) for e in batch["Errors"]] == [
        ("policy/missing", "ResourceNotFoundException")]
    status, filtered = raw_call(node, "BatchGetSecretValue", {
        "Filters": [{"Key": "name", "Values": ["policy/"]}], "MaxResults": 1})
    assert status == 200 and len(filtered["SecretValues"]) == 1 and filtered["NextToken"]
    status, both = raw_call(node, "BatchGetSecretValue", {
        "SecretIdList": ["policy/one"], "Filters": [{"Key": "name", "Values": ["policy/"]}]})
    assert status == 400 and both["__type"] == "InvalidParameterException"


def test_awscli_reads_and_writes(node, sm):
    out = node.aws("secretsmanager", "create-secret", "--name", "cli/secret",
                   "--secret-string", "from the cli")
    assert out["Name"] == "cli/secret"
    got = node.aws("secretsmanager", "get-secret-value", "--secret-id", "cli/secret")
    assert got["SecretString"] == "from the cli"
    p = node.aws("secretsmanager", "describe-secret", "--secret-id", "cli/nope", check=False)
    assert p.returncode != 0 and "ResourceNotFoundException" in p.stderr


def test_no_plaintext_in_the_data_dir(node, sm):
    canary = "canary-" + uuid.uuid4().hex
    sm.create_secret(Name="grep/string", SecretString=canary + "-string")
    sm.create_secret(Name="grep/binary", SecretBinary=(canary + "-binary").encode())
    sm.put_secret_value(SecretId="grep/string", SecretString=canary + "-second")
    assert sm.get_secret_value(SecretId="grep/string")["SecretString"] == canary + "-second"
    # The grep finds what is there in the clear (the names), and no value, in any file: the
    # database, its WAL, the node's log.
    assert files_containing(node.data_dir, b"grep/binary")
    assert files_containing(node.data_dir, canary.encode()) == []
    assert files_containing(node.data_dir, base64.b64encode(canary.encode())[:20]) == []


def test_acknowledged_writes_survive_kill9(fresh_node):
    sm = fresh_node.client("secretsmanager")
    sm.create_secret(Name="durable", SecretString="before")
    v2 = sm.put_secret_value(SecretId="durable", SecretString="after")["VersionId"]
    fresh_node.kill9()
    assert files_containing(fresh_node.data_dir, b"after") == []
    fresh_node.start()
    sm = fresh_node.client("secretsmanager")
    got = sm.get_secret_value(SecretId="durable")
    assert (got["SecretString"], got["VersionId"]) == ("after", v2)
    assert sm.get_secret_value(SecretId="durable", VersionStage="AWSPREVIOUS")["SecretString"] == \
        "before"


def wait_rotated(sm, secret_id, version_id, timeout=90):
    """Waits until the rotation that made version_id finished: AWSCURRENT alone on it."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = sm.describe_secret(SecretId=secret_id)
        if d["VersionIdsToStages"].get(version_id) == ["AWSCURRENT"] and "LastRotatedDate" in d:
            return d
        time.sleep(0.25)
    raise AssertionError(f"{secret_id} was not rotated: {d}")


def test_rotation_with_a_lambda_function(node, lam, sm):
    role = node.ensure_role("secret-rotator", policy=ROTATOR_POLICY)
    fn = create(lam, "rotator", "python3.11", "rotator.handler", {"rotator.py": ROTATOR},
                Role=role, Timeout=60)["FunctionArn"]
    first = sm.create_secret(Name="rotated/db", SecretString=json.dumps(
        {"user": "app", "password": "initial"}))
    started = time.time()
    r = sm.rotate_secret(SecretId="rotated/db", RotationLambdaARN=fn,
                         RotationRules={"AutomaticallyAfterDays": 30})
    assert r["ARN"] == first["ARN"] and len(r["VersionId"]) == 36
    d = wait_rotated(sm, "rotated/db", r["VersionId"])
    assert d["LastRotatedDate"].timestamp() >= started - 1
    assert d["RotationEnabled"] is True and d["RotationLambdaARN"] == fn
    assert d["RotationRules"]["AutomaticallyAfterDays"] == 30
    # NextRotationDate (newer than the installed botocore's model): the end of the day 30 days on.
    _, raw = raw_call(node, "DescribeSecret", {"SecretId": "rotated/db"})
    assert raw["NextRotationDate"] > time.time() + 29 * 86400
    assert raw["NextRotationDate"] % 86400 == 86399
    assert d["VersionIdsToStages"] == {r["VersionId"]: ["AWSCURRENT"],
                                       first["VersionId"]: ["AWSPREVIOUS"]}
    now = json.loads(sm.get_secret_value(SecretId="rotated/db")["SecretString"])
    assert now["user"] == "app" and now["password"] != "initial" and len(now["password"]) == 32
    previous = sm.get_secret_value(SecretId="rotated/db", VersionStage="AWSPREVIOUS")
    assert json.loads(previous["SecretString"])["password"] == "initial"
    # The new value is ciphertext on disk too.
    assert files_containing(node.data_dir, now["password"].encode()) == []

    # Rotating again, now: a second new value.
    again = sm.rotate_secret(SecretId="rotated/db")
    wait_rotated(sm, "rotated/db", again["VersionId"])
    rotated_twice = json.loads(sm.get_secret_value(SecretId="rotated/db")["SecretString"])
    assert rotated_twice["password"] not in ("initial", now["password"])

    sm.cancel_rotate_secret(SecretId="rotated/db")
    _, raw = raw_call(node, "DescribeSecret", {"SecretId": "rotated/db"})
    assert raw["RotationEnabled"] is False and "NextRotationDate" not in raw


def test_a_failed_rotation_leaves_the_pending_version(node, lam, sm):
    role = node.ensure_role("secret-rotator", policy=ROTATOR_POLICY)
    fn = create(lam, "failing-rotator", "python3.11", "rotator.handler", {"rotator.py": ROTATOR},
                Role=role, Timeout=60, Environment={"Variables": {"FAIL_AT": "setSecret"}})["FunctionArn"]
    sm.create_secret(Name="rotated/fails", SecretString=json.dumps({"password": "kept"}))
    token = str(uuid.uuid4())
    sm.rotate_secret(SecretId="rotated/fails", RotationLambdaARN=fn, ClientRequestToken=token)
    # createSecret ran (the pending value exists); setSecret failed: AWSCURRENT did not move.
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            pending = sm.get_secret_value(SecretId="rotated/fails", VersionStage="AWSPENDING")
            break
        except sm.exceptions.ResourceNotFoundException:
            time.sleep(0.25)
    assert pending["VersionId"] == token
    time.sleep(2)  # setSecret's failure is recorded; nothing moves after it
    assert json.loads(sm.get_secret_value(SecretId="rotated/fails")["SecretString"]) == \
        {"password": "kept"}
    d = sm.describe_secret(SecretId="rotated/fails")
    assert "LastRotatedDate" not in d and d["VersionIdsToStages"][token] == ["AWSPENDING"]
    code, msg, _ = error_of(sm.rotate_secret, SecretId="rotated/fails")
    assert (code, msg) == ("InvalidRequestException",
                           "A previous rotation isn't complete. That rotation will be reattempted.")
    # A rotation function that does not exist: the rotation fails, nothing else.
    sm.create_secret(Name="rotated/nofn", SecretString=json.dumps({"password": "x"}))
    sm.rotate_secret(SecretId="rotated/nofn",
                     RotationLambdaARN=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:absent")
    time.sleep(1)
    assert "LastRotatedDate" not in sm.describe_secret(SecretId="rotated/nofn")

"""Least privilege end to end (issue 4): IAM users and roles sign requests, every action is
authorised by one policy engine, functions run as their execution role, and every decision is in
the audit trail. Real clients (boto3, awscli v2) against a real node."""
import json
import time
import urllib.error
import urllib.request

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest

from nubo_e2e import LAMBDA_TRUST, Node, create, invoke_json

ACCOUNT = "000000000000"


def err(call, *args, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(*args, **kw)
    r = e.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"], r["Error"].get("Message", "")


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def user_with(node, name, *statements):
    """An IAM user with an inline policy of `statements` and a fresh access key."""
    iam = node.client("iam")
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=policy(*statements))
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return k["AccessKeyId"], k["SecretAccessKey"]


def client_as(node, service, key, secret, token=None):
    return node.client(service, key=key, secret=secret, token=token)


def test_user_keys_sign_and_deny_overrides_allow(node):
    key, secret = user_with(node, "dev",
                            {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"},
                            {"Effect": "Deny", "Action": "lambda:DeleteFunction", "Resource": "*"})
    create(node.client("lambda"), "dev-fn", "python3.12", "app.handler",
           {"app.py": "def handler(e, c):\n    return 1\n"})
    lam = client_as(node, "lambda", key, secret)
    assert lam.get_function(FunctionName="dev-fn")["Configuration"]["FunctionName"] == "dev-fn"
    code, status, msg = err(lam.delete_function, FunctionName="dev-fn")
    assert (code, status) == ("AccessDeniedException", 403)
    assert msg == ("User: arn:aws:iam::000000000000:user/dev is not authorized to perform: "
                   "lambda:DeleteFunction on resource: "
                   "arn:aws:lambda:us-east-1:000000000000:function:dev-fn "
                   "with an explicit deny in an identity-based policy")
    # Nothing outside the policy: IAM and STS answer in their own shapes.
    code, status, msg = err(client_as(node, "iam", key, secret).list_users)
    assert (code, status) == ("AccessDenied", 403)
    assert "iam:ListUsers" in msg
    who = client_as(node, "sts", key, secret).get_caller_identity()
    assert who["Arn"] == "arn:aws:iam::000000000000:user/dev"
    assert who["UserId"].startswith("AIDA")


def test_a_user_with_no_policy_is_denied_everything(node):
    key, secret = user_with(node, "nobody")
    assert err(client_as(node, "lambda", key, secret).list_functions)[:2] == \
        ("AccessDeniedException", 403)
    assert err(client_as(node, "iam", key, secret).list_roles)[:2] == ("AccessDenied", 403)


def test_conditions_on_the_source_address(node):
    key, secret = user_with(
        node, "office",
        {"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
        {"Effect": "Allow", "Action": "lambda:GetAccountSettings", "Resource": "*",
         "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}})
    lam = client_as(node, "lambda", key, secret)
    assert err(lam.list_functions)[0] == "AccessDeniedException"
    assert "AccountLimit" in lam.get_account_settings()


def test_inactive_and_deleted_keys_stop_signing(node):
    key, secret = user_with(node, "temp", {"Effect": "Allow", "Action": "lambda:ListFunctions",
                                           "Resource": "*"})
    lam = client_as(node, "lambda", key, secret)
    lam.list_functions()
    iam = node.client("iam")
    iam.update_access_key(UserName="temp", AccessKeyId=key, Status="Inactive")
    assert err(lam.list_functions)[:2] == ("UnrecognizedClientException", 403)
    iam.update_access_key(UserName="temp", AccessKeyId=key, Status="Active")
    lam.list_functions()
    iam.delete_access_key(UserName="temp", AccessKeyId=key)
    assert err(lam.list_functions)[0] == "UnrecognizedClientException"


def test_assume_role_sessions_and_forged_tokens(node):
    iam = node.client("iam")
    trust = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "sts:AssumeRole"})
    iam.create_role(RoleName="ops", AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName="ops", PolicyName="list", PolicyDocument=policy(
        {"Effect": "Allow", "Action": ["lambda:ListFunctions", "lambda:GetAccountSettings"],
         "Resource": "*"}))
    # A user may assume it only when its own policies allow sts:AssumeRole (the trust policy
    # names the account, not the user).
    key, secret = user_with(node, "assumer")
    sts = client_as(node, "sts", key, secret)
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/ops"
    code, status, msg = err(sts.assume_role, RoleArn=role_arn, RoleSessionName="s1")
    assert (code, status) == ("AccessDenied", 403)
    assert msg == (f"User: arn:aws:iam::{ACCOUNT}:user/assumer is not authorized to perform: "
                   f"sts:AssumeRole on resource: {role_arn}")
    iam.put_user_policy(UserName="assumer", PolicyName="assume", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}))
    out = sts.assume_role(RoleArn=role_arn, RoleSessionName="night-shift", DurationSeconds=900,
                          Policy=policy({"Effect": "Allow", "Action": "lambda:ListFunctions",
                                         "Resource": "*"}))
    c = out["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA") and len(c["SecretAccessKey"]) == 40
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/ops/night-shift"
    assert 800 < (c["Expiration"].timestamp() - time.time()) <= 900

    lam = client_as(node, "lambda", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    lam.list_functions()
    # The session policy bounds the role: GetAccountSettings is the role's, not the session's.
    code, _, msg = err(lam.get_account_settings)
    assert code == "AccessDeniedException" and "assumed-role/ops/night-shift" in msg
    me = client_as(node, "sts", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
    assert me.get_caller_identity()["Arn"].endswith(":assumed-role/ops/night-shift")

    # A forged token (one character changed), a token of another key, no token at all.
    t = c["SessionToken"]
    forged = t[:40] + ("A" if t[40] != "A" else "B") + t[41:]
    bad = client_as(node, "lambda", c["AccessKeyId"], c["SecretAccessKey"], forged)
    assert err(bad.list_functions)[:2] == ("UnrecognizedClientException", 403)
    bad_sts = client_as(node, "sts", c["AccessKeyId"], c["SecretAccessKey"], forged)
    assert err(bad_sts.get_caller_identity)[:2] == ("InvalidClientTokenId", 403)
    no_token = client_as(node, "lambda", c["AccessKeyId"], c["SecretAccessKey"])
    assert err(no_token.list_functions)[0] == "UnrecognizedClientException"
    # GetSessionToken refuses session credentials; the user's own works.
    assert err(me.get_session_token)[0] == "AccessDenied"


def test_the_trust_policy_decides_who_becomes_the_role(node):
    sts = node.client("sts")
    # Root may assume a role that trusts the account, but not one that trusts only Lambda.
    node.client("iam").create_role(RoleName="only-lambda",
                                   AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST))
    assert err(sts.assume_role, RoleArn=f"arn:aws:iam::{ACCOUNT}:role/only-lambda",
               RoleSessionName="xy")[:2] == ("AccessDenied", 403)
    assert err(sts.assume_role, RoleArn=f"arn:aws:iam::{ACCOUNT}:role/missing",
               RoleSessionName="xy")[:2] == ("AccessDenied", 403)


def test_create_function_needs_a_role_lambda_can_assume(node):
    lam = node.client("lambda")
    files = {"app.py": "def handler(e, c):\n    return 1\n"}
    code, status, msg = err(create, lam, "no-role-fn", "python3.12", "app.handler", files,
                            Role=f"arn:aws:iam::{ACCOUNT}:role/does-not-exist")
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert msg == "The role defined for the function cannot be assumed by Lambda."
    node.client("iam").create_role(RoleName="ec2-role", AssumeRolePolicyDocument=policy(
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"},
         "Action": "sts:AssumeRole"}))
    assert err(create, lam, "ec2-fn", "python3.12", "app.handler", files,
               Role=f"arn:aws:iam::{ACCOUNT}:role/ec2-role")[0] == "InvalidParameterValueException"
    create(lam, "ok-fn", "python3.12", "app.handler", files)
    assert err(lam.update_function_configuration, FunctionName="ok-fn",
               Role=f"arn:aws:iam::{ACCOUNT}:role/ec2-role")[0] == "InvalidParameterValueException"


ROLE_PROBE = """
import json, os
import boto3
import botocore.exceptions

def code(fn, **kw):
    try:
        fn(**kw)
        return "allowed"
    except botocore.exceptions.ClientError as e:
        return e.response["Error"]["Code"]

def handler(event, context):
    url = os.environ["AWS_ENDPOINT_URL"]
    sm = boto3.client("secretsmanager", endpoint_url=url)
    lam = boto3.client("lambda", endpoint_url=url)
    out = {
        "key": os.environ["AWS_ACCESS_KEY_ID"][:4],
        "token": bool(os.environ.get("AWS_SESSION_TOKEN")),
        "arn": boto3.client("sts", endpoint_url=url).get_caller_identity()["Arn"],
        "mine": sm.get_secret_value(SecretId="app/db")["SecretString"],
        "other": code(sm.get_secret_value, SecretId="app/other"),
        "put": code(sm.put_secret_value, SecretId="app/db", SecretString="x"),
        "invoke": code(lam.invoke, FunctionName="dev-fn"),
        "iam": code(boto3.client("iam", endpoint_url=url).list_roles),
        "s3get": code(boto3.client("s3", endpoint_url=url).get_object, Bucket="lp-private",
                      Key="k"),
        "s3put": code(boto3.client("s3", endpoint_url=url).put_object, Bucket="lp-private",
                      Key="k", Body=b"x"),
        "sqs": code(boto3.client("sqs", endpoint_url=url).send_message,
                    QueueUrl=url + "/000000000000/lp-private-queue", MessageBody="x"),
    }
    return out
"""


def test_a_function_runs_as_its_role_and_nothing_more(node):
    sm = node.client("secretsmanager")
    mine = sm.create_secret(Name="app/db", SecretString="s3cr3t-value")["ARN"]
    sm.create_secret(Name="app/other", SecretString="not-yours")
    s3 = node.client("s3")
    s3.create_bucket(Bucket="lp-private")  # a bucket the narrow role cannot touch
    s3.put_object(Bucket="lp-private", Key="k", Body=b"root's")
    sqs = node.client("sqs")
    queue = sqs.create_queue(QueueName="lp-private-queue")["QueueUrl"]  # nor this queue
    role = node.ensure_role("one-secret", policy={"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": mine}]})
    lam = node.client("lambda")
    create(lam, "role-probe", "python3.12", "app.handler", {"app.py": ROLE_PROBE}, Role=role,
           Timeout=30)
    r, out = invoke_json(lam, "role-probe")
    assert "FunctionError" not in r, out
    assert out == {"key": "ASIA", "token": True,
                   "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/one-secret/role-probe",
                   "mine": "s3cr3t-value", "other": "AccessDeniedException",
                   "put": "AccessDeniedException", "invoke": "AccessDeniedException",
                   "iam": "AccessDenied", "s3get": "AccessDenied", "s3put": "AccessDenied",
                   "sqs": "AccessDenied"}
    assert s3.get_object(Bucket="lp-private", Key="k")["Body"].read() == b"root's"
    assert "Messages" not in sqs.receive_message(QueueUrl=queue)


def test_secret_resource_policies_combine_with_identity_policies(node):
    sm = node.client("secretsmanager")
    arn = sm.create_secret(Name="shared", SecretString="team-value")["ARN"]
    key, secret = user_with(node, "reader")  # no identity policy at all
    reader = client_as(node, "secretsmanager", key, secret)
    assert err(reader.get_secret_value, SecretId=arn)[:2] == ("AccessDeniedException", 400)
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/reader"},
         "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
    assert reader.get_secret_value(SecretId=arn)["SecretString"] == "team-value"
    # A resource policy's deny beats an identity allow.
    key2, secret2 = user_with(node, "admin2", {"Effect": "Allow", "Action": "secretsmanager:*",
                                               "Resource": "*"})
    admin = client_as(node, "secretsmanager", key2, secret2)
    assert admin.get_secret_value(SecretId=arn)["SecretString"] == "team-value"
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=policy(
        {"Effect": "Deny", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/admin2"},
         "Action": "secretsmanager:GetSecretValue", "Resource": "*"}))
    code, status, msg = err(admin.get_secret_value, SecretId=arn)
    assert (code, status) == ("AccessDeniedException", 400)
    assert "explicit deny in a resource-based policy" in msg


def test_every_decision_is_in_the_audit_trail(node):
    key, secret = user_with(node, "audited", {"Effect": "Allow", "Action": "lambda:ListFunctions",
                                              "Resource": "*"})
    lam = client_as(node, "lambda", key, secret)
    lam.list_functions()
    err(lam.get_account_settings)
    out = node.aws("cloudtrail", "lookup-events", "--lookup-attributes",
                   "AttributeKey=Username,AttributeValue=audited")
    events = out["Events"]
    names = [e["EventName"] for e in events]
    assert names[:2] == ["GetAccountSettings", "ListFunctions"], names  # newest first
    denied = json.loads(events[0]["CloudTrailEvent"])
    assert denied["errorCode"] == "AccessDenied"
    assert denied["userIdentity"]["arn"] == f"arn:aws:iam::{ACCOUNT}:user/audited"
    assert denied["userIdentity"]["accessKeyId"] == key
    assert denied["sourceIPAddress"] == "127.0.0.1"
    assert denied["eventSource"] == "lambda.amazonaws.com"
    allowed = json.loads(events[1]["CloudTrailEvent"])
    assert "errorCode" not in allowed
    # Only what is asked for, and paging.
    page = node.client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateUser"}],
        MaxResults=1)
    assert len(page["Events"]) == 1 and page["Events"][0]["EventName"] == "CreateUser"
    assert "NextToken" in page
    # A user without cloudtrail:LookupEvents cannot read the trail.
    assert err(client_as(node, "cloudtrail", key, secret).lookup_events)[0] == \
        "AccessDeniedException"


def test_passing_a_role_to_a_function_needs_iam_pass_role(node):
    """Without iam:PassRole, lambda:CreateFunction would let anyone run code as any role."""
    iam = node.client("iam")
    admin = node.ensure_role("powerful", policy={"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "*", "Resource": "*"}]})
    key, secret = user_with(node, "deployer",
                            {"Effect": "Allow", "Action": "lambda:*", "Resource": "*"})
    lam = client_as(node, "lambda", key, secret)
    files = {"app.py": "def handler(e, c):\n    return 1\n"}
    code, status, msg = err(create, lam, "escalate", "python3.12", "app.handler", files,
                            Role=admin)
    assert (code, status) == ("AccessDeniedException", 403)
    assert f"iam:PassRole on resource: {admin}" in msg
    iam.put_user_policy(UserName="deployer", PolicyName="pass", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "iam:PassRole", "Resource": admin,
         "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}))
    create(lam, "escalate", "python3.12", "app.handler", files, Role=admin)
    # Unknown Lambda paths are no way around authorisation either.
    req = urllib.request.Request(f"{node.url}/2014-11-13/functions/escalate/invoke-asyncX/",
                                 data=b"{}", method="POST")
    aws_req = botocore.awsrequest.AWSRequest(method="POST", url=req.full_url, data=b"{}")
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), "lambda",
                            "us-east-1").add_auth(aws_req)
    for k, v in aws_req.headers.items():
        req.add_header(k, v)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 404


def test_rotation_needs_invoke_permission_on_its_function(node):
    key, secret = user_with(node, "rotator", {"Effect": "Allow", "Action": "secretsmanager:*",
                                              "Resource": "*"})
    sm = client_as(node, "secretsmanager", key, secret)
    sm.create_secret(Name="rot/one", SecretString="v1")
    code, status, msg = err(sm.rotate_secret, SecretId="rot/one",
                            RotationLambdaARN="arn:aws:lambda:us-east-1:000000000000:function:dev-fn")
    assert (code, status) == ("AccessDeniedException", 400)
    assert "lambda:InvokeFunction" in msg


def test_a_node_refuses_a_master_key_that_is_not_its_own(tmp_path):
    n = Node(str(tmp_path)).start()
    n.client("secretsmanager").create_secret(Name="kept", SecretString="v")
    assert n.stop() == 0
    key_file = tmp_path / "master.key"
    original = key_file.read_text()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    key_file.write_text("00" * 32 + "\n")
    with pytest.raises(RuntimeError) as e:
        Node(str(tmp_path)).start()
    assert "master key" in str(e.value)
    key_file.write_text(original)
    n = Node(str(tmp_path)).start()
    assert n.client("secretsmanager").get_secret_value(SecretId="kept")["SecretString"] == "v"
    assert n.stop() == 0

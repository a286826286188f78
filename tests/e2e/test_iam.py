"""IAM roles and their inline policies with boto3 and awscli v2 (issue 4, the first part)."""
import json
import urllib.parse

import botocore.exceptions
import pytest

TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
         "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
READ = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]}


def code_of(call, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kw)
    err = e.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_roles_and_inline_policies_with_boto3(node):
    iam = node.client("iam")
    made = iam.create_role(RoleName="fn-exec", AssumeRolePolicyDocument=json.dumps(TRUST),
                           Description="runs a function", Path="/service-role/")["Role"]
    assert made["Arn"] == "arn:aws:iam::000000000000:role/service-role/fn-exec"
    assert made["RoleId"].startswith("AROA")
    assert made["AssumeRolePolicyDocument"] == TRUST  # the SDK decodes it
    got = iam.get_role(RoleName="fn-exec")["Role"]
    assert got["RoleId"] == made["RoleId"] and got["Description"] == "runs a function"
    assert got["MaxSessionDuration"] == 3600
    assert "fn-exec" in [r["RoleName"] for r in iam.list_roles()["Roles"]]

    iam.put_role_policy(RoleName="fn-exec", PolicyName="read", PolicyDocument=json.dumps(READ))
    doc = iam.get_role_policy(RoleName="fn-exec", PolicyName="read")["PolicyDocument"]
    assert doc == READ
    assert iam.list_role_policies(RoleName="fn-exec")["PolicyNames"] == ["read"]

    assert code_of(iam.create_role, RoleName="fn-exec",
                   AssumeRolePolicyDocument=json.dumps(TRUST))[::2] == ("EntityAlreadyExists", 409)
    assert code_of(iam.delete_role, RoleName="fn-exec")[::2] == ("DeleteConflict", 409)
    iam.delete_role_policy(RoleName="fn-exec", PolicyName="read")
    iam.delete_role(RoleName="fn-exec")
    code, msg, status = code_of(iam.get_role, RoleName="fn-exec")
    assert (code, status) == ("NoSuchEntity", 404)
    assert msg == "The role with name fn-exec cannot be found."


def test_bad_input_gets_iam_errors(node):
    iam = node.client("iam")
    assert code_of(iam.create_role, RoleName="bad",
                   AssumeRolePolicyDocument="{not json")[0] == "MalformedPolicyDocument"
    assert code_of(iam.create_role, RoleName="has space",
                   AssumeRolePolicyDocument=json.dumps(TRUST))[0] == "ValidationError"
    assert code_of(iam.get_role, RoleName="bad")[0] == "NoSuchEntity"  # nothing half-made
    assert code_of(iam.put_role_policy, RoleName="nobody", PolicyName="p",
                   PolicyDocument=json.dumps(READ))[0] == "NoSuchEntity"


def test_roles_with_the_aws_cli(node):
    out = node.aws("iam", "create-role", "--role-name", "cli-role",
                   "--assume-role-policy-document", json.dumps(TRUST))
    assert out["Role"]["RoleName"] == "cli-role"
    listed = node.aws("iam", "list-roles")
    assert "cli-role" in [r["RoleName"] for r in listed["Roles"]]
    node.aws("iam", "delete-role", "--role-name", "cli-role")

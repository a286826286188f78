"""IAM with boto3 and the AWS CLI (issue 4): roles, users, access keys, groups, customer and AWS
managed policies, GetAccountAuthorizationDetails, and IAM's errors."""
import json
import os

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


ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
BUILT_INS = {
    "AdministratorAccess", "PowerUserAccess", "IAMFullAccess", "IAMReadOnlyAccess",
    "AWSLambdaBasicExecutionRole", "AWSLambdaRole", "AWSLambda_FullAccess",
    "AWSLambda_ReadOnlyAccess", "AWSLambdaSQSQueueExecutionRole",
    "AWSLambdaDynamoDBExecutionRole", "AmazonS3FullAccess", "AmazonS3ReadOnlyAccess",
    "AmazonDynamoDBFullAccess", "AmazonDynamoDBReadOnlyAccess", "AmazonSQSFullAccess",
    "AmazonSQSReadOnlyAccess", "AmazonSNSFullAccess", "SecretsManagerReadWrite",
    "AWSStepFunctionsFullAccess", "CloudWatchLogsFullAccess"}


def data_dir_bytes(node):
    """Every byte the node keeps in its data directory (database, WAL, files)."""
    out = b""
    for base, _, names in os.walk(node.data_dir):
        for n in names:
            try:
                with open(os.path.join(base, n), "rb") as f:
                    out += f.read()
            except OSError:
                pass
    return out


def test_users_tags_and_inline_policies(node):
    iam = node.client("iam")
    made = iam.create_user(UserName="alice", Path="/eng/",
                           Tags=[{"Key": "team", "Value": "core"}])["User"]
    assert made["Arn"] == "arn:aws:iam::000000000000:user/eng/alice"
    assert made["UserId"].startswith("AIDA") and len(made["UserId"]) == 21
    assert made["Tags"] == [{"Key": "team", "Value": "core"}]
    got = iam.get_user(UserName="alice")["User"]
    assert got["UserId"] == made["UserId"] and got["Path"] == "/eng/"
    # Without a name, GetUser answers the caller: here the root user.
    root = iam.get_user()["User"]
    assert root["Arn"] == "arn:aws:iam::000000000000:root"
    assert root["UserId"] == "000000000000" and "UserName" not in root

    for n in ("bob", "carol", "dan"):
        iam.create_user(UserName=n)
    names = [u["UserName"] for page in iam.get_paginator("list_users").paginate(
        PaginationConfig={"PageSize": 2}) for u in page["Users"]]
    assert names == ["alice", "bob", "carol", "dan"]
    assert [u["UserName"] for u in iam.list_users(PathPrefix="/eng/")["Users"]] == ["alice"]

    iam.tag_user(UserName="alice", Tags=[{"Key": "Team", "Value": "infra"},
                                         {"Key": "cost", "Value": "42"}])
    assert iam.list_user_tags(UserName="alice")["Tags"] == [
        {"Key": "cost", "Value": "42"}, {"Key": "Team", "Value": "infra"}]
    iam.untag_user(UserName="alice", TagKeys=["cost"])
    assert [t["Key"] for t in iam.list_user_tags(UserName="alice")["Tags"]] == ["Team"]

    iam.put_user_policy(UserName="alice", PolicyName="read", PolicyDocument=json.dumps(READ))
    assert iam.get_user_policy(UserName="alice", PolicyName="read")["PolicyDocument"] == READ
    assert iam.list_user_policies(UserName="alice")["PolicyNames"] == ["read"]
    code, msg, status = code_of(iam.delete_user, UserName="alice")
    assert (code, status) == ("DeleteConflict", 409)
    assert msg == "Cannot delete entity, must delete policies first."
    iam.delete_user_policy(UserName="alice", PolicyName="read")

    iam.update_user(UserName="dan", NewUserName="daniel", NewPath="/ops/")
    assert iam.get_user(UserName="daniel")["User"]["Arn"] == \
        "arn:aws:iam::000000000000:user/ops/daniel"
    code, msg, status = code_of(iam.get_user, UserName="dan")
    assert (code, status, msg) == ("NoSuchEntity", 404, "The user with name dan cannot be found.")
    assert code_of(iam.create_user, UserName="BOB")[::2] == ("EntityAlreadyExists", 409)
    assert code_of(iam.create_user, UserName="no spaces please")[::2] == ("ValidationError", 400)
    for n in ("alice", "bob", "carol", "daniel"):
        iam.delete_user(UserName=n)
    assert iam.list_users()["Users"] == []


def test_access_keys(node):
    iam = node.client("iam")
    iam.create_user(UserName="ci-bot")
    key = iam.create_access_key(UserName="ci-bot")["AccessKey"]
    assert key["UserName"] == "ci-bot" and key["Status"] == "Active"
    assert len(key["AccessKeyId"]) == 20 and key["AccessKeyId"].startswith("AKIA")
    assert set(key["AccessKeyId"][4:]) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert len(key["SecretAccessKey"]) == 40
    second = iam.create_access_key(UserName="ci-bot")["AccessKey"]
    code, msg, status = code_of(iam.create_access_key, UserName="ci-bot")
    assert (code, status) == ("LimitExceeded", 409)
    assert msg == "Cannot exceed quota for AccessKeysPerUser: 2"
    # The root caller must say whose key.
    assert code_of(iam.create_access_key)[0] == "ValidationError"

    listed = iam.list_access_keys(UserName="ci-bot")["AccessKeyMetadata"]
    assert {k["AccessKeyId"] for k in listed} == {key["AccessKeyId"], second["AccessKeyId"]}
    assert all("SecretAccessKey" not in k for k in listed)
    iam.update_access_key(UserName="ci-bot", AccessKeyId=key["AccessKeyId"], Status="Inactive")
    status_of = {k["AccessKeyId"]: k["Status"]
                 for k in iam.list_access_keys(UserName="ci-bot")["AccessKeyMetadata"]}
    assert status_of[key["AccessKeyId"]] == "Inactive"
    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert used["UserName"] == "ci-bot"
    assert used["AccessKeyLastUsed"]["ServiceName"] == "N/A"

    # The secret is stored sealed: its plaintext is nowhere in the data directory.
    blob = data_dir_bytes(node)
    assert key["AccessKeyId"].encode() in blob
    assert key["SecretAccessKey"].encode() not in blob
    assert second["SecretAccessKey"].encode() not in blob

    assert code_of(iam.delete_user, UserName="ci-bot")[:2] == (
        "DeleteConflict", "Cannot delete entity, must delete access keys first.")
    for k in (key, second):
        iam.delete_access_key(UserName="ci-bot", AccessKeyId=k["AccessKeyId"])
    code, msg, status = code_of(iam.delete_access_key, UserName="ci-bot",
                                AccessKeyId=key["AccessKeyId"])
    assert (code, status) == ("NoSuchEntity", 404)
    assert msg == f"The Access Key with id {key['AccessKeyId']} cannot be found."
    iam.delete_user(UserName="ci-bot")


def test_groups(node):
    iam = node.client("iam")
    iam.create_user(UserName="gina")
    group = iam.create_group(GroupName="devs", Path="/teams/")["Group"]
    assert group["Arn"] == "arn:aws:iam::000000000000:group/teams/devs"
    assert group["GroupId"].startswith("AGPA")
    iam.add_user_to_group(GroupName="devs", UserName="gina")
    got = iam.get_group(GroupName="devs")
    assert got["Group"]["GroupName"] == "devs"
    assert [u["UserName"] for u in got["Users"]] == ["gina"]
    assert [g["GroupName"] for g in iam.list_groups_for_user(UserName="gina")["Groups"]] == ["devs"]
    assert [g["GroupName"] for g in iam.list_groups()["Groups"]] == ["devs"]
    iam.put_group_policy(GroupName="devs", PolicyName="read", PolicyDocument=json.dumps(READ))
    assert iam.get_group_policy(GroupName="devs", PolicyName="read")["PolicyDocument"] == READ
    assert iam.list_group_policies(GroupName="devs")["PolicyNames"] == ["read"]

    assert code_of(iam.delete_group, GroupName="devs")[:2] == (
        "DeleteConflict", "Cannot delete entity, must remove users from group first.")
    assert code_of(iam.delete_user, UserName="gina")[:2] == (
        "DeleteConflict", "Cannot delete entity, must remove user from all groups first.")
    code, msg, status = code_of(iam.add_user_to_group, GroupName="nope", UserName="gina")
    assert (code, status, msg) == ("NoSuchEntity", 404, "The group with name nope cannot be found.")
    iam.remove_user_from_group(GroupName="devs", UserName="gina")
    iam.delete_group_policy(GroupName="devs", PolicyName="read")
    iam.delete_group(GroupName="devs")
    iam.delete_user(UserName="gina")


def test_managed_policies_versions_and_attachments(node):
    iam = node.client("iam")
    pol = iam.create_policy(PolicyName="read-secrets", Path="/app/", Description="reads",
                            PolicyDocument=json.dumps(READ),
                            Tags=[{"Key": "owner", "Value": "me"}])["Policy"]
    arn = pol["Arn"]
    assert arn == "arn:aws:iam::000000000000:policy/app/read-secrets"
    assert pol["PolicyId"].startswith("ANPA") and pol["DefaultVersionId"] == "v1"
    got = iam.get_policy(PolicyArn=arn)["Policy"]
    assert got["Description"] == "reads" and got["AttachmentCount"] == 0
    assert got["Tags"] == [{"Key": "owner", "Value": "me"}]
    v1 = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
    assert v1["Document"] == READ and v1["IsDefaultVersion"] is True

    v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(TRUST),
                                   SetAsDefault=True)["PolicyVersion"]
    assert v2["VersionId"] == "v2" and v2["IsDefaultVersion"] is True
    for _ in range(3):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(READ))
    code, msg, status = code_of(iam.create_policy_version, PolicyArn=arn,
                                PolicyDocument=json.dumps(READ))
    assert (code, status) == ("LimitExceeded", 409)
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert code_of(iam.delete_policy_version, PolicyArn=arn, VersionId="v2")[:2] == (
        "DeleteConflict", "Cannot delete the default version of a policy.")
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v1")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v1"

    iam.create_role(RoleName="app-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.create_user(UserName="app-user")
    iam.create_group(GroupName="app-group")
    iam.attach_role_policy(RoleName="app-role", PolicyArn=arn)
    iam.attach_role_policy(RoleName="app-role", PolicyArn=BASIC)
    iam.attach_user_policy(UserName="app-user", PolicyArn=arn)
    iam.attach_group_policy(GroupName="app-group", PolicyArn=arn)
    attached = iam.list_attached_role_policies(RoleName="app-role")["AttachedPolicies"]
    assert {a["PolicyArn"] for a in attached} == {arn, BASIC}
    assert iam.list_attached_user_policies(UserName="app-user")["AttachedPolicies"] == [
        {"PolicyName": "read-secrets", "PolicyArn": arn}]
    assert [a["PolicyArn"] for a in iam.list_attached_group_policies(
        GroupName="app-group")["AttachedPolicies"]] == [arn]
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert [r["RoleName"] for r in entities["PolicyRoles"]] == ["app-role"]
    assert [u["UserName"] for u in entities["PolicyUsers"]] == ["app-user"]
    assert [g["GroupName"] for g in entities["PolicyGroups"]] == ["app-group"]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 3
    local = iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]
    assert [p["Arn"] for p in local] == [arn]

    # Nothing attached goes away.
    assert code_of(iam.delete_role, RoleName="app-role")[:2] == (
        "DeleteConflict", "Cannot delete entity, must detach all policies first.")
    assert code_of(iam.delete_policy, PolicyArn=arn)[:2] == (
        "DeleteConflict", "Cannot delete a policy attached to entities.")
    code, msg, status = code_of(iam.attach_role_policy, RoleName="app-role",
                                PolicyArn="arn:aws:iam::000000000000:policy/ghost")
    assert (code, status) == ("NoSuchEntity", 404)
    assert msg == "Policy arn:aws:iam::000000000000:policy/ghost does not exist or is not attachable."

    iam.detach_role_policy(RoleName="app-role", PolicyArn=arn)
    iam.detach_role_policy(RoleName="app-role", PolicyArn=BASIC)
    iam.detach_user_policy(UserName="app-user", PolicyArn=arn)
    iam.detach_group_policy(GroupName="app-group", PolicyArn=arn)
    assert code_of(iam.detach_user_policy, UserName="app-user", PolicyArn=arn)[::2] == (
        "NoSuchEntity", 404)
    assert code_of(iam.delete_policy, PolicyArn=arn)[0] == "DeleteConflict"  # v2..v5 remain
    for v in ("v2", "v3", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=v)
    iam.delete_policy(PolicyArn=arn)
    assert code_of(iam.get_policy, PolicyArn=arn)[:2] == (
        "NoSuchEntity", f"Policy {arn} was not found.")
    iam.delete_role(RoleName="app-role")
    iam.delete_user(UserName="app-user")
    iam.delete_group(GroupName="app-group")

    assert code_of(iam.create_policy, PolicyName="bad",
                   PolicyDocument="{not json")[::2] == ("MalformedPolicyDocument", 400)
    assert code_of(iam.get_policy, PolicyArn="definitely-not-an-arn")[:1] == ("InvalidInput",)


def test_aws_managed_policies_are_built_in(node):
    iam = node.client("iam")
    aws = [p for page in iam.get_paginator("list_policies").paginate(
        Scope="AWS", PaginationConfig={"PageSize": 7}) for p in page["Policies"]]
    assert {p["PolicyName"] for p in aws} == BUILT_INS
    assert all(p["Arn"].startswith("arn:aws:iam::aws:policy/") for p in aws)
    by_name = {p["PolicyName"]: p for p in aws}
    assert by_name["AWSLambdaBasicExecutionRole"]["Arn"] == BASIC
    assert by_name["AdministratorAccess"]["PolicyId"] == "ANPAIWMBCKSKIEE64ZLYK"

    admin = iam.get_policy(PolicyArn=ADMIN)["Policy"]
    assert admin["IsAttachable"] is True
    doc = iam.get_policy_version(PolicyArn=ADMIN,
                                 VersionId=admin["DefaultVersionId"])["PolicyVersion"]["Document"]
    assert doc == {"Version": "2012-10-17",
                   "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    basic = iam.get_policy(PolicyArn=BASIC)["Policy"]
    basic_doc = iam.get_policy_version(PolicyArn=BASIC,
                                       VersionId=basic["DefaultVersionId"])["PolicyVersion"]
    assert basic_doc["Document"]["Statement"][0]["Action"] == [
        "logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]

    # Read-only: AWS's, not the account's.
    code, _, status = code_of(iam.delete_policy, PolicyArn=ADMIN)
    assert (code, status) == ("AccessDenied", 403)
    assert code_of(iam.create_policy_version, PolicyArn=ADMIN,
                   PolicyDocument=json.dumps(READ))[::2] == ("AccessDenied", 403)
    assert code_of(iam.get_policy,
                   PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy")[::2] == ("NoSuchEntity", 404)

    # Attachable like the account's own.
    iam.create_role(RoleName="fn-basic", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.attach_role_policy(RoleName="fn-basic", PolicyArn=BASIC)
    assert iam.get_policy(PolicyArn=BASIC)["Policy"]["AttachmentCount"] == 1
    attached = iam.list_policies(Scope="AWS", OnlyAttached=True)["Policies"]
    assert [p["Arn"] for p in attached] == [BASIC]
    iam.detach_role_policy(RoleName="fn-basic", PolicyArn=BASIC)
    iam.delete_role(RoleName="fn-basic")


def test_role_updates_and_tags(node):
    iam = node.client("iam")
    iam.create_role(RoleName="tagged", AssumeRolePolicyDocument=json.dumps(TRUST),
                    Tags=[{"Key": "app", "Value": "shop"}])
    iam.update_role(RoleName="tagged", Description="now described", MaxSessionDuration=7200)
    role = iam.get_role(RoleName="tagged")["Role"]
    assert role["Description"] == "now described" and role["MaxSessionDuration"] == 7200
    assert role["Tags"] == [{"Key": "app", "Value": "shop"}]
    iam.tag_role(RoleName="tagged", Tags=[{"Key": "env", "Value": "prod"}])
    assert [t["Key"] for t in iam.list_role_tags(RoleName="tagged")["Tags"]] == ["app", "env"]
    iam.untag_role(RoleName="tagged", TagKeys=["app"])
    assert iam.list_role_tags(RoleName="tagged")["Tags"] == [{"Key": "env", "Value": "prod"}]
    new_trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                 "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    iam.update_assume_role_policy(RoleName="tagged", PolicyDocument=json.dumps(new_trust))
    assert iam.get_role(RoleName="tagged")["Role"]["AssumeRolePolicyDocument"] == new_trust
    assert code_of(iam.update_assume_role_policy, RoleName="tagged",
                   PolicyDocument="{nope")[0] == "MalformedPolicyDocument"
    assert code_of(iam.update_role, RoleName="tagged",
                   MaxSessionDuration=50000)[::2] == ("ValidationError", 400)
    assert code_of(iam.tag_role, RoleName="ghost",
                   Tags=[{"Key": "a", "Value": "b"}])[::2] == ("NoSuchEntity", 404)
    iam.delete_role(RoleName="tagged")


def test_account_authorization_details(node):
    iam = node.client("iam")
    iam.create_user(UserName="auditee")
    iam.put_user_policy(UserName="auditee", PolicyName="inline", PolicyDocument=json.dumps(READ))
    iam.create_group(GroupName="auditors")
    iam.add_user_to_group(GroupName="auditors", UserName="auditee")
    iam.attach_group_policy(GroupName="auditors",
                            PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
    iam.create_role(RoleName="audited-role", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="audited-role", PolicyName="r", PolicyDocument=json.dumps(READ))
    mine = iam.create_policy(PolicyName="audit-mine", PolicyDocument=json.dumps(READ))["Policy"]

    pages = list(iam.get_paginator("get_account_authorization_details").paginate(
        PaginationConfig={"PageSize": 2}))
    assert len(pages) > 1
    users = [u for p in pages for u in p.get("UserDetailList", [])]
    groups = [g for p in pages for g in p.get("GroupDetailList", [])]
    roles = [r for p in pages for r in p.get("RoleDetailList", [])]
    policies = [x for p in pages for x in p.get("Policies", [])]
    user = next(u for u in users if u["UserName"] == "auditee")
    assert user["GroupList"] == ["auditors"]
    assert user["UserPolicyList"] == [{"PolicyName": "inline", "PolicyDocument": READ}]
    group = next(g for g in groups if g["GroupName"] == "auditors")
    assert group["AttachedManagedPolicies"] == [
        {"PolicyName": "IAMReadOnlyAccess", "PolicyArn": "arn:aws:iam::aws:policy/IAMReadOnlyAccess"}]
    role = next(r for r in roles if r["RoleName"] == "audited-role")
    assert role["AssumeRolePolicyDocument"] == TRUST
    assert role["RolePolicyList"] == [{"PolicyName": "r", "PolicyDocument": READ}]
    assert role["InstanceProfileList"] == []
    arns = {x["Arn"] for x in policies}
    assert mine["Arn"] in arns and "arn:aws:iam::aws:policy/IAMReadOnlyAccess" in arns
    assert ADMIN not in arns  # AWS managed policies only while used
    detail = next(x for x in policies if x["Arn"] == mine["Arn"])
    assert detail["PolicyVersionList"][0]["Document"] == READ

    only_roles = iam.get_account_authorization_details(Filter=["Role"])
    assert only_roles["UserDetailList"] == [] and only_roles["Policies"] == []
    assert "audited-role" in [r["RoleName"] for r in only_roles["RoleDetailList"]]


def test_users_and_policies_with_the_aws_cli(node):
    out = node.aws("iam", "create-user", "--user-name", "cli-user")
    assert out["User"]["UserName"] == "cli-user"
    keys = node.aws("iam", "create-access-key", "--user-name", "cli-user")
    assert keys["AccessKey"]["AccessKeyId"].startswith("AKIA")
    aws = node.aws("iam", "list-policies", "--scope", "AWS")
    assert BUILT_INS <= {p["PolicyName"] for p in aws["Policies"]}
    node.aws("iam", "attach-user-policy", "--user-name", "cli-user", "--policy-arn", ADMIN)
    attached = node.aws("iam", "list-attached-user-policies", "--user-name", "cli-user")
    assert attached["AttachedPolicies"] == [{"PolicyName": "AdministratorAccess",
                                             "PolicyArn": ADMIN}]
    details = node.aws("iam", "get-account-authorization-details", "--filter", "User")
    assert "cli-user" in [u["UserName"] for u in details["UserDetailList"]]
    failed = node.aws("iam", "delete-user", "--user-name", "cli-user", check=False)
    assert failed.returncode != 0 and "DeleteConflict" in failed.stderr
    node.aws("iam", "detach-user-policy", "--user-name", "cli-user", "--policy-arn", ADMIN)
    node.aws("iam", "delete-access-key", "--user-name", "cli-user", "--access-key-id",
             keys["AccessKey"]["AccessKeyId"])
    node.aws("iam", "delete-user", "--user-name", "cli-user")

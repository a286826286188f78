"""STS GetCallerIdentity with the AWS clients: the check many tools (Terraform, the CDK, scripts)
run first against an endpoint."""
import botocore.exceptions
import pytest


def test_get_caller_identity_with_boto3(node):
    sts = node.client("sts")
    me = sts.get_caller_identity()
    assert me["Account"] == "000000000000"
    assert me["Arn"] == "arn:aws:iam::000000000000:root"
    assert me["UserId"] == "000000000000"


def test_get_caller_identity_with_the_aws_cli(node):
    me = node.aws("sts", "get-caller-identity")
    assert me["Account"] == "000000000000" and me["Arn"].endswith(":root")


def test_a_bad_signature_is_refused_in_the_query_shape(node):
    sts = node.client("sts", secret="wrong")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sts.get_caller_identity()
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

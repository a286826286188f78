"""Bucket policies (issue 5): honoured beside identity policies, for signed and anonymous
requests, with S3's errors."""
import json
import urllib.error
import urllib.request

import botocore.exceptions
import pytest

ACCOUNT = "000000000000"


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


def user_with(node, name, *statements):
    iam = node.client("iam")
    iam.create_user(UserName=name)
    if statements:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": list(statements)}))
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return node.client("s3", key=k["AccessKeyId"], secret=k["SecretAccessKey"])


def test_bucket_policies_allow_deny_and_open_to_anyone(node):
    s3 = node.client("s3")
    s3.create_bucket(Bucket="site")
    s3.put_object(Bucket="site", Key="public/index.html", Body=b"<h1>hi</h1>",
                  ContentType="text/html")
    s3.put_object(Bucket="site", Key="private/notes.txt", Body=b"secret")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_policy(Bucket="site")
    assert code_of(e) == "NoSuchBucketPolicy"
    public_url = f"{node.url}/site/public/index.html"
    # No policy: an unsigned request is refused.
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(public_url)
    assert e.value.code == 403 and b"AccessDenied" in e.value.read()

    writer = user_with(node, "site-writer", {"Effect": "Allow", "Action": "s3:*",
                                             "Resource": "*"})
    reader = user_with(node, "site-reader")  # no identity policy at all
    doc = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Public", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::site/public/*"},
        {"Sid": "Reader", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/site-reader"},
         "Action": ["s3:GetObject", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::site", "arn:aws:s3:::site/*"]},
        {"Sid": "NoDeletes", "Effect": "Deny",
         "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/site-writer"},
         "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::site/*"}]}
    s3.put_bucket_policy(Bucket="site", Policy=json.dumps(doc))
    assert json.loads(s3.get_bucket_policy(Bucket="site")["Policy"]) == doc

    # Anyone may read public/, nothing else.
    with urllib.request.urlopen(public_url) as r:
        assert r.read() == b"<h1>hi</h1>" and r.headers["Content-Type"] == "text/html"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{node.url}/site/private/notes.txt")
    assert e.value.code == 403
    req = urllib.request.Request(f"{node.url}/site/public/new.html", data=b"x", method="PUT")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req)
    assert e.value.code == 403
    # A user the policy names reads with no identity policy of its own; it may not write.
    assert reader.get_object(Bucket="site", Key="private/notes.txt")["Body"].read() == b"secret"
    assert len(reader.list_objects_v2(Bucket="site")["Contents"]) == 2
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.put_object(Bucket="site", Key="x", Body=b"x")
    assert code_of(e) == "AccessDenied"
    # An explicit Deny in the bucket policy beats the user's s3:*.
    writer.put_object(Bucket="site", Key="public/w.txt", Body=b"w")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        writer.delete_object(Bucket="site", Key="public/w.txt")
    assert code_of(e) == "AccessDenied"
    # Copying needs read on the source: the reader's copy into another bucket is refused
    # (no PutObject there), the writer's copy out of site works.
    s3.create_bucket(Bucket="site-copy")
    writer.copy_object(Bucket="site-copy", Key="c", CopySource="site/private/notes.txt")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.copy_object(Bucket="site-copy", Key="c2", CopySource="site/private/notes.txt")
    assert code_of(e) == "AccessDenied"

    s3.delete_bucket_policy(Bucket="site")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(public_url)
    assert e.value.code == 403
    with pytest.raises(botocore.exceptions.ClientError) as e:
        reader.get_object(Bucket="site", Key="private/notes.txt")
    assert code_of(e) == "AccessDenied"


def test_malformed_policies_are_refused(node):
    s3 = node.client("s3")
    s3.create_bucket(Bucket="strict")
    for bad in ("not json", json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::other-bucket/*"}]}),
                json.dumps({"Version": "2012-10-17", "Statement": [
                    {"Effect": "Maybe", "Principal": "*", "Action": "s3:GetObject",
                     "Resource": "arn:aws:s3:::strict/*"}]})):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_bucket_policy(Bucket="strict", Policy=bad)
        assert code_of(e) == "MalformedPolicy", bad
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_policy(Bucket="no-such-bucket-x", Policy=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*",
                                                    "Action": "s3:GetObject",
                                                    "Resource": "arn:aws:s3:::no-such-bucket-x/*"}]}))
    assert code_of(e) == "NoSuchBucket"

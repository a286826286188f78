"""S3 (issue 5): buckets and objects with boto3 and awscli against a real node.

Object bodies stream through the node (never whole in memory); what is acknowledged survives a
kill -9.
"""
import base64
import hashlib
import os
import tempfile

import botocore.exceptions
import pytest


def code_of(excinfo):
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture(scope="module")
def s3(node):
    return node.client("s3")


def test_buckets_and_their_errors(s3):
    s3.create_bucket(Bucket="alpha-bucket")
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "alpha-bucket" in names
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket="alpha-bucket")
    assert code_of(e) == "BucketAlreadyOwnedByYou"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket="Bad_Name")
    assert code_of(e) == "InvalidBucketName"
    s3.head_bucket(Bucket="alpha-bucket")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_bucket(Bucket="no-such-bucket")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert s3.get_bucket_location(Bucket="alpha-bucket")["LocationConstraint"] is None
    s3.put_object(Bucket="alpha-bucket", Key="k", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_bucket(Bucket="alpha-bucket")
    assert code_of(e) == "BucketNotEmpty"
    s3.delete_object(Bucket="alpha-bucket", Key="k")
    s3.delete_bucket(Bucket="alpha-bucket")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="alpha-bucket", Key="k", Body=b"x")
    assert code_of(e) == "NoSuchBucket"
    # Refused before its 3 MB body is read: the client still gets the answer, and the
    # connection still serves the next request.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="alpha-bucket", Key="k", Body=os.urandom(3 << 20))
    assert code_of(e) == "NoSuchBucket"
    assert "Buckets" in s3.list_buckets()


def test_objects_round_trip_with_metadata_ranges_and_conditions(s3):
    s3.create_bucket(Bucket="objects")
    body = os.urandom(300_000)
    put = s3.put_object(Bucket="objects", Key="dir/file.bin", Body=body, ContentType="app/x",
                        Metadata={"owner": "alice"}, CacheControl="max-age=60")
    assert put["ETag"] == '"' + hashlib.md5(body).hexdigest() + '"'
    got = s3.get_object(Bucket="objects", Key="dir/file.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "app/x"
    assert got["Metadata"] == {"owner": "alice"}
    assert got["CacheControl"] == "max-age=60"
    assert got["ContentLength"] == len(body)
    head = s3.head_object(Bucket="objects", Key="dir/file.bin")
    assert head["ETag"] == put["ETag"] and head["ContentLength"] == len(body)
    part = s3.get_object(Bucket="objects", Key="dir/file.bin", Range="bytes=10-19")
    assert part["Body"].read() == body[10:20]
    assert part["ContentRange"] == f"bytes 10-19/{len(body)}"
    tail = s3.get_object(Bucket="objects", Key="dir/file.bin", Range="bytes=-5")
    assert tail["Body"].read() == body[-5:]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="objects", Key="dir/file.bin", Range=f"bytes={len(body)}-")
    assert code_of(e) == "InvalidRange"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="objects", Key="dir/file.bin", IfNoneMatch=put["ETag"])
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="objects", Key="dir/file.bin", IfMatch='"0000"')
    assert code_of(e) == "PreconditionFailed"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="objects", Key="missing")
    assert code_of(e) == "NoSuchKey"
    # A Content-MD5 that does not match is refused and nothing is stored.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="objects", Key="bad", Body=b"abc",
                      ContentMD5=base64.b64encode(hashlib.md5(b"abd").digest()).decode())
    assert code_of(e) == "BadDigest"
    with pytest.raises(botocore.exceptions.ClientError):
        s3.head_object(Bucket="objects", Key="bad")
    # An empty object.
    s3.put_object(Bucket="objects", Key="empty", Body=b"")
    assert s3.get_object(Bucket="objects", Key="empty")["Body"].read() == b""


def test_listing_with_prefix_delimiter_and_pages(s3):
    s3.create_bucket(Bucket="listing")
    keys = ["a/1", "a/2", "a/b/3", "b/4", "c", "d"]
    for k in keys:
        s3.put_object(Bucket="listing", Key=k, Body=k.encode())
    out = s3.list_objects_v2(Bucket="listing")
    assert [o["Key"] for o in out["Contents"]] == sorted(keys)
    out = s3.list_objects_v2(Bucket="listing", Delimiter="/")
    assert [o["Key"] for o in out["Contents"]] == ["c", "d"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/", "b/"]
    out = s3.list_objects_v2(Bucket="listing", Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in out["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["a/b/"]
    seen = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="listing",
                                                             PaginationConfig={"PageSize": 2}):
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == sorted(keys)
    seen = []
    for page in s3.get_paginator("list_objects").paginate(Bucket="listing",
                                                          PaginationConfig={"PageSize": 4}):
        seen += [o["Key"] for o in page.get("Contents", [])]
    assert seen == sorted(keys)
    deleted = s3.delete_objects(Bucket="listing",
                                Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == sorted(keys)
    assert s3.list_objects_v2(Bucket="listing")["KeyCount"] == 0


def test_a_large_object_streams_and_survives_kill9(fresh_node):
    s3 = fresh_node.client("s3")
    s3.create_bucket(Bucket="big")
    with tempfile.NamedTemporaryFile() as f:
        chunk = os.urandom(1 << 20)
        for _ in range(96):  # 96 MiB: more than the node reads whole for any other request
            f.write(chunk)
        f.flush()
        size = f.tell()
        f.seek(0)
        s3.put_object(Bucket="big", Key="blob", Body=f)
        f.seek(0)
        want = hashlib.md5(f.read()).hexdigest()
    fresh_node.kill9()
    fresh_node.start()
    s3 = fresh_node.client("s3")
    head = s3.head_object(Bucket="big", Key="blob")
    assert head["ContentLength"] == size
    md5 = hashlib.md5()
    for piece in s3.get_object(Bucket="big", Key="blob")["Body"].iter_chunks(1 << 20):
        md5.update(piece)
    assert md5.hexdigest() == want == head["ETag"].strip('"')


def test_awscli_cp_and_ls(node, tmp_path):
    src = tmp_path / "hello.txt"
    src.write_text("hello from awscli\n")
    node.aws("s3", "mb", "s3://cli-bucket")
    node.aws("s3", "cp", str(src), "s3://cli-bucket/docs/hello.txt")
    listing = node.aws("s3", "ls", "s3://cli-bucket/docs/")
    assert "hello.txt" in listing
    dst = tmp_path / "back.txt"
    node.aws("s3", "cp", "s3://cli-bucket/docs/hello.txt", str(dst))
    assert dst.read_text() == "hello from awscli\n"

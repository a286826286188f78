"""S3 (issue 5): buckets and objects with boto3 and awscli against a real node.

Object bodies stream through the node (never whole in memory); what is acknowledged survives a
kill -9.
"""
import base64
import hashlib
import os
import tempfile

import urllib.error
import urllib.request

import boto3
import botocore.config
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


def test_multipart_upload_through_boto3_and_its_errors(s3, tmp_path):
    s3.create_bucket(Bucket="multipart")
    # boto3's managed upload: 8 MiB parts, so 20 MiB is three parts and a "-3" ETag.
    src = tmp_path / "big.bin"
    data = os.urandom(20 << 20)
    src.write_bytes(data)
    s3.upload_file(str(src), "multipart", "big.bin")
    head = s3.head_object(Bucket="multipart", Key="big.bin")
    parts_md5 = b"".join(hashlib.md5(data[i:i + (8 << 20)]).digest()
                         for i in range(0, len(data), 8 << 20))
    assert head["ETag"] == '"' + hashlib.md5(parts_md5).hexdigest() + '-3"'
    assert head["ContentLength"] == len(data)
    assert s3.get_object(Bucket="multipart", Key="big.bin")["Body"].read() == data
    # A range across the boundary of the first two parts.
    edge = s3.get_object(Bucket="multipart", Key="big.bin",
                         Range=f"bytes={(8 << 20) - 4}-{(8 << 20) + 3}")["Body"].read()
    assert edge == data[(8 << 20) - 4:(8 << 20) + 4]

    # The low-level calls and the errors S3 answers.
    up = s3.create_multipart_upload(Bucket="multipart", Key="manual", ContentType="text/x",
                                    Metadata={"k": "v"})
    uid = up["UploadId"]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket="multipart")["Uploads"]] == [uid]
    p1 = s3.upload_part(Bucket="multipart", Key="manual", UploadId=uid, PartNumber=1,
                        Body=b"a" * (5 << 20))
    p2 = s3.upload_part(Bucket="multipart", Key="manual", UploadId=uid, PartNumber=2, Body=b"tail")
    listed = s3.list_parts(Bucket="multipart", Key="manual", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed] == [
        (1, 5 << 20, p1["ETag"]), (2, 4, p2["ETag"])]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="multipart", Key="manual", UploadId=uid,
                                     MultipartUpload={"Parts": [{"PartNumber": 1,
                                                                 "ETag": p2["ETag"]}]})
    assert code_of(e) == "InvalidPart"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="multipart", Key="manual", UploadId=uid,
                                     MultipartUpload={"Parts": [
                                         {"PartNumber": 2, "ETag": p2["ETag"]},
                                         {"PartNumber": 1, "ETag": p1["ETag"]}]})
    assert code_of(e) == "InvalidPartOrder"
    small = s3.upload_part(Bucket="multipart", Key="manual", UploadId=uid, PartNumber=1, Body=b"s")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="multipart", Key="manual", UploadId=uid,
                                     MultipartUpload={"Parts": [
                                         {"PartNumber": 1, "ETag": small["ETag"]},
                                         {"PartNumber": 2, "ETag": p2["ETag"]}]})
    assert code_of(e) == "EntityTooSmall"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part(Bucket="multipart", Key="manual", UploadId=uid, PartNumber=10001, Body=b"x")
    assert code_of(e) == "InvalidArgument"
    done = s3.complete_multipart_upload(Bucket="multipart", Key="manual", UploadId=uid,
                                        MultipartUpload={"Parts": [
                                            {"PartNumber": 2, "ETag": p2["ETag"]}]})
    assert done["ETag"].endswith('-1"') and done["Key"] == "manual"
    got = s3.get_object(Bucket="multipart", Key="manual")
    assert got["Body"].read() == b"tail"
    assert got["ContentType"] == "text/x" and got["Metadata"] == {"k": "v"}
    for call in (lambda: s3.list_parts(Bucket="multipart", Key="manual", UploadId=uid),
                 lambda: s3.abort_multipart_upload(Bucket="multipart", Key="manual",
                                                   UploadId=uid),
                 lambda: s3.upload_part(Bucket="multipart", Key="manual", UploadId="nope",
                                        PartNumber=1, Body=b"x")):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert code_of(e) == "NoSuchUpload"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    gone = s3.create_multipart_upload(Bucket="multipart", Key="aborted")["UploadId"]
    s3.upload_part(Bucket="multipart", Key="aborted", UploadId=gone, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket="multipart", Key="aborted", UploadId=gone)
    assert s3.list_multipart_uploads(Bucket="multipart").get("Uploads", []) == []


def test_a_restart_mid_upload_loses_no_completed_part(fresh_node):
    s3 = fresh_node.client("s3")
    s3.create_bucket(Bucket="resume")
    uid = s3.create_multipart_upload(Bucket="resume", Key="k")["UploadId"]
    first = os.urandom(5 << 20)
    p1 = s3.upload_part(Bucket="resume", Key="k", UploadId=uid, PartNumber=1, Body=first)
    fresh_node.kill9()
    fresh_node.start()
    s3 = fresh_node.client("s3")
    parts = s3.list_parts(Bucket="resume", Key="k", UploadId=uid)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, p1["ETag"])]
    p2 = s3.upload_part(Bucket="resume", Key="k", UploadId=uid, PartNumber=2, Body=b"end")
    s3.complete_multipart_upload(Bucket="resume", Key="k", UploadId=uid, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
    assert s3.get_object(Bucket="resume", Key="k")["Body"].read() == first + b"end"


def test_copy_object_and_upload_part_copy(s3):
    s3.create_bucket(Bucket="copies")
    body = os.urandom(12 << 20)
    s3.put_object(Bucket="copies", Key="src", Body=body, ContentType="image/png",
                  Metadata={"a": "1"}, Tagging="t=1")
    out = s3.copy_object(Bucket="copies", Key="same-meta", CopySource="copies/src")
    assert out["CopyObjectResult"]["ETag"] == '"' + hashlib.md5(body).hexdigest() + '"'
    got = s3.get_object(Bucket="copies", Key="same-meta")
    assert got["Body"].read() == body
    assert got["ContentType"] == "image/png" and got["Metadata"] == {"a": "1"}
    assert got["TagCount"] == 1
    s3.copy_object(Bucket="copies", Key="new-meta", CopySource={"Bucket": "copies", "Key": "src"},
                   MetadataDirective="REPLACE", ContentType="text/plain", Metadata={"b": "2"})
    head = s3.head_object(Bucket="copies", Key="new-meta")
    assert head["ContentType"] == "text/plain" and head["Metadata"] == {"b": "2"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket="copies", Key="src", CopySource="copies/src")
    assert code_of(e) == "InvalidRequest"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket="copies", Key="x", CopySource="copies/missing")
    assert code_of(e) == "NoSuchKey"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket="copies", Key="x", CopySource="copies/src",
                       CopySourceIfMatch='"0000"')
    assert code_of(e) == "PreconditionFailed"
    # boto3's managed copy of a source over its 8 MiB threshold: UploadPartCopy with ranges.
    s3.copy({"Bucket": "copies", "Key": "src"}, "copies", "managed")
    assert s3.get_object(Bucket="copies", Key="managed")["Body"].read() == body
    uid = s3.create_multipart_upload(Bucket="copies", Key="ranged")["UploadId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.upload_part_copy(Bucket="copies", Key="ranged", UploadId=uid, PartNumber=1,
                            CopySource="copies/src", CopySourceRange=f"bytes=0-{len(body)}")
    assert code_of(e) == "InvalidRange"
    part = s3.upload_part_copy(Bucket="copies", Key="ranged", UploadId=uid, PartNumber=1,
                               CopySource="copies/src", CopySourceRange="bytes=100-199")
    assert part["CopyPartResult"]["ETag"] == '"' + hashlib.md5(body[100:200]).hexdigest() + '"'


def test_tagging_versions_and_presigned_urls(s3):
    s3.create_bucket(Bucket="tagged")
    s3.put_object(Bucket="tagged", Key="doc", Body=b"hello", Tagging="team=a&stage=dev")
    tags = s3.get_object_tagging(Bucket="tagged", Key="doc")["TagSet"]
    assert tags == [{"Key": "team", "Value": "a"}, {"Key": "stage", "Value": "dev"}]
    s3.put_object_tagging(Bucket="tagged", Key="doc",
                          Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
    assert s3.get_object_tagging(Bucket="tagged", Key="doc")["TagSet"] == [
        {"Key": "only", "Value": "one"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_tagging(Bucket="tagged", Key="doc", Tagging={"TagSet": [
            {"Key": f"k{i}", "Value": "v"} for i in range(11)]})
    assert code_of(e) == "BadRequest"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_tagging(Bucket="tagged", Key="doc", Tagging={"TagSet": [
            {"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]})
    assert code_of(e) == "InvalidTag"
    s3.delete_object_tagging(Bucket="tagged", Key="doc")
    assert s3.get_object_tagging(Bucket="tagged", Key="doc")["TagSet"] == []
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_tagging(Bucket="tagged", Key="none")
    assert code_of(e) == "NoSuchKey"

    # An unversioned bucket: each object's one version is "null".
    assert s3.get_bucket_versioning(Bucket="tagged").get("Status") is None
    versions = s3.list_object_versions(Bucket="tagged")["Versions"]
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions] == [("doc", "null", True)]
    assert s3.get_object(Bucket="tagged", Key="doc", VersionId="null")["Body"].read() == b"hello"

    # Presigned PUT and GET (SigV4 query form), used by a client with no AWS SDK.
    signer = boto3.client("s3", endpoint_url=s3.meta.endpoint_url, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test",
                          config=botocore.config.Config(signature_version="s3v4"))
    put_url = signer.generate_presigned_url("put_object",
                                            Params={"Bucket": "tagged", "Key": "up load.txt"})
    req = urllib.request.Request(put_url, data=b"uploaded by url", method="PUT")
    assert urllib.request.urlopen(req).status == 200
    get_url = signer.generate_presigned_url("get_object",
                                            Params={"Bucket": "tagged", "Key": "up load.txt"})
    assert urllib.request.urlopen(get_url).read() == b"uploaded by url"
    tampered = get_url.replace("tagged/", "tagged/x")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(tampered)
    assert e.value.code == 403
    # boto3's default presigner for S3 signs with SigV2 (AWSAccessKeyId, Signature, Expires).
    put_v2 = s3.generate_presigned_url("put_object", Params={"Bucket": "tagged", "Key": "v2.txt"})
    assert "AWSAccessKeyId=" in put_v2 and "Signature=" in put_v2
    # (SigV2 signs the Content-Type: none was presigned, so none is sent; urllib would add one.)
    req = urllib.request.Request(put_v2, data=b"signed v2", method="PUT",
                                 headers={"Content-Type": ""})
    assert urllib.request.urlopen(req).status == 200
    get_v2 = s3.generate_presigned_url("get_object", Params={"Bucket": "tagged", "Key": "v2.txt"},
                                       ExpiresIn=60)
    assert urllib.request.urlopen(get_v2).read() == b"signed v2"
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(get_v2.replace("v2.txt", "up%20load.txt"))
    assert e.value.code == 403 and b"SignatureDoesNotMatch" in e.value.read()
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": "tagged", "Key": "v2.txt"},
                                        ExpiresIn=-10)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(expired)
    assert e.value.code == 403 and b"Request has expired" in e.value.read()


def test_awscli_multipart_cp_and_sync(node, tmp_path):
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    big = os.urandom(12 << 20)  # over awscli's 8 MiB multipart threshold
    (src / "big.bin").write_bytes(big)
    (src / "sub" / "small.txt").write_text("small\n")
    node.aws("s3", "mb", "s3://sync-bucket")
    node.aws("s3", "sync", str(src), "s3://sync-bucket/tree")
    listing = node.aws("s3", "ls", "--recursive", "s3://sync-bucket/tree/")
    assert "tree/big.bin" in listing and "tree/sub/small.txt" in listing
    # A second sync has nothing to send; a changed file goes again.
    assert node.aws("s3", "sync", str(src), "s3://sync-bucket/tree") is None  # no output
    (src / "sub" / "small.txt").write_text("changed and longer\n")
    assert "small.txt" in node.aws("s3", "sync", str(src), "s3://sync-bucket/tree")
    back = tmp_path / "back"
    node.aws("s3", "sync", "s3://sync-bucket/tree", str(back))
    assert (back / "big.bin").read_bytes() == big
    assert (back / "sub" / "small.txt").read_text() == "changed and longer\n"
    node.aws("s3", "cp", "s3://sync-bucket/tree/big.bin", "s3://sync-bucket/copy.bin")
    node.aws("s3", "cp", "s3://sync-bucket/copy.bin", str(tmp_path / "copy.bin"))
    assert (tmp_path / "copy.bin").read_bytes() == big


def test_awscli_s3api(node, tmp_path):
    node.aws("s3api", "create-bucket", "--bucket", "api-bucket")
    src = tmp_path / "doc.txt"
    src.write_text("via s3api\n")
    put = node.aws("s3api", "put-object", "--bucket", "api-bucket", "--key", "a/doc.txt",
                   "--body", str(src), "--tagging", "k=v", "--metadata", "who=cli")
    assert put["ETag"] == '"' + hashlib.md5(b"via s3api\n").hexdigest() + '"'
    head = node.aws("s3api", "head-object", "--bucket", "api-bucket", "--key", "a/doc.txt")
    assert head["ContentLength"] == 10 and head["Metadata"] == {"who": "cli"}
    tags = node.aws("s3api", "get-object-tagging", "--bucket", "api-bucket", "--key", "a/doc.txt")
    assert tags["TagSet"] == [{"Key": "k", "Value": "v"}]
    listed = node.aws("s3api", "list-objects-v2", "--bucket", "api-bucket", "--prefix", "a/")
    assert [o["Key"] for o in listed["Contents"]] == ["a/doc.txt"]
    up = node.aws("s3api", "create-multipart-upload", "--bucket", "api-bucket", "--key", "m")
    uploads = node.aws("s3api", "list-multipart-uploads", "--bucket", "api-bucket")
    assert [u["UploadId"] for u in uploads["Uploads"]] == [up["UploadId"]]
    node.aws("s3api", "abort-multipart-upload", "--bucket", "api-bucket", "--key", "m",
             "--upload-id", up["UploadId"])
    out = tmp_path / "out.txt"
    node.aws("s3api", "get-object", "--bucket", "api-bucket", "--key", "a/doc.txt", str(out))
    assert out.read_text() == "via s3api\n"
    missing = node.aws("s3api", "get-object", "--bucket", "api-bucket", "--key", "nope",
                       str(out), check=False)
    assert missing.returncode != 0 and "NoSuchKey" in missing.stderr
    node.aws("s3api", "delete-object", "--bucket", "api-bucket", "--key", "a/doc.txt")
    node.aws("s3api", "delete-bucket", "--bucket", "api-bucket")

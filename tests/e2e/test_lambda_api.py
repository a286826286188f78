"""The Lambda control plane through boto3 and Debian's awscli v2."""
import base64
import hashlib
import json

import botocore.exceptions
import pytest

from nubo_e2e import ROLE, create, invoke_json, wait_active, zip_bytes

PY_ECHO = {"app.py": "def handler(event, context):\n    return {'echo': event, 'v': 1}\n"}


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_create_get_list_delete(lam):
    code = zip_bytes(PY_ECHO)
    resp = lam.create_function(FunctionName="api-basic", Runtime="python3.12",
                               Handler="app.handler", Role=ROLE, Code={"ZipFile": code},
                               Description="first", Environment={"Variables": {"STAGE": "1"}})
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert resp["FunctionName"] == "api-basic"
    assert resp["FunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:api-basic"
    assert resp["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
    assert resp["CodeSize"] == len(code)
    assert resp["MemorySize"] == 128 and resp["Timeout"] == 3
    assert resp["Version"] == "$LATEST"
    assert resp["State"] in ("Pending", "Active")
    cfg = wait_active(lam, "api-basic")
    assert cfg["Environment"]["Variables"] == {"STAGE": "1"}
    got = lam.get_function(FunctionName="api-basic")
    assert got["Configuration"]["CodeSha256"] == resp["CodeSha256"]
    assert got["Code"]["RepositoryType"] == "S3"
    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert "api-basic" in names
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.create_function(FunctionName="api-basic", Runtime="python3.12", Handler="app.handler",
                            Role=ROLE, Code={"ZipFile": code})
    assert error_code(e) == "ResourceConflictException"
    lam.delete_function(FunctionName="api-basic")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_function(FunctionName="api-basic")
    assert error_code(e) == "ResourceNotFoundException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize("kwargs,code", [
    ({"MemorySize": 64}, "ValidationException"),
    ({"MemorySize": 10241}, "ValidationException"),
    ({"Timeout": 0}, "ValidationException"),
    ({"Timeout": 901}, "ValidationException"),
    ({"Runtime": "cobol1.0"}, "InvalidParameterValueException"),
    ({"Environment": {"Variables": {"BIG": "x" * 5000}}}, "InvalidParameterValueException"),
    ({"Code": {"ZipFile": b"this is not a zip"}}, "InvalidParameterValueException"),
])
def test_create_validation(lam, kwargs, code):
    args = dict(FunctionName="api-invalid", Runtime="python3.12", Handler="app.handler",
                Role=ROLE, Code={"ZipFile": zip_bytes(PY_ECHO)})
    args.update(kwargs)
    with pytest.raises((botocore.exceptions.ClientError,
                        botocore.exceptions.ParamValidationError)) as e:
        lam.create_function(**args)
    if isinstance(e.value, botocore.exceptions.ClientError):
        assert error_code(e) == code


def test_update_code_and_configuration(lam):
    create(lam, "api-update", "python3.12", "app.handler", PY_ECHO)
    _, out = invoke_json(lam, "api-update", {"x": 1})
    assert out == {"echo": {"x": 1}, "v": 1}
    new = {"app.py": "def handler(event, context):\n    return {'v': 2}\n"}
    r = lam.update_function_code(FunctionName="api-update", ZipFile=zip_bytes(new))
    assert r["LastUpdateStatus"] in ("InProgress", "Successful")
    wait_active(lam, "api-update")
    _, out = invoke_json(lam, "api-update")
    assert out == {"v": 2}
    r = lam.update_function_configuration(FunctionName="api-update", MemorySize=256, Timeout=10,
                                          Environment={"Variables": {"KEY": "V"}})
    wait_active(lam, "api-update")
    cfg = lam.get_function_configuration(FunctionName="api-update")
    assert cfg["MemorySize"] == 256 and cfg["Timeout"] == 10
    assert cfg["Environment"]["Variables"] == {"KEY": "V"}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.update_function_configuration(FunctionName="api-update", Description="x",
                                          RevisionId="not-the-revision")
    assert error_code(e) == "PreconditionFailedException"


def test_versions_and_aliases(lam):
    create(lam, "api-ver", "python3.12", "app.handler", PY_ECHO)
    v1 = lam.publish_version(FunctionName="api-ver")
    assert v1["Version"] == "1"
    lam.update_function_code(FunctionName="api-ver", ZipFile=zip_bytes(
        {"app.py": "def handler(e, c):\n    return 'two'\n"}))
    wait_active(lam, "api-ver")
    v2 = lam.publish_version(FunctionName="api-ver", Description="second")
    assert v2["Version"] == "2"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName="api-ver")["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    r, out = invoke_json(lam, "api-ver", {"a": 1}, Qualifier="1")
    assert out == {"echo": {"a": 1}, "v": 1}
    assert r["ExecutedVersion"] == "1"
    alias = lam.create_alias(FunctionName="api-ver", Name="live", FunctionVersion="1")
    assert alias["AliasArn"].endswith(":function:api-ver:live")
    r, out = invoke_json(lam, "api-ver:live")
    assert r["ExecutedVersion"] == "1"
    lam.update_alias(FunctionName="api-ver", Name="live", FunctionVersion="1",
                     RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    seen = set()
    for _ in range(40):
        r, _ = invoke_json(lam, "api-ver", Qualifier="live")
        seen.add(r["ExecutedVersion"])
    assert seen == {"1", "2"}
    assert [a["Name"] for a in lam.list_aliases(FunctionName="api-ver")["Aliases"]] == ["live"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.delete_function(FunctionName="api-ver", Qualifier="1")
    assert error_code(e) == "ResourceConflictException"
    lam.delete_alias(FunctionName="api-ver", Name="live")
    lam.delete_function(FunctionName="api-ver", Qualifier="1")
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName="api-ver")["Versions"]]
    assert versions == ["$LATEST", "2"]


def test_list_functions_paging(lam):
    for i in range(5):
        create(lam, f"api-page-{i}", "python3.12", "app.handler", PY_ECHO)
    names, marker = [], None
    while True:
        kw = {"MaxItems": 2}
        if marker:
            kw["Marker"] = marker
        page = lam.list_functions(**kw)
        assert len(page["Functions"]) <= 2
        names += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert [n for n in names if n.startswith("api-page-")] == [f"api-page-{i}" for i in range(5)]


def test_account_settings(lam):
    s = lam.get_account_settings()
    assert s["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert s["AccountUsage"]["FunctionCount"] >= 1


def test_awscli_v2_create_invoke_alias(node, tmp_path):
    z = tmp_path / "fn.zip"
    z.write_bytes(zip_bytes({"index.mjs": "export const handler = async (e) => ({ok: true, e});\n"}))
    out = node.aws("lambda", "create-function", "--function-name", "cli-fn", "--runtime",
                   "nodejs20.x", "--handler", "index.handler", "--role", ROLE, "--zip-file",
                   f"fileb://{z}")
    assert out["FunctionName"] == "cli-fn"
    node.aws("lambda", "wait", "function-active-v2", "--function-name", "cli-fn")
    resp = tmp_path / "out.json"
    meta = node.aws("lambda", "invoke", "--function-name", "cli-fn", "--cli-binary-format",
                    "raw-in-base64-out", "--payload", '{"n": 3}', str(resp))
    assert meta["StatusCode"] == 200
    assert json.loads(resp.read_text()) == {"ok": True, "e": {"n": 3}}
    v = node.aws("lambda", "publish-version", "--function-name", "cli-fn")
    assert v["Version"] == "1"
    a = node.aws("lambda", "create-alias", "--function-name", "cli-fn", "--name", "prod",
                 "--function-version", "1")
    assert a["Name"] == "prod"
    got = node.aws("lambda", "get-alias", "--function-name", "cli-fn", "--name", "prod")
    assert got["FunctionVersion"] == "1"
    p = node.aws("lambda", "get-function", "--function-name", "nope", check=False)
    assert p.returncode != 0 and "ResourceNotFoundException" in p.stderr

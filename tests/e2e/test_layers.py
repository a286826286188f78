"""Lambda layers (issue 3, "Sandbox": layers at /opt): the Layers API with boto3, and functions
whose layers are merged read-only at /opt as Lambda extracts them (in order, a later layer's
files over an earlier one's), where the runtimes find them: /opt/python for Python,
/opt/nodejs/node_modules for Node.js, /opt/bootstrap for a custom runtime, /opt/bin on PATH."""
import os
import time
import urllib.request

import botocore.exceptions
import pytest

from nubo_e2e import create, invoke_json, log_tail, wait_active, zip_bytes

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="layers at /opt need isolation (root)")


def error_of(call, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kw)
    return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"], \
        e.value.response["ResponseMetadata"]["HTTPStatusCode"]


def publish(lam, name, files, **kw):
    return lam.publish_layer_version(LayerName=name, Content={"ZipFile": zip_bytes(files)}, **kw)


def test_publish_get_list_and_delete_layer_versions(lam):
    v1 = publish(lam, "api-layer", {"python/a.py": "A = 1\n"}, Description="first",
                 CompatibleRuntimes=["python3.12", "python3.13"], LicenseInfo="MIT",
                 CompatibleArchitectures=["x86_64"])
    assert v1["Version"] == 1
    assert v1["LayerArn"].endswith(":layer:api-layer")
    assert v1["LayerVersionArn"] == v1["LayerArn"] + ":1"
    assert v1["Description"] == "first" and v1["LicenseInfo"] == "MIT"
    assert v1["CompatibleRuntimes"] == ["python3.12", "python3.13"]
    assert v1["Content"]["CodeSize"] > 0 and len(v1["Content"]["CodeSha256"]) == 44
    v2 = publish(lam, "api-layer", {"python/a.py": "A = 2\n"}, CompatibleRuntimes=["nodejs20.x"])
    assert v2["Version"] == 2

    got = lam.get_layer_version(LayerName="api-layer", VersionNumber=1)
    assert got["LayerVersionArn"] == v1["LayerVersionArn"]
    assert got["Content"]["CodeSha256"] == v1["Content"]["CodeSha256"]
    by_arn = lam.get_layer_version_by_arn(Arn=v2["LayerVersionArn"])
    assert by_arn["Version"] == 2
    # The content can be downloaded from its Location, and is the zip that was published.
    with urllib.request.urlopen(got["Content"]["Location"]) as r:
        assert r.read() == zip_bytes({"python/a.py": "A = 1\n"})
    # A layer named by its ARN.
    assert lam.get_layer_version(LayerName=v1["LayerArn"], VersionNumber=2)["Version"] == 2

    versions = lam.list_layer_versions(LayerName="api-layer")["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]  # newest first
    assert "Content" not in versions[0]
    py = lam.list_layer_versions(LayerName="api-layer", CompatibleRuntime="python3.12")
    assert [v["Version"] for v in py["LayerVersions"]] == [1]
    page = lam.list_layer_versions(LayerName="api-layer", MaxItems=1)
    assert [v["Version"] for v in page["LayerVersions"]] == [2] and page["NextMarker"]
    rest = lam.list_layer_versions(LayerName="api-layer", MaxItems=1, Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["LayerVersions"]] == [1] and "NextMarker" not in rest

    layers = {l["LayerName"]: l for l in lam.list_layers()["Layers"]}
    assert layers["api-layer"]["LatestMatchingVersion"]["Version"] == 2
    layers = {l["LayerName"]: l for l in lam.list_layers(CompatibleRuntime="python3.13")["Layers"]}
    assert layers["api-layer"]["LatestMatchingVersion"]["Version"] == 1
    assert lam.list_layer_versions(LayerName="no-such-layer")["LayerVersions"] == []

    lam.delete_layer_version(LayerName="api-layer", VersionNumber=2)
    lam.delete_layer_version(LayerName="api-layer", VersionNumber=2)  # idempotent, as on AWS
    code, msg, status = error_of(lam.get_layer_version, LayerName="api-layer", VersionNumber=2)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert msg == "The resource you requested does not exist."
    # Version numbers are never reused.
    assert publish(lam, "api-layer", {"x.txt": "x"})["Version"] == 3


def test_bad_layer_requests_get_lambdas_errors(lam):
    code, msg, status = error_of(lam.publish_layer_version, LayerName="bad name!",
                                 Content={"ZipFile": zip_bytes({"a": "a"})})
    assert (code, status) == ("ValidationException", 400)
    assert "at 'layerName' failed to satisfy constraint" in msg
    code, _, _ = error_of(lam.publish_layer_version, LayerName="ok",
                          Content={"ZipFile": b"not a zip"})
    assert code == "InvalidParameterValueException"
    code, msg, _ = error_of(lam.publish_layer_version, LayerName="ok",
                            Content={"ZipFile": zip_bytes({"a": "a"})},
                            CompatibleRuntimes=["cobol85"])
    assert code == "ValidationException" and "compatibleRuntimes" in msg
    code, msg, _ = error_of(lam.get_layer_version_by_arn, Arn="arn:aws:lambda:us-east-1:1:layer:x")
    assert code == "ValidationException"
    code, _, status = error_of(lam.list_layers, MaxItems=51)
    assert (code, status) == ("ValidationException", 400)

    arn = publish(lam, "err-layer", {"a.txt": "a"})["LayerVersionArn"]
    arn2 = publish(lam, "err-layer", {"a.txt": "b"})["LayerVersionArn"]
    files = {"app.py": "def handler(e, c):\n    return 1\n"}
    code, msg, _ = error_of(create, lam=lam, name="err-fn", runtime="python3.12",
                            handler="app.handler", files=files, Layers=[arn[:-1] + "9"])
    assert code == "InvalidParameterValueException"
    assert msg == f"Layer version {arn[:-1]}9 does not exist."
    code, msg, _ = error_of(create, lam=lam, name="err-fn", runtime="python3.12",
                            handler="app.handler", files=files, Layers=[arn, arn2])
    assert code == "InvalidParameterValueException"
    assert msg.startswith("Two different versions of the same layer are not allowed")
    code, msg, _ = error_of(create, lam=lam, name="err-fn", runtime="python3.12",
                            handler="app.handler", files=files, Layers=[arn] * 6)
    assert msg == "Cannot reference more than 5 layers."
    code, _, _ = error_of(create, lam=lam, name="err-fn", runtime="python3.12",
                          handler="app.handler", files=files, Layers=["not-an-arn"])
    assert code == "ValidationException"
    # Nothing was created by the failed attempts.
    code, _, _ = error_of(lam.get_function, FunctionName="err-fn")
    assert code == "ResourceNotFoundException"


PY_APP = r'''
import os, shutil
def handler(event, context):
    import shared, only_first
    try:
        open("/opt/new.txt", "w")
        wrote = "written"
    except OSError as e:
        wrote = e.strerror
    return {"shared": shared.WHO, "first": only_first.OK,
            "tool": shutil.which("layer-tool"),
            "opt": sorted(os.listdir("/opt")), "write": wrote,
            "ld": os.environ["LD_LIBRARY_PATH"]}
'''


def test_python_imports_from_its_layers_in_order(lam):
    first = publish(lam, "py-first", {"python/shared.py": "WHO = 'first'\n",
                                      "python/only_first.py": "OK = True\n",
                                      "bin/layer-tool": ("#!/bin/sh\necho tool\n", 0o755)})
    second = publish(lam, "py-second", {"python/shared.py": "WHO = 'second'\n"})
    create(lam, "py-layered", "python3.12", "app.handler", {"app.py": PY_APP},
           Layers=[first["LayerVersionArn"], second["LayerVersionArn"]])
    # GetFunction's Code.Location serves the function's zip (through the front door, unsigned).
    with urllib.request.urlopen(lam.get_function(FunctionName="py-layered")["Code"]["Location"]) as r:
        assert r.read() == zip_bytes({"app.py": PY_APP})
    conf = lam.get_function_configuration(FunctionName="py-layered")
    assert [l["Arn"] for l in conf["Layers"]] == [first["LayerVersionArn"],
                                                  second["LayerVersionArn"]]
    assert conf["Layers"][0]["CodeSize"] == first["Content"]["CodeSize"]
    r, out = invoke_json(lam, "py-layered")
    assert "FunctionError" not in r, out
    assert out["shared"] == "second"  # the later layer's file wins
    assert out["first"] is True
    assert out["tool"] == "/opt/bin/layer-tool"
    assert out["opt"] == ["bin", "python"]
    assert out["write"] == "Read-only file system"
    assert out["ld"].endswith(":/opt/lib")

    # Reordered, the other layer wins.
    lam.update_function_configuration(
        FunctionName="py-layered", Layers=[second["LayerVersionArn"], first["LayerVersionArn"]])
    wait_active(lam, "py-layered")
    assert invoke_json(lam, "py-layered")[1]["shared"] == "first"

    # Deleting a layer version leaves the functions that use it working, as on Lambda, even
    # across a cold start.
    lam.delete_layer_version(LayerName="py-first", VersionNumber=first["Version"])
    lam.update_function_configuration(FunctionName="py-layered", Timeout=5)
    wait_active(lam, "py-layered")
    r, out = invoke_json(lam, "py-layered", LogType="Tail")
    assert "Init Duration" in log_tail(r)
    assert out["shared"] == "first" and out["first"] is True
    # Removing the layers empties /opt.
    lam.update_function_configuration(FunctionName="py-layered", Layers=[])
    wait_active(lam, "py-layered")
    r, out = invoke_json(lam, "py-layered")
    assert r.get("FunctionError") == "Unhandled" and out["errorType"] == "ModuleNotFoundError"


def test_node_requires_from_its_layer(lam):
    layer = publish(lam, "node-lib", {
        "nodejs/node_modules/greeter/index.js": "exports.greet = (n) => `hello ${n}`;\n"})
    create(lam, "node-layered", "nodejs20.x", "index.handler", {"index.js": (
        "const { greet } = require('greeter');\n"
        "exports.handler = async (event) => greet(event.who);\n")},
        Layers=[layer["LayerVersionArn"]])
    r, out = invoke_json(lam, "node-layered", {"who": "layers"})
    assert "FunctionError" not in r, out
    assert out == "hello layers"


# A custom runtime shipped as a layer: /opt/bootstrap runs the function's handler script.
LAYER_BOOTSTRAP = r"""#!/bin/sh
START=$(cut -d' ' -f22 /proc/$$/stat)
while true; do
  HEADERS=$(mktemp)
  EVENT=$(curl -sS -D "$HEADERS" "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next")
  RID=$(grep -i Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  OUT=$(sh "$LAMBDA_TASK_ROOT/$_HANDLER" "$EVENT")
  AGE=$(awk -v s="$START" '{print $1 - s / 100}' /proc/uptime)
  curl -sS -o /dev/null "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/$RID/response" \
    -d "{\"out\": \"$OUT\", \"self\": \"$0\", \"age\": $AGE}"
  rm -f "$HEADERS"
done
"""


def test_provided_bootstrap_from_a_layer_also_from_a_spare(fresh_node):
    lam = fresh_node.client("lambda")
    runtime = publish(lam, "sh-runtime", {"bootstrap": (LAYER_BOOTSTRAP, 0o755)})
    create(lam, "sh-fn", "provided.al2023", "handler.sh",
           {"handler.sh": "echo handled-$RUN\n"}, Layers=[runtime["LayerVersionArn"]],
           Environment={"Variables": {"RUN": "first"}})
    r, out = invoke_json(lam, "sh-fn")
    assert "FunctionError" not in r, out
    assert (out["out"], out["self"]) == ("handled-first", "/opt/bootstrap")
    # The node keeps a spare of provided functions after their first cold start; the next cold
    # start is served by it, which gets its layers when it is assigned.
    time.sleep(1.5)
    lam.update_function_configuration(FunctionName="sh-fn",
                                      Environment={"Variables": {"RUN": "second"}})
    wait_active(lam, "sh-fn")
    r, out = invoke_json(lam, "sh-fn", LogType="Tail")
    assert "FunctionError" not in r, out
    assert "Init Duration" in log_tail(r)
    assert (out["out"], out["self"]) == ("handled-second", "/opt/bootstrap")
    # Its process is older than the cold start: it was the spare, started before it.
    assert out["age"] > 1.0, out


def test_layers_count_in_account_usage(lam):
    before = lam.get_account_settings()["AccountUsage"]["TotalCodeSize"]
    v = publish(lam, "usage-layer", {"big.txt": "x" * 1000})
    after = lam.get_account_settings()["AccountUsage"]["TotalCodeSize"]
    assert after - before == v["Content"]["CodeSize"]
    lam.delete_layer_version(LayerName="usage-layer", VersionNumber=v["Version"])
    assert lam.get_account_settings()["AccountUsage"]["TotalCodeSize"] == before


def test_code_and_layers_together_stay_under_the_unzipped_limit(lam):
    # Two layers of 131 MB each (zeros: a small zip) are fine alone, not together (250 MB).
    big = [publish(lam, f"half-{i}", {"zeros.bin": bytes(131 * 2**20)})["LayerVersionArn"]
           for i in range(2)]
    files = {"app.py": "def handler(e, c):\n    return 1\n"}
    create(lam, "half-fn", "python3.12", "app.handler", files, Layers=big[:1])
    code, msg, _ = error_of(lam.update_function_configuration, FunctionName="half-fn",
                            Layers=big)
    assert code == "InvalidParameterValueException"
    assert msg.startswith("Function code combined with layers exceeds the maximum allowed size "
                          "of 262144000 bytes. The actual size is ")
    assert [l["Arn"] for l in lam.get_function(FunctionName="half-fn")["Configuration"]
            ["Layers"]] == big[:1]

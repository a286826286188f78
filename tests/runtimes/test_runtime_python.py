"""nubo's Python runtime client (runtimes/python) run as a real subprocess against a fake Runtime API.

Expected shapes are those of AWS's awslambdaric (aws/aws-lambda-python-runtime-interface-client):
bootstrap.py's _get_handler / make_error / log_error and lambda_runtime_marshaller.
"""

import json
import os
import re

from fake_runtime_api import python_argv, python_env, write_files

APP = '''
import os, sys, time

COUNT = 0

def echo(event, context):
    return {"event": event}

def ctx(event, context):
    first = context.get_remaining_time_in_millis()
    time.sleep(0.05)
    second = context.get_remaining_time_in_millis()
    cc = context.client_context
    return {
        "aws_request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "remaining": [first, second],
        "client_context": None if cc is None else {
            "custom": cc.custom, "env": cc.env, "installation_id": cc.client.installation_id},
        "identity": [context.identity.cognito_identity_id, context.identity.cognito_identity_pool_id],
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "cwd": os.getcwd(),
        "sys_path0": sys.path[0],
    }

def count(event, context):
    global COUNT
    COUNT += 1
    print("count", COUNT)
    return {"count": COUNT, "pid": os.getpid()}

def boom(event, context):
    return helper(event)

def helper(event):
    return 1 / 0

class CustomError(Exception):
    pass

def custom(event, context):
    raise CustomError("it went wrong")

def unserializable(event, context):
    return {"a": {1, 2}}

def raw_bytes(event, context):
    return b"\\x00raw"

def decimal(event, context):
    from decimal import Decimal
    return {"price": Decimal("1.10"), "n": Decimal("42"), "list": [Decimal("0.5")]}

def unicode(event, context):
    return {"s": "caf\\u00e9"}

def use_boto3(event, context):
    import boto3
    import botocore
    return {"boto3": boto3.__version__, "file": boto3.__file__}

def builtins_of_site(event, context):
    return [callable(exit), callable(quit), callable(help)]

def log(event, context):
    import logging
    logger = logging.getLogger()
    logger.setLevel(logging.INFO)
    logger.info("info from %s", "logging")
    print("printed")
    sys.stderr.write("to stderr\\n")
    return "ok"
'''


def line_of(source, text):
    """1-based number of the line of source that contains text."""
    return next(i for i, line in enumerate(source.splitlines(), 1) if text in line)


def start(api, launch, task_root, handler, runtime="python3.11", extra_env=None):
    env = python_env(api, task_root, handler, runtime)
    env.update(extra_env or {})
    return launch(python_argv(), env, "/")


def test_python_success_response(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "app.echo")
    posted = api.invoke({"hello": "world", "n": [1, 2.5, None, True]}, proc=proc)
    assert posted.kind == "response"
    assert posted.json() == {"event": {"hello": "world", "n": [1, 2.5, None, True]}}
    assert posted.headers["content-type"] == "application/json"
    # Same bytes as json.dumps, as awslambdaric produces them.
    assert posted.body == json.dumps({"event": {"hello": "world", "n": [1, 2.5, None, True]}}).encode()


def test_python_context_fields_and_remaining_time(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "app.ctx")
    client_context = json.dumps({"custom": {"k": "v"}, "env": {"e": "1"}, "client": {"installation_id": "inst"}})
    identity = json.dumps({"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"})
    request_id = api.enqueue({}, timeout_ms=5000, client_context=client_context, identity=identity,
                             trace_id="Root=1-abc", arn="arn:aws:lambda:us-east-1:000000000000:function:fn:live")
    out = api.wait_posted(request_id, proc=proc).json()
    assert out["aws_request_id"] == request_id
    assert out["function_name"] == "fn"
    assert out["function_version"] == "$LATEST"
    assert out["invoked_function_arn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn:live"
    assert out["memory_limit_in_mb"] == "256"  # a string on AWS too
    assert out["log_group_name"] == "/aws/lambda/fn"
    assert out["log_stream_name"].startswith("2024/01/01/[$LATEST]")
    first, second = out["remaining"]
    assert 0 < second < first <= 5000
    assert first - second >= 40
    assert out["client_context"] == {"custom": {"k": "v"}, "env": {"e": "1"}, "installation_id": "inst"}
    assert out["identity"] == ["id-1", "pool-1"]
    assert out["trace"] == "Root=1-abc"
    assert out["cwd"] == root
    assert out["sys_path0"] == root


def test_python_trace_id_env_follows_each_invocation(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "app.ctx")
    assert api.invoke({}, proc=proc, trace_id="Root=1-first").json()["trace"] == "Root=1-first"
    assert api.invoke({}, proc=proc, trace_id="Root=1-second").json()["trace"] == "Root=1-second"


def test_python_warm_reuse_one_process_one_connection(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "app.count")
    results = [api.invoke({}, proc=proc).json() for _ in range(4)]
    assert [r["count"] for r in results] == [1, 2, 3, 4]
    assert len({r["pid"] for r in results}) == 1
    assert len(api.connections) == 1, "the client should keep one keep-alive connection"
    assert proc.stdout().splitlines() == ["count 1", "count 2", "count 3", "count 4"]


def test_python_exception_error_body_and_header(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "app.boom")
    posted = api.invoke({}, proc=proc)
    assert posted.kind == "error"
    assert posted.headers["lambda-runtime-function-error-type"] == "ZeroDivisionError"
    body = posted.json()
    assert list(body) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert body["errorMessage"] == "division by zero"
    assert body["errorType"] == "ZeroDivisionError"
    assert body["requestId"] == posted.request_id
    app = os.path.join(root, "app.py")
    boom_line, helper_line = line_of(APP, "return helper(event)"), line_of(APP, "return 1 / 0")
    # traceback.format_list of the user's frames only (the runtime's own frames are dropped).
    assert body["stackTrace"] == [
        f'  File "{app}", line {boom_line}, in boom\n    return helper(event)\n',
        f'  File "{app}", line {helper_line}, in helper\n    return 1 / 0\n',
    ]
    # Logged as awslambdaric does: one record, lines joined by \r, indentation as NO-BREAK SPACE.
    expected_log = "\r".join([
        "[ERROR] ZeroDivisionError: division by zero",
        "Traceback (most recent call last):",
        f'\u00a0\u00a0File "{app}", line {boom_line}, in boom',
        "\u00a0\u00a0\u00a0\u00a0return helper(event)",
        f'\u00a0\u00a0File "{app}", line {helper_line}, in helper',
        "\u00a0\u00a0\u00a0\u00a0return 1 / 0",
    ]) + "\n"
    assert proc.stdout() == expected_log
    # The process survives a failed invocation.
    assert api.invoke({}, proc=proc).kind == "error"
    assert proc.poll() is None


def test_python_custom_exception_type(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "app.custom")
    posted = api.invoke({}, proc=proc)
    assert posted.json()["errorType"] == "CustomError"
    assert posted.json()["errorMessage"] == "it went wrong"
    assert posted.headers["lambda-runtime-function-error-type"] == "CustomError"


def test_python_marshal_error(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "app.unserializable")
    posted = api.invoke({}, proc=proc)
    assert posted.kind == "error"
    assert posted.json() == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": posted.request_id,
        "stackTrace": [],
    }
    assert posted.headers["lambda-runtime-function-error-type"] == "Runtime.MarshalError"


def test_python_unmarshal_error(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "app.echo")
    posted = api.invoke(body=b"{not json", proc=proc)
    assert posted.json()["errorType"] == "Runtime.UnmarshalError"
    assert posted.json()["errorMessage"].startswith("Unable to unmarshal input: Expecting property name")


def test_python_bytes_decimal_and_unicode_results(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "app.raw_bytes")
    posted = api.invoke({}, proc=proc)
    assert posted.body == b"\x00raw"
    assert posted.headers["content-type"] == "application/unknown"
    proc.stop()  # one runtime polls the fake API at a time

    proc = start(api, launch, root, "app.decimal")
    assert api.invoke({}, proc=proc).body == b'{"price": 1.10, "n": 42, "list": [0.5]}'
    proc.stop()

    proc = start(api, launch, root, "app.unicode", runtime="python3.11")
    assert api.invoke({}, proc=proc).body == b'{"s": "caf\\u00e9"}'
    proc.stop()
    proc = start(api, launch, root, "app.unicode", runtime="python3.12")  # ensure_ascii=False there
    assert api.invoke({}, proc=proc).body == '{"s": "café"}'.encode()


def test_python_import_error_is_an_init_error(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "missing.handler")
    posted = api.wait_init_error(proc=proc)
    assert posted.json() == {
        "errorMessage": "Unable to import module 'missing': No module named 'missing'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }
    assert posted.headers["lambda-runtime-function-error-type"] == "Runtime.ImportModuleError"
    assert proc.wait() == 1
    assert api.next_calls == [], "no /next after an init error"
    assert proc.stdout().startswith("[ERROR] Runtime.ImportModuleError: Unable to import module 'missing'")


def test_python_import_error_inside_the_module(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": "import not_installed_anywhere\n"})
    proc = start(api, launch, root, "app.handler")
    body = api.wait_init_error(proc=proc).json()
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'app': No module named 'not_installed_anywhere'"


def test_python_handler_not_found(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "app.nope")
    posted = api.wait_init_error(proc=proc)
    assert posted.json() == {
        "errorMessage": "Handler 'nope' missing on module 'app'",
        "errorType": "Runtime.HandlerNotFound",
        "requestId": "",
        "stackTrace": [],
    }
    assert posted.headers["lambda-runtime-function-error-type"] == "Runtime.HandlerNotFound"
    assert proc.wait() == 1


def test_python_syntax_error(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": "def handler(event, context)\n    return 1\n"})
    proc = start(api, launch, root, "app.handler")
    body = api.wait_init_error(proc=proc).json()
    assert body["errorType"] == "Runtime.UserCodeSyntaxError"
    assert body["errorMessage"].startswith("Syntax error in module 'app': ")
    assert body["stackTrace"] == [f'  File "{root}/app.py" Line 1\n    def handler(event, context)\n']


def test_python_exception_during_import(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": "raise ValueError('bad config')\n"})
    proc = start(api, launch, root, "app.handler")
    body = api.wait_init_error(proc=proc).json()
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad config"
    assert body["stackTrace"] == [f'  File "{root}/app.py", line 1, in <module>\n    raise ValueError(\'bad config\')\n']


def test_python_malformed_handler_name(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "app")
    body = api.wait_init_error(proc=proc).json()
    assert body["errorType"] == "Runtime.MalformedHandlerName"
    assert body["errorMessage"] == "Bad handler 'app': not enough values to unpack (expected 2, got 1)"


def test_python_nested_handler_paths(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {
        "pkg/__init__.py": "",
        "pkg/mod.py": "def fn(event, context):\n    return {'module': __name__}\n",
    })
    for handler in ("pkg/mod.fn", "pkg.mod.fn"):
        proc = start(api, launch, root, handler)
        assert api.invoke({}, proc=proc).json() == {"module": "pkg.mod"}
        proc.stop()


def test_python_boto3_importable_in_handler(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "app.use_boto3")
    posted = api.invoke({}, proc=proc)
    assert posted.kind == "response", posted
    assert re.match(r"\d+\.\d+\.\d+", posted.json()["boto3"])


def test_python_task_root_shadows_site_packages(api, launch, tmp_path):
    # A function that bundles its own boto3 gets it, as on Lambda (/var/task is first on sys.path).
    root = write_files(tmp_path / "fn", {"app.py": APP, "boto3/__init__.py": "__version__ = '9.9.9'\n",
                                         "botocore/__init__.py": ""})
    proc = start(api, launch, root, "app.use_boto3")
    assert api.invoke({}, proc=proc).json()["boto3"] == "9.9.9"


def test_python_logging_and_print_format(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "app.log")
    request_id = api.invoke({}, proc=proc).request_id
    lines = proc.stdout().splitlines()
    assert re.fullmatch(
        r"\[INFO\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t" + re.escape(request_id) + r"\tinfo from logging",
        lines[0],
    ), lines
    assert lines[1] == "printed"
    assert proc.stderr() == "to stderr\n"


def test_python_startup_reaches_next_quickly(api, launch, tmp_path):
    """A loose bound (the client itself adds ~2-5 ms to the interpreter's start; see README)."""
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "app.echo")
    api.wait_next(proc=proc)
    assert api.next_calls[0] - proc.started < 1.0


def test_python_site_builtins_exist_without_site(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "app.builtins_of_site")
    assert api.invoke({}, proc=proc).json() == [True, True, True]


def test_python_json_log_format(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"app.py": APP})
    proc = start(api, launch, root, "app.log", extra_env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    request_id = api.invoke({}, proc=proc).request_id
    lines = proc.stdout().splitlines()
    record = json.loads(lines[0])
    assert record["level"] == "INFO"
    assert record["message"] == "info from logging"
    assert record["logger"] == "root"
    assert record["requestId"] == request_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp"])
    proc.stop()

    proc = start(api, launch, root, "app.custom", extra_env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    posted = api.invoke({}, proc=proc)
    record = json.loads(proc.stdout().splitlines()[0])
    assert record["level"] == "ERROR"
    assert record["errorType"] == "CustomError"
    assert record["requestId"] == posted.request_id

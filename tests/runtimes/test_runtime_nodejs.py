"""nubo's Node.js runtime client (runtimes/nodejs) run as a real subprocess against a fake Runtime API.

Expected shapes are those of AWS's Node.js runtime (npm aws-lambda-ric 3.x: Errors.js
toRapidResponse / toFormatted, LogPatch.js, UserFunction.js, CallbackContext.js).
"""

import base64
import json
import os
import re
import time

import pytest

from fake_runtime_api import NODE_MODULES, node_argv, node_env, write_files

INDEX_JS = r"""
let count = 0;

exports.asyncEcho = async (event, context) => ({ event });

exports.ctx = async (event, context) => {
  const first = context.getRemainingTimeInMillis();
  await new Promise((r) => setTimeout(r, 50));
  const second = context.getRemainingTimeInMillis();
  return {
    awsRequestId: context.awsRequestId,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    clientContext: context.clientContext,
    identity: context.identity,
    callbackWaitsForEmptyEventLoop: context.callbackWaitsForEmptyEventLoop,
    remaining: [first, second],
    trace: process.env._X_AMZN_TRACE_ID,
    cwd: process.cwd(),
  };
};

exports.count = async () => {
  count += 1;
  return { count, pid: process.pid };
};

exports.callbackWaits = (event, context, callback) => {
  setTimeout(() => console.log('timer fired'), 300);
  callback(null, { style: 'callback' });
};

exports.callbackNoWait = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = false;
  globalThis.pending = setTimeout(() => console.log('timer fired'), 5000);
  callback(null, { style: 'callback-no-wait' });
};

exports.succeed = (event, context) => {
  context.succeed({ style: 'succeed' });
};

exports.neverCalls = (event, context, callback) => {
  setTimeout(() => {}, 50);
};

exports.asyncThrows = async () => {
  throw new TypeError('bad thing');
};

exports.callbackString = (event, context, callback) => callback('plain string error');

exports.syncThrows = (event, context, callback) => {
  throw new RangeError('sync throw');
};

exports.circular = async () => {
  const a = {};
  a.self = a;
  return a;
};

exports.unhandledRejection = (event, context, callback) => {
  Promise.reject(new Error('nobody catches me'));
};

exports.log = async () => {
  console.log('hello %s', 'world', { a: 1 });
  console.error('multi\nline');
  console.warn('warned');
  return 'ok';
};

exports.nested = { inner: { fn: async () => 'nested' } };
exports.notFunction = 42;

exports.sdk = async () => {
  const { S3Client, ListBucketsCommand } = require('@aws-sdk/client-s3');
  const { DynamoDBClient } = require('@aws-sdk/client-dynamodb');
  return { s3: typeof S3Client, cmd: typeof ListBucketsCommand, ddb: typeof DynamoDBClient };
};
"""

ESM_SDK = """
import { S3Client, ListBucketsCommand } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
export const handler = async () => ({ s3: typeof S3Client, cmd: typeof ListBucketsCommand, sqs: typeof SQSClient });
"""

# make test installs the SDK (scripts/install-deps): a missing install fails these tests, unless
# NUBO_ALLOW_MISSING_INSTALLS=1 says that running them without it is intended.
needs_sdk = pytest.mark.skipif(
    os.environ.get("NUBO_ALLOW_MISSING_INSTALLS") == "1"
    and not os.path.isdir(os.path.join(NODE_MODULES, "@aws-sdk", "client-s3")),
    reason="runtimes/nodejs/install.sh has not been run",
)


def start(api, launch, task_root, handler, extra_env=None):
    env = node_env(api, task_root, handler)
    env.update(extra_env or {})
    return launch(node_argv(), env, "/")


def fn_dir(tmp_path, files=None):
    return write_files(tmp_path / "fn", files or {"index.js": INDEX_JS})


def test_node_async_handler_response(api, launch, tmp_path):
    proc = start(api, launch, fn_dir(tmp_path), "index.asyncEcho")
    posted = api.invoke({"hello": "world", "n": [1, 2.5, None, True]}, proc=proc)
    assert posted.kind == "response"
    assert posted.headers["content-type"] == "application/json"
    assert posted.body == b'{"event":{"hello":"world","n":[1,2.5,null,true]}}'  # JSON.stringify


def test_node_context_fields_and_remaining_time(api, launch, tmp_path):
    root = fn_dir(tmp_path)
    proc = start(api, launch, root, "index.ctx")
    client_context = json.dumps({"custom": {"k": "v"}, "client": {"installation_id": "inst"}})
    identity = json.dumps({"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"})
    request_id = api.enqueue({}, timeout_ms=5000, client_context=client_context, identity=identity,
                             trace_id="Root=1-node", arn="arn:aws:lambda:us-east-1:000000000000:function:fn:7")
    out = api.wait_posted(request_id, proc=proc).json()
    assert out["awsRequestId"] == request_id
    assert out["functionName"] == "fn"
    assert out["functionVersion"] == "$LATEST"
    assert out["invokedFunctionArn"] == "arn:aws:lambda:us-east-1:000000000000:function:fn:7"
    assert out["memoryLimitInMB"] == "256"  # a string on AWS too
    assert out["logGroupName"] == "/aws/lambda/fn"
    assert out["logStreamName"].startswith("2024/01/01/[$LATEST]")
    assert out["clientContext"] == {"custom": {"k": "v"}, "client": {"installation_id": "inst"}}
    assert out["identity"] == {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
    assert out["callbackWaitsForEmptyEventLoop"] is True
    first, second = out["remaining"]
    assert 0 < second < first <= 5000
    assert first - second >= 40
    assert out["trace"] == "Root=1-node"
    assert out["cwd"] == root


def test_node_warm_reuse_one_process_one_connection(api, launch, tmp_path):
    proc = start(api, launch, fn_dir(tmp_path), "index.count")
    results = [api.invoke({}, proc=proc).json() for _ in range(4)]
    assert [r["count"] for r in results] == [1, 2, 3, 4]
    assert len({r["pid"] for r in results}) == 1
    assert len(api.connections) == 1, "the client should keep one keep-alive connection"


def test_node_callback_waits_for_empty_event_loop(api, launch, tmp_path):
    proc = start(api, launch, fn_dir(tmp_path), "index.callbackWaits")
    api.wait_next(proc=proc)
    t = time.monotonic()
    posted = api.invoke({}, proc=proc)
    assert posted.json() == {"style": "callback"}
    assert time.monotonic() - t >= 0.25, "the response must wait for the handler's timer"
    assert "timer fired" in proc.stdout()


def test_node_callback_without_waiting(api, launch, tmp_path):
    proc = start(api, launch, fn_dir(tmp_path), "index.callbackNoWait")
    api.wait_next(proc=proc)
    t = time.monotonic()
    assert api.invoke({}, proc=proc).json() == {"style": "callback-no-wait"}
    assert time.monotonic() - t < 3, "callbackWaitsForEmptyEventLoop=false answers at once"
    assert "timer fired" not in proc.stdout()


def test_node_context_succeed_and_handler_that_never_answers(api, launch, tmp_path):
    root = fn_dir(tmp_path)
    proc = start(api, launch, root, "index.succeed")
    assert api.invoke({}, proc=proc).json() == {"style": "succeed"}
    proc.stop()
    proc = start(api, launch, root, "index.neverCalls")
    assert api.invoke({}, proc=proc).body == b"null"  # answered when the event loop empties


def test_node_async_error_body_header_and_log(api, launch, tmp_path):
    root = fn_dir(tmp_path)
    proc = start(api, launch, root, "index.asyncThrows")
    posted = api.invoke({}, proc=proc)
    assert posted.kind == "error"
    assert posted.headers["lambda-runtime-function-error-type"] == "TypeError"
    body = posted.json()
    assert list(body) == ["errorType", "errorMessage", "trace"]
    assert body["errorType"] == "TypeError"
    assert body["errorMessage"] == "bad thing"
    assert body["trace"][0] == "TypeError: bad thing"
    assert re.search(re.escape(os.path.join(root, "index.js")) + r":\d+:\d+", body["trace"][1])
    line = proc.stdout().splitlines()[0]
    prefix, logged = line.split("\tInvoke Error \t")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t" + re.escape(posted.request_id) + r"\tERROR", prefix)
    assert json.loads(logged) == {"errorType": "TypeError", "errorMessage": "bad thing", "stack": body["trace"]}
    # The process survives a failed invocation.
    assert api.invoke({}, proc=proc).kind == "error"
    assert proc.poll() is None


def test_node_callback_error_string_and_sync_throw(api, launch, tmp_path):
    root = fn_dir(tmp_path)
    proc = start(api, launch, root, "index.callbackString")
    posted = api.invoke({}, proc=proc)
    assert posted.json() == {"errorType": "string", "errorMessage": "plain string error", "trace": []}
    assert posted.headers["lambda-runtime-function-error-type"] == "string"
    proc.stop()
    proc = start(api, launch, root, "index.syncThrows")
    body = api.invoke({}, proc=proc).json()
    assert (body["errorType"], body["errorMessage"]) == ("RangeError", "sync throw")


def test_node_unserializable_result(api, launch, tmp_path):
    proc = start(api, launch, fn_dir(tmp_path), "index.circular")
    body = api.invoke({}, proc=proc).json()
    assert (body["errorType"], body["errorMessage"]) == ("Error", "Unable to stringify response body")


def test_node_unhandled_rejection_fails_the_invocation_and_exits(api, launch, tmp_path):
    proc = start(api, launch, fn_dir(tmp_path), "index.unhandledRejection")
    body = api.invoke({}, proc=proc).json()
    assert body["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert body["errorMessage"] == "Error: nobody catches me"
    assert proc.wait() == 128


def test_node_console_format(api, launch, tmp_path):
    proc = start(api, launch, fn_dir(tmp_path), "index.log")
    request_id = api.invoke({}, proc=proc).request_id
    lines = proc.stdout().split("\n")
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t" + re.escape(request_id)
    assert re.fullmatch(stamp + r"\tINFO\thello world \{ a: 1 \}", lines[0]), lines
    assert re.fullmatch(stamp + r"\tERROR\tmulti\rline", lines[1]), lines
    assert re.fullmatch(stamp + r"\tWARN\twarned", lines[2]), lines


def test_node_nested_handler_paths_and_properties(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {
        "src/app.js": "exports.handler = async () => 'from src/app';\n",
        "index.js": INDEX_JS,
    })
    proc = start(api, launch, root, "src/app.handler")
    assert api.invoke({}, proc=proc).json() == "from src/app"
    proc.stop()
    proc = start(api, launch, root, "index.nested.inner.fn")
    assert api.invoke({}, proc=proc).json() == "nested"


@pytest.mark.parametrize(
    "files,handler",
    [
        ({"index.mjs": "export const handler = async (e) => ({ esm: 'mjs', e });\n"}, "index.handler"),
        (
            {"package.json": '{"type": "module"}', "app.js": "export const handler = async (e) => ({ esm: 'js', e });\n"},
            "app.handler",
        ),
        ({"lib/h.cjs": "module.exports.handler = async (e) => ({ cjs: 'cjs', e });\n"}, "lib/h.handler"),
        ({"index.mjs": "export default { handler: async (e) => ({ esm: 'default', e }) };\n"}, "index.default.handler"),
    ],
    ids=["esm-mjs", "esm-js-type-module", "cjs-dot-cjs", "esm-default-export"],
)
def test_node_module_kinds(api, launch, tmp_path, files, handler):
    proc = start(api, launch, write_files(tmp_path / "fn", files), handler)
    out = api.invoke({"x": 1}, proc=proc).json()
    assert out["e"] == {"x": 1}


def test_node_esm_callback_style(api, launch, tmp_path):
    files = {"index.mjs": "export const handler = (e, ctx, cb) => { cb(null, { ok: ctx.awsRequestId }); };\n"}
    proc = start(api, launch, write_files(tmp_path / "fn", files), "index.handler")
    posted = api.invoke({}, proc=proc)
    assert posted.json() == {"ok": posted.request_id}


def test_node_import_error_is_an_init_error(api, launch, tmp_path):
    proc = start(api, launch, fn_dir(tmp_path), "missing.handler")
    posted = api.wait_init_error(proc=proc)
    body = posted.json()
    assert posted.headers["lambda-runtime-function-error-type"] == "Runtime.ImportModuleError"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"].startswith("Error: Cannot find module 'missing'\nRequire stack:\n")
    assert body["trace"][0] == "Runtime.ImportModuleError: Error: Cannot find module 'missing'"
    assert proc.wait() == 129
    assert api.next_calls == [], "no /next after an init error"
    assert "\tundefined\tERROR\tUncaught Exception \t{" in proc.stdout()


def test_node_missing_dependency_is_an_import_error(api, launch, tmp_path):
    files = {"index.js": "require('not-installed-anywhere');\nexports.handler = async () => 1;\n"}
    proc = start(api, launch, write_files(tmp_path / "fn", files), "index.handler")
    body = api.wait_init_error(proc=proc).json()
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"].startswith("Error: Cannot find module 'not-installed-anywhere'")


def test_node_handler_not_found(api, launch, tmp_path):
    root = fn_dir(tmp_path)
    proc = start(api, launch, root, "index.nope")
    posted = api.wait_init_error(proc=proc)
    assert posted.json()["errorType"] == "Runtime.HandlerNotFound"
    assert posted.json()["errorMessage"] == "index.nope is undefined or not exported"
    assert posted.headers["lambda-runtime-function-error-type"] == "Runtime.HandlerNotFound"
    assert proc.wait() == 129
    proc = start(api, launch, root, "index.notFunction")
    api.init_errors.clear()
    assert api.wait_init_error(proc=proc).json()["errorMessage"] == "index.notFunction is not a function"


def test_node_syntax_error(api, launch, tmp_path):
    proc = start(api, launch, write_files(tmp_path / "fn", {"index.js": "exports.handler = async ( => 1;\n"}), "index.handler")
    body = api.wait_init_error(proc=proc).json()
    assert body["errorType"] == "Runtime.UserCodeSyntaxError"
    assert body["errorMessage"].startswith("SyntaxError: ")


def test_node_malformed_handler(api, launch, tmp_path):
    proc = start(api, launch, fn_dir(tmp_path), "index")
    body = api.wait_init_error(proc=proc).json()
    assert (body["errorType"], body["errorMessage"]) == ("Runtime.MalformedHandlerName", "Bad handler")


@needs_sdk
def test_node_sdk_importable_from_cjs(api, launch, tmp_path):
    proc = start(api, launch, fn_dir(tmp_path), "index.sdk")
    assert api.invoke({}, proc=proc).json() == {"s3": "function", "cmd": "function", "ddb": "function"}


@needs_sdk
def test_node_sdk_importable_from_esm_through_the_resolve_hook(api, launch, tmp_path):
    # No node_modules/@aws-sdk above the function's directory: bootstrap registers esm-hook.mjs.
    proc = start(api, launch, write_files(tmp_path / "fn", {"index.mjs": ESM_SDK}), "index.handler")
    assert api.invoke({}, proc=proc).json() == {"s3": "function", "cmd": "function", "sqs": "function"}


@needs_sdk
def test_node_sdk_importable_from_esm_through_an_ancestor_node_modules(api, launch, tmp_path):
    # The zero-cost layout of runtimes/README.md: node_modules in an ancestor of the task root.
    os.symlink(NODE_MODULES, tmp_path / "node_modules")
    root = write_files(tmp_path / "functions" / "fn", {"package.json": '{"type":"module"}', "index.js": ESM_SDK})
    proc = start(api, launch, root, "index.handler", extra_env={"NUBO_NODE_ESM_HOOK": "0"})
    assert api.invoke({}, proc=proc).json() == {"s3": "function", "cmd": "function", "sqs": "function"}


@needs_sdk
def test_node_esm_without_sdk_fallback_fails_cleanly(api, launch, tmp_path):
    # With the hook disabled and no layout, the import fails as it would on a machine without the SDK.
    proc = start(api, launch, write_files(tmp_path / "fn", {"index.mjs": ESM_SDK}), "index.handler",
                 extra_env={"NUBO_NODE_ESM_HOOK": "0"})
    body = api.wait_init_error(proc=proc).json()
    assert "@aws-sdk/client-s3" in body["errorMessage"]


def test_node_startup_reaches_next_quickly(api, launch, tmp_path):
    """A loose bound; the numbers are in runtimes/README.md."""
    proc = start(api, launch, fn_dir(tmp_path), "index.asyncEcho")
    api.wait_next(proc=proc)
    assert api.next_calls[0] - proc.started < 2.0


def test_node_esm_top_level_await(api, launch, tmp_path):
    files = {"index.mjs": "const v = await Promise.resolve('tla');\nexport const handler = async () => v;\n"}
    proc = start(api, launch, write_files(tmp_path / "fn", files), "index.handler")
    assert api.invoke({}, proc=proc).json() == "tla"


@needs_sdk
def test_node_default_node_path_when_unset(api, launch, tmp_path):
    env = node_env(api, fn_dir(tmp_path), "index.sdk")
    del env["NODE_PATH"]
    proc = launch(node_argv(), env, "/")
    assert api.invoke({}, proc=proc).json() == {"s3": "function", "cmd": "function", "ddb": "function"}


STREAMING = r"""
exports.stream = awslambda.streamifyResponse(async (event, responseStream, context) => {
  responseStream.setContentType('text/plain');
  responseStream.write('hello ');
  await new Promise((r) => setTimeout(r, 20));
  responseStream.write(context.awsRequestId);
  responseStream.end();
});

exports.streamFails = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('partial');
  throw new Error('mid-stream failure');
});

exports.http = awslambda.streamifyResponse(async (event, responseStream) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, { statusCode: 201, headers: { a: 'b' } });
  stream.write('body');
  stream.end();
});
"""


def test_node_response_streaming(api, launch, tmp_path):
    root = write_files(tmp_path / "fn", {"index.js": STREAMING})
    proc = start(api, launch, root, "index.stream")
    posted = api.invoke({}, proc=proc)
    assert posted.kind == "response"
    assert posted.headers["lambda-runtime-function-response-mode"] == "streaming"
    assert posted.headers["transfer-encoding"] == "chunked"
    assert posted.headers["content-type"] == "text/plain"
    assert posted.body == b"hello " + posted.request_id.encode()
    assert posted.trailers == {}
    # The next invocation works on the same process.
    assert api.invoke({}, proc=proc).kind == "response"
    proc.stop()

    proc = start(api, launch, root, "index.streamFails")
    posted = api.invoke({}, proc=proc)
    assert posted.body == b"partial"
    assert posted.trailers["lambda-runtime-function-error-type"] == "Error"
    error = json.loads(base64.b64decode(posted.trailers["lambda-runtime-function-error-body"]))
    assert (error["errorType"], error["errorMessage"]) == ("Error", "mid-stream failure")
    proc.stop()

    proc = start(api, launch, root, "index.http")
    posted = api.invoke({}, proc=proc)
    assert posted.headers["content-type"] == "application/vnd.awslambda.http-integration-response"
    assert posted.body == b'{"statusCode":201,"headers":{"a":"b"}}' + b"\0" * 8 + b"body"


def test_node_json_log_format(api, launch, tmp_path):
    proc = start(api, launch, fn_dir(tmp_path), "index.log", extra_env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    request_id = api.invoke({}, proc=proc).request_id
    records = [json.loads(line) for line in proc.stdout().splitlines()]
    assert records[0]["level"] == "INFO"
    assert records[0]["message"] == "hello world { a: 1 }"
    assert records[0]["requestId"] == request_id
    assert records[1]["level"] == "ERROR"
    assert records[1]["message"] == "multi\nline"


def test_node_log_level_filter(api, launch, tmp_path):
    proc = start(api, launch, fn_dir(tmp_path), "index.log", extra_env={"AWS_LAMBDA_LOG_LEVEL": "WARN"})
    api.invoke({}, proc=proc)
    lines = proc.stdout().split("\n")[:-1]  # not splitlines(): "\r" is inside a record
    assert [line.split("\t")[2] for line in lines] == ["ERROR", "WARN"]

"""nubo's Lambda runtime client for Python, behaving as AWS's awslambdaric does.

Contract (the node's side is in runtimes/README.md):
  - Environment: AWS_LAMBDA_RUNTIME_API (host:port), _HANDLER, LAMBDA_TASK_ROOT and the AWS_LAMBDA_*
    variables that LambdaContext reads.
  - Init: LAMBDA_TASK_ROOT becomes sys.path[0] and the working directory, the interpreter's
    site-packages (boto3) go to the end of sys.path, the handler module is imported. A failure is
    posted to /runtime/init/error and the process exits with status 1.
  - Loop: GET /runtime/invocation/next, call handler(event, context), POST the JSON result to
    /invocation/{id}/response, or the error {errorMessage, errorType, requestId, stackTrace} to
    /invocation/{id}/error with the Lambda-Runtime-Function-Error-Type header.
  - Logs: the function's stdout and stderr are the log. Errors are logged to stdout as awslambdaric
    logs them: "[ERROR] Type: message" and the traceback, one record whose lines are joined by "\\r".

Startup cost is the point of this file: the interpreter runs with -S (no `site`), and at startup this
module imports only built-in modules (posix, time, _socket). It talks HTTP/1.1 on a raw socket and
JSON through the _json accelerator instead of importing http.client and json, which together pull in
re, enum, email and ssl (tens of milliseconds), and it uses posix instead of os (2 ms). Everything
else (traceback, logging setup, json on the slow paths) is imported when it is first needed.
"""

import posix
import sys
import time
import _socket

_RUNTIME_PATH = "/2018-06-01/runtime"
_ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
_USER_AGENT = "nubo-lambda-python/%d.%d.%d" % sys.version_info[:3]
_OWN_DIR = __file__.rpartition("/")[0]
_OWN_FILES = (__file__, _OWN_DIR + "/bootstrap.py")

# Error types and messages, as awslambdaric's FaultException names them.
_MARSHAL_ERROR = "Runtime.MarshalError"
_UNMARSHAL_ERROR = "Runtime.UnmarshalError"
_USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
_HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
_IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
_BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
_MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
_CONTEXT_UNMARSHAL_ERROR = "Runtime.LambdaContextUnmarshalError"

_ERROR_LOG_LINE_TERMINATE = "\r"
_ERROR_LOG_INDENT = "\u00a0"  # awslambdaric indents traceback lines with NO-BREAK SPACE

# The request being served; read by the logging filter.
_current_request_id = None


# The process environment without importing os. os.environ is a view of posix.environ (its _data),
# so writing both posix.environ and the C environment (putenv) is what os.environ[...] = ... does.
_FS_ENCODING = sys.getfilesystemencoding()


def _getenv(name, default=None):
    value = posix.environ.get(name.encode(_FS_ENCODING, "surrogateescape"))
    return default if value is None else value.decode(_FS_ENCODING, "surrogateescape")


def _setenv(name, value):
    key = name.encode(_FS_ENCODING, "surrogateescape")
    if value is None:
        if key in posix.environ:
            posix.unsetenv(key)
            del posix.environ[key]
    else:
        value = value.encode(_FS_ENCODING, "surrogateescape")
        posix.putenv(key, value)
        posix.environ[key] = value


def _isdir(path):
    try:
        return (posix.stat(path).st_mode & 0o170000) == 0o040000
    except (OSError, ValueError):
        return False


class _Fault(Exception):
    """An error that the runtime reports with its own errorType (Runtime.*)."""

    def __init__(self, error_type, msg, trace=None):
        super().__init__(msg)
        self.error_type = error_type
        self.msg = msg
        self.trace = trace


# ---------------------------------------------------------------------------------------------
# Runtime API client: one keep-alive HTTP/1.1 connection.


class _RuntimeApi:
    """A minimal HTTP/1.1 client for the Runtime API, on one persistent connection.

    It sends Content-Length bodies and reads Content-Length, chunked and read-to-close responses.
    A request on a reused connection that the server closed meanwhile is sent again once.
    """

    def __init__(self, address):
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise RuntimeError("AWS_LAMBDA_RUNTIME_API must be host:port, got %r" % address)
        self._host = host.strip("[]") or "127.0.0.1"
        self._port = int(port)
        self._host_header = address
        self._sock = None
        self._buf = b""

    def _addresses(self):
        # A numeric address needs no resolver: glibc's getaddrinfo costs ~10 ms on first use.
        for family in (_socket.AF_INET, _socket.AF_INET6):
            try:
                _socket.inet_pton(family, self._host)
            except OSError:
                continue
            return [(family, _socket.SOCK_STREAM, 0, "", (self._host, self._port))]
        return _socket.getaddrinfo(self._host, self._port, 0, _socket.SOCK_STREAM)

    def _connect(self):
        err = None
        for family, kind, proto, _, addr in self._addresses():
            sock = _socket.socket(family, kind, proto)
            try:
                sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
                sock.connect(addr)
            except OSError as e:
                sock.close()
                err = e
                continue
            self._sock = sock
            self._buf = b""
            return
        raise err or OSError("cannot connect to the Runtime API at %s" % self._host_header)

    def _close(self):
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buf = b""

    def request(self, method, path, body=None, headers=None):
        """Sends one request; returns (status, lowercase-name headers dict, body bytes)."""
        lines = ["%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n" % (method, path, self._host_header, _USER_AGENT)]
        if body is not None:
            lines.append("Content-Length: %d\r\n" % len(body))
        if headers:
            for name, value in headers.items():
                # Header values must stay on one line.
                lines.append("%s: %s\r\n" % (name, str(value).replace("\r", " ").replace("\n", " ")))
        lines.append("\r\n")
        data = "".join(lines).encode("latin-1", "replace")
        if body:
            data += body
        for attempt in (0, 1):
            reused = self._sock is not None
            if not reused:
                self._connect()
            try:
                try:
                    self._sock.sendall(data)
                except (BrokenPipeError, ConnectionResetError):
                    raise _StaleConnection
                return self._read_response(method)
            except _StaleConnection:
                self._close()
                if not reused or attempt:
                    raise ConnectionError("the Runtime API closed the connection")
            except BaseException:
                self._close()
                raise

    def _fill(self):
        chunk = self._sock.recv(65536)
        if not chunk:
            raise EOFError
        self._buf += chunk

    def _read_response(self, method):
        got_any = False
        while True:
            try:
                while True:
                    end = self._buf.find(b"\r\n\r\n")
                    if end >= 0:
                        break
                    self._fill()
                    got_any = True
            except (EOFError, ConnectionResetError, BrokenPipeError):
                if got_any or self._buf:
                    raise ConnectionError("the Runtime API closed the connection mid-response")
                raise _StaleConnection
            head = self._buf[:end].decode("latin-1")
            self._buf = self._buf[end + 4 :]
            lines = head.split("\r\n")
            parts = lines[0].split(None, 2)
            if len(parts) < 2 or not parts[1].isdigit():
                raise ConnectionError("bad status line from the Runtime API: %r" % lines[0])
            status = int(parts[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if 100 <= status < 200:
                continue  # 100 Continue and friends: the real response follows
            break
        keep_alive = parts[0] == "HTTP/1.1"
        connection = headers.get("connection", "").lower()
        if connection == "close":
            keep_alive = False
        elif connection == "keep-alive":
            keep_alive = True
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in headers:
            body = self._read_exact(int(headers["content-length"]))
        else:
            try:
                while True:
                    self._fill()
            except EOFError:
                pass
            body, self._buf = self._buf, b""
            keep_alive = False
        if not keep_alive:
            self._close()
        return status, headers, body

    def _read_exact(self, n):
        try:
            while len(self._buf) < n:
                self._fill()
        except EOFError:
            raise ConnectionError("the Runtime API closed the connection mid-body")
        body, self._buf = self._buf[:n], self._buf[n:]
        return body

    def _read_line(self):
        try:
            while True:
                end = self._buf.find(b"\r\n")
                if end >= 0:
                    line, self._buf = self._buf[:end], self._buf[end + 2 :]
                    return line
                self._fill()
        except EOFError:
            raise ConnectionError("the Runtime API closed the connection mid-body")

    def _read_chunked(self):
        parts = []
        while True:
            size = int(self._read_line().split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self._read_line():  # trailers, then the empty line
                    pass
                return b"".join(parts)
            parts.append(self._read_exact(size))
            self._read_exact(2)

    def next_invocation(self):
        status, headers, body = self.request("GET", _RUNTIME_PATH + "/invocation/next")
        if status != 200:
            raise RuntimeError(
                "Request to Lambda Runtime 'next' endpoint failed. Reason: '%d'. Response body: '%s'"
                % (status, body.decode("utf-8", "replace"))
            )
        return headers, body

    def post(self, path, body, content_type, error_type=None):
        headers = {"Content-Type": content_type}
        if error_type is not None:
            headers[_ERROR_TYPE_HEADER] = error_type
        status, _, response = self.request("POST", _RUNTIME_PATH + path, body, headers)
        if not 200 <= status < 300:
            # The node rejected it (e.g. 413 for an oversized response) and reports that to the
            # caller itself; the runtime goes on to the next invocation, as awslambdaric does.
            sys.stderr.write(
                "Request to Lambda Runtime '%s' endpoint failed. Reason: '%d'. Response body: '%s'\n"
                % (path, status, response.decode("utf-8", "replace"))
            )


class _StaleConnection(Exception):
    """The server closed a kept-alive connection before answering."""


# ---------------------------------------------------------------------------------------------
# JSON through the _json accelerator (what json.loads/json.dumps use underneath).


class _DecoderContext:
    """The attributes _json.make_scanner reads, with json.loads' defaults."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    memo = None

    @staticmethod
    def parse_constant(name):
        return {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}[name]


class _RawJson(str):
    """A str that the encoder writes verbatim (Decimal values, as awslambdaric's simplejson does)."""


class _NeedsRawEncoding(Exception):
    pass


class _Json:
    """json.loads / json.dumps equivalents. Output is byte-identical to json.dumps(obj,
    ensure_ascii=...) except that decimal.Decimal is written as its exact digits (awslambdaric's
    Encoder) instead of raising TypeError."""

    def __init__(self, ensure_ascii):
        self.ensure_ascii = ensure_ascii
        try:
            import _json

            self._scan = _json.make_scanner(_DecoderContext())
            self._quote = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
            self._make_encoder = _json.make_encoder
        except (ImportError, AttributeError, TypeError):  # not CPython: use the json package
            self._scan = None
            self._make_encoder = None

    # -- decoding

    def loads(self, data):
        if self._scan is not None:
            try:
                s = data.decode("utf-8") if isinstance(data, bytes) else data
                start = len(s) - len(s.lstrip(" \t\n\r"))
                value, end = self._scan(s, start)
                if not s[end:].strip(" \t\n\r"):
                    return value
            except Exception:
                pass  # let json.loads produce the exact error message (or succeed, e.g. a BOM)
        import json

        return json.loads(data)

    # -- encoding

    def _default(self, obj):
        if type(obj).__name__ == "Decimal" and "decimal" in sys.modules:
            if isinstance(obj, sys.modules["decimal"].Decimal):
                raise _NeedsRawEncoding
        raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")

    def _raw_default(self, obj):
        decimal = sys.modules.get("decimal")
        if decimal is not None and isinstance(obj, decimal.Decimal):
            if obj.is_nan():
                return float("nan")
            return _RawJson(str(obj))
        raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")

    def _raw_quote(self, s):
        if type(s) is _RawJson:
            return str.__str__(s)
        return self._quote(s)

    def dumps(self, obj):
        if self._make_encoder is None:
            import json

            return json.dumps(obj, ensure_ascii=self.ensure_ascii, default=self._raw_default)
        encode = self._make_encoder({}, self._default, self._quote, None, ": ", ", ", False, False, True)
        try:
            return "".join(encode(obj, 0))
        except _NeedsRawEncoding:
            encode = self._make_encoder({}, self._raw_default, self._raw_quote, None, ": ", ", ", False, False, True)
            return "".join(encode(obj, 0))


# ---------------------------------------------------------------------------------------------
# The context object, as awslambdaric's LambdaContext.


class CognitoIdentity:
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}"
            "])"
        )


class Client:
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"installation_id={self.installation_id},"
            f"app_title={self.app_title},"
            f"app_version_name={self.app_version_name},"
            f"app_version_code={self.app_version_code},"
            f"app_package_name={self.app_package_name}"
            "])"
        )


class ClientContext:
    __slots__ = ["custom", "env", "client"]

    def __repr__(self):
        return f"{self.__class__.__name__}([custom={self.custom},env={self.env},client={self.client}])"


def _obj_from_dict(cls, values):
    if values is None:
        return None
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, values.get(field, None))
    return obj


class LambdaContext:
    def __init__(self, invoke_id, client_context, cognito_identity, epoch_deadline_time_in_ms,
                 invoked_function_arn=None, tenant_id=None):
        self.aws_request_id = invoke_id
        self.log_group_name = _getenv("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = _getenv("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = _getenv("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = _getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = _getenv("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = tenant_id
        self.client_context = _obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _obj_from_dict(Client, self.client_context.client)
        self.identity = _obj_from_dict(CognitoIdentity, {})
        if cognito_identity is not None:
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        self._epoch_deadline_time_in_ms = epoch_deadline_time_in_ms

    def get_remaining_time_in_millis(self):
        delta_ms = self._epoch_deadline_time_in_ms - int(time.time() * 1000)
        return delta_ms if delta_ms > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            f"{self.__class__.__name__}(["
            f"aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}"
            "])"
        )


# ---------------------------------------------------------------------------------------------
# Errors: the body posted to the Runtime API and the log record.


def _make_error(error_message, error_type, stack_trace, invoke_id=None):
    return {
        "errorMessage": error_message if error_message else "",
        "errorType": error_type if error_type else "",
        "requestId": invoke_id if invoke_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def _user_traceback(tb):
    """The traceback as awslambdaric reports it: frames before the first user frame dropped,
    formatted by traceback.format_list from (file, line, function, text) tuples."""
    import traceback

    frames = [(f.filename, f.lineno, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, frame in enumerate(frames):
        if frame[0] not in _OWN_FILES:
            frames = frames[i:]
            break
    return traceback.format_list(frames)


def _exception_error(exc, invoke_id=None):
    return _make_error(str(exc), type(exc).__name__, _user_traceback(exc.__traceback__), invoke_id)


def _indent_with_nbsp(line):
    stripped = line.lstrip(" ")
    return _ERROR_LOG_INDENT * (len(line) - len(stripped)) + stripped


def _log_error(error):
    """Writes the error to stdout as awslambdaric's text-format log_error does."""
    if _LOG_FORMAT_JSON:
        record = {"timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()), "level": "ERROR"}
        record.update(error)
        sys.stdout.write(_json.dumps(record) + "\n")
        return
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        if error.get("errorType"):
            description += ":"
        description += " " + error["errorMessage"]
    lines = [description]
    stack_trace = error.get("stackTrace")
    if stack_trace is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack_trace:
            if element == "":
                lines.append("")
            else:
                lines.extend(_indent_with_nbsp(line) for line in element.splitlines())
    sys.stdout.write(_ERROR_LOG_LINE_TERMINATE.join(lines) + "\n")


def _utc_timestamp(epoch=None):
    epoch = time.time() if epoch is None else epoch
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + ".%03dZ" % (int(epoch * 1000) % 1000)


# ---------------------------------------------------------------------------------------------
# Logging: the root logger gets Lambda's handler when (and only if) `logging` is imported.

_LOG_FORMAT_JSON = (_getenv("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"


def _setup_logging(logging):
    """Installs Lambda's root log handler, as awslambdaric's _setup_logging does."""
    logging.Formatter.converter = time.gmtime

    class LambdaLoggerHandler(logging.Handler):
        def emit(self, record):
            try:
                sys.stdout.write(self.format(record))
            except Exception:
                self.handleError(record)

    class LambdaLoggerFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _current_request_id or ""
            record.tenant_id = None
            return True

    handler = LambdaLoggerHandler()
    if _LOG_FORMAT_JSON:
        handler.setFormatter(_json_log_formatter(logging))
    else:
        handler.setFormatter(
            logging.Formatter(
                "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                "%Y-%m-%dT%H:%M:%S",
            )
        )
    level = _getenv("AWS_LAMBDA_LOG_LEVEL")
    level = {None: "", "TRACE": "DEBUG"}.get(level, level).upper()
    logger = logging.getLogger()
    if level in logging._nameToLevel:
        logger.setLevel(level)
    handler.addFilter(LambdaLoggerFilter())
    logger.addHandler(handler)


def _json_log_formatter(logging):
    """awslambdaric's JsonFormatter (AWS_LAMBDA_LOG_FORMAT=JSON)."""
    reserved = {
        "name", "msg", "args", "levelname", "levelno", "pathname", "filename", "module", "exc_info",
        "exc_text", "stack_info", "lineno", "funcName", "created", "msecs", "relativeCreated",
        "thread", "threadName", "processName", "process", "aws_request_id", "tenant_id", "_frame_type",
    }
    encoder = _Json(ensure_ascii=False)

    class JsonFormatter(logging.Formatter):
        def format(self, record):
            import traceback

            record.levelno = min(50, max(0, record.levelno)) // 10 * 10
            record.levelname = logging.getLevelName(record.levelno)
            exc = record.exc_info
            result = {
                "timestamp": _utc_timestamp(record.created),
                "level": record.levelname,
                "message": record.getMessage(),
                "logger": record.name,
                "stackTrace": traceback.format_tb(exc[2]) if exc else None,
                "errorType": exc[0].__name__ if exc else None,
                "errorMessage": str(exc[1]) if exc else None,
                "requestId": getattr(record, "aws_request_id", None),
                "location": f"{record.pathname}:{record.funcName}:{record.lineno}" if exc else None,
            }
            result.update(
                (k, v) for k, v in record.__dict__.items() if k not in reserved and k not in result
            )
            result = {k: v for k, v in result.items() if v is not None}
            try:
                return encoder.dumps(result) + "\n"
            except TypeError:
                import json

                return json.dumps(result, ensure_ascii=False, default=str) + "\n"

    return JsonFormatter()


class _LoggingImportHook:
    """A sys.meta_path finder that runs _setup_logging right after `logging` is first executed, so
    that functions which never import logging never pay for it."""

    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != "logging":
            return None
        sys.meta_path.remove(cls)
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find else None
            if spec is not None:
                break
        else:
            return None
        loader_exec = spec.loader.exec_module

        def exec_module(module):
            loader_exec(module)
            try:
                _setup_logging(module)
            except Exception:  # e.g. the function ships its own logging.py: leave it alone
                pass

        spec.loader.exec_module = exec_module
        return spec

    @classmethod
    def install(cls):
        if "logging" in sys.modules:
            _setup_logging(sys.modules["logging"])
        else:
            sys.meta_path.insert(0, cls)


# ---------------------------------------------------------------------------------------------
# Init: paths and the handler.


def _site_packages():
    """The interpreter's site-packages directories (what `site` would add, without running it and
    its .pth files). NUBO_PYTHON_SITE_PACKAGES (colon-separated) replaces the detection."""
    configured = _getenv("NUBO_PYTHON_SITE_PACKAGES")
    if configured is not None:
        return [p for p in configured.split(":") if p]
    version = "python%d.%d" % sys.version_info[:2]
    candidates = []
    for prefix in dict.fromkeys((sys.prefix, sys.exec_prefix)):
        candidates += [
            f"{prefix}/local/lib/{version}/dist-packages",  # Debian's layout
            f"{prefix}/lib/python3/dist-packages",
            f"{prefix}/lib/{version}/dist-packages",
            f"{prefix}/lib/{version}/site-packages",  # upstream's layout
        ]
    return [p for p in dict.fromkeys(candidates) if _isdir(p)]


def _setup_paths(task_root):
    """sys.path as Lambda has it: the task root, layers (/opt/python), PYTHONPATH, the standard
    library, then the runtime's packages (boto3)."""
    version = "python%d.%d" % sys.version_info[:2]
    layers = [p for p in (f"/opt/python/lib/{version}/site-packages", "/opt/python") if _isdir(p)]
    if sys.path and sys.path[0] == _OWN_DIR:
        sys.path[0:1] = [task_root] + layers  # the script's directory, put there by the interpreter
    else:
        sys.path[0:0] = [task_root] + layers
    # Last: the libraries Lambda's runtime provides (snapshot_restore_py), where this process sees
    # nubo's runtime folder.
    runtime_lib = (_getenv("LAMBDA_RUNTIME_DIR") or "") + "/python/lib"
    if not _isdir(runtime_lib):
        runtime_lib = _OWN_DIR + "/lib"
    for p in _site_packages() + [runtime_lib]:
        if p not in sys.path:
            sys.path.append(p)


def _site_builtins():
    """exit(), quit() and help(), which `site` would have defined (-S skips it)."""
    import builtins
    import _sitebuiltins  # frozen: costs microseconds

    eof = "Ctrl-D (i.e. EOF)"
    builtins.exit = _sitebuiltins.Quitter("exit", eof)
    builtins.quit = _sitebuiltins.Quitter("quit", eof)
    builtins.help = _sitebuiltins._Helper()


def _get_handler(handler):
    """Imports the handler's module; raises _Fault as awslambdaric's _get_handler does."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise _Fault(_MALFORMED_HANDLER_NAME, "Bad handler '{}': {}".format(handler, str(e)))
    try:
        if modname.split(".")[0] in sys.builtin_module_names:
            raise _Fault(
                _BUILT_IN_MODULE_CONFLICT, "Cannot use built-in module {} as a handler module".format(modname)
            )
        import_name = modname.replace("/", ".")
        __import__(import_name)
        module = sys.modules[import_name]
    except ImportError as e:
        raise _Fault(_IMPORT_MODULE_ERROR, "Unable to import module '{}': {}".format(modname, str(e)))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise _Fault(_USER_CODE_SYNTAX_ERROR, "Syntax error in module '{}': {}".format(modname, str(e)), trace)
    try:
        return getattr(module, fname)
    except AttributeError:
        raise _Fault(_HANDLER_NOT_FOUND, "Handler '{}' missing on module '{}'".format(fname, modname))


# ---------------------------------------------------------------------------------------------
# The loop.

_json = None  # the _Json codec, set by main()


def _parse_json_header(value, name):
    try:
        return _json.loads(value)
    except Exception as e:
        raise _Fault(_CONTEXT_UNMARSHAL_ERROR, "Unable to parse {} JSON: {}".format(name, str(e)))


def _handle(api, handler, headers, body):
    request_id = headers.get("lambda-runtime-aws-request-id", "")
    try:
        client_context = headers.get("lambda-runtime-client-context")
        identity = headers.get("lambda-runtime-cognito-identity")
        context = LambdaContext(
            request_id,
            _parse_json_header(client_context, "Client Context") if client_context else None,
            _parse_json_header(identity, "Cognito Identity") if identity else None,
            int(headers.get("lambda-runtime-deadline-ms") or 0),
            headers.get("lambda-runtime-invoked-function-arn"),
            headers.get("lambda-runtime-aws-tenant-id"),
        )
        content_type = headers.get("content-type", "application/json")
        if content_type.split(";")[0].strip() in ("application/json", ""):
            try:
                event = _json.loads(body)
            except Exception as e:
                raise _Fault(_UNMARSHAL_ERROR, "Unable to unmarshal input: {}".format(str(e)))
        else:
            event = body
        response = handler(event, context)
        if isinstance(response, bytes):
            result, result_type = response, "application/unknown"
        else:
            try:
                result, result_type = _json.dumps(response).encode("utf-8"), "application/json"
            except Exception as e:
                raise _Fault(_MARSHAL_ERROR, "Unable to marshal response: {}".format(str(e)))
    except _Fault as fault:
        error = _make_error(fault.msg, fault.error_type, fault.trace, request_id)
    except Exception as exc:
        error = _exception_error(exc, request_id)
    else:
        _flush()
        api.post("/invocation/%s/response" % request_id, result, result_type)
        return
    _log_error(error)
    _flush()
    api.post(
        "/invocation/%s/error" % request_id,
        _json.dumps(error).encode("utf-8"),
        "application/json",
        error["errorType"],
    )


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


# The zygote's fork server (zygote.c), loaded by the zygote: its children, which cannot see the
# node's file system, use it again as SnapStart templates.
_ZYGOTE_LIB = None


def _serve_as_zygote(fd):
    """A zygote (NUBO_ZYGOTE_FD set; runtimes/README.md "Zygotes"): this interpreter, with this
    module loaded, forks the node's new instances. The fork server is nubo's C library
    (NUBO_ZYGOTE_LIB), called with the GIL held; it returns only in a child, whose sandbox it has
    made, and which then waits for its function as a spare does. The zygote itself exits when the
    node closes its socket."""
    global _ZYGOTE_LIB
    import ctypes

    _ZYGOTE_LIB = ctypes.PyDLL(_getenv("NUBO_ZYGOTE_LIB", ""))
    serve = _ZYGOTE_LIB.nubo_zygote_serve
    serve.argtypes = (ctypes.c_int,)
    serve.restype = ctypes.c_int
    if serve(fd) != 0:
        sys.exit(0)
    _setenv("NUBO_ZYGOTE_FD", None)
    _setenv("NUBO_ZYGOTE_LIB", None)


def _await_assignment():
    """A spare (NUBO_SPARE_FD set; runtimes/README.md "Spares") was started before any function
    needed it: wait for the node to assign it one. The message on that descriptor is the whole
    environment and the working directory; EOF without it means the node no longer needs this
    process."""
    zygote = _getenv("NUBO_ZYGOTE_FD")
    fd = _getenv("NUBO_SPARE_FD")
    if zygote is None and fd is None:
        return
    # What every function needs loaded anyway, loaded before there is one: the JSON accelerator
    # (an extension module: a dlopen) and what _site_builtins uses. A zygote's children inherit it.
    import _json  # noqa: F401
    import _sitebuiltins  # noqa: F401

    # The compiler's first use in a process sets up its AST types (~1 ms here): done now, the
    # handler module's compile (a function's code has no .pyc: /var/task is read-only) costs
    # ~20 us. And json, which AWS's runtime has imported before a handler's `import json`.
    compile("", "<nubo>", "exec")
    import json  # noqa: F401

    if zygote is not None:
        _serve_as_zygote(int(zygote))
    _read_assignment(int(fd))


def _read_assignment(fd):
    """Reads the message on fd to its end (EOF, or an empty datagram on a socket) and becomes the
    process it describes. fd stays open when the new environment names it NUBO_TEMPLATE_FD (a
    SnapStart template talks to the node on it)."""
    chunks = []
    while True:
        try:
            chunk = posix.read(fd, 65536)
        except InterruptedError:
            continue
        if not chunk:
            break
        chunks.append(chunk)
    parts = b"".join(chunks).split(b"\0")
    if len(parts) < 2 or parts[0] != b"nubo-spare-1":
        sys.exit(0)
    for key in list(posix.environ):
        posix.unsetenv(key)
        del posix.environ[key]
    for entry in parts[2:]:
        key, sep, value = entry.partition(b"=")
        if sep:
            posix.putenv(key, value)
            posix.environ[key] = value
    if _getenv("NUBO_TEMPLATE_FD") != str(fd):
        posix.close(fd)
    try:
        posix.chdir(parts[1])
    except OSError:
        pass  # main() changes to LAMBDA_TASK_ROOT and reports what is missing there
    time.tzset()


def _snapshot(fd):
    """SnapStart (runtimes/README.md "SnapStart"): the function's init has run. Runs the
    before-snapshot hooks (in the reverse order of registration, as Lambda does), then serves as
    the version's template: the fork server (zygote.c) returns only in a restored instance, which
    reads its own assignment on fd 3; main() then runs the after-restore hooks (_restored).
    Hooks are registered with snapshot_restore_py (runtimes/python/lib), as on Lambda. An
    exception in a hook is the init's error."""
    hooks = sys.modules.get("snapshot_restore_py")
    if hooks is not None:
        for func, args, kwargs in reversed(hooks.get_before_snapshot()):
            func(*args, **kwargs)
    _flush()
    if _ZYGOTE_LIB is None:
        raise RuntimeError("SnapStart needs the node's zygote (nubo serve --zygotes on)")
    serve = _ZYGOTE_LIB.nubo_template_serve
    import ctypes

    serve.argtypes = (ctypes.c_int,)
    serve.restype = ctypes.c_int
    if serve(fd) != 0:
        sys.exit(0)
    _read_assignment(3)


def _restored():
    """The after-restore hooks, in the order of registration."""
    hooks = sys.modules.get("snapshot_restore_py")
    if hooks is not None:
        for func, args, kwargs in hooks.get_after_restore():
            func(*args, **kwargs)


def main():
    global _json, _current_request_id, _LOG_FORMAT_JSON
    _await_assignment()
    # Read again: a spare imported this module before it had the function's environment.
    _LOG_FORMAT_JSON = (_getenv("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
    _json = _Json(ensure_ascii=_getenv("AWS_EXECUTION_ENV") != "AWS_Lambda_python3.12")
    api = _RuntimeApi(_getenv("AWS_LAMBDA_RUNTIME_API", ""))
    task_root = _getenv("LAMBDA_TASK_ROOT") or posix.getcwd()
    _setup_paths(task_root)
    _site_builtins()
    try:
        posix.chdir(task_root)
    except OSError:
        pass
    _LoggingImportHook.install()

    try:
        handler = _get_handler(_getenv("_HANDLER", ""))
        template = _getenv("NUBO_TEMPLATE_FD")
        if template is not None:
            _snapshot(int(template))
            # A restored instance: its own Runtime API (where a hook's error goes), log stream
            # and credentials.
            _LOG_FORMAT_JSON = (_getenv("AWS_LAMBDA_LOG_FORMAT") or "").upper() == "JSON"
            api = _RuntimeApi(_getenv("AWS_LAMBDA_RUNTIME_API", ""))
            _restored()
    except _Fault as fault:
        error = _make_error(fault.msg, fault.error_type, fault.trace)
    except Exception as exc:
        error = _exception_error(exc)
    else:
        error = None
    if error is not None:
        _log_error(error)
        _flush()
        api.post("/init/error", _json.dumps(error).encode("utf-8"), "application/json", error["errorType"])
        sys.exit(1)

    while True:
        headers, body = api.next_invocation()
        _current_request_id = headers.get("lambda-runtime-aws-request-id")
        _setenv("_X_AMZN_TRACE_ID", headers.get("lambda-runtime-trace-id") or None)
        _handle(api, handler, headers, body)

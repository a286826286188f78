'use strict';
/**
 * nubo's Lambda runtime client for the nodejs20.x / nodejs22.x runtimes.
 *
 * It behaves as AWS's runtime for those versions (npm aws-lambda-ric 3.x, the code of
 * /var/runtime on Lambda): the same handler loading (CommonJS and ES modules, `dir/file.fn`
 * handler strings), the same context object, callback / context.succeed / async handlers with
 * callbackWaitsForEmptyEventLoop, the same console format, and the same error bodies
 * ({errorType, errorMessage, trace}) and error log lines. It talks to the Runtime API with node's
 * `http` and one keep-alive socket instead of AWS's native curl addon.
 *
 * The node starts it as runtimes/README.md says. Environment: AWS_LAMBDA_RUNTIME_API, _HANDLER,
 * LAMBDA_TASK_ROOT, the AWS_LAMBDA_* variables of the context, and NODE_PATH naming
 * runtimes/nodejs/node_modules (the AWS SDK v3 for require()).
 *
 * This file is CommonJS on purpose: an ES module entry point costs node ~5 ms more to start.
 * Keep requires at the top to what every start needs.
 */

const http = require('http');
const util = require('util');
const fs = require('fs');
const path = require('path');

const RUNTIME_PATH = '/2018-06-01/runtime';
const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
const USER_AGENT = `nubo-lambda-nodejs/${process.version}`;
const SDK_MODULES = path.join(__dirname, 'node_modules');

// ------------------------------------------------------------------------------------------------
// Errors (aws-lambda-ric Errors.js)

function isErrorLike(obj) {
  return (
    obj &&
    obj.name &&
    obj.message &&
    obj.stack &&
    typeof obj.name === 'string' &&
    typeof obj.message === 'string' &&
    typeof obj.stack === 'string'
  );
}

function intoError(err) {
  return err instanceof Error ? err : new Error(err);
}

/** The body posted to /error and /init/error. */
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || isErrorLike(error)) {
      return {
        errorType: error.name?.replace(/\x7F/g, '%7F'),
        errorMessage: error.message?.replace(/\x7F/g, '%7F'),
        trace: error.stack.replace(/\x7F/g, '%7F').split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch (_err) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one or more of its message, name, and stack',
    };
  }
}

function withEnumerableProperties(error) {
  if (error instanceof Error) {
    const ret = Object.assign({ errorType: error.name, errorMessage: error.message, code: error.code }, error);
    if (typeof error.stack == 'string') {
      ret.stack = error.stack.split('\n');
    }
    return ret;
  }
  return error;
}

/** The error as it follows "Invoke Error" / "Uncaught Exception" in the log. */
function toFormatted(error) {
  try {
    return '\t' + JSON.stringify(error, (_k, v) => withEnumerableProperties(v));
  } catch (_err) {
    return '\t' + JSON.stringify(toRapidResponse(error));
  }
}

class ImportModuleError extends Error {}
class HandlerNotFound extends Error {}
class MalformedHandlerName extends Error {}
class UserCodeSyntaxError extends Error {}
class MalformedStreamingHandler extends Error {}
class InvalidStreamingOperation extends Error {}
class UnhandledPromiseRejection extends Error {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
for (const cls of [
  ImportModuleError,
  HandlerNotFound,
  MalformedHandlerName,
  UserCodeSyntaxError,
  MalformedStreamingHandler,
  InvalidStreamingOperation,
  UnhandledPromiseRejection,
]) {
  cls.prototype.name = `Runtime.${cls.name}`;
}

// ------------------------------------------------------------------------------------------------
// Console (aws-lambda-ric LogPatch.js): "<ISO time>\t<request id>\t<LEVEL>\t<message>", one line
// per call with inner newlines turned into \r, or JSON lines with AWS_LAMBDA_LOG_FORMAT=JSON.

const REQUEST_ID_SYMBOL = Symbol.for('aws.lambda.runtime.requestId');
const TENANT_ID_SYMBOL = Symbol.for('aws.lambda.runtime.tenantId');
const LEVELS = Object.freeze({
  TRACE: { name: 'TRACE', priority: 1 },
  DEBUG: { name: 'DEBUG', priority: 2 },
  INFO: { name: 'INFO', priority: 3 },
  WARN: { name: 'WARN', priority: 4 },
  ERROR: { name: 'ERROR', priority: 5 },
  FATAL: { name: 'FATAL', priority: 6 },
});
const structuredConsole = {};

function jsonErrorReplacer(_, value) {
  if (value instanceof Error) {
    return Object.assign(
      {
        errorType: value?.constructor?.name ?? 'UnknownError',
        errorMessage: value.message,
        stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      },
      value,
    );
  }
  return value;
}

function formatJsonMessage(requestId, timestamp, level, tenantId, ...messageParams) {
  const result = { timestamp, level: level.name, requestId };
  if (tenantId !== undefined && tenantId !== null) {
    result.tenantId = tenantId;
  }
  if (messageParams.length === 1) {
    result.message = messageParams[0];
    try {
      return JSON.stringify(result, jsonErrorReplacer);
    } catch (_) {
      result.message = util.format(result.message);
      return JSON.stringify(result);
    }
  }
  result.message = util.format(...messageParams);
  for (const param of messageParams) {
    if (param instanceof Error) {
      result.errorType = param?.constructor?.name ?? 'UnknownError';
      result.errorMessage = param.message;
      result.stackTrace = typeof param.stack === 'string' ? param.stack.split('\n') : [];
      break;
    }
  }
  return JSON.stringify(result);
}

function logTextToStdout(level, message, ...params) {
  const line = `${new Date().toISOString()}\t${global[REQUEST_ID_SYMBOL]}\t${level.name}\t${util.format(
    message,
    ...params,
  )}`;
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function logJsonToStdout(level, message, ...params) {
  const line = formatJsonMessage(
    global[REQUEST_ID_SYMBOL],
    new Date().toISOString(),
    level,
    global[TENANT_ID_SYMBOL],
    message,
    ...params,
  );
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function patchConsole() {
  const json = process.env.AWS_LAMBDA_LOG_FORMAT?.toUpperCase() === 'JSON';
  const log = json ? logJsonToStdout : logTextToStdout;
  const minLevel = LEVELS[process.env.AWS_LAMBDA_LOG_LEVEL?.toUpperCase()] ?? LEVELS.TRACE;
  const nop = () => {};
  const at = (level) => (level.priority >= minLevel.priority ? (msg, ...params) => log(level, msg, ...params) : nop);
  console.trace = at(LEVELS.TRACE);
  console.debug = at(LEVELS.DEBUG);
  console.info = at(LEVELS.INFO);
  console.log = console.info;
  console.warn = at(LEVELS.WARN);
  console.error = at(LEVELS.ERROR);
  console.fatal = (msg, ...params) => log(LEVELS.FATAL, msg, ...params);
  structuredConsole.logError = json
    ? (_, err) => console.error(intoError(err))
    : (msg, err) => console.error(msg, toFormatted(intoError(err)));
}

// ------------------------------------------------------------------------------------------------
// Runtime API client: http with one keep-alive socket (aws-lambda-ric RAPIDClient.js).

function lostRuntimeApi(err) {
  process.stderr.write(`nubo runtime: the Runtime API request failed: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
}

class RapidClient {
  constructor(hostnamePort) {
    const at = hostnamePort.lastIndexOf(':');
    this.hostname = hostnamePort.slice(0, at).replace(/^\[|\]$/g, '') || '127.0.0.1';
    this.port = parseInt(hostnamePort.slice(at + 1), 10);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  }

  /** Resolves to {bodyJson, headers} of the next invocation. */
  nextInvocation() {
    return new Promise((resolve) => {
      const request = http.request(
        {
          hostname: this.hostname,
          port: this.port,
          path: RUNTIME_PATH + '/invocation/next',
          method: 'GET',
          agent: this.agent,
          headers: { 'User-Agent': USER_AGENT },
        },
        (response) => {
          let data = '';
          response.setEncoding('utf-8');
          response.on('data', (chunk) => (data += chunk));
          response.on('end', () => {
            if (response.statusCode !== 200) {
              lostRuntimeApi(`GET /invocation/next answered ${response.statusCode}: ${data}`);
            }
            resolve({ bodyJson: data, headers: response.headers });
          });
          response.on('error', lostRuntimeApi);
        },
      );
      request.on('error', lostRuntimeApi);
      request.end();
    });
  }

  postInvocationResponse(response, id, callback) {
    const body = trySerializeResponse(response);
    this._post(`${RUNTIME_PATH}/invocation/${encodeURIComponent(id)}/response`, body, {}, callback);
  }

  postInvocationError(error, id, callback) {
    const response = toRapidResponse(error);
    this._post(
      `${RUNTIME_PATH}/invocation/${encodeURIComponent(id)}/error`,
      trySerializeResponse(response),
      { [ERROR_TYPE_HEADER]: headerValue(response.errorType) },
      callback,
    );
  }

  postInitError(error, callback) {
    const response = toRapidResponse(error);
    this._post(
      `${RUNTIME_PATH}/init/error`,
      trySerializeResponse(response),
      { [ERROR_TYPE_HEADER]: headerValue(response.errorType) },
      callback,
    );
  }

  _post(urlPath, body, headers, callback) {
    const request = http.request(
      {
        hostname: this.hostname,
        port: this.port,
        path: urlPath,
        method: 'POST',
        agent: this.agent,
        headers: Object.assign(
          {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
            'User-Agent': USER_AGENT,
          },
          headers,
        ),
      },
      (response) => {
        let data = '';
        response.on('data', (chunk) => (data += chunk));
        response.on('end', () => {
          if (response.statusCode < 200 || response.statusCode > 299) {
            // The node rejected the post (e.g. 413, too large) and reports that to the caller.
            process.stderr.write(`nubo runtime: POST ${urlPath} answered ${response.statusCode}: ${data}\n`);
          }
          if (callback) callback();
        });
        response.on('error', lostRuntimeApi);
      },
    );
    request.on('error', lostRuntimeApi);
    request.end(body, 'utf-8');
  }

  /** A writable stream for a streaming response (awslambda.streamifyResponse handlers). */
  responseStream(id, contentType) {
    return createResponseStream(this, `${RUNTIME_PATH}/invocation/${encodeURIComponent(id)}/response`, contentType);
  }
}

function headerValue(value) {
  return String(value).replace(/[^\t\x20-\x7e]/g, '?');
}

function trySerializeResponse(body) {
  try {
    return JSON.stringify(body === undefined ? null : body);
  } catch (err) {
    throw new Error('Unable to stringify response body');
  }
}

// ------------------------------------------------------------------------------------------------
// Response streaming: chunked POST with the Lambda-Runtime-Function-Response-Mode header; an error
// after the first byte goes out as the Lambda-Runtime-Function-Error-Type/-Body trailers.

const STREAM_CONTENT_TYPE = 'application/octet-stream';
const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';

function createResponseStream(client, urlPath, contentType) {
  let resolveDone;
  let rejectDone;
  const done = new Promise((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  const request = http.request({
    hostname: client.hostname,
    port: client.port,
    path: urlPath,
    method: 'POST',
    agent: client.agent,
    headers: {
      'Lambda-Runtime-Function-Response-Mode': 'streaming',
      'Transfer-Encoding': 'chunked',
      Trailer: 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body',
      'Content-Type': contentType || STREAM_CONTENT_TYPE,
      'User-Agent': USER_AGENT,
    },
  });
  request.on('response', (response) => {
    response.resume();
    response.on('end', () => resolveDone());
  });
  request.on('error', (err) => rejectDone(err));
  let written = false;
  const write = request.write.bind(request);
  request.setContentType = (type) => {
    if (written) {
      throw new InvalidStreamingOperation('Cannot set content-type, too late.');
    }
    request.setHeader('Content-Type', type);
  };
  request.write = (chunk, encoding, callback) => {
    if (typeof chunk !== 'string' && !Buffer.isBuffer(chunk) && chunk?.constructor !== Uint8Array) {
      chunk = JSON.stringify(chunk);
    }
    if (!written && typeof request._onBeforeFirstWrite === 'function') {
      request._onBeforeFirstWrite((c) => write(c));
    }
    written = true;
    return write(chunk, encoding, callback);
  };
  const fail = (err, callback) => {
    const error = toRapidResponse(err);
    request.addTrailers({
      'Lambda-Runtime-Function-Error-Type': headerValue(error.errorType),
      'Lambda-Runtime-Function-Error-Body': Buffer.from(JSON.stringify(error)).toString('base64'),
    });
    request.end(callback);
  };
  return { stream: request, done, fail };
}

class HttpResponseStream {
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(HTTP_INTEGRATION_CONTENT_TYPE);
    const metadataPrelude = JSON.stringify(prelude);
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadataPrelude);
      write(new Uint8Array(8));
    };
    return underlyingStream;
  }
}

// ------------------------------------------------------------------------------------------------
// Handler loading (aws-lambda-ric UserFunction.js).

const FUNCTION_EXPR = /^([^.]*)\.(.*)$/;
const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';

function moduleRootAndHandler(fullHandlerString) {
  const handlerString = path.basename(fullHandlerString);
  const moduleRoot = fullHandlerString.substring(0, fullHandlerString.indexOf(handlerString));
  return [moduleRoot, handlerString];
}

function splitHandlerString(handler) {
  const match = handler.match(FUNCTION_EXPR);
  if (!match || match.length != 3) {
    throw new MalformedHandlerName('Bad handler');
  }
  return [match[1], match[2]];
}

function resolveHandler(object, nestedProperty) {
  return nestedProperty.split('.').reduce((nested, key) => nested && nested[key], object);
}

function tryRequireFile(file, extension) {
  const p = file + (extension || '');
  return fs.existsSync(p) ? require(p) : undefined;
}

/**
 * Loads an ES module as Lambda does with import(), but through require(esm) where node has it
 * (20.19+): the same module namespace, ~30 ms sooner, since the asynchronous ESM loader never
 * starts. Modules with top-level await (ERR_REQUIRE_ASYNC_MODULE, raised before anything is
 * evaluated) and functions that need the resolve hook, which require() does not consult, use
 * import().
 */
async function tryAwaitImport(file, extension) {
  const p = file + (extension || '');
  if (!fs.existsSync(p)) {
    return undefined;
  }
  const hooked = ensureEsmCanImportSdk();
  if (!hooked && process.features.require_module) {
    try {
      return require(p);
    } catch (e) {
      if (e?.code !== 'ERR_REQUIRE_ASYNC_MODULE') throw e;
    }
  }
  return await import(require('url').pathToFileURL(p).href);
}

function hasFolderPackageJsonTypeModule(folder) {
  if (folder.endsWith('/node_modules')) {
    return false;
  }
  const pj = path.join(folder, '/package.json');
  if (fs.existsSync(pj)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(pj));
      if (pkg) {
        return pkg.type === 'module';
      }
    } catch (e) {
      console.warn(`${pj} cannot be read, it will be ignored for ES module detection purposes.`, e);
      return false;
    }
  }
  if (folder === '/') {
    return false;
  }
  return hasFolderPackageJsonTypeModule(path.resolve(folder, '..'));
}

function hasPackageJsonTypeModule(file) {
  const jsPath = file + '.js';
  return fs.existsSync(jsPath) ? hasFolderPackageJsonTypeModule(path.resolve(path.dirname(jsPath))) : false;
}

async function tryRequire(appRoot, moduleRoot, module) {
  const lambdaStylePath = path.resolve(appRoot, moduleRoot, module);
  const extensionless = tryRequireFile(lambdaStylePath);
  if (extensionless) {
    return extensionless;
  }
  const pjHasModule = hasPackageJsonTypeModule(lambdaStylePath);
  if (!pjHasModule) {
    const loaded = tryRequireFile(lambdaStylePath, '.js');
    if (loaded) {
      return loaded;
    }
  }
  const loaded =
    (pjHasModule && (await tryAwaitImport(lambdaStylePath, '.js'))) ||
    (await tryAwaitImport(lambdaStylePath, '.mjs')) ||
    tryRequireFile(lambdaStylePath, '.cjs');
  if (loaded) {
    return loaded;
  }
  const nodeStylePath = require.resolve(module, { paths: [appRoot, moduleRoot] });
  return require(nodeStylePath);
}

async function loadUserApp(appRoot, moduleRoot, module) {
  if (!(process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA === '1' || process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA === 'true')) {
    globalThis.awslambda = {
      streamifyResponse: (handler, options) => {
        handler[HANDLER_STREAMING] = STREAM_RESPONSE;
        if (typeof options?.highWaterMark === 'number') {
          handler[HANDLER_HIGHWATERMARK] = parseInt(options.highWaterMark);
        }
        return handler;
      },
      HttpResponseStream,
    };
  }
  try {
    return await tryRequire(appRoot, moduleRoot, module);
  } catch (e) {
    if (e instanceof SyntaxError) {
      throw userCodeSyntaxError(e);
    } else if (e.code !== undefined && e.code === 'MODULE_NOT_FOUND') {
      throw new ImportModuleError(e);
    }
    throw e;
  }
}

function userCodeSyntaxError(e) {
  const err = new UserCodeSyntaxError(e);
  err.stack = e.stack;
  return err;
}

async function loadHandler(appRoot, fullHandlerString) {
  if (fullHandlerString.includes('..')) {
    throw new MalformedHandlerName(
      `'${fullHandlerString}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
    );
  }
  const [moduleRoot, moduleAndHandler] = moduleRootAndHandler(fullHandlerString);
  const [module, handlerPath] = splitHandlerString(moduleAndHandler);
  const userApp = await loadUserApp(appRoot, moduleRoot, module);
  const handlerFunc = resolveHandler(userApp, handlerPath);
  if (!handlerFunc) {
    throw new HandlerNotFound(`${fullHandlerString} is undefined or not exported`);
  }
  if (typeof handlerFunc !== 'function') {
    throw new HandlerNotFound(`${fullHandlerString} is not a function`);
  }
  return handlerFunc;
}

function handlerMetadata(handler) {
  const streaming = handler[HANDLER_STREAMING];
  if (streaming !== undefined && streaming !== null && streaming !== false && streaming !== STREAM_RESPONSE) {
    throw new MalformedStreamingHandler('Only response streaming is supported.');
  }
  const hwm = parseInt(handler[HANDLER_HIGHWATERMARK]);
  return { streaming: streaming === STREAM_RESPONSE, highWaterMark: isNaN(hwm) ? undefined : hwm };
}

/**
 * ES modules ignore NODE_PATH. When the function's code has no node_modules/@aws-sdk in any
 * ancestor directory (the zero-cost layout in runtimes/README.md), register esm-hook.mjs, a
 * resolve hook that falls back to runtimes/nodejs/node_modules. Registering starts node's loader
 * thread (tens of milliseconds), so it happens only for ES module handlers and only then.
 */
let esmHooked;
function ensureEsmCanImportSdk() {
  if (esmHooked === undefined) {
    esmHooked = registerEsmHookIfNeeded();
  }
  return esmHooked;
}

function registerEsmHookIfNeeded() {
  if (process.env.NUBO_NODE_ESM_HOOK === '0' || !fs.existsSync(SDK_MODULES)) return false;
  for (let dir = path.resolve(process.env.LAMBDA_TASK_ROOT || '.'); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'node_modules', '@aws-sdk'))) return false;
    if (dir === path.dirname(dir)) break;
  }
  const { register } = require('module');
  if (typeof register !== 'function') return false;
  const url = require('url');
  register(url.pathToFileURL(path.join(__dirname, 'esm-hook.mjs')).href, {
    data: { fallbackParentURL: url.pathToFileURL(path.join(__dirname, 'package.json')).href },
  });
  return true;
}

// ------------------------------------------------------------------------------------------------
// Per-invocation context (aws-lambda-ric InvokeContext.js, CallbackContext.js).

const BEFORE_EXIT_LISTENER = Symbol.for('aws.lambda.beforeExit');
const BeforeExitListener = {
  invoke: () => global[BEFORE_EXIT_LISTENER](),
  reset: () => (global[BEFORE_EXIT_LISTENER] = () => {}),
  set: (listener) => (global[BEFORE_EXIT_LISTENER] = listener),
};

function parseJsonHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

class InvokeContext {
  constructor(headers) {
    this.headers = headers; // node lowercases header names
  }

  get invokeId() {
    const id = this.headers['lambda-runtime-aws-request-id'];
    if (!id) throw new Error('invocation id is missing or invalid');
    return id;
  }

  updateLoggingContext() {
    global[REQUEST_ID_SYMBOL] = this.invokeId;
    global[TENANT_ID_SYMBOL] = this.headers['lambda-runtime-aws-tenant-id'];
  }

  attachEnvironmentData(callbackContext) {
    const trace = this.headers['lambda-runtime-trace-id'];
    if (trace) {
      process.env._X_AMZN_TRACE_ID = trace;
    } else {
      delete process.env._X_AMZN_TRACE_ID;
    }
    const deadline = this.headers['lambda-runtime-deadline-ms'];
    return Object.assign(
      callbackContext,
      {
        functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
        functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
        memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
        logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
        logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
      },
      {
        clientContext: parseJsonHeader(this.headers['lambda-runtime-client-context'], 'ClientContext'),
        identity: parseJsonHeader(this.headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
        invokedFunctionArn: this.headers['lambda-runtime-invoked-function-arn'],
        awsRequestId: this.headers['lambda-runtime-aws-request-id'],
        tenantId: this.headers['lambda-runtime-aws-tenant-id'],
        getRemainingTimeInMillis: function () {
          return deadline - Date.now();
        },
      },
    );
  }
}

/** Returns [callback, context with succeed/fail/done, markCompleted], each reporting at most once. */
function buildCallbackContext(client, id, scheduleNext) {
  const postError = (err, next) => {
    structuredConsole.logError('Invoke Error', err);
    client.postInvocationError(err, id, next);
  };
  let isCompleteInvoked = false;
  const complete = (result, next) => {
    if (isCompleteInvoked) {
      console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
      return;
    }
    isCompleteInvoked = true;
    client.postInvocationResponse(result, id, next);
  };
  let waitForEmptyEventLoop = true;
  const callback = function (err, result) {
    BeforeExitListener.reset();
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else if (!waitForEmptyEventLoop) {
      complete(result, scheduleNext);
    } else {
      BeforeExitListener.set(() => setImmediate(() => complete(result, scheduleNext)));
    }
  };
  const done = (err, result) => {
    BeforeExitListener.reset();
    if (err !== undefined && err !== null) {
      postError(err, scheduleNext);
    } else {
      complete(result, scheduleNext);
    }
  };
  const succeed = (result) => done(null, result);
  const fail = (err) => (err === undefined || err === null ? done('handled') : done(err, null));
  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed,
    fail,
    done,
  };

  let finished = false;
  const onlyOnce = (fn) =>
    function () {
      if (!finished) {
        fn.apply(null, arguments);
        finished = true;
      }
    };
  context.succeed = onlyOnce(context.succeed);
  context.fail = onlyOnce(context.fail);
  context.done = onlyOnce(context.done);
  return [onlyOnce(callback), context, () => (isCompleteInvoked = true)];
}

function isPromise(obj) {
  return obj && obj.then && typeof obj.then === 'function';
}

// ------------------------------------------------------------------------------------------------
// The loop (aws-lambda-ric Runtime.js).

class Runtime {
  constructor(client, handler, metadata, errorCallbacks) {
    this.client = client;
    this.handler = handler;
    this.metadata = metadata;
    this.errorCallbacks = errorCallbacks;
    this.handleOnce = metadata.streaming ? this.handleOnceStreaming : this.handleOnceNonStreaming;
  }

  scheduleIteration() {
    setImmediate(() => {
      this.handleOnce().then(
        () => {},
        (err) => {
          console.log(`Unexpected Top Level Error: ${err.toString()}`);
          this.errorCallbacks.uncaughtException(err);
        },
      );
    });
  }

  async handleOnceNonStreaming() {
    const { bodyJson, headers } = await this.client.nextInvocation();
    const invokeContext = new InvokeContext(headers);
    invokeContext.updateLoggingContext();
    const [callback, callbackContext, markCompleted] = buildCallbackContext(
      this.client,
      invokeContext.invokeId,
      this.scheduleIteration.bind(this),
    );
    try {
      this.setErrorCallbacks(invokeContext.invokeId);
      BeforeExitListener.set(() => {
        markCompleted();
        this.client.postInvocationResponse(null, invokeContext.invokeId, () => this.scheduleIteration());
      });
      const result = this.handler(JSON.parse(bodyJson), invokeContext.attachEnvironmentData(callbackContext), callback);
      if (isPromise(result)) {
        result.then(callbackContext.succeed, callbackContext.fail).catch(callbackContext.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  async handleOnceStreaming() {
    const { bodyJson, headers } = await this.client.nextInvocation();
    const invokeContext = new InvokeContext(headers);
    invokeContext.updateLoggingContext();
    const id = invokeContext.invokeId;
    let waitForEmptyEventLoop = true;
    const scheduleNext = () => {
      BeforeExitListener.reset();
      if (!waitForEmptyEventLoop) {
        this.scheduleIteration();
      } else {
        BeforeExitListener.set(() => setImmediate(() => this.scheduleIteration()));
      }
    };
    const { stream, done, fail } = this.client.responseStream(id);
    const ctxFail = (err) => {
      structuredConsole.logError('Invoke Error', err);
      fail(err, () => done.then(scheduleNext, scheduleNext));
    };
    try {
      this.setErrorCallbacks(id);
      BeforeExitListener.set(() => this.scheduleIteration());
      const context = invokeContext.attachEnvironmentData({
        get callbackWaitsForEmptyEventLoop() {
          return waitForEmptyEventLoop;
        },
        set callbackWaitsForEmptyEventLoop(value) {
          waitForEmptyEventLoop = value;
        },
      });
      const handlerResult = this.handler(JSON.parse(bodyJson), stream, context);
      if (!isPromise(handlerResult)) {
        ctxFail(new Error('Streaming does not support non-async handlers.'));
        return;
      }
      const result = await handlerResult;
      if (typeof result !== 'undefined') {
        console.warn('Streaming handlers ignore return values.');
      }
      await done;
      if (!stream.writableFinished) {
        ctxFail(new Error('Response stream is not finished.'));
        return;
      }
      scheduleNext();
    } catch (err) {
      ctxFail(err);
    }
  }

  setErrorCallbacks(invokeId) {
    this.errorCallbacks.uncaughtException = (error) => {
      this.client.postInvocationError(error, invokeId, () => process.exit(129));
    };
    this.errorCallbacks.unhandledRejection = (error) => {
      this.client.postInvocationError(error, invokeId, () => process.exit(128));
    };
  }
}

/**
 * NODE_PATH as Lambda sets it when the caller did not (layers, the runtime's SDK, the task root).
 * node reads NODE_PATH at startup, so the module search paths are rebuilt after setting it.
 */
function defaultNodePath(appRoot) {
  if (process.env.NODE_PATH) return;
  process.env.NODE_PATH = ['/opt/nodejs/node_modules', SDK_MODULES, appRoot].join(':');
  require('module')._initPaths();
}

/**
 * A spare (NUBO_SPARE_FD set; runtimes/README.md "Spares") was started before any function needed
 * it: wait for the node to assign it one. The message on that descriptor is the whole environment
 * and the working directory; EOF without it means the node no longer needs this process.
 */
function awaitAssignment() {
  const fdText = process.env.NUBO_SPARE_FD;
  if (fdText === undefined) return;
  const fd = Number(fdText);
  let data;
  try {
    data = fs.readFileSync(fd);
    fs.closeSync(fd);
  } catch (_) {
    process.exit(0);
  }
  const parts = data.toString('utf8').split('\0');
  if (parts.length < 2 || parts[0] !== 'nubo-spare-1') process.exit(0);
  for (const key of Object.keys(process.env)) delete process.env[key];
  for (const entry of parts.slice(2)) {
    const eq = entry.indexOf('=');
    if (eq > 0) process.env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  try {
    process.chdir(parts[1]);
  } catch (_) {
    // main() changes to LAMBDA_TASK_ROOT and reports what is missing there.
  }
  require('module')._initPaths();  // NODE_PATH as the function has it
}

/**
 * A spare's warm-up while it waits for its function: one request through the same http client
 * code the Runtime API client uses, to an in-process server, so that node has loaded and compiled
 * that path before a cold start needs it.
 */
async function warmUp() {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => res.end('{}'));
  });
  try {
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', resolve);
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await new Promise((resolve) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: server.address().port,
          path: RUNTIME_PATH + '/invocation/next',
          method: 'POST',
          agent,
          headers: { 'Content-Type': 'application/json', 'User-Agent': USER_AGENT },
        },
        (res) => {
          res.setEncoding('utf8');
          res.on('data', () => {});
          res.on('end', resolve);
          res.on('error', resolve);
        },
      );
      req.on('error', resolve);
      req.end('{}');
    });
    agent.destroy();
  } catch (_) {
    // A warm-up that fails costs nothing but its own time.
  }
  await new Promise((resolve) => server.close(resolve));
}

async function main() {
  if (process.env.NUBO_SPARE_FD !== undefined) await warmUp();
  awaitAssignment();
  patchConsole();
  const client = new RapidClient(process.env.AWS_LAMBDA_RUNTIME_API || '');
  const errorCallbacks = {
    uncaughtException: (error) => client.postInitError(error, () => process.exit(129)),
    unhandledRejection: (error) => client.postInitError(error, () => process.exit(128)),
  };
  process.on('uncaughtException', (error) => {
    structuredConsole.logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new UnhandledPromiseRejection(reason, promise);
    structuredConsole.logError('Unhandled Promise Rejection', error);
    errorCallbacks.unhandledRejection(error);
  });
  BeforeExitListener.reset();
  process.on('beforeExit', BeforeExitListener.invoke);

  const appRoot = process.env.LAMBDA_TASK_ROOT || process.cwd();
  defaultNodePath(appRoot);
  try {
    process.chdir(appRoot);
  } catch (_) {
    // Lambda's working directory is the task root; carry on from wherever we are if it is missing.
  }
  let handler;
  let metadata;
  try {
    handler = await loadHandler(appRoot, process.env._HANDLER || '');
    metadata = handlerMetadata(handler);
  } catch (error) {
    // On Lambda a failed load surfaces as an uncaught exception of the runtime's entry module.
    structuredConsole.logError('Uncaught Exception', error);
    errorCallbacks.uncaughtException(error);
    return;
  }
  new Runtime(client, handler, metadata, errorCallbacks).scheduleIteration();
}

main();

/**
 * A module resolve hook (module.register, node >= 20.6) for functions written as ES modules:
 * ES module resolution ignores NODE_PATH, so a bare specifier that the function's own
 * node_modules cannot satisfy (e.g. '@aws-sdk/client-s3') is resolved again as if it were imported
 * from runtimes/nodejs/, whose node_modules holds the SDK. The function's own packages always win.
 *
 * bootstrap.cjs registers it only when it is needed (see ensureEsmCanImportSdk there); it runs on
 * node's loader thread.
 */

let fallbackParentURL;

export async function initialize(data) {
  fallbackParentURL = data?.fallbackParentURL;
}

function isBareSpecifier(specifier) {
  return !(
    specifier.startsWith('./') ||
    specifier.startsWith('../') ||
    specifier.startsWith('/') ||
    specifier.startsWith('#') ||
    /^[a-zA-Z][a-zA-Z\d+.-]*:/.test(specifier)
  );
}

export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND' || !fallbackParentURL || !isBareSpecifier(specifier)) {
      throw err;
    }
    try {
      return await nextResolve(specifier, { ...context, parentURL: fallbackParentURL });
    } catch {
      throw err; // report the function's own resolution failure, not the fallback's
    }
  }
}

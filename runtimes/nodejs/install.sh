#!/bin/sh
# Installs the AWS SDK for JavaScript v3 clients pinned in package.json / package-lock.json into
# runtimes/nodejs/node_modules, where nubo's Node.js runtime lets functions import them (NODE_PATH
# for require, and the layout or resolve hook in runtimes/README.md for import).
# Idempotent: does nothing when node_modules already matches package-lock.json.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE"

# npm writes node_modules/.package-lock.json on install; if it equals the lock file, we are done.
if [ -f package-lock.json ] && [ -f node_modules/.package-lock.json ] &&
   node -e '
     const a = require("./package-lock.json").packages, b = require("./node_modules/.package-lock.json").packages;
     const ka = Object.keys(a).filter((k) => k !== ""), kb = Object.keys(b);
     process.exit(ka.length === kb.length && ka.every((k) => b[k] && b[k].version === a[k].version) ? 0 : 1);
   '; then
  echo "runtimes/nodejs/node_modules is up to date"
  exit 0
fi

start=$(date +%s)
if [ -f package-lock.json ]; then
  npm ci --omit=dev --no-audit --no-fund
else
  npm install --omit=dev --no-audit --no-fund
fi
echo "runtimes/nodejs/node_modules installed in $(($(date +%s) - start)) s"

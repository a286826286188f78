#!/bin/sh
# Installs the official AWS Lambda Node.js runtime interface client (npm aws-lambda-ric, pinned in
# package.json / package-lock.json) into runtimes/ric/node_modules. Idempotent: does nothing when the
# pinned version and its native addon are already there.
#
# aws-lambda-ric builds curl and aws-lambda-cpp from bundled sources in its preinstall step and then a
# node-gyp addon, so it needs: a C/C++ toolchain, make, cmake, autoconf, automake, libtool, python3 and
# the Node.js headers. The headers come from the nodejs Debian package (/usr/include/node); node-gyp is
# pointed at them so that it never tries to download them.
#
# Usage: runtimes/ric/install.sh            (as root, or with the tools already installed)
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PIN=$(node -p "require('$HERE/package.json').dependencies['aws-lambda-ric']")
RIC="$HERE/node_modules/aws-lambda-ric"

installed_version() {
  node -p "require('$RIC/package.json').version" 2>/dev/null || true
}

if [ -f "$RIC/rapid-client.node" ] && [ "$(installed_version)" = "$PIN" ]; then
  echo "aws-lambda-ric $PIN already installed in $RIC"
  exit 0
fi

# Debian build dependencies, only those missing.
missing=""
for pair in cc:build-essential c++:build-essential make:build-essential cmake:cmake \
            autoreconf:autoconf automake:automake libtoolize:libtool python3:python3 \
            xz:xz-utils; do
  tool=${pair%%:*}
  pkg=${pair#*:}
  if ! command -v "$tool" >/dev/null 2>&1; then
    case " $missing " in *" $pkg "*) ;; *) missing="$missing $pkg" ;; esac
  fi
done
if [ -n "$missing" ]; then
  echo "installing Debian build dependencies:$missing"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  $SUDO apt-get install -y --no-install-recommends $missing ||
    { $SUDO apt-get update && $SUDO apt-get install -y --no-install-recommends $missing; }
fi

# Use the installed Node.js headers instead of downloading them.
NODE_PREFIX=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
if [ -f "$NODE_PREFIX/include/node/node.h" ] && [ -z "${npm_config_nodedir:-}" ]; then
  export npm_config_nodedir="$NODE_PREFIX"
fi

start=$(date +%s)
cd "$HERE"
if [ -f package-lock.json ]; then
  npm ci --omit=dev --no-audit --no-fund
else
  npm install --omit=dev --no-audit --no-fund
fi
if [ ! -f "$RIC/rapid-client.node" ]; then
  echo "aws-lambda-ric installed but its native addon rapid-client.node is missing" >&2
  exit 1
fi
echo "aws-lambda-ric $(installed_version) installed in $RIC in $(($(date +%s) - start)) s"

#!/bin/sh
# Precompiles nubo's Python runtime client so that a function's cold start does not compile it
# (the instance usually cannot write runtimes/python/__pycache__ itself). Idempotent.
# Usage: runtimes/python/install.sh [python]     (default /usr/bin/python3, the one the node runs)
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
PYTHON=${1:-/usr/bin/python3}
"$PYTHON" -m compileall -q "$HERE"
echo "compiled runtimes/python for $("$PYTHON" -c 'import sys; print(sys.implementation.cache_tag)')"

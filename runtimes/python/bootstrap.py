"""nubo's Lambda runtime client for the python3.11 / python3.12 runtimes: the entry point.

The node starts it as described in runtimes/README.md (`python3 -S -u .../bootstrap.py`). The work is
done in _nubo_lambda_runtime.py beside this file: CPython never caches the compiled code of the
__main__ script, but it does cache an imported module's, so this file stays tiny.

sys.path[0] is this directory only while the runtime module is imported; main() replaces it with
LAMBDA_TASK_ROOT before it imports the function's code.
"""
from _nubo_lambda_runtime import main

main()

#!/bin/sh
# CPython's own test_asyncio modules that run fast enough for make check,
# against the staged PyLoop next to stock asyncio (tests/conformance/run.py).
: "${PYTHON:=python3}" "${PYLOOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
PYTHONPATH="$PYLOOP_STAGE${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
exec "$PYTHON" "$PYLOOP_SRCDIR/tests/conformance/run.py" --quick

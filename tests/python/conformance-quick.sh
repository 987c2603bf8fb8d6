#!/bin/sh
# CPython's own test_asyncio modules that run fast enough for make check,
# against the staged PyLoop next to stock asyncio (tests/conformance/run.py).
. "$(dirname "$0")/stage-env.sh"
exec "$PYTHON" "$PYLOOP_SRCDIR/tests/conformance/run.py" --quick

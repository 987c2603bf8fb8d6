#!/bin/sh
# The unittest suite (tests/python/test_*.py) on the staged build.
# unittest's closing lines ("Ran N tests", "OK") end the log.
set -e
: "${PYTHON:=python3}" "${PYLOOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
PYTHONPATH="$PYLOOP_STAGE${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
if [ "$PYLOOP_SANITIZERS" = yes ]; then
    # An ASan-built extension in a plain interpreter: the runtime must be
    # loaded first. CPython's own allocations at exit are not ours to report.
    LD_PRELOAD="$(${CC:-cc} -print-file-name=libasan.so)"
    ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
    PYTHONMALLOC=malloc
    export LD_PRELOAD ASAN_OPTIONS PYTHONMALLOC
fi
"$PYTHON" -c 'import data_bridge.pyloop as p; print("testing", p.__file__, p.build_info())'
exec "$PYTHON" -m unittest discover -s "$PYLOOP_SRCDIR/tests/python" -t "$PYLOOP_SRCDIR/tests/python" -v

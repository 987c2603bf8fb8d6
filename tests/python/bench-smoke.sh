#!/bin/sh
# The benchmark scripts at tiny sizes, on every loop importable here: they
# must run and emit JSON of the documented shape. Structure, never speed.
: "${PYTHON:=python3}" "${PYLOOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
PYTHONPATH="$PYLOOP_STAGE${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
exec "$PYTHON" "$PYLOOP_SRCDIR/benchmarks/pyloop/smoke.py"

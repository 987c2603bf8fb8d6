#!/bin/sh
# The benchmark scripts at tiny sizes, on every loop importable here: they
# must run and emit JSON of the documented shape. Structure, never speed.
. "$(dirname "$0")/stage-env.sh"
exec "$PYTHON" "$PYLOOP_SRCDIR/benchmarks/pyloop/smoke.py"

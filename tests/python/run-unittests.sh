#!/bin/sh
# The unittest suite (tests/python/test_*.py) on the staged build.
# unittest's closing lines ("Ran N tests", "OK") end the log.
set -e
. "$(dirname "$0")/stage-env.sh"
"$PYTHON" -c 'import data_bridge.pyloop as p; print("testing", p.__file__, p.build_info())'
exec "$PYTHON" -m unittest discover -s "$PYLOOP_SRCDIR/tests/python" -t "$PYLOOP_SRCDIR/tests/python" -v

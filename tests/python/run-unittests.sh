#!/bin/sh
# The unittest suite (tests/python/test_*.py) on the staged build.
# unittest's closing lines ("Ran N tests", "OK") end the log.
set -e
. "$(dirname "$0")/stage-env.sh"
"$PYTHON" -c 'import data_bridge.pyloop as p; print("testing", p.__file__, p.build_info())'
# A sanitizer build must really run under ASan: say so, or fail.
if [ "${PYLOOP_SANITIZERS:-}" = yes ]; then
    "$PYTHON" -c 'import sys; maps = open("/proc/self/maps").read(); sys.exit(0 if "libasan" in maps else "sanitizers: ASan runtime NOT loaded")'
    echo "sanitizers: the Python suite runs with the ASan runtime loaded ($LD_PRELOAD)"
fi
# A DeprecationWarning is an error: the package calls no deprecated asyncio
# API on any version (3.14 deprecates the policy system and
# asyncio.iscoroutinefunction), and a test that calls one on purpose says so
# (catch_warnings), on both loops. Given as -W, it also keeps unittest from
# resetting the filters to "default".
exec "$PYTHON" -W error::DeprecationWarning -m unittest discover -s "$PYLOOP_SRCDIR/tests/python" -t "$PYLOOP_SRCDIR/tests/python" -v

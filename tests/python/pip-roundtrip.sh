#!/bin/sh
# The package the way a user gets it, each step in a fresh venv with pip's
# build isolation on (setuptools, build and mypy come from PyPI):
#   - `python -m build` makes an sdist and, from that sdist, a wheel; the
#     sdist carries every .c and .h of the C sources, VERSION and PHASES;
#   - `pip install` of the sdist, and of the wheel, each in its own venv,
#     runs, and `pip show` reads the PEP 621 metadata;
#   - `mypy --strict` passes on tests/python/typed_usage.py against the
#     installed wheel (py.typed and the stubs), which then runs, and stubtest
#     finds the stubs in line with the compiled module and _loop.py (what
#     they declare; --ignore-missing-stub: not all of it is declared);
#   - PYLOOP_PHASE=3.1.2 really recompiles, and a bad phase is refused with
#     the list of choices (crates/data-bridge-pyloop/PHASES).
# Without PyPI every step is reported skipped, with the reason. Closes with
# "roundtrip: N passed, N failed, N skipped".
: "${PYTHON:=python3}" "${PYLOOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
work=$(mktemp -d "${TMPDIR:-/tmp}/pyloop-pip.XXXXXX")
trap 'rm -rf "$work"' EXIT
passed=0 failed=0 skipped=0 offline=
# The tools from PyPI, pinned (setuptools comes from build isolation:
# pyproject.toml's build-system.requires).
build_pin=build==1.6.1 mypy_pin=mypy==2.4.1
check() { # check NAME COMMAND...
    name=$1; shift
    if [ -n "$offline" ]; then
        echo "SKIP: $name: $offline"; skipped=$((skipped + 1)); return
    fi
    if "$@" >"$work/step.log" 2>&1; then
        echo "ok: $name"; passed=$((passed + 1))
    else
        echo "FAILED: $name"; tail -n 40 "$work/step.log"; failed=$((failed + 1))
    fi
}
version=$(cat "$PYLOOP_SRCDIR/crates/data-bridge-pyloop/VERSION")
choices=$(echo $(cat "$PYLOOP_SRCDIR/crates/data-bridge-pyloop/PHASES") | sed 's/ /, /g')

# A copy with the C sources resolved: the source tree may be read-only
# (distcheck), and nothing of an earlier in-tree build may leak in.
mkdir -p "$work/src" && cp -RL "$PYLOOP_SRCDIR/bindings/python" "$work/src/pkg"
rm -rf "$work/src/pkg/build" "$work/src/pkg/dist" "$work/src/pkg"/*.egg-info
venv() { "$PYTHON" -m venv "$work/$1" && "$work/$1/bin/python" -m pip install --disable-pip-version-check -q -U pip; }
pip() { venv_name=$1; shift; "$work/$venv_name/bin/python" -m pip --disable-pip-version-check -q "$@"; }

# The build tools; if PyPI cannot be reached, nothing below can run.
if ! venv tools >"$work/tools.log" 2>&1 || ! pip tools install "$build_pin" >>"$work/tools.log" 2>&1; then
    offline="PyPI not reachable ($(tail -n 1 "$work/tools.log"))"
fi

build_dists() {
    "$work/tools/bin/python" -m build --outdir "$work/dist" "$work/src/pkg" &&
        ls "$work/dist/data_bridge_pyloop-$version.tar.gz" "$work/dist"/data_bridge_pyloop-"$version"-*.whl
}
check "python -m build: an sdist, and a wheel built from it" build_dists

sdist_complete() {
    tar -tzf "$work/dist/data_bridge_pyloop-$version.tar.gz" | sed "s|^data_bridge_pyloop-$version/||" | sort >"$work/sdist.list"
    (cd "$PYLOOP_SRCDIR/crates/data-bridge-pyloop" && find . \( -name '*.c' -o -name '*.h' -o -name Makefile.am \) \
        ! -path '*/.*/*' | sed 's|^\./|csrc/|'; echo csrc/VERSION; echo csrc/PHASES;
     echo data_bridge/pyloop/py.typed; echo data_bridge/pyloop/_pyloop.pyi; echo data_bridge/pyloop/_loop.pyi) |
        sort >"$work/needed.list"
    missing=$(comm -23 "$work/needed.list" "$work/sdist.list")
    [ -z "$missing" ] || { echo "missing from the sdist:"; echo "$missing"; return 1; }
    # Real files, not links to a tree that is not there.
    tar -tvzf "$work/dist/data_bridge_pyloop-$version.tar.gz" | grep '^l' && return 1
    echo "$(wc -l <"$work/needed.list") files present"
}
check "the sdist carries every .c, .h and Makefile.am of the C sources, VERSION, PHASES, py.typed, the stubs" sdist_complete

runs() { # runs VENV PHASE
    "$work/$1/bin/python" -c "
import asyncio, data_bridge.pyloop as p
assert p.build_info()['phase'] == '$2', p.build_info()
assert p.__version__ == '$version', p.__version__
async def main():
    await asyncio.sleep(0)
    return 7
assert p.run(main()) == 7
print(p.build_info())"
}
install_sdist() { venv sdist-venv && pip sdist-venv install "$work/dist/data_bridge_pyloop-$version.tar.gz"; }
check "pip install the sdist in a fresh venv (build isolation on)" install_sdist
check "the package installed from the sdist is native and runs" runs sdist-venv native
install_wheel() { venv wheel-venv && pip wheel-venv install "$work/dist"/data_bridge_pyloop-"$version"-*.whl; }
check "pip install the wheel in a fresh venv" install_wheel
check "the package installed from the wheel is native and runs" runs wheel-venv native

metadata() {
    "$work/wheel-venv/bin/python" -m pip show data-bridge-pyloop >"$work/show.txt" && cat "$work/show.txt" &&
        grep -qx "Version: $version" "$work/show.txt" && grep -qx "Name: data-bridge-pyloop" "$work/show.txt" &&
        "$work/wheel-venv/bin/python" -c "
import importlib.metadata as m
meta = m.metadata('data-bridge-pyloop')
assert meta['Requires-Python'] == '>=3.10', meta['Requires-Python']
assert meta['License-Expression'] == 'MIT', meta['License-Expression']
assert 'Typing :: Typed' in meta.get_all('Classifier'), meta.get_all('Classifier')
print(meta['Summary'])"
}
check "pip show and importlib.metadata read the PEP 621 metadata (version $version)" metadata

typed() {
    pip wheel-venv install "$mypy_pin" && mkdir -p "$work/empty" &&
        (cd "$work/empty" && "$work/wheel-venv/bin/python" -m mypy --strict --no-incremental "$PYLOOP_SRCDIR/tests/python/typed_usage.py") &&
        (cd "$work/empty" && "$work/wheel-venv/bin/python" -m mypy --strict --no-incremental -p data_bridge.pyloop) &&
        (cd "$work/empty" && "$work/wheel-venv/bin/python" "$PYLOOP_SRCDIR/tests/python/typed_usage.py")
}
check "mypy --strict on tests/python/typed_usage.py and on the package, installed from the wheel; the program runs" typed
stubs() {
    (cd "$work/empty" && "$work/wheel-venv/bin/python" -m mypy.stubtest --ignore-missing-stub data_bridge.pyloop)
}
check "stubtest: the stubs agree with the compiled module and _loop" stubs

install_phase() { (PYLOOP_PHASE=$1; export PYLOOP_PHASE; pip wheel-venv install --force-reinstall --no-deps "$work/src/pkg"); }
check "PYLOOP_PHASE=3.1.2 pip install of the source directory" install_phase 3.1.2
check "the reinstalled package is 3.1.2" runs wheel-venv 3.1.2
refused() {
    ! env PYLOOP_PHASE=bogus "$work/wheel-venv/bin/python" -m pip install --force-reinstall --no-deps "$work/src/pkg" >"$work/bad.log" 2>&1 &&
        grep -q "$choices" "$work/bad.log"
}
check "an unknown PYLOOP_PHASE is refused with the choices ($choices)" refused

echo "roundtrip: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] || exit 1
[ "$passed" -gt 0 ] || exit 77  # every step skipped: Automake's SKIP

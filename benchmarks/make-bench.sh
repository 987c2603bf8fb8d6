#!/bin/sh
# `make bench`: every phase built out of tree, then every benchmark on each
# build next to asyncio, uvloop and rloop, in one session, into ONE table
# (bench-results/results.md, results.json, phases.png), then the HTTPS, TLS
# bulk and plain ASGI rows again with the loops interleaved
# (bench-results/tls_interleaved.txt).
#
# Environment (set by make): PYTHON, PYLOOP_SRCDIR, PYLOOP_BUILDDIR.
# BENCH_QUICK=1 runs the tiny sizes (a smoke run of the whole pipeline).
set -eu
: "${PYTHON:=python3}"
srcdir=$(cd "${PYLOOP_SRCDIR:-$(dirname "$0")/..}" && pwd)
builddir=$(cd "${PYLOOP_BUILDDIR:-.}" && pwd)
venv="$builddir/bench-venv"
out="$builddir/bench-results"
jobs=$(nproc 2>/dev/null || echo 2)
phases=$(cat "$srcdir/crates/data-bridge-pyloop/PHASES")  # the one list of phases
say() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# The benchmark virtualenv: pinned uvloop, rloop, matplotlib from PyPI.
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$srcdir/benchmarks/requirements.txt" "$venv/requirements.txt"; then
    say "creating $venv from benchmarks/requirements.txt"
    rm -rf "$venv"
    "$PYTHON" -m venv "$venv"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$srcdir/benchmarks/requirements.txt" ||
        say "some benchmark requirements did not install; those loops are skipped"
    cp "$srcdir/benchmarks/requirements.txt" "$venv/requirements.txt"
fi

# One VPATH build per phase, for the venv's interpreter (the extension is
# built for PYTHON, which the venv was made from).
loops="--loop asyncio --loop uvloop --loop rloop"
for phase in $phases; do
    dir="$builddir/bench-build/$phase"
    say "building phase $phase in $dir"
    mkdir -p "$dir"
    if [ ! -f "$dir/config.status" ]; then
        (cd "$dir" && "$srcdir/configure" -q --with-pyloop-phase="$phase" PYTHON="$PYTHON" >/dev/null)
    fi
    (cd "$dir" && make -s -j"$jobs" >/dev/null)
    loops="$loops --loop pyloop-$phase=$dir/python"
done

say "running the benchmarks (progress below)"
quick=
interleave="--rounds=5 --seconds=3 --plain"
if [ "${BENCH_QUICK:-0}" = 1 ]; then
    quick=--quick
    interleave="--rounds=1 --seconds=1 --bulk-seconds=0.3 --plain"
fi
# shellcheck disable=SC2086
"$venv/bin/python" "$srcdir/benchmarks/pyloop/run_all.py" $quick --out "$out" $loops

# run_all.py measures one loop after another, so a load that changes between
# loops moves their ratios. The HTTPS and TLS bulk rows, whose ratios are the
# TLS goals, are taken once more with every loop's server up and the rounds
# side by side (asyncio, uvloop, the native build; rloop has no TLS), with the
# plain ASGI row beside them (what TLS costs each loop is the difference).
if command -v wrk >/dev/null 2>&1; then
    say "the HTTPS rows, loops interleaved per round: $out/tls_interleaved.txt"
    # shellcheck disable=SC2086
    "$venv/bin/python" "$srcdir/benchmarks/pyloop/tls_interleaved.py" $interleave \
        asyncio= uvloop= "pyloop=$builddir/bench-build/native/python" | tee "$out/tls_interleaved.txt"
else
    say "wrk is not installed (./bootstrap installs it): no interleaved HTTPS rows"
fi

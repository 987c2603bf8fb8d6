#!/bin/sh
# `make bench-scale-out`: requests/s of 1 and of 2 processes serving one port
# with SO_REUSEPORT, a PyLoop in each (docs/examples/reuseport_server.py),
# under wrk on 127.0.0.1. The two are measured in alternation, ROUNDS times;
# prints each run, then the medians and their ratio (the figures of
# docs/usage.md come from this output).
#
#   scale-out.sh EXAMPLES_DIR
# Environment: PYTHON (an interpreter that imports data_bridge.pyloop),
# ROUNDS (5), DURATION (10 s per run), CONNECTIONS (64), THREADS (wrk's, 1).
set -eu
examples=$(cd "$1" && pwd)
: "${PYTHON:=python3}" "${ROUNDS:=5}" "${DURATION:=10}" "${CONNECTIONS:=64}" "${THREADS:=1}"
command -v wrk >/dev/null || { echo "scale-out: wrk is not installed (./bootstrap installs it)"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/pyloop-scale.XXXXXX")
server=
cleanup() { [ -z "$server" ] || kill -TERM "$server" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

run() { # run WORKERS: one wrk run against WORKERS processes; prints requests/s
    port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$PYTHON" "$examples/reuseport_server.py" --workers "$1" --port "$port" >"$work/server.log" 2>&1 &
    server=$!
    "$PYTHON" -c "
import socket, sys, time
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        socket.create_connection(('127.0.0.1', $port), timeout=0.2).close(); sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit('server did not listen')"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "http://127.0.0.1:$port/" >"$work/wrk.out"
    kill -TERM "$server"; wait "$server" || true; server=
    rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.out")
    p50=$(awk '$1 == "50%" {print $2}' "$work/wrk.out")
    p99=$(awk '$1 == "99%" {print $2}' "$work/wrk.out")
    errors=$(awk '/Non-2xx|Socket errors/' "$work/wrk.out")
    echo "$rps" >>"$work/rps-$1"
    printf 'round %d, %d process(es): %s requests/s, latency p50 %s p99 %s %s\n' "$round" "$1" "$rps" "$p50" "$p99" "$errors"
}

echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s --latency http://127.0.0.1:PORT/ against"
echo "python docs/examples/reuseport_server.py --workers N --port PORT; $(nproc) CPUs; $ROUNDS rounds"
round=1
while [ "$round" -le "$ROUNDS" ]; do
    run 1
    run 2
    round=$((round + 1))
done
"$PYTHON" - "$work/rps-1" "$work/rps-2" <<'PY'
import statistics, sys
one, two = ([float(line) for line in open(path)] for path in sys.argv[1:3])
m1, m2 = statistics.median(one), statistics.median(two)
print("median requests/s: 1 process %.0f, 2 processes %.0f; 2 against 1: %.2fx" % (m1, m2, m2 / m1))
PY

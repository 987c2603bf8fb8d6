#!/usr/bin/env python3
"""What PyLoop's write rule buys: a response written in two pieces.

A protocol server answers each request with two transport.write() calls in
one callback (headers, then body: what uvicorn and aiohttp do), or with one
(an echo). A client process sends the next request when the whole response
has arrived (one connection, ping-pong), so every system call of the server
is on the critical path. Reported per loop: round trips per second, server
CPU microseconds per round trip (utime + stime of the server process from
/proc, over the timed window) and, with --strace, the server's system calls
per round trip (strace -c -f over a separate, shorter run).

  python benchmarks/pyloop/bench_write_rule.py [--requests N] [--strace]
      [--loop NAME[=PYTHONPATH]] ...

NAME is asyncio, uvloop, rloop or pyloop; =PYTHONPATH puts a directory
first on the server's path (a PyLoop build's python/ directory; label it
pyloop-something to show two builds side by side). docs/architecture.md
("The write rule") quotes one run of this script.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

HEADERS = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\r\n"
BODY = b"Hello, world!"
REQUEST = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"

SERVER = r'''
import asyncio, os, sys
name, mode = sys.argv[1], sys.argv[2]
HEADERS, BODY = %r, %r
if name.startswith("pyloop"):
    import data_bridge.pyloop as flavour
    loop = flavour.new_event_loop()
elif name == "uvloop":
    import uvloop
    loop = uvloop.new_event_loop()
elif name == "rloop":
    import rloop
    loop = rloop.new_event_loop()
else:
    loop = asyncio.new_event_loop()

class Split(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
    def data_received(self, data):
        if data == b"QUIT":
            loop.stop()
        elif mode == "split":
            self.transport.write(HEADERS)
            self.transport.write(BODY)
        else:
            self.transport.write(data)

server = loop.run_until_complete(loop.create_server(Split, "127.0.0.1", 0))
print(server.sockets[0].getsockname()[1], type(loop).__name__, flush=True)
loop.run_forever()
''' % (HEADERS, BODY)


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(name, path, mode, strace_out=None):
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = os.pathsep.join([path] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    cmd = [sys.executable, "-c", SERVER, name, mode]
    if strace_out:
        cmd = ["strace", "-c", "-f", "-o", strace_out] + cmd
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, universal_newlines=True)
    port, loop_type = proc.stdout.readline().split()
    expected = {"asyncio": "_UnixSelectorEventLoop", "uvloop": "Loop", "rloop": "RLoop"}
    want = "PyLoop" if name.startswith("pyloop") else expected.get(name)
    if want and loop_type != want:
        proc.kill()
        raise SystemExit("%s: the server runs %s, not %s" % (name, loop_type, want))
    return proc, int(port)


def ping_pong(port, requests, expect, quit=False):
    """`requests` round trips on one connection; quit=True then tells the
    server to stop (so that strace, around it, ends and writes its table)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(requests):
            sock.sendall(REQUEST)
            got = 0
            while got < expect:
                chunk = sock.recv(65536)
                if not chunk:
                    raise SystemExit("server closed the connection")
                got += len(chunk)
        if quit:
            sock.sendall(b"QUIT")


def measure(name, path, mode, requests):
    proc, port = start_server(name, path, mode)
    try:
        expect = len(HEADERS) + len(BODY) if mode == "split" else len(REQUEST)
        ping_pong(port, requests // 10, expect)  # warm-up
        cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
        ping_pong(port, requests, expect)
        elapsed, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid) - cpu0
    finally:
        proc.kill()
        proc.wait()
    return requests / elapsed, cpu / requests * 1e6


def syscalls(name, path, mode, requests):
    """System calls per round trip: a traced run of `requests` round trips,
    less a traced run of none (starting, one connection, stopping)."""
    expect = len(HEADERS) + len(BODY) if mode == "split" else len(REQUEST)
    totals = []
    for count in (requests, 0):
        with tempfile.NamedTemporaryFile(suffix=".strace") as out:
            proc, port = start_server(name, path, mode, out.name)
            try:
                ping_pong(port, count, expect, quit=True)
                proc.wait(60)
            finally:
                proc.kill()
                proc.wait()
            totals.append(next(int(line.split()[3]) for line in open(out.name) if line.split()[-1:] == ["total"]))
    return (totals[0] - totals[1]) / requests


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--strace", action="store_true")
    parser.add_argument("--loop", action="append", default=[])
    args = parser.parse_args()
    loops = [(spec.split("=", 1) + [None])[:2] for spec in (args.loop or ["asyncio", "uvloop", "pyloop"])]
    results = {}
    for _ in range(args.rounds):  # interleaved rounds; medians reported
        for mode in ("split", "single"):
            for name, path in loops:
                results.setdefault((mode, name), []).append(measure(name, path, mode, args.requests))
    print("| response | loop | round trips/s | server CPU µs/round trip |%s" % (" syscalls/round trip |" if args.strace else ""))
    print("|---|---|---:|---:|%s" % ("---:|" if args.strace else ""))
    for mode in ("split", "single"):
        for name, path in loops:
            runs = results[(mode, name)]
            rps = sorted(r for r, _ in runs)[len(runs) // 2]
            cpu = sorted(c for _, c in runs)[len(runs) // 2]
            extra = " %.2f |" % syscalls(name, path, mode, 2000) if args.strace else ""
            label = "two writes" if mode == "split" else "one write (echo)"
            print("| %s | %s | %.0f | %.1f |%s" % (label, name, rps, cpu, extra))


if __name__ == "__main__":
    main()

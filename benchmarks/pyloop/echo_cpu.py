#!/usr/bin/env python3
"""Server CPU per request of a fresh TCP echo server, allocator cold or warm.

Usage: python echo_cpu.py [--loop NAME ...] [--size BYTES] [--seconds S]
                          [--warm] [--runs N]

For each loop and run: a new process serves an asyncio.Protocol echo (write
back in data_received) on that loop; this process drives it with a plain
blocking socket (the same client for every loop) for S seconds of
one-message round trips, after 100 warm-up ones. Printed: round trips per
second and the server main thread's CPU time per round trip over the timed
part (/proc/PID/schedstat), median over the runs.

--warm makes the server allocate and free one 1 MiB block before serving.
That raises glibc's dynamic mmap threshold, as the imports of any real
server do (import fastapi, uvicorn is enough); a cold process instead pays
an mmap, mremap and munmap for each 256 KiB recv() of asyncio's transports.
Written for the comparison in the notes of the read-buffer experiment
(commits 04bb882 and 2a6c057); it runs alone, not under run_all.py.
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


def serve(name, warm):
    if warm:
        block = bytes(1 << 20)
        del block
    loop = common.loop_factory(name)()
    server = loop.run_until_complete(
        loop.create_server(Echo, "127.0.0.1", 0))
    print(server.sockets[0].getsockname()[1], flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(),
                                     loop.call_soon_threadsafe(loop.stop)),
                     daemon=True).start()
    loop.run_forever()
    os._exit(0)


def drive(name, size, seconds, warm):
    cmd = [sys.executable, os.path.abspath(__file__), "--serve", name]
    server = subprocess.Popen(cmd + (["--warm"] if warm else []),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              universal_newlines=True)
    try:
        port = int(server.stdout.readline())
        message = b"x" * size
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def round_trip():
                sock.sendall(message)
                got = 0
                while got < size:
                    chunk = sock.recv(1 << 20)
                    if not chunk:
                        raise ConnectionError("server closed")
                    got += len(chunk)

            for _ in range(100):
                round_trip()
            cpu0, count, t0 = common.cpu_ns(server.pid), 0, time.perf_counter()
            while time.perf_counter() - t0 < seconds:
                round_trip()
                count += 1
            elapsed = time.perf_counter() - t0
            cpu1 = common.cpu_ns(server.pid)
    finally:
        server.stdin.close()
        server.wait(10)
        server.stdout.close()
    cpu = (cpu1 - cpu0) / 1e3 / count if None not in (cpu0, cpu1) else None
    return count / elapsed, cpu


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loop", action="append", choices=common.LOOP_NAMES)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--seconds", type=float, default=3.0)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--warm", action="store_true")
    p.add_argument("--serve", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.serve:
        serve(args.serve, args.warm)
    print("size %d B, allocator %s, median of %d runs of %.1f s"
          % (args.size, "warm" if args.warm else "cold", args.runs, args.seconds))
    for name in args.loop or ["asyncio", "pyloop"]:
        runs = [drive(name, args.size, args.seconds, args.warm)
                for _ in range(args.runs)]
        cpus = [c for _, c in runs if c is not None]
        print("%-8s %10.0f round trips/s   server CPU %s us per round trip"
              % (name, common.median([r for r, _ in runs]),
                 "%.1f" % common.median(cpus) if cpus else "n/a"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

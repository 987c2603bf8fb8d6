#!/usr/bin/env python3
"""TCP echo over 127.0.0.1: raw sockets, streams and protocols.

Usage: python bench_net.py [--loop NAME ...] [--json] [--quick]

For each loop, this script starts two child processes with the same
interpreter and loop: an echo server and a client (the machine has 2 cores:
one each). The server binds three listening sockets to 127.0.0.1 port 0 and
reports the ports on its stdout; it exits when its stdin closes (so it dies
with this script) and is terminated, then killed, when the run ends.

Three server/client pairs, each using one API on both sides:
  sock     loop.sock_accept / sock_recv / sock_sendall on non-blocking sockets
  streams  asyncio.start_server / asyncio.open_connection (StreamReader and
           StreamWriter, write + drain, readexactly)
  proto    loop.create_server / create_connection with an asyncio.Protocol
           that echoes in data_received

One connection per case; the client sends a message of 1 KiB, 10 KiB or
100 KiB and waits until all of it came back, then sends the next. After 20
warm-up round trips, it runs for a fixed time (0.6 s; --quick: 0.2 s),
3 times (--quick: once) with a new connection each time. TCP_NODELAY is set
on every socket where the loop exposes it.

Metrics, for MODE in sock/streams/proto and SIZE in 1k/10k/100k:
  echo_MODE_SIZE_rps      round trips per second (median over repetitions)
  echo_MODE_SIZE_mean_us  mean round-trip latency (median over repetitions;
                          p99 = over all round trips of all repetitions)
  echo_MODE_SIZE_p99_us   p99 round-trip latency (median over repetitions)
  echo_MODE_SIZE_srv_cpu_us  CPU time the server's loop thread spent per
                          round trip (Linux /proc/PID/schedstat, ns
                          resolution; median over repetitions): the cost of
                          serving a request, which the one-connection rps
                          and latency hide behind two wake-ups per round
                          trip on two shared cores. Null where /proc is
                          missing.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

perf = time.perf_counter
MODES = ("sock", "streams", "proto")
SIZES = (("1k", 1024), ("10k", 10 * 1024), ("100k", 100 * 1024))
READ_SIZE = 256 * 1024
WARMUP = 20


def nodelay(sock):
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except Exception:
        pass


def transport_nodelay(transport):
    try:
        s = transport.get_extra_info("socket")
        if s is not None:
            nodelay(s)
    except Exception:
        pass


# --------------------------------------------------------------------------
# Server role
# --------------------------------------------------------------------------

class EchoProtocol(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        transport_nodelay(transport)

    def data_received(self, data):
        self.transport.write(data)


async def start_servers(loop):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    lsock.setblocking(False)

    async def sock_echo(conn):
        try:
            while True:
                data = await loop.sock_recv(conn, READ_SIZE)
                if not data:
                    break
                await loop.sock_sendall(conn, data)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            conn.close()

    async def sock_accept_loop():
        while True:
            conn, _ = await loop.sock_accept(lsock)
            conn.setblocking(False)
            nodelay(conn)
            loop.create_task(sock_echo(conn))

    async def stream_echo(reader, writer):
        transport_nodelay(writer.transport)
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    loop.create_task(sock_accept_loop())
    streams = await asyncio.start_server(stream_echo, "127.0.0.1", 0)
    proto = await loop.create_server(EchoProtocol, "127.0.0.1", 0)
    return {
        "sock": lsock.getsockname()[1],
        "streams": streams.sockets[0].getsockname()[1],
        "proto": proto.sockets[0].getsockname()[1],
    }


def serve(name):
    loop = common.loop_factory(name)()
    asyncio.set_event_loop(loop)
    ports = loop.run_until_complete(start_servers(loop))
    sys.stdout.write(json.dumps(ports) + "\n")
    sys.stdout.flush()

    def watch_stdin():
        try:
            sys.stdin.read()
        finally:
            loop.call_soon_threadsafe(loop.stop)

    threading.Thread(target=watch_stdin, daemon=True).start()
    loop.run_forever()
    # Exit at once: no graceful close of the remaining connections needed.
    os._exit(0)


# --------------------------------------------------------------------------
# Client role
# --------------------------------------------------------------------------

class ClientProtocol(asyncio.Protocol):
    def __init__(self):
        self.got = 0
        self.want = 0
        self.fut = None

    def connection_made(self, transport):
        transport_nodelay(transport)

    def data_received(self, data):
        self.got += len(data)
        if self.fut is not None and self.got >= self.want \
                and not self.fut.done():
            self.fut.set_result(None)

    def connection_lost(self, exc):
        if self.fut is not None and not self.fut.done():
            self.fut.set_exception(ConnectionError("connection lost"))


async def open_case(loop, mode, port, size):
    """Connect; return (round_trip coroutine function, close function)."""
    msg = b"x" * size
    if mode == "sock":
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        nodelay(s)
        await loop.sock_connect(s, ("127.0.0.1", port))

        async def rt():
            await loop.sock_sendall(s, msg)
            got = 0
            while got < size:
                d = await loop.sock_recv(s, READ_SIZE)
                if not d:
                    raise ConnectionError("server closed")
                got += len(d)

        return rt, s.close
    if mode == "streams":
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        transport_nodelay(writer.transport)

        async def rt():
            writer.write(msg)
            await writer.drain()
            await reader.readexactly(size)

        return rt, writer.close
    if mode == "proto":
        transport, proto = await loop.create_connection(
            ClientProtocol, "127.0.0.1", port)

        async def rt():
            proto.got = 0
            proto.want = size
            proto.fut = loop.create_future()
            transport.write(msg)
            await proto.fut

        return rt, transport.close
    raise ValueError(mode)


async def run_case(loop, mode, port, size, duration, server_pid):
    rt, close = await open_case(loop, mode, port, size)
    try:
        for _ in range(WARMUP):
            await rt()
        lat = []
        cpu0 = common.cpu_ns(server_pid)
        t0 = perf()
        t_end = t0 + duration
        while True:
            t = perf()
            await rt()
            t2 = perf()
            lat.append((t2 - t) * 1e6)
            if t2 >= t_end:
                break
        elapsed = perf() - t0
        cpu1 = common.cpu_ns(server_pid)
    finally:
        close()
    srv_cpu = None
    if cpu0 is not None and cpu1 is not None:
        srv_cpu = (cpu1 - cpu0) / 1e3 / len(lat)
    return {"rps": len(lat) / elapsed, "lat": lat, "srv_cpu_us": srv_cpu}


def client(name, ports, duration, reps, server_pid):
    loop = common.loop_factory(name)()
    asyncio.set_event_loop(loop)
    runs = {}
    errors = {}
    for _ in range(reps):
        for mode in MODES:
            for label, size in SIZES:
                key = "%s_%s" % (mode, label)
                if key in errors:
                    continue
                try:
                    r = loop.run_until_complete(asyncio.wait_for(
                        run_case(loop, mode, ports[mode], size, duration,
                                 server_pid),
                        duration + 10.0))
                    runs.setdefault(key, []).append(r)
                except Exception as exc:
                    errors[key] = "%s: %s" % (type(exc).__name__, exc)
    out = {}
    for mode in MODES:
        for label, _ in SIZES:
            key = "%s_%s" % (mode, label)
            base = "echo_" + key
            if key in errors:
                for suffix, unit in (("_rps", "rps"), ("_mean_us", "us"),
                                     ("_p99_us", "us"), ("_srv_cpu_us", "us")):
                    m = common.null_metric(unit, None)
                    m["error"] = errors[key]
                    out[base + suffix] = m
                continue
            rs = runs[key]
            pooled = [x for r in rs for x in r["lat"]]
            out[base + "_rps"] = common.throughput([r["rps"] for r in rs],
                                                   "rps")
            out[base + "_mean_us"] = common.metric(
                common.median([common.mean(r["lat"]) for r in rs]), "us",
                common.percentile(pooled, 99))
            out[base + "_p99_us"] = common.metric(
                common.median([common.percentile(r["lat"], 99) for r in rs]),
                "us")
            cpus = [r["srv_cpu_us"] for r in rs if r["srv_cpu_us"] is not None]
            out[base + "_srv_cpu_us"] = (
                common.metric(common.median(cpus), "us") if cpus
                else common.null_metric("us", "no /proc/PID/schedstat"))
    try:
        loop.close()
    except Exception:
        pass
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------
# Orchestrator
# --------------------------------------------------------------------------

def metric_units():
    units = {}
    for mode in MODES:
        for label, _ in SIZES:
            base = "echo_%s_%s" % (mode, label)
            units[base + "_rps"] = "rps"
            units[base + "_mean_us"] = "us"
            units[base + "_p99_us"] = "us"
            units[base + "_srv_cpu_us"] = "us"
    return units


def stop_process(proc):
    """Close the server's stdin (it exits), then terminate, then kill."""
    if proc is None:
        return
    try:
        if proc.stdin:
            proc.stdin.close()
    except OSError:
        pass
    try:
        proc.wait(2)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(3)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout:
        proc.stdout.close()


def read_line(proc, timeout):
    """First stdout line of proc, or raise after timeout seconds."""
    box = []
    th = threading.Thread(target=lambda: box.append(proc.stdout.readline()),
                          daemon=True)
    th.start()
    th.join(timeout)
    if not box or not box[0]:
        raise RuntimeError("server did not report its ports (exit %s)"
                           % proc.poll())
    return box[0]


def bench(ctx):
    duration = ctx.size(0.6, 0.2)
    reps = ctx.size(3, 1)
    script = os.path.abspath(__file__)
    me = [sys.executable, script, "--loop", ctx.name]

    def g_echo(loop):
        server = None
        try:
            server = subprocess.Popen(
                me + ["--role", "server"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, universal_newlines=True)
            ports = json.loads(read_line(server, 30.0))
            budget = len(MODES) * len(SIZES) * reps * (duration + 1.0) + 60
            cp = subprocess.run(
                me + ["--role", "client", "--ports", json.dumps(ports),
                      "--server-pid", str(server.pid),
                      "--duration", str(duration), "--reps", str(reps)],
                stdout=subprocess.PIPE, universal_newlines=True,
                timeout=budget)
            if cp.returncode != 0:
                raise RuntimeError("client exited with %d" % cp.returncode)
            lines = [ln for ln in cp.stdout.splitlines() if ln.strip()]
            return json.loads(lines[-1])
        finally:
            stop_process(server)

    ctx.group(metric_units(), g_echo)


def build_parser():
    p = common.build_parser(__doc__)
    p.add_argument("--role", choices=("server", "client"),
                   help=argparse_suppress())
    p.add_argument("--ports", help=argparse_suppress())
    p.add_argument("--duration", type=float, help=argparse_suppress())
    p.add_argument("--reps", type=int, help=argparse_suppress())
    p.add_argument("--server-pid", type=int, help=argparse_suppress())
    return p


def argparse_suppress():
    import argparse
    return argparse.SUPPRESS


def role_main(args):
    import faulthandler
    if args.timeout and args.timeout > 0:
        faulthandler.dump_traceback_later(args.timeout, exit=True)
    name = (args.loop or ["asyncio"])[0]
    if args.role == "server":
        serve(name)
    else:
        client(name, json.loads(args.ports), args.duration, args.reps,
               args.server_pid)
    return 0


if __name__ == "__main__":
    parser = build_parser()
    ns = parser.parse_args()
    if ns.role:
        sys.exit(role_main(ns))
    sys.exit(common.main("bench_net", __doc__, bench, parser=parser))

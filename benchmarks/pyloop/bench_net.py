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

Metrics, for MODE in sock/streams/proto and SIZE in 1k/10k/100k (every
rps, latency and CPU row below, the c16/c64 ones too, also has "min",
"max" and "rounds", each repetition's value, in the JSON, and [min .. max]
beside the median in the table):
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

The two server processes below are started "warm": before serving, each
allocates and frees 1 MiB, which raises glibc's dynamic mmap threshold as
the imports of any real server do (a cold process pays an mmap, mremap and
munmap for each 256 KiB recv() buffer, a cost of the allocator's state,
not of the loop; see echo_cpu.py). The server above is cold, as before.

Concurrency (a second server process of the same kind, same three
listeners): CONNS connections, CONNS = 16 and 64, each in a closed loop of
1 KiB round trips (send, wait for the whole echo, send again), spread over
CLIENT_PROCS client processes (2: one per core, so that no single client
process is the bottleneck). The clients are the same for every loop: plain
non-blocking sockets on the standard library's selectors (epoll), so only
the server's loop differs between columns. Each client process connects,
warms each connection up with 5 round trips, reports ready, and starts
when every client is ready; it counts round trips completed within the
fixed time (0.6 s; --quick: 0.2 s). 3 repetitions (--quick: 1) with new
connections each time, the cases interleaved.
  echo_MODE_1k_cCONNS_rps  round trips per second, summed over the client
                          processes (median over repetitions)
  echo_MODE_1k_cCONNS_srv_cpu_us  CPU time of the server's loop thread per
                          round trip over the same window (schedstat, as
                          above; median over repetitions)

System calls (the same warm server run under `strace -c -f -o FILE`, so
every thread of the server process is counted; runs of their own, since
ptrace slows the server down): one launch that only starts and stops it,
then one launch per MODE in which a blocking client makes N round trips of
1 KiB on one connection (N = 2000; --quick: 200). The launch with no
connection is subtracted, so the interpreter's start and exit do not count;
accepting and closing the one connection does (about 10 calls, spread over
N).
  echo_MODE_1k_srv_syscalls  system calls the server made per round trip
                          (strace -c's total calls, failed ones included).
                          The JSON's loops.<loop>.syscalls_per_round_trip
                          has the calls by name (those at 0.05 or more per
                          round trip). Null with a note when strace is not
                          installed or ptrace is not permitted here.
                          The sock count depends on timing: sock_recv
                          tries the read first and waits only when it
                          finds nothing, and ptrace changes how often
                          that is; streams and proto do not try first.
"""

import asyncio
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

perf = time.perf_counter
MODES = ("sock", "streams", "proto")
SIZES = (("1k", 1024), ("10k", 10 * 1024), ("100k", 100 * 1024))
READ_SIZE = 256 * 1024
WARMUP = 20
CONC_LEVELS = (16, 64)
CONC_SIZE = 1024
CONC_WARMUP = 5
CLIENT_PROCS = 2


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


def serve(name, warm=False):
    if warm:
        # Raise glibc's dynamic mmap threshold, as the imports of any real
        # server do: a cold process pays an mmap, mremap and munmap for each
        # 256 KiB recv() buffer (see echo_cpu.py).
        bytes(1 << 20)  # allocated by mmap, freed at once
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
            # Each with its spread over the repetitions (common.spread).
            out[base + "_rps"] = common.spread([r["rps"] for r in rs], "rps")
            out[base + "_mean_us"] = common.spread(
                [common.mean(r["lat"]) for r in rs], "us",
                common.percentile(pooled, 99))
            out[base + "_p99_us"] = common.spread(
                [common.percentile(r["lat"], 99) for r in rs], "us")
            cpus = [r["srv_cpu_us"] for r in rs if r["srv_cpu_us"] is not None]
            out[base + "_srv_cpu_us"] = (
                common.spread(cpus, "us") if cpus
                else common.null_metric("us", "no /proc/PID/schedstat"))
    try:
        loop.close()
    except Exception:
        pass
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------
# Concurrency client role (standard library only, the same for every loop)
# --------------------------------------------------------------------------

def recv_exactly(sock, size):
    got = 0
    while got < size:
        d = sock.recv(READ_SIZE)
        if not d:
            raise ConnectionError("server closed")
        got += len(d)


def conc_client(port, conns, size, duration):
    """Closed-loop round trips on `conns` connections; prints "ready", waits
    for "go" on stdin, then prints {"count", "elapsed"} as JSON."""
    msg = b"x" * size
    socks = []
    for _ in range(conns):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        nodelay(s)
        socks.append(s)
    for s in socks:
        for _ in range(CONC_WARMUP):
            s.sendall(msg)
            recv_exactly(s, size)
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, [0])
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    if sys.stdin.readline().strip() != "go":
        return
    count = 0
    t0 = perf()
    t_end = t0 + duration
    for s in socks:
        s.sendall(msg)
    now = t0
    while now < t_end:
        for key, _ in sel.select(1.0):
            s, pending = key.fileobj, key.data
            d = s.recv(READ_SIZE)
            if not d:
                raise ConnectionError("server closed")
            pending[0] += len(d)
            if pending[0] >= size:
                pending[0] -= size
                count += 1
                s.sendall(msg)
        now = perf()
    elapsed = perf() - t0
    for s in socks:
        s.close()
    sys.stdout.write(json.dumps({"count": count, "elapsed": elapsed}) + "\n")
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


def conc_units():
    units = {}
    for mode in MODES:
        for conns in CONC_LEVELS:
            base = "echo_%s_1k_c%d" % (mode, conns)
            units[base + "_rps"] = "rps"
            units[base + "_srv_cpu_us"] = "us"
    return units


def syscall_units():
    return {"echo_%s_1k_srv_syscalls" % mode: "calls" for mode in MODES}


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


def read_line(proc, timeout, what="server did not report its ports"):
    """Next stdout line of proc, or raise after timeout seconds."""
    box = []
    th = threading.Thread(target=lambda: box.append(proc.stdout.readline()),
                          daemon=True)
    th.start()
    th.join(timeout)
    if not box or not box[0]:
        raise RuntimeError("%s (exit %s)" % (what, proc.poll()))
    return box[0]


def kill_group(proc):
    """SIGKILL a process started with start_new_session and its group (only
    while the leader is not reaped, so that the group id is still ours)."""
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass


def run_conc_case(me, port, conns, duration, server_pid):
    """One concurrency case: CLIENT_PROCS client processes, started together;
    returns {"rps", "srv_cpu_us"}."""
    nprocs = min(CLIENT_PROCS, conns)
    shares = [conns // nprocs + (1 if i < conns % nprocs else 0)
              for i in range(nprocs)]
    procs = []
    try:
        for share in shares:
            procs.append(subprocess.Popen(
                me + ["--role", "conc-client", "--port", str(port),
                      "--conns", str(share), "--size", str(CONC_SIZE),
                      "--duration", str(duration)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                universal_newlines=True))
        for p in procs:
            if read_line(p, 30.0, "client did not get ready").strip() \
                    != "ready":
                raise RuntimeError("client did not get ready")
        cpu0 = common.cpu_ns(server_pid)
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        results = []
        for p in procs:
            out, _ = p.communicate(timeout=duration + 30.0)
            if p.returncode != 0:
                raise RuntimeError("client exited with %d" % p.returncode)
            results.append(json.loads(out.strip().splitlines()[-1]))
        cpu1 = common.cpu_ns(server_pid)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            for fh in (p.stdin, p.stdout):
                try:
                    fh.close()
                except (OSError, ValueError):
                    pass
    count = sum(r["count"] for r in results)
    if count <= 0:
        raise RuntimeError("no round trip completed")
    srv_cpu = None
    if cpu0 is not None and cpu1 is not None:
        srv_cpu = (cpu1 - cpu0) / 1e3 / count
    return {"rps": sum(r["count"] / r["elapsed"] for r in results),
            "srv_cpu_us": srv_cpu}


class NotRun(Exception):
    """A measurement this machine cannot make (the message says why)."""


def strace_total(strace, me, port_mode, round_trips):
    """Total system calls (and calls by name) of one server launch under
    strace -c -f, in which a blocking client makes round_trips 1 KiB round
    trips on one connection to the listener of port_mode (None: no
    connection at all)."""
    fd, path = tempfile.mkstemp(prefix="pyloop-strace-", suffix=".txt")
    os.close(fd)
    err = tempfile.TemporaryFile(mode="w+")
    proc = None
    try:
        proc = subprocess.Popen(
            [strace, "-c", "-f", "-o", path] + me + ["--role", "server",
                                                     "--warm"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
            universal_newlines=True, start_new_session=True)
        try:
            ports = json.loads(read_line(proc, 60.0))
        except RuntimeError:
            kill_group(proc)
            err.seek(0)
            text = err.read().strip()
            last = text.splitlines()[-1] if text else "no output"
            if "ptrace" in text.lower() and "not permitted" in text.lower():
                raise NotRun("not run: ptrace is not permitted here "
                             "(%s)" % last)
            raise RuntimeError("server under strace did not start: %s"
                               % last)
        if port_mode is not None:
            msg = b"x" * CONC_SIZE
            with socket.create_connection(
                    ("127.0.0.1", ports[port_mode]), timeout=30) as s:
                nodelay(s)
                for _ in range(round_trips):
                    s.sendall(msg)
                    recv_exactly(s, CONC_SIZE)
        proc.stdin.close()
        proc.wait(30)
        if proc.returncode != 0:
            raise RuntimeError("strace exited with %d" % proc.returncode)
        with open(path) as fh:
            return parse_strace_summary(fh.read())
    finally:
        if proc is not None:
            kill_group(proc)
            if proc.stdout:
                proc.stdout.close()
        err.close()
        os.unlink(path)


def parse_strace_summary(text):
    """strace -c's table: (total calls, {syscall: calls})."""
    total, by_name = None, {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 5 or not fields[0][0].isdigit():
            continue
        # % time, seconds, usecs/call, calls, [errors], name
        try:
            calls = int(fields[3])
        except ValueError:
            continue
        if fields[-1] == "total":
            total = calls
        else:
            by_name[fields[-1]] = calls
    if total is None:
        raise RuntimeError("no total in strace -c output")
    return total, by_name


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

    def g_conc(loop):
        server = None
        runs, errors = {}, {}
        try:
            server = subprocess.Popen(
                me + ["--role", "server", "--warm"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, universal_newlines=True)
            ports = json.loads(read_line(server, 30.0))
            for _ in range(reps):
                for mode in MODES:
                    for conns in CONC_LEVELS:
                        key = "echo_%s_1k_c%d" % (mode, conns)
                        if key in errors:
                            continue
                        try:
                            runs.setdefault(key, []).append(run_conc_case(
                                me, ports[mode], conns, duration,
                                server.pid))
                        except Exception as exc:
                            errors[key] = "%s: %s" % (type(exc).__name__,
                                                      exc)
                            common.notice("error in %s (%s): %s"
                                          % (key, ctx.name, errors[key]))
        finally:
            stop_process(server)
        out = {}
        for mode in MODES:
            for conns in CONC_LEVELS:
                key = "echo_%s_1k_c%d" % (mode, conns)
                if key in errors:
                    for suffix, unit in (("_rps", "rps"),
                                         ("_srv_cpu_us", "us")):
                        m = common.null_metric(unit, None)
                        m["error"] = errors[key]
                        out[key + suffix] = m
                    continue
                out[key + "_rps"] = common.spread(
                    [r["rps"] for r in runs[key]], "rps")
                cpus = [r["srv_cpu_us"] for r in runs[key]
                        if r["srv_cpu_us"] is not None]
                out[key + "_srv_cpu_us"] = (
                    common.spread(cpus, "us") if cpus
                    else common.null_metric("us", "no /proc/PID/schedstat"))
        return out

    ctx.group(conc_units(), g_conc)

    def g_syscalls(loop):
        units = syscall_units()
        strace = shutil.which("strace")
        if strace is None:
            note = "not run: strace is not installed (./bootstrap installs it)"
            return {n: common.null_metric(u, note) for n, u in units.items()}
        n = ctx.size(2000, 200)
        try:
            base_total, base_names = strace_total(strace, me, None, 0)
        except NotRun as exc:
            return {name: common.null_metric(u, str(exc))
                    for name, u in units.items()}
        out, detail = {}, {}
        for mode in MODES:
            total, names = strace_total(strace, me, mode, n)
            out["echo_%s_1k_srv_syscalls" % mode] = common.metric(
                (total - base_total) / float(n), "calls")
            per = {}
            for name, calls in names.items():
                v = (calls - base_names.get(name, 0)) / float(n)
                if v >= 0.05:
                    per[name] = round(v, 2)
            detail[mode] = dict(sorted(per.items(), key=lambda kv: -kv[1]))
        ctx.meta["syscalls_per_round_trip"] = detail
        return out

    ctx.group(syscall_units(), g_syscalls)


def build_parser():
    p = common.build_parser(__doc__)
    p.add_argument("--role", choices=("server", "client", "conc-client"),
                   help=argparse_suppress())
    p.add_argument("--port", type=int, help=argparse_suppress())
    p.add_argument("--conns", type=int, help=argparse_suppress())
    p.add_argument("--size", type=int, help=argparse_suppress())
    p.add_argument("--warm", action="store_true", help=argparse_suppress())
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
        serve(name, args.warm)
    elif args.role == "conc-client":
        conc_client(args.port, args.conns, args.size, args.duration)
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

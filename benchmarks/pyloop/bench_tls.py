#!/usr/bin/env python3
"""HTTPS servers under wrk, and TLS bulk transfer, on the loop under test.

Usage: python bench_tls.py [--loop NAME ...] [--json] [--quick]

The certificate: a self-signed RSA 2048 key and certificate for
127.0.0.1, made at run time by `openssl req -x509` into a scratch
directory that is removed when the run ends (without the openssl command,
CPython's own test keycert.pem if the interpreter has its test package;
without either, every metric is null with a note). Every server of a run
serves it with one server context made the same way for every loop:
ssl.create_default_context(Purpose.CLIENT_AUTH) + load_cert_chain (TLS 1.3
with wrk and with the bulk client: TLS_AES_256_GCM_SHA384, session tickets
on, as any server's default context has them).

A loop without TLS (rloop 0.5: create_server(ssl=...) raises
NotImplementedError) is probed first; its metrics are null with a note that
says "no TLS", never zero.

HTTPS: bench_http.py's servers, each in its own process on the loop under
test, with the context above: uvicorn + httptools with the plain ASGI app
("asgi"), and aiohttp.web ("aiohttp"); each checks its loop as bench_http.py
does, over TLS (GET /loop and GET / with a client that verifies the
certificate). Three rows, measured round-robin: one warm-up run of each
(1 s), then ROUNDS rounds (5, of 3 s each; --quick: one of 1 s, no
warm-up), each round running wrk once for each row in turn, then the two
bulk cases below:
  https_asgi        wrk -t1 -c64 https://... on uvicorn, keep-alive
  https_aiohttp     wrk -t1 -c64 https://... on aiohttp, keep-alive
  https_asgi_close  wrk -t1 -c64 -H "Connection: close" on the same uvicorn
                    server: uvicorn closes after each response, wrk
                    reconnects, so every request pays a TCP connect, a TLS
                    handshake and a close_notify. wrk keeps the session of
                    the connection it closed and resumes it (TLS 1.3 PSK
                    with a fresh ECDHE exchange: no certificate signature);
                    with the server's default tickets, 1,746 of 1,747
                    handshakes were resumed in a check that counted
                    SSLObject.session_reused on the server.
Metrics for ROW in asgi/aiohttp/asgi_close, as bench_http.py's (median over
the rounds, "min", "max" and "rounds" beside it):
  https_ROW_rps         wrk's completed requests / the run's duration
  https_ROW_p99_ms      wrk's latency:percentile(99) for the run
  https_ROW_srv_cpu_us  utime + stime of the server process (all threads,
                        /proc/PID/stat) over the wrk run / wrk's requests

TLS bulk: one more server process on the loop under test, an
asyncio.Protocol server (loop.create_server(ssl=...)) that on one
connection answers requests "S" + 8-byte N (it writes N bytes in 256 KiB
writes, pausing on pause_writing and going on at resume_writing) and
"R" + 8-byte N (it reads N bytes, discarding them in data_received, then
writes b"k"). The client is fixed, so that only the server's loop differs
between columns: a separate process with a blocking ssl.SSLSocket (the
standard library, no event loop), which connects, moves 2 MiB each way to
warm up, reports ready and, on "go", repeats 8 MiB requests for DURATION
(2 s; --quick: 0.3 s), then reports bytes and seconds. The server's CPU is
the sum over its threads of /proc/PID/task/TID/schedstat (ns) read before
"go" and after the client's report.
  tls_bulk_send_mb_s            server -> client: MB (10**6 bytes) per
                                second, as the client timed it
  tls_bulk_send_srv_cpu_ms_per_mb  the server's CPU time per MB sent
  tls_bulk_recv_mb_s            client -> server, MB/s
  tls_bulk_recv_srv_cpu_ms_per_mb  the server's CPU time per MB received
The client decrypts (or encrypts) what the server encrypts (or decrypts),
on the other core: MB/s is bounded by both processes; the CPU per MB is the
server's alone.
"""

import asyncio
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import sysconfig
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
import bench_http  # noqa: E402

perf = time.perf_counter
# (row, server kind, extra wrk headers)
ROWS = (
    ("asgi", "asgi", ()),
    ("aiohttp", "aiohttp", ()),
    ("asgi_close", "asgi", ("Connection: close",)),
)
KINDS = ("asgi", "aiohttp")
DIRECTIONS = ("send", "recv")
BULK_CHUNK = 256 * 1024
BULK_BLOCK = 8 * 1024 * 1024
BULK_WARMUP = 2 * 1024 * 1024
MB = 1e6


# --------------------------------------------------------------------------
# Certificate and contexts
# --------------------------------------------------------------------------

def make_cert(directory):
    """Write cert.pem and key.pem into directory; return (certfile,
    keyfile, how) or raise RuntimeError saying why there is none."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    openssl = shutil.which("openssl")
    if openssl:
        cp = subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-keyout", key, "-out", cert, "-days", "2",
             "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            universal_newlines=True, timeout=60)
        if cp.returncode == 0:
            return cert, key, "openssl req -x509 -newkey rsa:2048"
        raise RuntimeError("openssl req failed: %s" % cp.stdout[-200:])
    # CPython's own test certificate (RSA, CN=localhost): the client does
    # not check the host name then.
    stdlib = sysconfig.get_paths()["stdlib"]
    for rel in ("test/certdata/keycert.pem", "test/keycert.pem"):
        path = os.path.join(stdlib, rel)
        if os.path.exists(path):
            return path, None, "CPython's " + rel
    raise RuntimeError("no certificate: the openssl command is not "
                       "installed and this Python has no test/keycert.pem")


def server_context(certfile, keyfile):
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(certfile, keyfile)
    return ctx


def client_context(certfile, keyfile):
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=certfile)
    if keyfile is None:  # CPython's test cert names localhost
        ctx.check_hostname = False
    return ctx


def probe_tls(loop, sctx):
    """None if the loop serves TLS, else why not (a note)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    sock.setblocking(False)

    async def probe():
        server = await loop.create_server(asyncio.Protocol, sock=sock,
                                          ssl=sctx)
        server.close()
        await server.wait_closed()

    try:
        loop.run_until_complete(probe())
    except NotImplementedError as exc:
        return ("not run: no TLS in this loop (create_server(ssl=...) "
                "raises NotImplementedError%s)"
                % (": %s" % exc if str(exc) else ""))
    finally:
        sock.close()
    return None


# --------------------------------------------------------------------------
# Server roles
# --------------------------------------------------------------------------

class BulkProtocol(asyncio.Protocol):
    """b"S" + N: write N bytes; b"R" + N: read N bytes, then write b"k"."""

    payload = b"x" * BULK_CHUNK

    def connection_made(self, transport):
        self.transport = transport
        self.header = b""
        self.mode = None
        self.left = 0
        self.paused = False

    def data_received(self, data):
        if self.mode is None:
            self.header += data
            if len(self.header) < 9:
                return
            mode, data = self.header[:1], self.header[9:]
            self.left = int.from_bytes(self.header[1:9], "big")
            self.header = b""
            if mode == b"S":
                self.mode = "S"
                self.pump()
                return
            self.mode = "R"
        if self.mode == "R":
            self.left -= len(data)
            if self.left <= 0:
                self.mode = None
                self.transport.write(b"k")

    def pump(self):
        while self.left > 0 and not self.paused:
            n = min(self.left, BULK_CHUNK)
            self.transport.write(self.payload if n == BULK_CHUNK
                                 else self.payload[:n])
            self.left -= n
        if self.left <= 0:
            self.mode = None

    def pause_writing(self):
        self.paused = True

    def resume_writing(self):
        self.paused = False
        if self.mode == "S":
            self.pump()


def serve_bulk(name, sctx):
    loop = common.loop_factory(name)()
    asyncio.set_event_loop(loop)
    sock, port = bench_http.listening_socket(64)
    bench_http.exit_when_stdin_closes()

    async def start():
        await loop.create_server(BulkProtocol, sock=sock, ssl=sctx)
        bench_http.announce(port)

    loop.run_until_complete(start())
    loop.run_forever()
    os._exit(0)


# --------------------------------------------------------------------------
# Bulk client role (standard library, no event loop: the same for every
# loop)
# --------------------------------------------------------------------------

def recv_exactly(s, view, n):
    got = 0
    while got < n:
        k = s.recv_into(view[:min(len(view), n - got)])
        if not k:
            raise ConnectionError("server closed")
        got += k


def bulk_request(s, direction, n, buf, block):
    if direction == "send":  # the server sends
        s.sendall(b"S" + n.to_bytes(8, "big"))
        recv_exactly(s, buf, n)
    else:
        s.sendall(b"R" + n.to_bytes(8, "big"))
        left = n
        while left > 0:
            k = min(left, len(block))
            s.sendall(block if k == len(block) else block[:k])
            left -= k
        recv_exactly(s, buf, 1)


def bulk_client(port, direction, duration, certfile, keyfile):
    """Prints "ready" (after the warm-up), waits for "go" on stdin, then
    prints {"bytes", "elapsed", "version", "cipher"}."""
    ctx = client_context(certfile, keyfile)
    raw = socket.create_connection(("127.0.0.1", port), timeout=60)
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    buf = memoryview(bytearray(BULK_CHUNK))
    block = b"y" * BULK_CHUNK
    for d in DIRECTIONS:
        bulk_request(s, d, BULK_WARMUP, buf, block)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    if sys.stdin.readline().strip() != "go":
        return
    total = 0
    t0 = perf()
    t_end = t0 + duration
    while True:
        bulk_request(s, direction, BULK_BLOCK, buf, block)
        total += BULK_BLOCK
        if perf() >= t_end:
            break
    elapsed = perf() - t0
    version, cipher = s.version(), s.cipher()[0]
    s.close()
    sys.stdout.write(json.dumps({"bytes": total, "elapsed": elapsed,
                                 "version": version,
                                 "cipher": cipher}) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------
# Orchestrator
# --------------------------------------------------------------------------

def proc_cpu_ns(pid):
    """CPU time of every thread of process pid, in ns (schedstat)."""
    total = 0
    base = "/proc/%d/task" % pid
    for tid in os.listdir(base):
        try:
            with open("%s/%s/schedstat" % (base, tid)) as fh:
                total += int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass  # a thread that ended meanwhile
    return total


def https_units():
    units = {}
    for row, _, _ in ROWS:
        units["https_%s_rps" % row] = "rps"
        units["https_%s_p99_ms" % row] = "ms"
        units["https_%s_srv_cpu_us" % row] = "us"
    return units


def bulk_units():
    units = {}
    for d in DIRECTIONS:
        units["tls_bulk_%s_mb_s" % d] = "MB/s"
        units["tls_bulk_%s_srv_cpu_ms_per_mb" % d] = "ms"
    return units


def all_units():
    units = https_units()
    units.update(bulk_units())
    return units


def row_names(row):
    if row in DIRECTIONS:
        return [n for n in bulk_units() if n.startswith("tls_bulk_%s_" % row)]
    return [n for n in https_units() if n.startswith("https_%s_" % row)]


def nulls(names, note=None, error=None, cell=None):
    units = all_units()
    out = {}
    for n in names:
        m = common.null_metric(units[n], note)
        if error:
            m["error"] = error
        if cell:
            m["cell"] = cell  # the table says it in the row (common.fmt_cell)
        out[n] = m
    return out


class TLSServer(bench_http.Server):
    """bench_http.py's server, started by this script with the
    certificate: same apps, same loop checks, over TLS."""

    script = os.path.abspath(__file__)

    def __init__(self, name, kind, certdir, client_ssl):
        bench_http.Server.__init__(self, name, kind)
        self.certdir = certdir
        self.client_ssl = client_ssl

    def role_args(self):
        return ["--certdir", self.certdir]


class BulkServer(object):
    def __init__(self, name, certdir):
        self.name = name
        self.certdir = certdir
        self.proc = None
        self.err = tempfile.TemporaryFile(mode="w+", prefix="pyloop-tls-")
        self.port = None

    def start(self, deadline_s=60.0):
        cmd = [sys.executable, os.path.abspath(__file__), "--loop",
               self.name, "--role", "server", "--server", "bulk",
               "--certdir", self.certdir]
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.err, universal_newlines=True,
            start_new_session=True)
        line = bench_http.read_line(self.proc, deadline_s)
        if not line:
            raise RuntimeError("bulk server did not start (exit %s): %s"
                               % (self.proc.poll(),
                                  bench_http.stderr_tail(self.err)))
        info = json.loads(line)
        if not bench_http.loop_matches(self.name, info["loop"]):
            raise RuntimeError("bulk server runs on %s, not on a %s loop"
                               % (info["loop"], self.name))
        self.port = info["port"]

    def stop(self):
        bench_http.kill_group(self.proc)
        self.proc = None
        try:
            self.err.close()
        except OSError:
            pass


def run_bulk(server, direction, duration, certdir):
    """One timed bulk case on a new connection: {"mb_s", "cpu_ms_per_mb",
    "version", "cipher"}."""
    proc = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), "--role", "bulk-client",
         "--port", str(server.port), "--direction", direction,
         "--duration", str(duration), "--certdir", certdir],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        universal_newlines=True)
    try:
        line = bench_http.read_line(proc, 60.0)
        if not line or line.strip() != "ready":
            raise RuntimeError("bulk client did not get ready (exit %s)"
                               % proc.poll())
        cpu0 = proc_cpu_ns(server.proc.pid)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        line = bench_http.read_line(proc, duration + 60.0)
        cpu1 = proc_cpu_ns(server.proc.pid)
        if not line:
            raise RuntimeError("bulk client reported nothing (exit %s)"
                               % proc.poll())
        res = json.loads(line)
    finally:
        if proc.poll() is None:
            proc.stdin.close()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for fh in (proc.stdin, proc.stdout):
            try:
                fh.close()
            except (OSError, ValueError):
                pass
    mb = res["bytes"] / MB
    return {"mb_s": mb / res["elapsed"],
            "cpu_ms_per_mb": (cpu1 - cpu0) / 1e6 / mb,
            "version": res["version"], "cipher": res["cipher"]}


def bench(ctx):
    duration = ctx.size(3, 1)
    bulk_duration = ctx.size(2.0, 0.3)
    rounds = ctx.size(5, 1)
    warmup = ctx.size(1, 0)
    wrk = shutil.which("wrk")
    ctx.meta["tls"] = {
        "wrk": bench_http.wrk_version(wrk) if wrk else None,
        "wrk_args": "-t%d -c%d -d%ds" % (bench_http.WRK_THREADS,
                                         bench_http.CONNECTIONS, duration),
        "rounds": rounds, "warmup_s": warmup,
        "bulk_duration_s": bulk_duration, "bulk_block": BULK_BLOCK,
        "packages": bench_http.package_versions(),
        "openssl": ssl.OPENSSL_VERSION,
        # The machine's load when this loop's rows started and ended: the
        # loops run one after another, so a load that changes between them
        # moves their ratios (read the CPU rows then).
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }

    def g_tls(loop):
        certdir = tempfile.mkdtemp(prefix="pyloop-tls-cert-")
        servers, bulk = [], None
        script_path = None
        try:
            try:
                certfile, keyfile, how = make_cert(certdir)
            except Exception as exc:
                return nulls(all_units(), "not run: %s" % exc)
            ctx.meta["tls"]["certificate"] = how
            with open(os.path.join(certdir, "files.json"), "w") as fh:
                json.dump({"cert": certfile, "key": keyfile}, fh)
            sctx = server_context(certfile, keyfile)
            cctx = client_context(certfile, keyfile)
            why = probe_tls(loop, sctx)
            if why:
                return nulls(all_units(), why, cell="no TLS")

            out = {}
            active_rows = []
            if wrk is None:
                for row, _, _ in ROWS:
                    out.update(nulls(row_names(row), "not run: wrk is not "
                                     "installed (./bootstrap installs it)"))
            else:
                by_kind = {}
                for kind in KINDS:
                    missing = bench_http.missing_packages(kind)
                    if missing:
                        for row, k, _ in ROWS:
                            if k == kind:
                                out.update(nulls(row_names(row), (
                                    "not run: %s not importable (pip install "
                                    "-r benchmarks/requirements.txt)"
                                    % ", ".join(missing))))
                        continue
                    server = TLSServer(ctx.name, kind, certdir, cctx)
                    try:
                        server.start()
                        servers.append(server)
                        by_kind[kind] = server
                    except Exception as exc:
                        server.stop()
                        err = "%s: %s" % (type(exc).__name__, exc)
                        common.notice("error in https %s (%s): %s"
                                      % (kind, ctx.name, err))
                        for row, k, _ in ROWS:
                            if k == kind:
                                out.update(nulls(row_names(row), error=err))
                ctx.meta["tls"]["server_loops"] = {
                    s.kind: s.loop_class for s in servers}
                active_rows = [(row, by_kind[k], hdrs)
                               for row, k, hdrs in ROWS if k in by_kind]
                fd, script_path = tempfile.mkstemp(prefix="pyloop-wrk-",
                                                   suffix=".lua")
                with os.fdopen(fd, "w") as fh:
                    fh.write(bench_http.WRK_SCRIPT)

            bulk = BulkServer(ctx.name, certdir)
            bulk_failed = None
            try:
                bulk.start()
            except Exception as exc:
                bulk_failed = "%s: %s" % (type(exc).__name__, exc)
                common.notice("error in tls_bulk (%s): %s"
                              % (ctx.name, bulk_failed))

            runs = {row: [] for row, _, _ in active_rows}
            sock_errors = {row: {} for row, _, _ in active_rows}
            failed = {}
            bulk_runs = {d: [] for d in DIRECTIONS}

            def one(row, server, headers, seconds, timed):
                try:
                    r = bench_http.run_wrk(wrk, script_path, server, seconds,
                                           "https", headers)
                    if r["status"]:
                        raise RuntimeError("%d responses were not 2xx/3xx"
                                           % r["status"])
                    if not r["requests"]:
                        raise RuntimeError("wrk completed no request")
                    if timed:
                        runs[row].append(r)
                        errs = sock_errors[row]
                        for key in ("connect", "read", "write", "timeout"):
                            errs[key] = errs.get(key, 0) + int(r[key])
                except Exception as exc:
                    failed[row] = "%s: %s" % (type(exc).__name__, exc)
                    common.notice("error in https_%s (%s): %s"
                                  % (row, ctx.name, failed[row]))

            if warmup:
                for row, server, headers in active_rows:
                    one(row, server, headers, warmup, False)
            for _ in range(rounds):
                for row, server, headers in active_rows:
                    if row not in failed:
                        one(row, server, headers, duration, True)
                for d in DIRECTIONS:
                    if bulk_failed or d in failed:
                        continue
                    try:
                        r = run_bulk(bulk, d, bulk_duration, certdir)
                        bulk_runs[d].append(r)
                        ctx.meta["tls"]["bulk_negotiated"] = "%s %s" % (
                            r["version"], r["cipher"])
                    except Exception as exc:
                        failed[d] = "%s: %s" % (type(exc).__name__, exc)
                        common.notice("error in tls_bulk_%s (%s): %s"
                                      % (d, ctx.name, failed[d]))

            for row, _, _ in active_rows:
                if row in failed:
                    out.update(nulls(row_names(row), error=failed[row]))
                    continue
                try:
                    rps, p99, cpu, note = bench_http.summarize(
                        runs[row], sock_errors[row])
                except Exception as exc:
                    out.update(nulls(row_names(row), error="%s: %s" % (
                        type(exc).__name__, exc)))
                    continue
                out["https_%s_rps" % row] = common.spread(rps, "rps",
                                                          note=note)
                out["https_%s_p99_ms" % row] = common.spread(p99, "ms",
                                                             note=note)
                out["https_%s_srv_cpu_us" % row] = common.spread(cpu, "us",
                                                                 note=note)
            for d in DIRECTIONS:
                err = bulk_failed or failed.get(d)
                if err:
                    out.update(nulls(row_names(d), error=err))
                    continue
                rs = bulk_runs[d]
                out["tls_bulk_%s_mb_s" % d] = common.spread(
                    [r["mb_s"] for r in rs], "MB/s")
                out["tls_bulk_%s_srv_cpu_ms_per_mb" % d] = common.spread(
                    [r["cpu_ms_per_mb"] for r in rs], "ms")
            return out
        finally:
            ctx.meta["tls"]["loadavg"] += [round(x, 2)
                                           for x in os.getloadavg()]
            for server in servers:
                server.stop()
            if bulk is not None:
                bulk.stop()
            if script_path:
                os.unlink(script_path)
            shutil.rmtree(certdir, ignore_errors=True)

    ctx.group(all_units(), g_tls)


def build_parser():
    import argparse
    p = common.build_parser(__doc__)
    p.add_argument("--role", choices=("server", "bulk-client"),
                   help=argparse.SUPPRESS)
    p.add_argument("--server", choices=KINDS + ("bulk",),
                   help=argparse.SUPPRESS)
    p.add_argument("--certdir", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--direction", choices=DIRECTIONS,
                   help=argparse.SUPPRESS)
    p.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    return p


def role_main(args):
    import faulthandler
    if args.timeout and args.timeout > 0:
        faulthandler.dump_traceback_later(args.timeout, exit=True)
    with open(os.path.join(args.certdir, "files.json")) as fh:
        files = json.load(fh)
    if args.role == "bulk-client":
        bulk_client(args.port, args.direction, args.duration,
                    files["cert"], files["key"])
        return 0
    name = (args.loop or ["asyncio"])[0]
    sctx = server_context(files["cert"], files["key"])
    if args.server == "bulk":
        serve_bulk(name, sctx)
    else:
        bench_http.serve(name, args.server, sctx)
    return 0


if __name__ == "__main__":
    parser = build_parser()
    ns = parser.parse_args()
    if ns.role:
        sys.exit(role_main(ns))
    sys.exit(common.main("bench_tls", __doc__, bench, parser=parser))

#!/usr/bin/env python3
"""HTTP servers on the loop under test, loaded by wrk on 127.0.0.1.

Usage: python bench_http.py [--loop NAME ...] [--json] [--quick]

Three servers, each in its own process (started with this interpreter, in
a session of its own) on a loop of the kind under test, serving one
listening socket that it binds to 127.0.0.1 port 0:
  asgi       uvicorn with httptools (http="httptools", no access log, no
             lifespan), a plain ASGI app answering "Hello, world!" as
             text/plain;
  starlette  the same uvicorn with a Starlette app, one route answering
             JSONResponse({"message": "Hello, world!"});
  aiohttp    aiohttp.web (AppRunner + SockSite, no access log), one handler
             answering web.Response(text="Hello, world!").
The server makes its loop itself (common.loop_factory: asyncio's
SelectorEventLoop, uvloop.new_event_loop, rloop.new_event_loop or
data_bridge.pyloop.new_event_loop) and runs uvicorn's Server.serve() or the
aiohttp runner on it, so no server package picks a loop of its own. It
prints the class of its running loop at startup, and answers GET /loop with
the class of the loop running the request handler; the harness checks both
against the loop asked for before measuring (a misconfigured run fails, it
cannot silently measure another loop). Readiness is checked by connecting:
GET /loop and GET / must answer 200 before the first wrk run.

Load: wrk -t1 -c64 -dDs (one wrk thread, 64 keep-alive connections) on
GET /. The three servers are measured round-robin: one warm-up run per
server (1 s), then ROUNDS rounds (5, of 3 s each; --quick: one round of
1 s, no warm-up), each round running wrk once against each server in turn.
The numbers come from a wrk Lua done() hook, which prints wrk's own
summary and latency histogram.

Metrics, for SERVER in asgi/starlette/aiohttp (median over the rounds,
with "min", "max" and "rounds", each round's value, beside it in the JSON
and [min .. max] in the table):
  http_SERVER_rps         requests/s: wrk's completed requests divided by
                          the run's duration
  http_SERVER_p99_ms      p99 latency: wrk's latency:percentile(99) for the
                          run, i.e. the 99th percentile over every request
                          of the run of the time from writing the request
                          to reading the whole response on its keep-alive
                          connection (wrk, not wrk2: no coordinated-omission
                          correction); the cell is the median over rounds
                          of each round's p99
  http_SERVER_srv_cpu_us  the server process's CPU time per request: utime
                          + stime of the server process (all its threads,
                          /proc/PID/stat, clock ticks, usually 10 ms)
                          read before wrk starts and after it exits,
                          divided by wrk's request count
A server whose package (uvicorn, httptools, starlette, aiohttp; see
benchmarks/requirements.txt) is not importable, or every server when wrk is
not installed, has null values and a note saying so; a server that failed
to start, answered with the wrong loop or made wrk count non-2xx responses
has null values and an error. wrk's socket errors (timeouts, resets) are
kept in a note on that server's metrics.
"""

import asyncio
import http.client
import importlib
import json
import os
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

SERVERS = ("asgi", "starlette", "aiohttp")
PACKAGES = {
    "asgi": ("uvicorn", "httptools"),
    "starlette": ("uvicorn", "httptools", "starlette"),
    "aiohttp": ("aiohttp",),
}
BODY = "Hello, world!"
CONNECTIONS = 64
WRK_THREADS = 1
# The module that the class of each kind of loop comes from: the class of
# the loop actually serving requests must be in it.
LOOP_MODULES = {
    "asyncio": "asyncio",
    "uvloop": "uvloop",
    "rloop": "rloop",
    "pyloop": "data_bridge.pyloop",
}
RESULT_TAG = "WRK_RESULT "
WRK_SCRIPT = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK_RESULT {\"requests\": %.0f, \"duration_us\": %.0f, " ..
    "\"p50_us\": %.0f, \"p99_us\": %.0f, \"max_us\": %.0f, " ..
    "\"connect\": %.0f, \"read\": %.0f, \"write\": %.0f, " ..
    "\"status\": %.0f, \"timeout\": %.0f}\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def loop_class_name(loop):
    cls = type(loop)
    return "%s.%s" % (cls.__module__, cls.__qualname__)


def loop_matches(name, class_name):
    """Whether class_name (module.qualname) is a loop of kind name."""
    module = LOOP_MODULES[name]
    return class_name.startswith(module + ".")


# --------------------------------------------------------------------------
# Server role
# --------------------------------------------------------------------------

def running_loop_name():
    return loop_class_name(asyncio.get_running_loop())


async def asgi_app(scope, receive, send):
    """A plain ASGI app: "Hello, world!", or the running loop's class at
    /loop."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/loop":
        body = running_loop_name().encode()
    else:
        body = BODY.encode()
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def starlette_app():
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, PlainTextResponse
    from starlette.routing import Route

    async def hello(request):
        return JSONResponse({"message": BODY})

    async def which_loop(request):
        return PlainTextResponse(running_loop_name())

    return Starlette(routes=[Route("/", hello), Route("/loop", which_loop)])


async def start_uvicorn(app, sock, ssl_context=None):
    import uvicorn
    kwargs = {}
    if ssl_context is not None:
        # bench_tls.py: every server of a run serves the same context.
        kwargs["ssl_context_factory"] = lambda config, default: ssl_context
    config = uvicorn.Config(app, http="httptools", loop="none",
                            lifespan="off", access_log=False,
                            log_level="warning", **kwargs)
    server = uvicorn.Server(config)
    # serve() runs on the loop that runs it (uvicorn's own loop selection
    # is in Server.run(), which is not used).
    return asyncio.ensure_future(server.serve(sockets=[sock]))


async def start_aiohttp(sock, ssl_context=None):
    from aiohttp import web

    async def hello(request):
        return web.Response(text=BODY)

    async def which_loop(request):
        return web.Response(text=running_loop_name())

    app = web.Application()
    app.router.add_get("/", hello)
    app.router.add_get("/loop", which_loop)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.SockSite(runner, sock, ssl_context=ssl_context)
    await site.start()
    return runner


def listening_socket(backlog):
    """A non-blocking TCP socket listening on 127.0.0.1 (an ephemeral
    port), and its port. proto=IPPROTO_TCP, as getaddrinfo gives when a
    server binds host and port itself: accepted sockets inherit it, and
    asyncio's transports set TCP_NODELAY only on sockets whose proto says
    TCP (with proto 0, a response written in two parts waits for the
    client's delayed ACK). The port is read before serving: a loop may take
    the socket's descriptor over (rloop detaches it from the socket
    object)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM,
                         socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock, sock.getsockname()[1]


def exit_when_stdin_closes():
    """A server role ends when its parent closes its stdin: no graceful
    shutdown needed."""
    def watch_stdin():
        try:
            sys.stdin.read()
        finally:
            os._exit(0)

    threading.Thread(target=watch_stdin, daemon=True).start()


def announce(port):
    """The server role's one line to its parent: port, pid, running loop."""
    sys.stdout.write(json.dumps({
        "port": port, "pid": os.getpid(),
        "loop": running_loop_name()}) + "\n")
    sys.stdout.flush()


def serve(name, kind, ssl_context=None):
    """Run one server until stdin closes (or the process is killed); with
    ssl_context, over TLS (bench_tls.py)."""
    loop = common.loop_factory(name)()
    asyncio.set_event_loop(loop)
    sock, port = listening_socket(1024)
    exit_when_stdin_closes()

    async def start():
        if kind == "aiohttp":
            await start_aiohttp(sock, ssl_context)
            task = None
        else:
            app = asgi_app if kind == "asgi" else starlette_app()
            task = await start_uvicorn(app, sock, ssl_context)
        announce(port)
        return task

    task = loop.run_until_complete(start())
    if task is None:
        loop.run_forever()
    else:
        loop.run_until_complete(task)
    os._exit(0)


# --------------------------------------------------------------------------
# Orchestrator
# --------------------------------------------------------------------------

def metric_units():
    units = {}
    for kind in SERVERS:
        units["http_%s_rps" % kind] = "rps"
        units["http_%s_p99_ms" % kind] = "ms"
        units["http_%s_srv_cpu_us" % kind] = "us"
    return units


def kind_metrics(kind, note=None, error=None):
    out = {}
    for name, unit in metric_units().items():
        if name.startswith("http_%s_" % kind):
            m = common.null_metric(unit, note)
            if error:
                m["error"] = error
            out[name] = m
    return out


def missing_packages(kind):
    missing = []
    for mod in PACKAGES[kind]:
        try:
            importlib.import_module(mod)
        except Exception as exc:
            missing.append("%s (%s)" % (mod, str(exc) or type(exc).__name__))
    return missing


def package_versions():
    try:
        from importlib import metadata
    except ImportError:  # pragma: no cover (3.8+ has it)
        return {}
    out = {}
    for pkg in ("uvicorn", "httptools", "starlette", "aiohttp"):
        try:
            out[pkg] = metadata.version(pkg)
        except Exception:
            out[pkg] = None
    return out


def wrk_version(wrk):
    try:
        cp = subprocess.run([wrk, "-v"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT,
                            universal_newlines=True, timeout=10)
        return cp.stdout.splitlines()[0].strip() if cp.stdout else None
    except Exception:
        return None


def cpu_ticks(pid):
    """utime + stime of process pid in clock ticks (/proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as fh:
        stat = fh.read()
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def kill_group(proc):
    """End a server and everything in its session: close its stdin (it
    exits by itself), then SIGTERM, then SIGKILL the group. The group is
    signalled only while its leader is not reaped, so its id cannot have
    been reused."""
    if proc is None:
        return
    try:
        if proc.stdin:
            proc.stdin.close()
    except OSError:
        pass
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None and proc.returncode is None:
            try:
                os.killpg(proc.pid, sig)
            except (OSError, ProcessLookupError):
                pass
        try:
            proc.wait(2)
            break
        except subprocess.TimeoutExpired:
            continue
    if proc.stdout:
        proc.stdout.close()


def read_line(proc, timeout):
    box = []
    th = threading.Thread(target=lambda: box.append(proc.stdout.readline()),
                          daemon=True)
    th.start()
    th.join(timeout)
    if not box or not box[0]:
        return None
    return box[0]


def stderr_tail(fh, n=3):
    try:
        fh.seek(0)
        lines = [ln.strip() for ln in fh.read().splitlines() if ln.strip()]
    except (OSError, ValueError):
        return ""
    return " | ".join(lines[-n:])


def http_get(port, path, timeout=5.0, ssl_context=None):
    if ssl_context is not None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout,
                                           context=ssl_context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    finally:
        conn.close()


class Server(object):
    """One server process of one kind on the loop under test."""

    script = os.path.abspath(__file__)
    client_ssl = None  # the client context of GET /loop and GET / (TLS)

    def role_args(self):
        return []

    def __init__(self, name, kind):
        self.name = name
        self.kind = kind
        self.proc = None
        self.err = tempfile.TemporaryFile(mode="w+", prefix="pyloop-http-")
        self.port = None
        self.loop_class = None

    def start(self, deadline_s=60.0):
        cmd = [sys.executable, self.script, "--loop", self.name,
               "--role", "server", "--server", self.kind] + self.role_args()
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self.err, universal_newlines=True,
            start_new_session=True)
        line = read_line(self.proc, deadline_s)
        if not line:
            raise RuntimeError("server did not start (exit %s): %s"
                               % (self.proc.poll(), stderr_tail(self.err)))
        info = json.loads(line)
        self.port = info["port"]
        if info.get("pid") != self.proc.pid:
            raise RuntimeError("server pid %s is not the process started "
                               "(%d)" % (info.get("pid"), self.proc.pid))
        if not loop_matches(self.name, info["loop"]):
            raise RuntimeError("server runs on %s, not on a %s loop (%s.*)"
                               % (info["loop"], self.name,
                                  LOOP_MODULES[self.name]))
        self.wait_ready(deadline_s)
        self.loop_class = info["loop"]
        common.notice("    %s server on %s, port %d"
                      % (self.kind, info["loop"], self.port))

    def wait_ready(self, deadline_s):
        """Connect until GET /loop answers; check the loop and GET /."""
        t_end = time.monotonic() + deadline_s
        while True:
            try:
                status, body = http_get(self.port, "/loop",
                                        ssl_context=self.client_ssl)
                break
            except OSError as exc:
                if self.proc.poll() is not None:
                    raise RuntimeError("server exited with %s: %s"
                                       % (self.proc.returncode,
                                          stderr_tail(self.err)))
                if time.monotonic() > t_end:
                    raise RuntimeError("server on port %d did not answer "
                                       "in %.0f s: %s"
                                       % (self.port, deadline_s, exc))
                time.sleep(0.05)  # the next attempt connects again
        if status != 200 or not loop_matches(self.name, body.strip()):
            raise RuntimeError("GET /loop answered %d %r, expected a %s loop"
                               % (status, body[:80], self.name))
        status, body = http_get(self.port, "/", ssl_context=self.client_ssl)
        if status != 200 or BODY not in body:
            raise RuntimeError("GET / answered %d %r" % (status, body[:80]))

    def stop(self):
        kill_group(self.proc)
        self.proc = None
        try:
            self.err.close()
        except OSError:
            pass


def run_wrk(wrk, script_path, server, duration_s, scheme="http",
            headers=()):
    """One wrk run against server; returns the done() hook's dict plus the
    server's CPU ticks over the run."""
    cmd = [wrk, "-t%d" % WRK_THREADS, "-c%d" % CONNECTIONS,
           "-d%ds" % duration_s, "-s", script_path]
    for h in headers:
        cmd += ["-H", h]
    cmd.append("%s://127.0.0.1:%d/" % (scheme, server.port))
    ticks0 = cpu_ticks(server.proc.pid)
    cp = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                        universal_newlines=True, timeout=duration_s + 60)
    ticks1 = cpu_ticks(server.proc.pid)
    if cp.returncode != 0:
        raise RuntimeError("wrk exited with %d: %s"
                           % (cp.returncode, (cp.stderr or cp.stdout)[-200:]))
    for line in cp.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            res = json.loads(line[len(RESULT_TAG):])
            break
    else:
        raise RuntimeError("no wrk summary in: %s" % cp.stdout[-200:])
    res["cpu_ticks"] = ticks1 - ticks0
    return res


def summarize(runs, errors_seen):
    """The three metrics of one server from its timed wrk runs."""
    clk = float(os.sysconf("SC_CLK_TCK"))
    rps, p99, cpu = [], [], []
    for r in runs:
        if r["requests"] <= 0 or r["duration_us"] <= 0:
            continue
        rps.append(r["requests"] / (r["duration_us"] / 1e6))
        p99.append(r["p99_us"] / 1e3)
        cpu.append(r["cpu_ticks"] / clk * 1e6 / r["requests"])
    if not rps:
        raise RuntimeError("wrk completed no request")
    note = None
    if any(errors_seen.values()):
        note = ("wrk counted socket errors over the timed runs: %s"
                % ", ".join("%s %d" % kv for kv in sorted(errors_seen.items())
                            if kv[1]))
    return rps, p99, cpu, note


def bench(ctx):
    duration = ctx.size(3, 1)
    rounds = ctx.size(5, 1)
    warmup = ctx.size(1, 0)
    wrk = shutil.which("wrk")
    ctx.meta["http"] = {
        "wrk": wrk_version(wrk) if wrk else None,
        "wrk_args": "-t%d -c%d -d%ds" % (WRK_THREADS, CONNECTIONS, duration),
        "rounds": rounds, "warmup_s": warmup,
        "packages": package_versions(),
    }

    def g_http(loop):
        out = {}
        if wrk is None:
            for kind in SERVERS:
                out.update(kind_metrics(kind, "not run: wrk is not installed "
                                        "(./bootstrap installs it)"))
            return out
        servers = []
        fd, script_path = tempfile.mkstemp(prefix="pyloop-wrk-",
                                           suffix=".lua")
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(WRK_SCRIPT)
            for kind in SERVERS:
                missing = missing_packages(kind)
                if missing:
                    out.update(kind_metrics(
                        kind, "not run: %s not importable (pip install -r "
                        "benchmarks/requirements.txt)" % ", ".join(missing)))
                    continue
                server = Server(ctx.name, kind)
                try:
                    server.start()
                    servers.append(server)
                except Exception as exc:
                    server.stop()
                    err = "%s: %s" % (type(exc).__name__, exc)
                    common.notice("error in http_%s (%s): %s"
                                  % (kind, ctx.name, err))
                    out.update(kind_metrics(kind, error=err))
            ctx.meta["http"]["server_loops"] = {
                s.kind: s.loop_class for s in servers}
            runs = {s.kind: [] for s in servers}
            sock_errors = {s.kind: {} for s in servers}
            failed = {}

            def one(server, seconds, timed):
                try:
                    r = run_wrk(wrk, script_path, server, seconds)
                    if r["status"]:
                        raise RuntimeError("%d responses were not 2xx/3xx"
                                           % r["status"])
                    if timed:
                        runs[server.kind].append(r)
                        for key in ("connect", "read", "write", "timeout"):
                            errs = sock_errors[server.kind]
                            errs[key] = errs.get(key, 0) + int(r[key])
                except Exception as exc:
                    failed[server.kind] = "%s: %s" % (type(exc).__name__, exc)
                    common.notice("error in http_%s (%s): %s"
                                  % (server.kind, ctx.name,
                                     failed[server.kind]))

            if warmup:
                for server in servers:
                    one(server, warmup, False)
            for _ in range(rounds):
                for server in servers:
                    if server.kind not in failed:
                        one(server, duration, True)
            for server in servers:
                kind = server.kind
                if kind in failed:
                    out.update(kind_metrics(kind, error=failed[kind]))
                    continue
                try:
                    rps, p99, cpu, note = summarize(runs[kind],
                                                    sock_errors[kind])
                except Exception as exc:
                    out.update(kind_metrics(
                        kind, error="%s: %s" % (type(exc).__name__, exc)))
                    continue
                # The median with its spread: one round's figure can
                # differ from the next by more than a goal's margin.
                out["http_%s_rps" % kind] = common.spread(
                    rps, "rps", note=note)
                out["http_%s_p99_ms" % kind] = common.spread(
                    p99, "ms", note=note)
                out["http_%s_srv_cpu_us" % kind] = common.spread(
                    cpu, "us", note=note)
            return out
        finally:
            for server in servers:
                server.stop()
            os.unlink(script_path)

    ctx.group(metric_units(), g_http)


def build_parser():
    import argparse
    p = common.build_parser(__doc__)
    p.add_argument("--role", choices=("server",), help=argparse.SUPPRESS)
    p.add_argument("--server", choices=SERVERS, help=argparse.SUPPRESS)
    return p


def role_main(args):
    import faulthandler
    if args.timeout and args.timeout > 0:
        faulthandler.dump_traceback_later(args.timeout, exit=True)
    serve((args.loop or ["asyncio"])[0], args.server or "asgi")
    return 0


if __name__ == "__main__":
    parser = build_parser()
    ns = parser.parse_args()
    if ns.role:
        sys.exit(role_main(ns))
    sys.exit(common.main("bench_http", __doc__, bench, parser=parser))

"""`make soak`: a long, bounded run of uvicorn on PyLoop under wrk, checking
that the server's memory, file descriptors and Python objects stay flat.

Not part of `make check`. `make soak` runs it in check-apps' apps-venv/
(uvicorn comes from tests/apps/requirements.txt) against the module just
built; by hand:

    PYTHONPATH=build/python apps-venv/bin/python benchmarks/soak.py \
        [--minutes 10] [--interval 5] [--out bench-results]

What runs
  The server: `python -m uvicorn soak:app --loop data_bridge.pyloop:new_event_loop`
  (the recipe of docs/usage.md), one process, serving `app` below: GET / (a
  small JSON body, like docs/examples/app.py), POST /echo (reads the request
  body, sends it back), GET /stream (three body chunks with a timer between
  them) and GET /__soak__ (after gc.collect(): len(gc.get_objects()), the
  loop's class and stats). The app refuses to start (lifespan startup fails)
  unless asyncio.get_running_loop() is a data_bridge.pyloop.PyLoop, and
  /__soak__ reports the class every time; the run stops unless it is PyLoop.

  The load, in cycles of --interval seconds until --minutes have passed:
  * one wrk run per cycle (-t1, -d INTERVAL), the connection count cycling
    through 128, 4, 64, 1, 32, 16 (the peak first, so that the warm-up has
    seen it): every cycle opens all of wrk's connections at its start and
    closes them at its end;
  * inside each wrk run, a Lua script mixes GET /, POST /echo and GET
    /stream, and sends `Connection: close` on every 10th request, so uvicorn
    closes that connection after answering and wrk opens a new one
    (hundreds of connections a second open and close during the run);
  * all the while, a client thread here opens about 20 connections a second
    that end in every way a server must survive: a request with
    `Connection: close` read to EOF, a connect closed at once, half a request
    then close, a response-less close right after the request (the server
    then writes into a closed socket), a reset (SO_LINGER 0) after a
    keep-alive response, and a POST whose body comes in two pieces.

  Sampling: after each wrk run, with the client thread paused and the server
  quiet, the server's VmRSS (/proc/PID/status), its open fds (entries of
  /proc/PID/fd) and, over GET /__soak__, the gc's object count. Quiet: no
  server-side connection left on the port (no ESTABLISHED or CLOSE_WAIT
  socket in /proc/net/tcp) and no timer pending but uvicorn's own main-loop
  tick (loop.stats(), over GET /__soak__/timers); at most 2 s are waited, and
  a row says when the server was not quiet by then. uvicorn runs with
  --timeout-keep-alive 1 (5 by default): it leaves the keep-alive timer of a
  connection lost with an error (a reset) pending until it fires, and that
  timer holds the connection's protocol, so with the default a sample taken
  just after wrk resets 128 connections would count their objects for 5 s.
  RSS and fds are also read halfway through each wrk run, under load (the
  "load" columns: information only; fds there include wrk's connections).
  Also information only: "blocks", sys.getallocatedblocks() at the idle
  sample (every small allocation of the interpreter, objects the gc does not
  track such as bytes and str included), summed up by the same rule on an
  "info" line. Not checked: bounded caches and free lists fill for minutes
  (a burst of 1500 connect-then-close clients adds about 1000 blocks once,
  and none the next bursts), so a short run would fail on them.

"Flat", the rule each of rss, fds and objects must pass
  Samples from the first --warmup (20 %) of the run are warm-up and ignored.
  Of the idle samples after it (at least 6, else the run fails as too short):
    base  = the median of the first third, last = the median of the last third;
    drift = last - base;
    growth = the Theil-Sen slope (the median of the slopes between every pair
             of samples: one spike cannot tilt it) times the time the
             steady-state samples span.
  Both drift and growth must be at most the metric's bound:
    rss      max(4 MiB, 5 % of base)
    fds      2 descriptors (at idle the count is exact; a leak is whole fds)
    objects  max(500, 1 % of base) (a quiet server's count is exact: it
             stayed at one value through a 10-minute run)
  Shrinking is never a failure. A fourth check, "responses": every wrk
  response was 2xx, wrk's socket errors are at most 0.1 % of its requests,
  and every well-formed request of the client thread was answered. Prints
  one line per check and "soak: N passed, N failed"; exits 1 on a failure.

Output: a table on stdout (one row per cycle), OUT/soak.json (every sample,
the rule, the verdicts) and OUT/soak.png (matplotlib; from this interpreter
or the first --plot-python that has it, else skipped with a notice).

Self-test: SOAK_SELFTEST_LEAK=objects|fds|rss|all in the environment makes
the app leak on purpose (objects: keeps a copy of every 10th request's
scope; fds: opens /dev/null every 200th request; rss: keeps 4 KiB of bytes
every 10th request): the run must then fail the matching check(s).
"""
import argparse
import asyncio
import atexit
import gc
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

# ---------------------------------------------------------------- the server

LEAK = os.environ.get("SOAK_SELFTEST_LEAK", "").strip().lower()
_leak_objects = "objects" in LEAK or LEAK in ("1", "all", "yes")
_leak_fds = "fds" in LEAK or LEAK in ("1", "all", "yes")
_leak_rss = "rss" in LEAK or LEAK in ("1", "all", "yes")
_kept = []       # SOAK_SELFTEST_LEAK: what the app keeps on purpose
_served = [0]    # requests answered (not counting /__soak__)


def _is_pyloop(loop):
    import data_bridge.pyloop
    return isinstance(loop, data_bridge.pyloop.PyLoop)


def _loop_name(loop):
    return "%s.%s" % (type(loop).__module__, type(loop).__qualname__)


async def _read_body(receive):
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(send, status, body, content_type=b"application/json"):
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _soak_sample():
    loop = asyncio.get_running_loop()
    gc.collect()
    objects = len(gc.get_objects())
    blocks = sys.getallocatedblocks()
    import data_bridge.pyloop
    stats = loop.stats() if hasattr(loop, "stats") else {}
    return {"objects": objects, "blocks": blocks, "loop": _loop_name(loop), "is_pyloop": _is_pyloop(loop),
            "pid": os.getpid(), "served": _served[0], "stats": stats,
            "build_info": data_bridge.pyloop.build_info(), "python": sys.version.split()[0],
            "leak": LEAK or None}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                loop = asyncio.get_running_loop()
                if _is_pyloop(loop):
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.startup.failed",
                                "message": "soak: the server runs %s, not a PyLoop" % _loop_name(loop)})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/__soak__/timers":  # cheap: no gc pass
        loop = asyncio.get_running_loop()
        await _respond(send, 200, json.dumps(loop.stats() if hasattr(loop, "stats") else {}).encode())
        return
    if path == "/__soak__":
        await _respond(send, 200, json.dumps(_soak_sample()).encode())
        return
    _served[0] += 1
    if _leak_objects and _served[0] % 10 == 0:
        _kept.append(dict(scope))
    if _leak_rss and _served[0] % 10 == 0:
        _kept.append(bytes(4096))
    if _leak_fds and _served[0] % 200 == 0:
        _kept.append(os.open(os.devnull, os.O_RDONLY))
    if path == "/":
        body = json.dumps({"loop": type(asyncio.get_running_loop()).__name__, "pid": os.getpid()}).encode()
        await _respond(send, 200, body)
    elif path == "/echo":
        body = await _read_body(receive)
        if body is not None:
            await _respond(send, 200, body, b"application/octet-stream")
    elif path == "/stream":
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain")]})
        for i in range(3):
            await send({"type": "http.response.body", "body": b"chunk%d\n" % i, "more_body": i < 2})
            if i < 2:
                await asyncio.sleep(0.0005)
    else:
        await _respond(send, 404, b'{"error": "not found"}')


# ---------------------------------------------------------------- the driver

CONNECTIONS = (128, 4, 64, 1, 32, 16)   # wrk -c of successive cycles: the peak first, in the warm-up
BOUNDS = {  # metric: (absolute floor, fraction of base); the bound is the larger
    "rss_kib": (4096, 0.05),
    "fds": (2, 0.0),
    "objects": (500, 0.01),
    "blocks": (2000, 0.02),   # information only (not in CHECKED)
}
CHECKED = ("rss_kib", "fds", "objects")
KEEP_ALIVE = 1      # uvicorn --timeout-keep-alive (s): see "quiet" in the docstring
QUIET_TIMERS = 1    # timers pending in a quiet server: uvicorn's 0.1 s main-loop tick
LABELS = {"rss_kib": "rss", "fds": "fds", "objects": "objects", "blocks": "blocks"}

WRK_LUA = r"""
-- soak.py: a mix of requests; every 10th asks the server to close.
local n = 0
local body = string.rep("x", 512)
request = function()
  n = n + 1
  local headers = {}
  if n % 10 == 0 then headers["Connection"] = "close" end
  local k = n % 5
  if k == 3 then
    headers["Content-Type"] = "application/octet-stream"
    return wrk.format("POST", "/echo", headers, body)
  elseif k == 4 then
    return wrk.format("GET", "/stream", headers)
  end
  return wrk.format("GET", "/", headers)
end
"""


def say(*args):
    print(*args, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS for pid %d" % pid)


def proc_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def server_conns(port):
    """Server-side TCP connections on PORT still holding a socket: ESTABLISHED or CLOSE_WAIT."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    local, state = fields[1], fields[3]
                    if int(local.rsplit(":", 1)[1], 16) == port and state in ("01", "08"):
                        count += 1
        except OSError:
            pass
    return count


def http_get(port, path, timeout=10.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET %s HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n" % path.encode())
        data = read_all(s)
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body


def read_all(s):
    chunks = []
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


class Churn(threading.Thread):
    """Opens and closes connections, about RATE a second, every way a client can end one."""
    RATE = 20.0

    def __init__(self, port):
        super().__init__(name="soak-churn", daemon=True)
        self.port = port
        self.running = threading.Event()
        self.running.set()
        self.done = threading.Event()
        self.idle = threading.Event()
        self.counts = {}
        self.unanswered = 0
        self.errors = []

    def _connect(self):
        return socket.create_connection(("127.0.0.1", self.port), timeout=10.0)

    def _full(self):  # a request with Connection: close, read to EOF
        with self._connect() as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
            return read_all(s).startswith(b"HTTP/1.1 200")

    def _connect_close(self):  # connect, then close at once
        self._connect().close()
        return True

    def _half_request(self):  # half a request line, then close
        with self._connect() as s:
            s.sendall(b"GET /stre")
        return True

    def _no_read(self):  # a request, then close without reading the answer
        with self._connect() as s:
            s.sendall(b"GET /stream HTTP/1.1\r\nHost: soak\r\n\r\n")
        return True

    def _reset(self):  # a keep-alive response read, then RST
        s = self._connect()
        try:
            s.sendall(b"GET / HTTP/1.1\r\nHost: soak\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return data.startswith(b"HTTP/1.1 200")
        finally:
            s.close()

    def _split_post(self):  # a POST whose body comes in two pieces
        with self._connect() as s:
            s.sendall(b"POST /echo HTTP/1.1\r\nHost: soak\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello")
            time.sleep(0.002)
            s.sendall(b"world")
            data = read_all(s)
            return data.startswith(b"HTTP/1.1 200") and data.endswith(b"helloworld")

    def run(self):
        kinds = [self._full, self._connect_close, self._half_request, self._no_read, self._reset, self._split_post]
        answered = {self._full, self._reset, self._split_post}
        i = 0
        while not self.done.is_set():
            if not self.running.is_set():
                self.idle.set()
                self.running.wait(0.1)
                continue
            self.idle.clear()
            kind = kinds[i % len(kinds)]
            i += 1
            name = kind.__name__.lstrip("_")
            try:
                ok = kind()
            except OSError as exc:
                ok = False
                if len(self.errors) < 20:
                    self.errors.append("%s: %r" % (name, exc))
            self.counts[name] = self.counts.get(name, 0) + 1
            if not ok and kind in answered:
                self.unanswered += 1
            time.sleep(1.0 / self.RATE)
        self.idle.set()

    def pause(self):
        self.running.clear()
        self.idle.wait(10)

    def resume(self):
        self.running.set()


def parse_wrk(text):
    out = {"requests": 0, "rps": 0.0, "socket_errors": 0, "non2xx": 0}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Requests/sec:"):
            out["rps"] = float(line.split()[1])
        elif " requests in " in line:
            out["requests"] = int(line.split()[0])
        elif line.startswith("Socket errors:"):
            # Socket errors: connect 0, read 0, write 0, timeout 0
            parts = line.split(":", 1)[1].split(",")
            out["socket_errors"] = sum(int(p.split()[1]) for p in parts)
        elif line.startswith("Non-2xx or 3xx responses:"):
            out["non2xx"] = int(line.split(":")[1])
    return out


def theil_sen(ts, ys):
    slopes = [(ys[j] - ys[i]) / (ts[j] - ts[i])
              for i in range(len(ts)) for j in range(i + 1, len(ts)) if ts[j] > ts[i]]
    return statistics.median(slopes) if slopes else 0.0


def judge(samples, warmup_s, metrics=CHECKED):
    """Applies the flatness rule (the module docstring) to the idle samples."""
    steady = [s for s in samples if s["t"] >= warmup_s]
    verdicts = {}
    for metric in metrics:
        label = LABELS[metric]
        if len(steady) < 6:
            verdicts[metric] = {"ok": False, "why": "%s: only %d samples after the warm-up (at least 6 are needed):"
                                " lengthen SOAK_MINUTES or shorten SOAK_INTERVAL" % (label, len(steady))}
            continue
        third = max(2, len(steady) // 3)
        ts = [s["t"] for s in steady]
        ys = [s[metric] for s in steady]
        base = statistics.median(ys[:third])
        last = statistics.median(ys[-third:])
        floor, fraction = BOUNDS[metric]
        bound = max(floor, fraction * base)
        slope = theil_sen(ts, ys)
        span = ts[-1] - ts[0]
        growth = slope * span
        drift = last - base
        ok = drift <= bound and growth <= bound
        unit = " KiB" if metric == "rss_kib" else ""
        why = ("%s: base %.0f%s, last %.0f%s, drift %+.0f, fitted growth %+.0f over %.0f s (slope %+.3g/s); bound %.0f"
               % (label, base, unit, last, unit, drift, growth, span, slope, bound))
        if not ok:
            reasons = []
            if drift > bound:
                reasons.append("the last third's median is %.0f above the first third's (bound %.0f)" % (drift, bound))
            if growth > bound:
                reasons.append("it grows steadily: %+.0f over the steady state (bound %.0f)" % (growth, bound))
            why += " -- NOT FLAT: " + "; ".join(reasons)
        verdicts[metric] = {"ok": ok, "why": why, "base": base, "last": last, "drift": drift, "slope_per_s": slope,
                            "growth": growth, "span_s": span, "bound": bound, "samples": len(steady)}
    return verdicts


def plot(doc, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = doc["samples"]
    ts = [s["t"] / 60.0 for s in samples]
    warm = doc["warmup_s"] / 60.0
    rows = [("rss_kib", "RSS (MiB)", 1 / 1024.0), ("fds", "open fds", 1), ("objects", "gc objects (thousands)", 1e-3)]
    fig, axes = plt.subplots(4, 1, figsize=(10, 10), sharex=True)
    for ax, (metric, title, scale) in zip(axes, rows):
        ax.plot(ts, [s[metric] * scale for s in samples], "o-", ms=3, label="idle (checked)")
        load = "load_" + metric
        if metric != "objects":
            ax.plot(ts, [s[load] * scale if s.get(load) is not None else float("nan") for s in samples],
                    ".", ms=3, alpha=0.5, label="under load")
        verdict = doc["checks"].get(metric, {})
        if "base" in verdict:
            ax.axhline(verdict["base"] * scale, color="grey", lw=0.8, ls="--", label="base")
            ax.axhline((verdict["base"] + verdict["bound"]) * scale, color="red", lw=0.8, ls=":", label="base + bound")
        if metric == "objects" and all("blocks" in s for s in samples):
            twin = ax.twinx()
            twin.plot(ts, [s["blocks"] * scale for s in samples], "-", lw=0.8, color="purple")
            twin.set_ylabel("allocated blocks (thousands)", color="purple", fontsize=8)
        ax.axvspan(0, warm, color="grey", alpha=0.15)
        ax.set_ylabel(title)
        ax.set_title("%s: %s" % (LABELS[metric], "flat" if verdict.get("ok") else "NOT FLAT"), fontsize=9, loc="left")
        ax.legend(fontsize=7, loc="upper left", ncol=4, framealpha=0.6)
    ax = axes[3]
    ax.plot(ts, [s["rps"] for s in samples], "o-", ms=3, color="green")
    ax2 = ax.twinx()
    ax2.step(ts, [s["connections"] for s in samples], where="post", color="orange", lw=0.8)
    ax2.set_ylabel("wrk -c", color="orange")
    ax.set_ylabel("wrk requests/s")
    ax.axvspan(0, warm, color="grey", alpha=0.15)
    ax.set_xlabel("minutes (shaded: warm-up)")
    fig.suptitle("make soak: uvicorn on %s, %s min, every %s s (%s)"
                 % (doc["loop"], doc["minutes"], doc["interval"], "PASS" if doc["passed"] else "FAIL"), fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=100)


def make_png(doc, json_path, png, plot_pythons):
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        pass
    else:
        plot(doc, png)
        return "wrote %s" % png
    for python in plot_pythons:
        if not python or not os.path.exists(python) and "/" in python:
            continue
        probe = subprocess.run([python, "-c", "import matplotlib"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        if probe.returncode == 0:
            done = subprocess.run([python, os.path.abspath(__file__), "--plot", json_path, png])
            if done.returncode == 0:
                return "wrote %s (matplotlib from %s)" % (png, python)
            return "could not draw %s with %s; skipped" % (png, python)
    tried = [sys.executable] + [p for p in plot_pythons if p]
    return "matplotlib is not installed (tried %s): %s skipped" % (", ".join(tried), png)


def env_number(name, default):
    value = os.environ.get(name, "").strip()
    return float(value) if value else default


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=env_number("SOAK_MINUTES", 10.0),
                   help="length of the run (default: $SOAK_MINUTES or 10)")
    p.add_argument("--interval", type=int, default=int(env_number("SOAK_INTERVAL", 5)),
                   help="seconds between samples: one wrk run each (default: $SOAK_INTERVAL or 5)")
    p.add_argument("--warmup", type=float, default=0.2, help="fraction of the run that is warm-up (0.2)")
    p.add_argument("--out", default="bench-results", help="where soak.json and soak.png go")
    p.add_argument("--plot-python", action="append", default=[],
                   help="an interpreter to draw the PNG with if this one has no matplotlib (repeatable)")
    p.add_argument("--plot", nargs=2, metavar=("JSON", "PNG"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.plot:
        with open(args.plot[0]) as f:
            plot(json.load(f), args.plot[1])
        return 0
    if args.interval < 1 or args.minutes <= 0:
        p.error("--interval must be at least 1 s and --minutes positive")

    import shutil
    if not shutil.which("wrk"):
        say("soak: wrk is not installed (./bootstrap installs it)")
        say("soak: 0 passed, 1 failed")
        return 1
    try:
        import uvicorn
    except ImportError:
        say("soak: uvicorn is not importable by %s (make soak uses apps-venv/)" % sys.executable)
        say("soak: 0 passed, 1 failed")
        return 1

    os.makedirs(args.out, exist_ok=True)
    duration = args.minutes * 60.0
    warmup_s = args.warmup * duration
    port = free_port()
    work = tempfile.mkdtemp(prefix="pyloop-soak.")
    atexit.register(shutil.rmtree, work, True)
    lua = os.path.join(work, "soak.lua")
    with open(lua, "w") as f:
        f.write(WRK_LUA)
    server_log = os.path.join(work, "server.log")
    here = os.path.dirname(os.path.abspath(__file__))
    command = [sys.executable, "-m", "uvicorn", "--app-dir", here, "soak:app", "--host", "127.0.0.1",
               "--port", str(port), "--loop", "data_bridge.pyloop:new_event_loop", "--lifespan", "on",
               "--timeout-keep-alive", str(KEEP_ALIVE),
               "--log-level", "warning", "--no-access-log"]
    log = open(server_log, "wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    churn = None
    failure = None

    def server_tail():
        log.flush()
        with open(server_log, errors="replace") as f:
            return "".join(f.readlines()[-25:])

    try:
        deadline = time.monotonic() + 30
        while True:
            if server.poll() is not None:
                raise SystemExit("soak: the server exited (status %s) before listening:\n%s"
                                 % (server.returncode, server_tail()))
            try:
                status, body = http_get(port, "/__soak__", timeout=2)
                info = json.loads(body)
                break
            except (OSError, ValueError):
                if time.monotonic() > deadline:
                    raise SystemExit("soak: the server did not answer in 30 s:\n" + server_tail())
                time.sleep(0.1)
        if not info.get("is_pyloop"):
            raise SystemExit("soak: the server runs %s, not a data_bridge.pyloop.PyLoop" % info.get("loop"))
        try:
            import httptools  # noqa: F401
            http_impl = "httptools"
        except ImportError:
            http_impl = "h11"
        bi = info["build_info"]
        say("soak: uvicorn %s (%s) on %s, pid %d, CPython %s; build %s / batch %s / wait %s"
            % (uvicorn.__version__, http_impl, info["loop"], server.pid, info["python"],
               bi.get("phase"), bi.get("batch_limit"), bi.get("wait_strategy")))
        say("soak: %g min, a sample every %d s (one wrk run each, -c cycling %s), warm-up %.0f s, port %d%s"
            % (args.minutes, args.interval, "/".join(map(str, CONNECTIONS)), warmup_s, port,
               ", SELF-TEST LEAK=%s" % info["leak"] if info.get("leak") else ""))
        header = ("%6s %-6s %4s %8s %6s %6s | %9s %5s %9s | %9s %5s | %8s"
                  % ("t(s)", "phase", "-c", "req/s", "wrkerr", "churn", "rss(MiB)", "fds", "objects",
                     "loadrss", "lfds", "blocks"))
        say(header)
        say("-" * len(header))

        churn = Churn(port)
        churn.start()
        samples = []
        totals = {"requests": 0, "socket_errors": 0, "non2xx": 0}
        start = time.monotonic()
        cycle = 0
        while time.monotonic() - start < duration:
            conns = CONNECTIONS[cycle % len(CONNECTIONS)]
            cycle += 1
            wrk = subprocess.Popen(["wrk", "-t1", "-c%d" % conns, "-d%ds" % args.interval, "--timeout", "5s",
                                    "-s", lua, "http://127.0.0.1:%d/" % port],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            time.sleep(args.interval / 2.0)
            try:
                load_rss, load_fds = proc_rss_kib(server.pid), proc_fds(server.pid)
            except (OSError, RuntimeError):
                load_rss = load_fds = None
            wrk_out, _ = wrk.communicate()
            result = parse_wrk(wrk_out)
            for key in totals:
                totals[key] += result[key]
            if server.poll() is not None:
                raise SystemExit("soak: the server died (status %s):\n%s" % (server.returncode, server_tail()))
            # The idle sample, once the server is quiet (see the docstring).
            churn.pause()
            settle = time.monotonic() + KEEP_ALIVE + 1.0
            while True:
                lingering = server_conns(port)
                timers = json.loads(http_get(port, "/__soak__/timers")[1]).get("timers_pending", 0) \
                    if not lingering else None
                if (not lingering and timers <= QUIET_TIMERS) or time.monotonic() >= settle:
                    break
                time.sleep(0.05)
            t = time.monotonic() - start
            rss, fds = proc_rss_kib(server.pid), proc_fds(server.pid)
            status, body = http_get(port, "/__soak__")
            churn.resume()
            info = json.loads(body)
            if status != 200 or not info.get("is_pyloop"):
                raise SystemExit("soak: /__soak__ answered %s from %s" % (status, info.get("loop")))
            sample = {"t": round(t, 2), "phase": "warm" if t < warmup_s else "steady", "connections": conns,
                      "rps": result["rps"], "requests": result["requests"],
                      "wrk_errors": result["socket_errors"] + result["non2xx"],
                      "churn": sum(churn.counts.values()), "rss_kib": rss, "fds": fds,
                      "objects": info["objects"], "blocks": info["blocks"], "load_rss_kib": load_rss, "load_fds": load_fds,
                      "lingering_conns": lingering, "lingering_timers": timers, "served": info["served"],
                      "timers_pending": info["stats"].get("timers_pending")}
            samples.append(sample)
            say("%6.0f %-6s %4d %8.0f %6d %6d | %9.1f %5d %9d | %9s %5s | %8d%s"
                % (t, sample["phase"], conns, result["rps"], sample["wrk_errors"], sample["churn"],
                   rss / 1024.0, fds, info["objects"],
                   "%.1f" % (load_rss / 1024.0) if load_rss is not None else "-",
                   load_fds if load_fds is not None else "-", info["blocks"],
                   "  (not quiet after %d s: %s connection(s), %s timer(s))" % (KEEP_ALIVE + 1, lingering, timers)
                   if lingering or timers is None or timers > QUIET_TIMERS else ""))
        churn.done.set()
        churn.resume()
        churn.join(10)
    except SystemExit as exc:
        failure = str(exc)
    finally:
        if churn is not None:
            churn.done.set()
            churn.resume()
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log.close()
    if failure:
        say(failure)
        say("soak: 0 passed, 1 failed")
        return 1

    checks = judge(samples, warmup_s)
    info_blocks = judge(samples, warmup_s, ("blocks",))["blocks"]
    wrk_bad = totals["non2xx"] + (totals["socket_errors"] if totals["socket_errors"] > 0.001 * totals["requests"] else 0)
    responses_ok = wrk_bad == 0 and churn.unanswered == 0 and totals["requests"] > 0
    checks["responses"] = {
        "ok": responses_ok,
        "why": ("responses: wrk %d requests, %d non-2xx, %d socket errors (at most 0.1 %% allowed); client thread %d"
                " connections (%s), %d well-formed request(s) unanswered%s"
                % (totals["requests"], totals["non2xx"], totals["socket_errors"], sum(churn.counts.values()),
                   ", ".join("%s %d" % kv for kv in sorted(churn.counts.items())), churn.unanswered,
                   "; first errors: " + "; ".join(churn.errors[:3]) if churn.errors else ""))}
    passed = sum(1 for c in checks.values() if c["ok"])
    failed = len(checks) - passed
    doc = {"command": " ".join(sys.argv), "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "minutes": args.minutes, "interval": args.interval, "warmup_s": warmup_s, "duration_s": duration,
           "loop": info["loop"], "build_info": info["build_info"], "python": info["python"],
           "uvicorn": uvicorn.__version__, "http": http_impl, "selftest_leak": info.get("leak"),
           "connections_cycle": list(CONNECTIONS), "churn_rate_per_s": Churn.RATE,
           "rule": {"warmup_fraction": args.warmup, "bounds": {LABELS[m]: {"floor": BOUNDS[m][0],
                                                                          "fraction_of_base": BOUNDS[m][1]}
                                                               for m in CHECKED},
                    "text": "after the warm-up, drift (median of the last third minus median of the first third)"
                            " and Theil-Sen growth over the steady state must each be at most max(floor,"
                            " fraction * base)"},
           "wrk_totals": totals, "churn": {"counts": churn.counts, "unanswered": churn.unanswered,
                                            "errors": churn.errors},
           "checks": checks, "info": {"blocks": info_blocks}, "passed": failed == 0, "samples": samples}
    json_path = os.path.join(args.out, "soak.json")
    with open(json_path, "w") as f:
        json.dump(doc, f, indent=1)
    png = os.path.join(args.out, "soak.png")
    say("")
    say("soak: wrote %s; %s" % (json_path, make_png(doc, json_path, png, args.plot_python)))
    for metric in CHECKED + ("responses",):
        say("%s %s" % ("PASS" if checks[metric]["ok"] else "FAIL", checks[metric]["why"]))
    if "why" in info_blocks:
        say("info (not checked) %s" % info_blocks["why"].replace(" -- NOT FLAT", " -- would not be flat"))
    say("soak: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""HTTPS keep-alive and Connection: close rows, loops interleaved per round.

bench_tls.py (make bench) measures one loop's rows, then the next loop's: a
machine whose load changes between loops moves their ratios. This runs the
same servers (bench_tls.TLSServer, bench_http's apps over TLS) for every
loop at once, idle but one, and each round runs wrk once per (row, loop), in
turn, so every ratio comes from rounds taken side by side.

  bench-venv/bin/python benchmarks/pyloop/tls_interleaved.py LOOP=PYTHONPATH... \
      [--rounds=5] [--seconds=3] [--bulk-seconds=2]
  LOOP: asyncio, uvloop or pyloop[-label]; PYTHONPATH: empty for none, e.g.
  uvloop= pyloop-before=BEFORE/python pyloop=AFTER/python. Ratios are taken
  against uvloop when it is given, else against the first loop.

With --plain, also the plain ASGI row without TLS (bench_http.py's server,
http_asgi): https_asgi's CPU per request less http_asgi's is what TLS costs
each loop, OpenSSL and the loop's TLS layer together.

Then bench_tls.py's two TLS bulk cases the same way (a bulk server per loop,
each round one bulk client per case and loop, in turn): tls_bulk_send and
tls_bulk_recv, MB/s and the server's CPU ms per MB (--bulk-seconds=0: none).
"""
import json, os, shutil, statistics, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_http, bench_tls  # noqa: E402

args = [a for a in sys.argv[1:] if not a.startswith("--")]
options = dict(a.split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
rounds = int(options.get("--rounds", 5))
seconds = int(options.get("--seconds", 3))
bulk_seconds = float(options.get("--bulk-seconds", 2))
loops = [a.split("=", 1) for a in args]
ROWS = [("https_asgi", "asgi", ()), ("https_aiohttp", "aiohttp", ()),
        ("https_asgi_close", "asgi", ("Connection: close",))]
if "--plain" in sys.argv[1:]:
    ROWS.append(("http_asgi", "plain-asgi", ()))
BULK_ROWS = [("tls_bulk_" + d, d) for d in bench_tls.DIRECTIONS] if bulk_seconds > 0 else []

certdir = tempfile.mkdtemp(prefix="tls-il-")
certfile, keyfile, how = bench_tls.make_cert(certdir)
with open(os.path.join(certdir, "files.json"), "w") as fh:
    json.dump({"cert": certfile, "key": keyfile}, fh)
cctx = bench_tls.client_context(certfile, keyfile)
fd, script = tempfile.mkstemp(suffix=".lua")
with os.fdopen(fd, "w") as fh:
    fh.write(bench_http.WRK_SCRIPT)
wrk = shutil.which("wrk")
servers = {}
base_env = os.environ.get("PYTHONPATH", "")
try:
    for label, path in loops:
        name = label.split("-")[0]
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (path, base_env) if p)
        for kind in ("asgi", "aiohttp"):
            s = bench_tls.TLSServer(name, kind, certdir, cctx)
            s.start()
            servers[(label, kind)] = s
        if any(kind == "plain-asgi" for _, kind, _ in ROWS):
            s = bench_http.Server(name, "asgi")
            s.start()
            servers[(label, "plain-asgi")] = s
        if BULK_ROWS:
            s = bench_tls.BulkServer(name, certdir)
            s.start()
            servers[(label, "bulk")] = s
    os.environ["PYTHONPATH"] = base_env
    clk = float(os.sysconf("SC_CLK_TCK"))
    res = {(row, label): [] for row, _, _ in ROWS + [(b, None, None) for b, _ in BULK_ROWS] for label, _ in loops}
    for r in range(rounds + 1):  # round 0: warm-up, not counted
        for row, kind, headers in ROWS:
            for label, _ in loops:
                out = bench_http.run_wrk(wrk, script, servers[(label, kind)], seconds if r else 1,
                                         "http" if kind.startswith("plain") else "https", headers)
                if r:
                    reqs = out["requests"]
                    res[(row, label)].append((reqs / out["duration_us"] * 1e6,
                                              out["cpu_ticks"] / clk / reqs * 1e6))
        for row, direction in BULK_ROWS:
            for label, _ in loops:
                out = bench_tls.run_bulk(servers[(label, "bulk")], direction,
                                         bulk_seconds if r else 0.3, certdir)
                if r:
                    res[(row, label)].append((out["mb_s"], out["cpu_ms_per_mb"]))
    ref = "uvloop" if any(label == "uvloop" for label, _ in loops) else loops[0][0]
    print("rounds %d x %d s, wrk -t%d -c%d; cells: median rps / median server CPU us per request"
          % (rounds, seconds, bench_http.WRK_THREADS, bench_http.CONNECTIONS))
    if BULK_ROWS:
        print("bulk rows: %d MiB requests for %.1f s a round; cells: median MB/s / median server CPU ms per MB"
              % (bench_tls.BULK_BLOCK // (1 << 20), bulk_seconds))
    for row in [row for row, _, _ in ROWS] + [row for row, _ in BULK_ROWS]:
        rate, fmt = ("MB/s", "%s %.1f / %.3f") if row.startswith("tls_bulk") else ("rps", "%s %.0f / %.1f")
        cells = []
        for label, _ in loops:
            v = res[(row, label)]
            cells.append(fmt % (label, statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)))
        print(row + ": " + " | ".join(cells))
        for label, _ in loops:
            if label == ref:
                continue
            rr = [a[0] / b[0] for a, b in zip(res[(row, label)], res[(row, ref)])]
            cr = [a[1] / b[1] for a, b in zip(res[(row, label)], res[(row, ref)])]
            print("   %s/%s per round: %s x%s  cpu x%s  (median %s x%.2f, cpu x%.2f)"
                  % (label, ref, rate, ",".join("%.2f" % x for x in rr), ",".join("%.2f" % x for x in cr),
                     rate, statistics.median(rr), statistics.median(cr)))
finally:
    for s in servers.values():
        s.stop()
    shutil.rmtree(certdir, ignore_errors=True)
    os.unlink(script)

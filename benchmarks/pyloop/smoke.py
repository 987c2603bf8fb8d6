#!/usr/bin/env python3
"""Smoke test of the pyloop benchmark scripts (for `make check`).

Usage: python benchmarks/pyloop/smoke.py [--allow-missing-pyloop]
           [--allow-metric-errors] [--python PATH] [--timeout S]

Standard library only: runs on any CPython 3.10-3.13 without a venv.

Runs every bench script with --quick --json once per loop name (asyncio,
uvloop, rloop, pyloop), each in its own process, and checks the structure of
what it prints, never the speed:
  * exit status 0 and one JSON document on stdout;
  * top-level keys machine (dict), python (str), generated (ISO time),
    results (dict), skipped (dict);
  * for a loop that ran: the script's required metric names are there, and
    every metric is {"median": finite number or null, "p99": finite number
    or null, "unit": known unit}; no metric carries an "error" (a failed
    measurement) unless --allow-metric-errors; pyloop also reports
    build_info with phase, batch_limit and wait_strategy;
  * a metric measured once per round (every HTTP, HTTPS and TLS row, every
    echo row but the system-call counts) that has a median also has "min" and "max"
    and "rounds", the list of its per-round values, with
    min <= median <= max;
  * a loop that could not be imported is listed in "skipped" with a reason:
    accepted for uvloop and rloop (optional), a failure for asyncio, and a
    failure for pyloop unless --allow-missing-pyloop.
Also checks that each script rejects an unknown loop name (exit status 2),
and runs run_all.py --quick for asyncio and bench_event_loop into a
temporary directory and checks results.json and results.md.

Prints one PASS/FAIL line per check, then "N passed, N failed"; the exit
status is 1 when anything failed.
"""

import argparse
import datetime
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
LOOPS = ("asyncio", "uvloop", "rloop", "pyloop")
OPTIONAL = ("uvloop", "rloop")
UNITS = ("us", "ns", "ms", "s", "Mcb/s", "rps", "per_s", "calls", "MB/s")


def _echo_metrics():
    out = []
    for mode in ("sock", "streams", "proto"):
        for size in ("1k", "10k", "100k"):
            base = "echo_%s_%s" % (mode, size)
            out += [base + "_rps", base + "_mean_us", base + "_p99_us",
                    base + "_srv_cpu_us"]
        for conns in (16, 64):
            base = "echo_%s_1k_c%d" % (mode, conns)
            out += [base + "_rps", base + "_srv_cpu_us"]
        out.append("echo_%s_1k_srv_syscalls" % mode)
    return out


REQUIRED = {
    "bench_event_loop": [
        "callback_us", "burst_mcb_s", "burst_floor_mcb_s", "timer_us",
        "timer_overhead_us", "timer_sched_us",
        "empty_iter_us", "timer_cancel_us", "tasks_us"],
    "bench_scaling": (
        ["callback_ns_at_%d" % n for n in (100, 1000, 10000, 100000)] +
        ["timer_ns_at_%d" % n for n in (100, 1000, 10000, 100000)]),
    "bench_wakeup": [
        "xthread_p50_us", "xthread_p99_us", "xthread_avg_us",
        "xthread_min_us", "xthread_max_us", "idle_wakeup_us",
        "xthread_burst_mcb_s", "mixed_avg_us", "call_soon_ns",
        "timer_lateness_us", "idle_wakeups_per_s"],
    "bench_net": _echo_metrics(),
    "bench_http": ["http_%s_%s" % (server, what)
                   for server in ("asgi", "starlette", "aiohttp")
                   for what in ("rps", "p99_ms", "srv_cpu_us")],
    "bench_tls": (["https_%s_%s" % (row, what)
                   for row in ("asgi", "aiohttp", "asgi_close")
                   for what in ("rps", "p99_ms", "srv_cpu_us")] +
                  ["tls_bulk_%s_%s" % (d, what)
                   for d in ("send", "recv")
                   for what in ("mb_s", "srv_cpu_ms_per_mb")]),
}


def _has_spread(name):
    """The metrics that report their spread over the rounds."""
    return (name.startswith(("http_", "https_", "tls_")) or
            (name.startswith("echo_") and not name.endswith("_syscalls")))


def check_spread(name, m):
    """min/max/rounds of a metric with a median (common.spread)."""
    problems = []
    if not isinstance(m, dict) or m.get("median") is None:
        return problems
    for key in ("min", "max"):
        if not is_num_or_null(m.get(key)) or m.get(key) is None:
            problems.append("%s: %s=%r is not a finite number"
                            % (name, key, m.get(key)))
    rounds = m.get("rounds")
    if (not isinstance(rounds, list) or not rounds or
            not all(is_num_or_null(v) and v is not None for v in rounds)):
        problems.append("%s: rounds=%r is not a list of finite numbers"
                        % (name, rounds))
    elif not problems:
        if m["min"] != min(rounds) or m["max"] != max(rounds):
            problems.append("%s: min/max %r/%r are not those of rounds %r"
                            % (name, m["min"], m["max"], rounds))
        elif not m["min"] <= m["median"] <= m["max"]:
            problems.append("%s: median %r outside [%r, %r]"
                            % (name, m["median"], m["min"], m["max"]))
    return problems


class Checker(object):
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def report(self, name, problems, detail=""):
        if problems:
            self.failed += 1
            print("FAIL %s" % name)
            for p in problems[:20]:
                print("     - %s" % p)
            if len(problems) > 20:
                print("     - ... %d more" % (len(problems) - 20))
        else:
            self.passed += 1
            print("PASS %s%s" % (name, (" (%s)" % detail) if detail else ""))
        sys.stdout.flush()


def is_num_or_null(v):
    if v is None:
        return True
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    return math.isfinite(v)


def check_metric(name, m, allow_errors):
    problems = []
    if not isinstance(m, dict):
        return ["%s: not an object" % name]
    for key in ("median", "p99", "unit"):
        if key not in m:
            problems.append("%s: no %r" % (name, key))
    for key in ("median", "p99"):
        if key in m and not is_num_or_null(m[key]):
            problems.append("%s: %s=%r is not a finite number or null"
                            % (name, key, m[key]))
    if m.get("unit") not in UNITS:
        problems.append("%s: unit %r not one of %s"
                        % (name, m.get("unit"), ", ".join(UNITS)))
    if m.get("error") and not allow_errors:
        problems.append("%s: measurement failed: %s" % (name, m["error"]))
    return problems


def check_doc(doc, script, loop, args):
    """Return (problems, detail) for one script's JSON document."""
    problems = []
    if not isinstance(doc, dict):
        return ["the JSON document is not an object"], ""
    for key, typ in (("machine", dict), ("python", str), ("generated", str),
                     ("results", dict), ("skipped", dict)):
        if not isinstance(doc.get(key), typ):
            problems.append("top-level %r missing or not a %s"
                            % (key, typ.__name__))
    if problems:
        return problems, ""
    if "cpu_count" not in doc["machine"]:
        problems.append("machine has no cpu_count")
    try:
        datetime.datetime.fromisoformat(doc["generated"])
    except ValueError:
        problems.append("generated %r is not an ISO time" % doc["generated"])
    extra = set(doc["results"]) - {loop}
    if extra:
        problems.append("results for loops not asked for: %s"
                        % ", ".join(sorted(extra)))

    if loop in doc["skipped"]:
        reason = doc["skipped"][loop]
        if not isinstance(reason, str) or not reason:
            problems.append("skipped %s without a reason" % loop)
        if loop == "asyncio":
            problems.append("asyncio was skipped: %s" % reason)
        elif loop == "pyloop" and not args.allow_missing_pyloop:
            problems.append("pyloop is not importable: %s (pass "
                            "--allow-missing-pyloop to accept this)" % reason)
        return problems, "skipped: %s" % reason

    metrics = doc["results"].get(loop)
    if not isinstance(metrics, dict) or not metrics:
        return problems + ["no results for %s and not skipped" % loop], ""
    for name in REQUIRED[script]:
        if name not in metrics:
            problems.append("metric %s missing" % name)
    for name, m in metrics.items():
        problems += check_metric(name, m, args.allow_metric_errors)
        if _has_spread(name):
            problems += check_spread(name, m)
        if (script == "bench_tls" and isinstance(m, dict) and
                m.get("median") is None and not m.get("error") and
                not m.get("note")):
            # A TLS row that did not run says why (rloop: "no TLS").
            problems.append("%s: null without a note" % name)
    if loop == "pyloop":
        bi = (doc.get("loops") or {}).get("pyloop", {}).get("build_info")
        if not isinstance(bi, dict):
            problems.append("pyloop run without build_info")
        else:
            for key in ("phase", "batch_limit", "wait_strategy"):
                if key not in bi:
                    problems.append("build_info has no %r" % key)
    nulls = sum(1 for m in metrics.values()
                if isinstance(m, dict) and m.get("median") is None)
    return problems, "%d metrics, %d null" % (len(metrics), nulls)


def run(cmd, timeout, env=None):
    try:
        cp = subprocess.run(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, universal_newlines=True,
                            timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return None, "", "timed out after %s s" % timeout
    return cp.returncode, cp.stdout, cp.stderr


def tail(text, n=5):
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    return ["stderr: " + ln for ln in lines[-n:]]


def smoke_script(chk, script, loop, args):
    name = "%s --loop %s" % (script, loop)
    cmd = [args.python, os.path.join(HERE, script + ".py"), "--loop", loop,
           "--json", "--quick", "--timeout", str(args.timeout - 5)]
    rc, out, err = run(cmd, args.timeout)
    if rc is None:
        chk.report(name, [err])
        return
    if rc != 0:
        chk.report(name, ["exit status %d" % rc] + tail(err))
        return
    try:
        doc = json.loads(out)
    except ValueError as exc:
        chk.report(name, ["stdout is not one JSON document: %s" % exc]
                   + tail(err))
        return
    problems, detail = check_doc(doc, script, loop, args)
    chk.report(name, problems, detail)


def smoke_bad_loop(chk, script, args):
    name = "%s rejects an unknown loop name" % script
    rc, _, err = run([args.python, os.path.join(HERE, script + ".py"),
                      "--loop", "no-such-loop", "--json", "--quick"], 60)
    chk.report(name, [] if rc == 2 else ["exit status %r, expected 2" % rc]
               + tail(err, 2))


def smoke_run_all(chk, args):
    name = "run_all.py --quick (asyncio, bench_event_loop)"
    tmp = tempfile.mkdtemp(prefix="pyloop-smoke-")
    try:
        rc, out, err = run([args.python, os.path.join(HERE, "run_all.py"),
                            "--quick", "--out", tmp, "--loop", "asyncio",
                            "--scripts", "bench_event_loop"], args.timeout)
        problems = []
        if rc != 0:
            problems = ["exit status %r" % rc] + tail(err)
        else:
            try:
                with open(os.path.join(tmp, "results.json")) as fh:
                    doc = json.load(fh)
                p, _ = check_doc(doc, "bench_event_loop", "asyncio", args)
                problems += p
            except (OSError, ValueError) as exc:
                problems.append("results.json: %s" % exc)
            md = os.path.join(tmp, "results.md")
            if not os.path.exists(md):
                problems.append("no results.md")
            elif "| callback_us |" not in open(md).read():
                problems.append("results.md has no callback_us row")
            if "| metric |" not in out:
                problems.append("the markdown table was not printed")
        chk.report(name, problems)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    p = argparse.ArgumentParser(
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--allow-missing-pyloop", action="store_true",
                   help="pass even when data_bridge.pyloop cannot be "
                        "imported")
    p.add_argument("--allow-metric-errors", action="store_true",
                   help="pass even when a measurement raised (its metric "
                        "is null with an error)")
    p.add_argument("--python", default=sys.executable,
                   help="interpreter to run the scripts with "
                        "(default: this one)")
    p.add_argument("--timeout", type=float, default=180.0,
                   help="seconds allowed per script run")
    p.add_argument("--scripts", default=",".join(REQUIRED),
                   help="comma-separated subset of the scripts")
    args = p.parse_args(argv)

    chk = Checker()
    for script in [s.strip() for s in args.scripts.split(",") if s.strip()]:
        if script not in REQUIRED:
            p.error("unknown script %r" % script)
        smoke_bad_loop(chk, script, args)
        for loop in LOOPS:
            smoke_script(chk, script, loop, args)
    smoke_run_all(chk, args)
    print("%d passed, %d failed" % (chk.passed, chk.failed))
    return 1 if chk.failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Shared pieces of the data_bridge.pyloop benchmarks.

Standard library only (the scripts must run on CPython 3.10-3.13 without a
venv; uvloop, rloop and matplotlib are optional).

What lives here:
  * loop selection: LOOP_NAMES, loop_factory(name), loop_meta(name);
  * measurement helpers: repeat(), median(), percentile(), metric(),
    throughput(), latency();
  * the driver main(): argument parsing (--loop/--json/--quick), one fresh
    loop per measurement group, isolation of failures, the text table and
    the JSON document.

JSON document printed by --json (results.json uses the same shape):

  {"machine": {...}, "python": "3.11.7", "generated": "<ISO time>",
   "script": "bench_event_loop", "quick": false,
   "results": {"<loop>": {"<metric>": {"median": n, "p99": n|null,
                                       "unit": "us", ["note": str],
                                       ["error": str],
                                       ["min": n, "max": n,
                                        "rounds": [n, ...]]}}},
   "loops":   {"<loop>": {"loop": name, "version": str, "module": path,
                          ["build_info": {...}], ["stats": {...}],
                          "elapsed_s": n}},
   "skipped": {"<loop>": "No module named 'rloop'"}}

A metric that cannot be measured for a loop has median and p99 null and a
"note" saying why (and, where a word says it, a "cell" that the tables
print instead of "null": "no TLS"); a measurement that raised has median/p99 null and an
"error" string (the run goes on with the next measurement group).

A metric measured once per round (spread(): the HTTP and echo rows) also
has "min" and "max" over its rounds and "rounds", the value of each round
in the order they ran; its median is the median of those values. The table
cell of such a metric is "median [min .. max]" ("median [1 round]" when
there was only one, as with --quick).
"""

import argparse
import asyncio
import datetime
import faulthandler
import gc
import json
import math
import os
import platform
import sys
import time
import traceback

LOOP_NAMES = ("asyncio", "uvloop", "rloop", "pyloop")

# Watchdog for one script run: a loop that loses a wakeup would otherwise
# hang forever. faulthandler prints every thread's stack and exits.
DEFAULT_TIMEOUT_S = 600.0


# --------------------------------------------------------------------------
# Loop selection
# --------------------------------------------------------------------------

def loop_factory(name):
    """Return a zero-argument callable making a new loop of kind `name`.

    Raises ImportError (or whatever the import raises) when the loop's module
    is not importable, ValueError for an unknown name.
    """
    if name == "asyncio":
        return asyncio.SelectorEventLoop
    if name == "uvloop":
        import uvloop
        return uvloop.new_event_loop
    if name == "rloop":
        import rloop
        return rloop.new_event_loop
    if name == "pyloop":
        import data_bridge.pyloop as pyloop
        return pyloop.new_event_loop
    raise ValueError("unknown loop name %r (choose from %s)"
                     % (name, ", ".join(LOOP_NAMES)))


def loop_meta(name):
    """Version/build facts of an importable loop, for the JSON document."""
    meta = {"loop": name}
    if name == "asyncio":
        meta["version"] = platform.python_version()
        meta["module"] = asyncio.__file__
        meta["class"] = asyncio.SelectorEventLoop.__name__
    elif name == "uvloop":
        import uvloop
        meta["version"] = getattr(uvloop, "__version__", None)
        meta["module"] = uvloop.__file__
    elif name == "rloop":
        import rloop
        meta["version"] = getattr(rloop, "__version__", None)
        meta["module"] = rloop.__file__
    elif name == "pyloop":
        import data_bridge.pyloop as pyloop
        meta["version"] = getattr(pyloop, "__version__", None)
        meta["module"] = getattr(pyloop, "__file__", None)
        try:
            meta["build_info"] = dict(pyloop.build_info())
        except Exception as exc:  # a build without build_info() still runs
            meta["build_info"] = None
            meta["build_info_error"] = repr(exc)
    return meta


def loop_stats(loop):
    """pyloop's counters as a dict of ints, or None for other loops."""
    fn = getattr(loop, "stats", None)
    if fn is None:
        return None
    try:
        return dict(fn())
    except Exception:
        return None


def stats_delta(before, after):
    if before is None or after is None:
        return None
    return {k: after[k] - before.get(k, 0) for k in after
            if isinstance(after[k], int)}


def close_loop(loop):
    try:
        if loop.is_running():
            return
        # Let pending cancellations settle, then close.
        loop.call_soon(loop.stop)
        loop.run_forever()
    except Exception:
        pass
    try:
        loop.close()
    except Exception:
        pass
    asyncio.set_event_loop(None)


# --------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------

def cpu_ns(pid):
    """Nanoseconds the main thread of process pid has run (Linux
    /proc/PID/schedstat, ns resolution), or None where that is missing."""
    try:
        with open("/proc/%d/schedstat" % pid) as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def median(values):
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    n = len(vals)
    mid = n // 2
    if n % 2:
        return float(vals[mid])
    return (vals[mid - 1] + vals[mid]) / 2.0


def percentile(values, pct):
    """Percentile with linear interpolation between closest ranks."""
    vals = sorted(v for v in values if v is not None)
    if not vals:
        return None
    if len(vals) == 1:
        return float(vals[0])
    k = (len(vals) - 1) * (pct / 100.0)
    lo = int(math.floor(k))
    hi = min(lo + 1, len(vals) - 1)
    return vals[lo] + (vals[hi] - vals[lo]) * (k - lo)


def mean(values):
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _num(x):
    if x is None:
        return None
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return None
    return x


def metric(median_value, unit, p99=None, note=None):
    """One metric entry: {"median", "p99", "unit"[, "note"]}."""
    out = {"median": _num(median_value), "p99": _num(p99), "unit": unit}
    if note:
        out["note"] = note
    return out


def throughput(samples, unit):
    """Per-repetition values (costs or rates): median, no p99."""
    return metric(median(samples), unit)


def spread(samples, unit, p99=None, note=None):
    """One value per round (rps, a round's mean or p99 latency, CPU per
    request): the median with the spread over the rounds, "min", "max" and
    "rounds" (each round's value, in run order), so that a reader sees how
    far one median can be trusted."""
    vals = [_num(v) for v in samples if v is not None]
    vals = [v for v in vals if v is not None]
    out = metric(median(vals), unit, p99, note)
    out["min"] = min(vals) if vals else None
    out["max"] = max(vals) if vals else None
    out["rounds"] = vals
    return out


def latency(samples, unit):
    """Latency samples (pooled over repetitions): median and p99."""
    return metric(median(samples), unit, percentile(samples, 99))


def null_metric(unit, note):
    return metric(None, unit, None, note)


def repeat(fn, reps, warmup=1):
    """Call fn() warmup + reps times; return the last reps results.

    A full collection runs before each call so that garbage from the previous
    round is not collected inside the next one.
    """
    for _ in range(warmup):
        gc.collect()
        fn()
    out = []
    for _ in range(reps):
        gc.collect()
        out.append(fn())
    return out


# --------------------------------------------------------------------------
# Machine facts
# --------------------------------------------------------------------------

def machine_info():
    info = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "system": platform.system(),
        "release": platform.release(),
        "cpu_count": os.cpu_count(),
        "python_implementation": platform.python_implementation(),
        "python_executable": sys.executable,
    }
    try:
        info["cpu_affinity"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        pass
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(
        timespec="seconds")


# --------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------

def fmt_num(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 10000:
        return "{:,.0f}".format(v)
    if a >= 100:
        return "{:.1f}".format(v)
    if a >= 10:
        return "{:.2f}".format(v)
    if a >= 1:
        return "{:.3f}".format(v)
    if a == 0:
        return "0"
    return "{:.3g}".format(v)


def fmt_cell(m, show_p99=True):
    if m is None:
        return "n/a"
    if m.get("error"):
        return "error"
    if m.get("median") is None:
        # "cell": a word for a row that cannot exist for this loop
        # ("no TLS"), said in the table itself, not only in a footnote.
        return m.get("cell") or "null"
    s = fmt_num(m["median"])
    if len(m.get("rounds") or ()) == 1:
        s += " [1 round]"  # no spread to show, and the cell says so
    elif m.get("min") is not None and m.get("max") is not None:
        s += " [" + fmt_num(m["min"]) + " .. " + fmt_num(m["max"]) + "]"
    if show_p99 and m.get("p99") is not None:
        s += " (p99 " + fmt_num(m["p99"]) + ")"
    return s


def has_p99_row(name):
    """A latency family PREFIX_p50_UNIT has its own p99 row, PREFIX_p99_UNIT
    (xthread: the median over repetitions of each repetition's 99th
    percentile). Its p50 cell then shows no pooled p99 beside it: one p99 per
    latency, with one definition."""
    return "_p50_" in name


P99_DEFINITION = (
    "Cells: the median, [min .. max] over the rounds for a metric measured "
    "once per round (the HTTP and echo rows), "
    "and (p99 ...) for a latency whose samples are pooled "
    "over the repetitions: the 99th percentile of all of them. A latency with "
    "a p99 row of its own (xthread_p99_us) shows its p99 in that row only: "
    "there, the median over repetitions of each repetition's 99th percentile.")


def metric_rows(results, columns):
    """Metric names in first-seen order over the columns, with their unit."""
    order = []
    units = {}
    for col in columns:
        for name, m in (results.get(col) or {}).items():
            if name not in units:
                order.append(name)
                units[name] = (m or {}).get("unit", "")
    return order, units


def text_table(results, columns):
    names, units = metric_rows(results, columns)
    header = ["metric", "unit"] + list(columns)
    rows = [header]
    for name in names:
        show_p99 = not has_p99_row(name)
        rows.append([name, units[name]] +
                    [fmt_cell((results.get(c) or {}).get(name), show_p99) for c in columns])
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for i, r in enumerate(rows):
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])]
        cells += [r[j].rjust(widths[j]) for j in range(2, len(r))]
        lines.append("  ".join(cells))
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def metric_notes(results, columns):
    """Every distinct note attached to a metric, numbered in table order:
    ([(number, note, [(metric, column), ...]), ...], {(metric, column): n})."""
    names, _ = metric_rows(results, columns)
    numbers, listed = {}, []
    for name in names:
        for column in columns:
            note = ((results.get(column) or {}).get(name) or {}).get("note")
            if not note:
                continue
            if note not in numbers:
                numbers[note] = len(listed) + 1
                listed.append((numbers[note], note, []))
            listed[numbers[note] - 1][2].append((name, column))
    cells = {where: number for number, _, places in listed for where in places}
    return listed, cells


def markdown_table(results, columns, extra_rows=()):
    """The table, then one footnote per note a metric carries: a note is part
    of the number it qualifies, wherever the number is shown."""
    names, units = metric_rows(results, columns)
    notes, marked = metric_notes(results, columns)
    out = ["| metric | unit | " + " | ".join(columns) + " |",
           "|---|---|" + "---:|" * len(columns)]
    for name in names:
        cells = []
        show_p99 = not has_p99_row(name)
        for c in columns:
            cell = fmt_cell((results.get(c) or {}).get(name), show_p99)
            if (name, c) in marked:
                cell += " [%d]" % marked[(name, c)]
            cells.append(cell)
        out.append("| %s | %s | %s |" % (name, units[name], " | ".join(cells)))
    for name, unit, cells in extra_rows:
        out.append("| %s | %s | %s |" % (name, unit, " | ".join(cells)))
    if notes:
        out.append("")
    for number, note, places in notes:
        out.append("[%d] %s: %s" % (number, ", ".join("%s/%s" % (c, n) for n, c in places), note))
    return "\n".join(out)


def notice(msg):
    sys.stderr.write(msg.rstrip("\n") + "\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------
# The driver
# --------------------------------------------------------------------------

class Context(object):
    """What a benchmark function gets for one loop kind."""

    def __init__(self, name, factory, quick):
        self.name = name
        self.factory = factory
        self.quick = quick
        self.results = {}
        self.meta = {}
        self.stats = {}

    def size(self, full, quick):
        return quick if self.quick else full

    def new_loop(self):
        loop = self.factory()
        asyncio.set_event_loop(loop)
        return loop

    def record_stats(self, group, before, after):
        d = stats_delta(before, after)
        if d is not None:
            self.stats[group] = d

    def group(self, units, fn):
        """Run one measurement group with its own fresh loop.

        units: {metric_name: unit} that fn is expected to return.
        fn(loop) returns {metric_name: metric dict}. If fn raises, each
        expected metric is recorded as null with the error, and the run
        continues with the next group.
        """
        loop = None
        try:
            loop = self.new_loop()
            res = fn(loop)
            for name, m in res.items():
                self.results[name] = m
            for name, unit in units.items():
                if name not in res:
                    self.results[name] = null_metric(unit, "not produced")
        except Exception as exc:
            err = "%s: %s" % (type(exc).__name__, exc)
            notice("error in %s (%s): %s" % (", ".join(units), self.name, err))
            if os.environ.get("PYLOOP_BENCH_TRACEBACK"):
                traceback.print_exc()
            for name, unit in units.items():
                m = null_metric(unit, None)
                m["error"] = err
                self.results[name] = m
        finally:
            if loop is not None:
                close_loop(loop)
            gc.collect()


def build_parser(description):
    p = argparse.ArgumentParser(
        description=description,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--loop", action="append", choices=LOOP_NAMES,
                   help="loop to run (repeatable; default: all of %s)"
                   % ", ".join(LOOP_NAMES))
    p.add_argument("--json", action="store_true",
                   help="print one JSON document on stdout instead of a table")
    p.add_argument("--quick", action="store_true",
                   help="tiny sizes: a smoke test that finishes in seconds")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                   help="abort the whole run (with a stack dump) after this "
                        "many seconds (default %(default)s)")
    return p


def document(script, quick, results, loops, skipped):
    return {
        "machine": machine_info(),
        "python": platform.python_version(),
        "generated": now_iso(),
        "script": script,
        "quick": bool(quick),
        "results": results,
        "loops": loops,
        "skipped": skipped,
    }


def main(script, description, bench, argv=None, parser=None):
    """Parse the command line and run bench(ctx) for each selected loop."""
    parser = parser or build_parser(description)
    args = parser.parse_args(argv)
    names = []
    for n in args.loop or LOOP_NAMES:
        if n not in names:
            names.append(n)
    if args.timeout and args.timeout > 0:
        faulthandler.dump_traceback_later(args.timeout, exit=True)

    results, loops, skipped = {}, {}, {}
    for name in names:
        try:
            factory = loop_factory(name)
            meta = loop_meta(name)
        except Exception as exc:
            reason = str(exc) or type(exc).__name__
            notice("skipped %s: %s" % (name, reason))
            skipped[name] = reason
            continue
        if not args.json:
            notice("running %s with %s ..." % (script, name))
        ctx = Context(name, factory, args.quick)
        t0 = time.perf_counter()
        bench(ctx)
        meta["elapsed_s"] = round(time.perf_counter() - t0, 3)
        meta.update(ctx.meta)
        if ctx.stats:
            meta["stats"] = ctx.stats
        results[name] = ctx.results
        loops[name] = meta

    faulthandler.cancel_dump_traceback_later()
    doc = document(script, args.quick, results, loops, skipped)
    if args.json:
        json.dump(doc, sys.stdout, indent=2, sort_keys=False)
        sys.stdout.write("\n")
    else:
        cols = list(results)
        if cols:
            print(text_table(results, cols))
        for name, meta in loops.items():
            if meta.get("build_info"):
                print("%s build_info: %s" % (name, json.dumps(meta["build_info"])))
        for name, meta in loops.items():
            print("%s: %.1f s" % (name, meta["elapsed_s"]))
    sys.stdout.flush()
    return 0
